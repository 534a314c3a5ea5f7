import type { Configuration } from './configuration.js';
import { AirlockApiError, AirlockConnectionError, AirlockError, AirlockTimeoutError, errorFromResponse } from './errors.js';
import { RETRYABLE_STATUSES, retryDelayMs, type RetryPolicy } from './retry.js';
import { AttemptSignal, abortError, sleep } from './signals.js';

/** Options every call takes. */
export interface CallOptions {
  /** Aborts the call: it rejects with AirlockAbortError, also while it waits to retry. */
  signal?: AbortSignal;
  /** This call's time limit per attempt, in milliseconds, instead of the client's `timeoutMs`. */
  timeoutMs?: number;
}

/** Request bodies as fetch takes them, named here so the SDK compiles against both DOM and Node typings. */
export type RequestBody = string | Uint8Array | Blob | ReadableStream<Uint8Array>;

export interface Call extends CallOptions {
  method: 'GET' | 'POST' | 'PUT';
  /** A path below the base URL (`/v1/...`), sent with the API key; or an absolute signed URL, sent without it. */
  path?: string;
  url?: string;
  query?: Record<string, string>;
  json?: unknown;
  body?: RequestBody;
  headers?: Record<string, string>;
  retry: RetryPolicy;
}

/** An answer whose body is still to be read, and the attempt's signal that ends it (see AttemptSignal). */
export interface OpenResponse {
  response: Response;
  attempt: AttemptSignal;
}

/** Sends calls: URL and headers, the time limit per attempt, the caller's signal, retries, error answers. */
export class Transport {
  readonly #configuration: Configuration;
  readonly #random: () => number;

  constructor(configuration: Configuration, options: { random?: () => number } = {}) {
    this.#configuration = configuration;
    this.#random = options.random ?? Math.random;
  }

  get configuration(): Configuration {
    return this.#configuration;
  }

  /** The JSON answer of a call; the time limit covers reading it. */
  async json<T>(call: Call): Promise<T> {
    return this.#attempts(call, async (response, attempt) => {
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        throw attempt.failure(error, describeCall(call));
      }
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new AirlockError(`${describeCall(call)}: the answer is not JSON: ${text.slice(0, 200)}`);
      }
    });
  }

  /** A call's answer with its body unread; the time limit stops once it has arrived. The caller disposes `attempt`. */
  async open(call: Call): Promise<OpenResponse> {
    const handle = async (response: Response, attempt: AttemptSignal): Promise<OpenResponse> => {
      attempt.stopTimer();
      return { response, attempt };
    };
    return this.#attempts(call, handle, { keepAttempt: true });
  }

  async #attempts<T>(
    call: Call,
    handle: (response: Response, attempt: AttemptSignal) => Promise<T>,
    options: { keepAttempt?: boolean } = {},
  ): Promise<T> {
    const { maxRetries, maxRetryDelayMs } = this.#configuration;
    for (let retry = 0; ; retry++) {
      if (call.signal?.aborted) throw abortError(call.signal);
      const attempt = new AttemptSignal(call.signal, call.timeoutMs ?? this.#configuration.timeoutMs);
      let keep = false;
      let failure: Error;
      try {
        let response: Response;
        try {
          response = await this.#configuration.fetch(this.#url(call), this.#init(call, attempt.signal));
        } catch (error) {
          throw attempt.failure(error, describeCall(call));
        }
        if (response.ok) {
          const handled = await handle(response, attempt);
          keep = options.keepAttempt === true;
          return handled;
        }
        throw await errorFromResponse(response).catch((error: unknown) => attempt.failure(error, describeCall(call)));
      } catch (error) {
        failure = error as Error;
      } finally {
        if (!keep) attempt.dispose();
      }
      if (retry >= maxRetries || !retryable(call.retry, failure)) throw failure;
      const retryAfterSeconds = failure instanceof AirlockApiError ? failure.retryAfterSeconds : undefined;
      const delay = retryDelayMs({ attempt: retry, retryAfterSeconds, random: this.#random });
      if (delay > maxRetryDelayMs) throw failure;
      await sleep(delay, call.signal);
    }
  }

  #url(call: Call): string {
    const url = call.url ?? `${this.#configuration.baseUrl}${call.path ?? ''}`;
    const query = call.query && Object.keys(call.query).length > 0 ? `?${new URLSearchParams(call.query).toString()}` : '';
    return `${url}${query}`;
  }

  #init(call: Call, signal: AbortSignal): RequestInit {
    const signed = call.url !== undefined;
    const headers: Record<string, string> = signed
      ? {}
      : { accept: 'application/json', ...this.#configuration.headers, authorization: `Bearer ${this.#configuration.apiKey}` };
    if (call.json !== undefined) headers['content-type'] = 'application/json';
    Object.assign(headers, call.headers);
    const body = call.json !== undefined ? JSON.stringify(call.json) : call.body;
    const init: RequestInit & { duplex?: 'half' } = { method: call.method, headers, signal };
    if (body !== undefined) init.body = body as RequestInit['body'];
    // A ReadableStream body is sent as it is read (fetch requires saying so).
    if (body instanceof ReadableStream) init.duplex = 'half';
    return init;
  }
}

function retryable(policy: RetryPolicy, failure: Error): boolean {
  if (policy === 'never') return false;
  if (failure instanceof AirlockApiError) return RETRYABLE_STATUSES.has(failure.status);
  return policy === 'idempotent' && (failure instanceof AirlockConnectionError || failure instanceof AirlockTimeoutError);
}

function describeCall(call: Call): string {
  return `${call.method} ${call.path ?? new URL(call.url ?? '').pathname.replace(/[^/]+$/, '…')}`;
}
