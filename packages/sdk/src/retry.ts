/**
 * Which failures a call may retry:
 * - `idempotent`: 429, 503, network errors and time-outs; sending the call twice has the effect of sending it once
 *   (reads, signing a URL, uploading the same bytes again).
 * - `refusals`: 429 and 503 only, which the server answers before acting. After a network error the first attempt may
 *   have acted, and its retry would answer as if it had not (a second cancel is a 409, a second delete a 404).
 * - `never`: executions, which could run the code twice; uploads of a stream, which cannot be read twice.
 */
export type RetryPolicy = 'idempotent' | 'refusals' | 'never';

export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/** First retry's delay without a Retry-After; doubled per attempt up to BACKOFF_MAX_MS, with jitter. */
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 8_000;

/**
 * How long to wait before retry number `attempt` (0 for the first retry): the server's Retry-After when it gave one,
 * else exponential backoff with jitter (between half and all of `base * 2^attempt`, capped), so that clients failing
 * together do not retry together.
 */
export function retryDelayMs(options: { attempt: number; retryAfterSeconds?: number | undefined; random?: () => number }): number {
  if (options.retryAfterSeconds !== undefined) return Math.ceil(options.retryAfterSeconds * 1000);
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** options.attempt);
  return Math.round(ceiling * (0.5 + 0.5 * (options.random ?? Math.random)()));
}

/** `Retry-After` as seconds: a number of seconds or an HTTP date (RFC 9110); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  // An HTTP date has a day and month name; Date.parse alone would read "-3" as a year.
  const date = /[a-z]/i.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000);
}
