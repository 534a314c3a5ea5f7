import { mkdir } from 'node:fs/promises';
import { lockDataDirectory, type ReleaseLock } from './data-directory-lock.js';
import type { MigratableDatabase, ScriptQueryable } from './database.js';
import { startPgliteHost, type PgliteHost } from './pglite-host.js';
import { openPostgresDatabase } from './postgres-database.js';

/**
 * The embedded database: PGlite runs in a child process (pglite-host.mjs) and is reached over one PostgreSQL
 * connection, so its memory stays out of this process and its queries off this event loop. With one connection,
 * statements and transactions run one at a time, in call order.
 */
class PgliteDatabase implements MigratableDatabase {
  readonly kind = 'pglite';
  readonly #connection: MigratableDatabase;
  readonly #host: PgliteHost;
  readonly #releaseLock: ReleaseLock;
  #closing: Promise<void> | undefined;

  constructor(options: { connection: MigratableDatabase; host: PgliteHost; releaseLock: ReleaseLock }) {
    this.#connection = options.connection;
    this.#host = options.host;
    this.#releaseLock = options.releaseLock;
  }

  async query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    this.#assertHostRunning();
    return this.#connection.query<Row>(sql, params);
  }

  async transaction<T>(work: (tx: ScriptQueryable) => Promise<T>): Promise<T> {
    this.#assertHostRunning();
    return this.#connection.transaction(work);
  }

  close(): Promise<void> {
    this.#closing ??= this.#connection
      .close()
      .finally(() => this.#host.stop())
      .finally(() => this.#releaseLock());
    return this.#closing;
  }

  #assertHostRunning(): void {
    const failure = this.#host.failure;
    if (failure !== undefined) throw new Error(`${failure}; restart Airlock to reopen the database`);
  }
}

export async function openPgliteDatabase(options: { dataDir: string }): Promise<MigratableDatabase> {
  await mkdir(options.dataDir, { recursive: true });
  const releaseLock = await lockDataDirectory(options.dataDir);
  let host: PgliteHost | undefined;
  try {
    host = await startPgliteHost(options.dataDir);
    const connection = await openPostgresDatabase({
      url: host.url,
      poolSize: 1,
      onIdleConnectionError: undefined,
      keepIdleConnections: true,
      namedStatements: true,
    });
    return new PgliteDatabase({ connection, host, releaseLock });
  } catch (error) {
    await host?.stop();
    await releaseLock();
    throw error;
  }
}
