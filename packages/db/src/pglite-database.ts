import { mkdir } from 'node:fs/promises';
import { PGlite, TransactionAbortedError as PgliteTransactionAbortedError, type Transaction } from '@electric-sql/pglite';
import { lockDataDirectory, type ReleaseLock } from './data-directory-lock.js';
import type { MigratableDatabase, ScriptQueryable } from './database.js';
import { TransactionAbortedError, translateDatabaseError } from './errors.js';
import { Mutex } from './mutex.js';
import { TransactionHandle, normalizeParameters } from './transaction-handle.js';
import { assertOutsideTransaction, runInTransactionScope } from './transaction-scope.js';
import { TYPE_PARSERS } from './type-parsers.js';

type PgliteConnection = Pick<PGlite, 'query' | 'exec'> | Transaction;

function pgliteConnection(connection: PgliteConnection): ScriptQueryable {
  return {
    query: async <Row>(sql: string, params?: readonly unknown[]): Promise<Row[]> => {
      try {
        const result = await connection.query<Row>(sql, normalizeParameters(params));
        return result.rows;
      } catch (error) {
        throw translateDatabaseError(error);
      }
    },
    executeScript: async (sql) => {
      try {
        await connection.exec(sql);
      } catch (error) {
        throw translateDatabaseError(error);
      }
    },
  };
}

/**
 * PGlite has a single connection. Every top-level statement and every transaction runs under one mutex, in call
 * order, so statements of concurrent transactions never interleave.
 */
class PgliteDatabase implements MigratableDatabase {
  readonly kind = 'pglite';
  readonly #pglite: PGlite;
  readonly #connection: ScriptQueryable;
  readonly #mutex = new Mutex();
  readonly #releaseLock: ReleaseLock;

  constructor(pglite: PGlite, releaseLock: ReleaseLock) {
    this.#pglite = pglite;
    this.#connection = pgliteConnection(pglite);
    this.#releaseLock = releaseLock;
  }

  async query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    assertOutsideTransaction(this, 'query');
    return this.#mutex.run(() => this.#connection.query<Row>(sql, params));
  }

  async transaction<T>(work: (tx: ScriptQueryable) => Promise<T>): Promise<T> {
    assertOutsideTransaction(this, 'transaction');
    return this.#mutex.run(async () => {
      try {
        return await this.#pglite.transaction(async (transaction) => {
          const handle = new TransactionHandle(pgliteConnection(transaction));
          try {
            return await runInTransactionScope(this, () => work(handle));
          } finally {
            handle.end();
          }
        });
      } catch (error) {
        if (error instanceof PgliteTransactionAbortedError) throw new TransactionAbortedError();
        throw translateDatabaseError(error);
      }
    });
  }

  close(): Promise<void> {
    return this.#mutex.run(async () => {
      try {
        if (!this.#pglite.closed) await this.#pglite.close();
      } finally {
        await this.#releaseLock();
      }
    });
  }
}

export async function openPgliteDatabase(options: { dataDir: string }): Promise<MigratableDatabase> {
  await mkdir(options.dataDir, { recursive: true });
  const releaseLock = await lockDataDirectory(options.dataDir);
  try {
    const pglite = await PGlite.create(options.dataDir, { parsers: TYPE_PARSERS });
    return new PgliteDatabase(pglite, releaseLock);
  } catch (error) {
    await releaseLock();
    throw error;
  }
}
