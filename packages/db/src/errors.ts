/** A write conflicted with a UNIQUE or PRIMARY KEY constraint (SQLSTATE 23505). */
export class UniqueViolationError extends Error {
  override readonly name = 'UniqueViolationError';
  /** Name of the violated constraint, e.g. `organizations_slug_key`. */
  readonly constraint: string | undefined;
  readonly table: string | undefined;
  /** The server's detail line, e.g. `Key (slug)=(acme) already exists.` */
  readonly detail: string | undefined;

  constructor(options: { message: string; constraint?: string; table?: string; detail?: string; cause: unknown }) {
    super(options.message, { cause: options.cause });
    this.constraint = options.constraint;
    this.table = options.table;
    this.detail = options.detail;
  }
}

/**
 * COMMIT found the transaction already aborted (a statement failed inside it and the error was caught), so the
 * server rolled it back. Nothing in the transaction was written.
 */
export class TransactionAbortedError extends Error {
  override readonly name = 'TransactionAbortedError';

  constructor() {
    super('the transaction was rolled back at COMMIT because a statement inside it failed earlier');
  }
}

/** The database was used in a way that cannot work, e.g. `database.query()` from inside `database.transaction()`. */
export class DatabaseUsageError extends Error {
  override readonly name = 'DatabaseUsageError';
}

/** A sandbox config named an image the catalog (table images) does not have. */
export class UnknownImageError extends Error {
  override readonly name = 'UnknownImageError';

  constructor(readonly image: string) {
    super(`no image "${image}" in the image catalog`);
  }
}

/** The database holds migrations this build does not know, or the migration files themselves are invalid. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

const UNIQUE_VIOLATION = '23505';

interface DriverError {
  code?: unknown;
  message?: unknown;
  constraint?: unknown;
  table?: unknown;
  detail?: unknown;
}

const optionalString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * Translates a driver error into one of the typed errors above where one applies; returns any other error unchanged.
 * node-postgres raises errors carrying the server's SQLSTATE `code`, `constraint`, `table` and `detail`.
 */
export function translateDatabaseError(error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const driverError = error as DriverError;
  if (driverError.code === UNIQUE_VIOLATION) {
    return new UniqueViolationError({
      message: optionalString(driverError.message) ?? 'unique constraint violated',
      constraint: optionalString(driverError.constraint),
      table: optionalString(driverError.table),
      detail: optionalString(driverError.detail),
      cause: error,
    });
  }
  return error;
}
