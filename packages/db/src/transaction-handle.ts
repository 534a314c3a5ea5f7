import { DatabaseUsageError } from './errors.js';
import type { ScriptQueryable } from './database.js';

/** The `tx` passed to a transaction callback; refuses statements once the transaction has ended. */
export class TransactionHandle implements ScriptQueryable {
  #open = true;
  readonly #connection: ScriptQueryable;

  constructor(connection: ScriptQueryable) {
    this.#connection = connection;
  }

  async query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    this.#assertOpen();
    return this.#connection.query<Row>(sql, params);
  }

  async executeScript(sql: string): Promise<void> {
    this.#assertOpen();
    return this.#connection.executeScript(sql);
  }

  end(): void {
    this.#open = false;
  }

  #assertOpen(): void {
    if (!this.#open) {
      throw new DatabaseUsageError('the transaction has ended; run statements only while its callback is running');
    }
  }
}

/** Parameters as node-postgres should see them: `undefined` becomes NULL. */
export function normalizeParameters(params: readonly unknown[] | undefined): unknown[] {
  return params === undefined ? [] : params.map((value) => (value === undefined ? null : value));
}
