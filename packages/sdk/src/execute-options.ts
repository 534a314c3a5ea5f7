import type { ExecuteRequestInput, Language } from '@airlock/contracts';
import type { Configuration } from './configuration.js';
import type { RetryPolicy } from './retry.js';
import type { CallOptions } from './transport.js';

/** The server's timeout when a request names none (docs/api.md). */
const SERVER_DEFAULT_TIMEOUT_SECONDS = 60;

export interface ExecuteOptions extends CallOptions {
  /** @default 'python' */
  language?: Language;
  /** Seconds the code may run, 1 to the organization's maximum (3600 unless its plan says otherwise). @default 60 */
  timeout?: number;
  /** Keeps `/home/sandbox` between calls with the same thread id (`^[A-Za-z0-9_-]{1,128}$`); one call at a time. */
  threadId?: string;
  /** At most 10 string values, stored with the execution (and sent with its webhook), never shown to the code. */
  metadata?: Record<string, string>;
  /** Environment variables for the code; they override the sandbox config's and the API key's. */
  envVars?: Record<string, string>;
  /**
   * Sent as `Idempotency-Key` (1-255 visible ASCII characters, e.g. a UUID): the same call with the same key within
   * 24 hours answers the first execution's result, waiting for it if it still runs, and runs nothing. With a key the
   * client retries the call itself after a network error, a time-out, 429 or 503; without one it never does.
   */
  idempotencyKey?: string;
  /**
   * How long the client waits for the answer, in milliseconds.
   * @default the execution's `timeout` plus the client's `timeoutMs`
   */
  timeoutMs?: number;
}

/** The request body; typed by the contract, so a renamed wire field fails to compile here. */
export function executeBody(code: string, options: ExecuteOptions & { webhookUrl?: string | undefined }): ExecuteRequestInput {
  return {
    code,
    language: options.language,
    timeout: options.timeout,
    thread_id: options.threadId,
    metadata: options.metadata,
    env_vars: options.envVars,
    webhook_url: options.webhookUrl,
  };
}

/** The request headers and retry policy of an execute call: retried only when it carries an idempotency key. */
export function executeRequest(options: ExecuteOptions): { headers: Record<string, string>; retry: RetryPolicy } {
  return options.idempotencyKey === undefined
    ? { headers: {}, retry: 'never' }
    : { headers: { 'idempotency-key': options.idempotencyKey }, retry: 'idempotent' };
}

/** The request with more headers. */
export function withHeaders<T extends { headers: Record<string, string> }>(request: T, headers: Record<string, string>): T {
  return { ...request, headers: { ...request.headers, ...headers } };
}

/** How long an execution's answer may take: the code's time limit and the client's time limit for a request. */
export function executeTimeoutMs(options: ExecuteOptions, configuration: Configuration): number {
  return options.timeoutMs ?? (options.timeout ?? SERVER_DEFAULT_TIMEOUT_SECONDS) * 1000 + configuration.timeoutMs;
}
