import { runMigrations } from './migrations.js';

/** Something that runs one SQL statement with `$1`-style parameters and returns its rows. */
export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

/**
 * A PGlite or PostgreSQL database with the schema migrated. Both kinds return the same JavaScript values for the
 * same SQL (see type-parsers.ts) and raise UniqueViolationError for unique-constraint conflicts.
 *
 * Parameters: pass JSON values for json/jsonb columns as `JSON.stringify(value)` strings (node-postgres would send
 * an array as a PostgreSQL array), Buffers for bytea, Dates for timestamps; `undefined` is sent as NULL.
 */
export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /**
   * Runs `work` in one transaction: committed when it resolves, rolled back when it throws. Use only the `tx`
   * handle inside `work`; calling this database's own query/transaction there throws DatabaseUsageError.
   */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A transaction handle that can also run a multi-statement script (used by the migration runner). */
export interface ScriptQueryable extends Queryable {
  executeScript(sql: string): Promise<void>;
}

/** The adapters' full interface: a Database whose transactions can run scripts. */
export interface MigratableDatabase extends Database {
  transaction<T>(work: (tx: ScriptQueryable) => Promise<T>): Promise<T>;
}

export interface OpenDatabaseOptions {
  /** A `postgres://` or `postgresql://` URL; when set, PostgreSQL is used and `dataDir` is ignored. */
  url?: string;
  /** Directory holding the embedded PGlite database, created when missing. Required when `url` is not set. */
  dataDir?: string;
  /** Maximum PostgreSQL connections in the pool. @default 10 */
  poolSize?: number;
  /**
   * Called when an idle pooled PostgreSQL connection fails (e.g. the server restarted). The pool discards that
   * connection and opens a new one on demand. @default ignore the error
   */
  onIdleConnectionError?: (error: Error) => void;
}

/** Opens PostgreSQL when `url` is given, otherwise PGlite in `dataDir`, and applies pending migrations. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const database = await openUnmigratedDatabase(options);
  try {
    await runMigrations(database);
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

async function openUnmigratedDatabase(options: OpenDatabaseOptions): Promise<MigratableDatabase> {
  if (options.url !== undefined && options.url !== '') {
    if (!/^postgres(ql)?:\/\//.test(options.url)) {
      throw new Error('database url must start with postgres:// or postgresql://');
    }
    const { openPostgresDatabase } = await import('./postgres-database.js');
    return openPostgresDatabase({
      url: options.url,
      poolSize: options.poolSize ?? 10,
      onIdleConnectionError: options.onIdleConnectionError,
    });
  }
  if (options.dataDir === undefined || options.dataDir === '') {
    throw new Error('openDatabase needs either url (PostgreSQL) or dataDir (embedded PGlite)');
  }
  const { openPgliteDatabase } = await import('./pglite-database.js');
  return openPgliteDatabase({ dataDir: options.dataDir });
}
