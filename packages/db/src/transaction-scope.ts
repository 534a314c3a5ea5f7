import { AsyncLocalStorage } from 'node:async_hooks';
import { DatabaseUsageError } from './errors.js';

interface TransactionScope {
  readonly database: object;
  open: boolean;
}

const currentScope = new AsyncLocalStorage<TransactionScope>();

/**
 * Runs a transaction's work while recording which database it belongs to, so a call on that database's own
 * `query`/`transaction` from inside the work can be refused instead of running outside the transaction, or waiting
 * forever for a pooled connection (the embedded database has only one).
 */
export async function runInTransactionScope<T>(database: object, work: () => Promise<T>): Promise<T> {
  const scope: TransactionScope = { database, open: true };
  try {
    return await currentScope.run(scope, work);
  } finally {
    scope.open = false;
  }
}

/** Throws DatabaseUsageError when called from inside a transaction opened on `database`. */
export function assertOutsideTransaction(database: object, operation: 'query' | 'transaction'): void {
  const scope = currentScope.getStore();
  if (scope?.open && scope.database === database) {
    throw new DatabaseUsageError(
      `database.${operation}() was called inside database.transaction(); use the transaction handle passed to the ` +
        'callback (nested transactions are not supported)',
    );
  }
}
