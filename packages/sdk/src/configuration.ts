import { AirlockConfigurationError } from './errors.js';

/** The fetch the client sends requests with; the platform's fetch by default. */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

export const DEFAULT_BASE_URL = 'http://127.0.0.1:8080';
export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_RETRIES = 2;
export const DEFAULT_MAX_RETRY_DELAY_MS = 60_000;

export interface AirlockOptions {
  /**
   * The API key (`sk-...`), sent as `Authorization: Bearer`.
   * @default AIRLOCK_API_KEY environment variable
   */
  apiKey?: string;
  /**
   * The server's URL; it may end in a path prefix (`https://tools.example.com/airlock`).
   * @default AIRLOCK_URL environment variable, else http://127.0.0.1:8080
   */
  baseUrl?: string;
  /**
   * The fetch to send requests with: a proxy-aware fetch, a test seam, a platform without a global fetch.
   * @default globalThis.fetch
   */
  fetch?: FetchFunction;
  /**
   * How long one request may wait for its answer, in milliseconds. An execution waits for its `timeout` on top of
   * this; a stream allows this long between two events (the server sends a keepalive every 15 seconds).
   * @default 60000
   */
  timeoutMs?: number;
  /**
   * How many times a call is retried. Calls that change nothing, or nothing more when repeated (reads, signing URLs,
   * uploading bytes), are retried after a 429, a 503, a network error or a time-out; cancel, delete and fork after a
   * 429 or a 503, which the server answers before acting. Executions are never retried: they could run twice.
   * @default 2
   */
  maxRetries?: number;
  /**
   * The longest wait before a retry, in milliseconds. When the server's Retry-After asks for longer, the error
   * (RateLimitedError, UnavailableError) is thrown at once, with `retryAfterSeconds`.
   * @default 60000
   */
  maxRetryDelayMs?: number;
  /** Headers sent with every API request (not with signed file URLs). */
  headers?: Record<string, string>;
}

/** The client's options resolved and checked once, at construction. */
export interface Configuration {
  apiKey: string;
  /** Without a trailing slash. */
  baseUrl: string;
  fetch: FetchFunction;
  timeoutMs: number;
  maxRetries: number;
  maxRetryDelayMs: number;
  headers: Record<string, string>;
}

/** Reads an environment variable where there is one (Node, Bun, Deno); undefined elsewhere, never a crash. */
export function environmentVariable(name: string, scope: object = globalThis): string | undefined {
  const platform = scope as {
    process?: { env?: Record<string, string | undefined> };
    Deno?: { env?: { get(name: string): string | undefined } };
  };
  try {
    const value = platform.process?.env?.[name] ?? platform.Deno?.env?.get(name);
    return value === '' ? undefined : value;
  } catch {
    // Deno without --allow-env, or a sandboxed process object: as if the variable were unset
    return undefined;
  }
}

/** Option -> environment variable -> default; a value that cannot work fails here, naming the option and the variable. */
export function resolveConfiguration(
  options: AirlockOptions,
  environment: (name: string) => string | undefined = environmentVariable,
): Configuration {
  const apiKey = options.apiKey ?? environment('AIRLOCK_API_KEY');
  if (apiKey === undefined || apiKey.trim() === '') {
    throw new AirlockConfigurationError(
      'no Airlock API key: pass new Airlock({ apiKey: "sk-..." }) or set the AIRLOCK_API_KEY environment variable ' +
        '(`airlock serve` prints a key on its first start; `airlock keys create --name NAME` makes another)',
    );
  }
  return {
    apiKey,
    baseUrl: resolveBaseUrl(options.baseUrl, environment),
    fetch: resolveFetch(options.fetch),
    timeoutMs: positiveNumber('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    maxRetries: wholeNumber('maxRetries', options.maxRetries ?? DEFAULT_MAX_RETRIES),
    maxRetryDelayMs: wholeNumber('maxRetryDelayMs', options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS),
    headers: { ...options.headers },
  };
}

function resolveBaseUrl(option: string | undefined, environment: (name: string) => string | undefined): string {
  const fromEnvironment = option === undefined ? environment('AIRLOCK_URL') : undefined;
  const value = option ?? fromEnvironment ?? DEFAULT_BASE_URL;
  const source = option !== undefined ? 'the baseUrl option' : 'the AIRLOCK_URL environment variable';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AirlockConfigurationError(`${source} is ${JSON.stringify(value)}, not a URL; use e.g. ${DEFAULT_BASE_URL}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AirlockConfigurationError(`${source} must be an http:// or https:// URL, not ${JSON.stringify(value)}`);
  }
  if (url.search || url.hash) {
    throw new AirlockConfigurationError(`${source} must not have a query or a fragment: ${JSON.stringify(value)}`);
  }
  return url.href.replace(/\/+$/, '');
}

function resolveFetch(option: FetchFunction | undefined): FetchFunction {
  if (option) return option;
  if (typeof globalThis.fetch !== 'function') {
    throw new AirlockConfigurationError('this platform has no global fetch; pass new Airlock({ fetch }) with one');
  }
  // Called through globalThis: some browsers refuse a fetch detached from its global.
  return (url, init) => globalThis.fetch(url, init);
}

function positiveNumber(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new AirlockConfigurationError(`${name} must be a positive number of milliseconds, not ${String(value)}`);
  }
  return value;
}

function wholeNumber(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new AirlockConfigurationError(`${name} must be a whole number, 0 or more, not ${String(value)}`);
  }
  return value;
}
