import pg from 'pg';
import type { MigratableDatabase, ScriptQueryable } from './database.js';
import { TransactionAbortedError, translateDatabaseError } from './errors.js';
import { PreparedStatementNames } from './prepared-statement-names.js';
import { TransactionHandle, normalizeParameters } from './transaction-handle.js';
import { assertOutsideTransaction, runInTransactionScope } from './transaction-scope.js';
import { TYPE_PARSERS } from './type-parsers.js';

/** Per-pool type parsing: TYPE_PARSERS first, node-postgres defaults for the rest. The global registry is untouched. */
const typeParsing: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    (format ?? 'text') === 'text' && TYPE_PARSERS[oid] !== undefined
      ? TYPE_PARSERS[oid]
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

async function runStatement<Row>(
  connection: pg.Pool | pg.PoolClient,
  sql: string,
  params: readonly unknown[] | undefined,
  names: PreparedStatementNames | undefined,
): Promise<Row[]> {
  // The extended protocol: one statement per call, even without parameters.
  const name = names?.name(sql);
  const statement: pg.QueryConfig & { queryMode: 'extended' } = {
    text: sql,
    values: normalizeParameters(params),
    queryMode: 'extended',
    ...(name !== undefined && { name }),
  };
  try {
    const result = await connection.query(statement);
    return result.rows as Row[];
  } catch (error) {
    throw translateDatabaseError(error);
  }
}

function clientConnection(client: pg.PoolClient, names: PreparedStatementNames | undefined): ScriptQueryable {
  return {
    query: (sql, params) => runStatement(client, sql, params, names),
    executeScript: async (sql) => {
      try {
        // Without a parameter array node-postgres uses the simple query protocol, which accepts several statements.
        await client.query(sql);
      } catch (error) {
        throw translateDatabaseError(error);
      }
    },
  };
}

class PostgresDatabase implements MigratableDatabase {
  readonly kind = 'postgres';
  readonly #pool: pg.Pool;
  readonly #names: PreparedStatementNames | undefined;

  constructor(pool: pg.Pool, names: PreparedStatementNames | undefined) {
    this.#pool = pool;
    this.#names = names;
  }

  async query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    assertOutsideTransaction(this, 'query');
    return runStatement<Row>(this.#pool, sql, params, this.#names);
  }

  async transaction<T>(work: (tx: ScriptQueryable) => Promise<T>): Promise<T> {
    assertOutsideTransaction(this, 'transaction');
    const client = await this.#pool.connect();
    // Set when BEGIN, COMMIT or ROLLBACK fails: the connection's state is unknown, so the pool discards it.
    let brokenConnection: Error | undefined;
    const control = async (statement: 'BEGIN' | 'COMMIT' | 'ROLLBACK'): Promise<pg.QueryResult> => {
      try {
        return await client.query(statement);
      } catch (error) {
        brokenConnection = error instanceof Error ? error : new Error(String(error));
        throw translateDatabaseError(error);
      }
    };
    try {
      await control('BEGIN');
      const handle = new TransactionHandle(clientConnection(client, this.#names));
      let result: T;
      try {
        result = await runInTransactionScope(this, () => work(handle));
      } catch (error) {
        handle.end();
        await control('ROLLBACK').catch(() => undefined);
        throw error;
      }
      handle.end();
      const commit = await control('COMMIT');
      // PostgreSQL answers COMMIT of a failed transaction with a ROLLBACK tag rather than an error.
      if (commit.command === 'ROLLBACK') throw new TransactionAbortedError();
      return result;
    } finally {
      client.release(brokenConnection);
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the configured URL';
  }
}

export async function openPostgresDatabase(options: {
  url: string;
  poolSize: number;
  onIdleConnectionError: ((error: Error) => void) | undefined;
  /** Keep idle connections open (rather than closing them after 10 s) without keeping the process alive. */
  keepIdleConnections?: boolean;
  /**
   * Prepare statements run more than once by name (PreparedStatementNames). Only for a server whose sessions no
   * pooler shares between clients (PGlite, one connection): a name a session already has is dropped by each new
   * connection first.
   */
  namedStatements?: boolean;
}): Promise<MigratableDatabase> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    types: typeParsing,
    ...(options.keepIdleConnections === true ? { idleTimeoutMillis: 0, allowExitOnIdle: true } : {}),
    // PGlite keeps one session for all its connections: a new connection finds the statements an earlier one
    // prepared. pg-pool awaits the hook before the connection runs anything else.
    ...(options.namedStatements === true && { onConnect: async (client: pg.ClientBase) => void (await client.query('DEALLOCATE ALL')) }),
  });
  pool.on('error', (error) => options.onIdleConnectionError?.(error));
  try {
    // Fails fast on a wrong URL or an unreachable server instead of at the first request.
    await pool.query('SELECT 1');
  } catch (error) {
    await pool.end();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `cannot connect to PostgreSQL at ${withoutPassword(options.url)}: ${reason}; check the database URL and that ` +
        'the server is running and reachable',
      { cause: error },
    );
  }
  return new PostgresDatabase(pool, options.namedStatements ? new PreparedStatementNames() : undefined);
}
