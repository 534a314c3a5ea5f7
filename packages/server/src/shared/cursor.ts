import { ApiError } from './api-error.js';

/** An opaque page cursor holding where the page before ended (a few strings and numbers). */
export function encodeCursor(values: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/**
 * The values of a cursor this API gave, checked against their kinds (`'date'`: an ISO time, as a Date); 400 for
 * anything else.
 */
export function decodeCursor<const Kinds extends ReadonlyArray<'date' | 'string' | 'number'>>(
  cursor: string,
  kinds: Kinds,
): { [K in keyof Kinds]: Kinds[K] extends 'date' ? Date : Kinds[K] extends 'number' ? number : string } {
  const invalid = ApiError.validation('cursor: not a cursor this API gave; pass next_cursor of the page before, or leave it out');
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (!Array.isArray(values) || values.length !== kinds.length) throw invalid;
  return kinds.map((kind, index) => {
    const value: unknown = values[index];
    if (kind === 'date' && typeof value === 'string' && !Number.isNaN(Date.parse(value))) return new Date(value);
    if (kind === 'number' && typeof value === 'number') return value;
    if (kind === 'string' && typeof value === 'string') return value;
    throw invalid;
  }) as never;
}
