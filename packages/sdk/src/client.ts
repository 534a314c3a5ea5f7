import type {
  ExecuteAcceptedResponse,
  ExecuteResponse,
  ExecutionCancelResponse,
  ExecutionRecordResponse,
  WebhookDeliveryResponse,
} from '@airlock/contracts';
import { camelize } from './camel-case.js';
import { resolveConfiguration, type AirlockOptions } from './configuration.js';
import { AirlockTimeoutError } from './errors.js';
import { executeBody, executeRequest, executeTimeoutMs, withHeaders, type ExecuteOptions } from './execute-options.js';
import { ExecutionStream, type ExecuteStreamOptions } from './execution-stream.js';
import { FilesApi } from './files.js';
import { sleep } from './signals.js';
import { ThreadsApi } from './threads.js';
import { Transport, type CallOptions } from './transport.js';
import type { AcceptedExecution, CancelledExecution, ExecutionRecord, ExecutionResult, WebhookDelivery } from './types.js';

export interface ExecuteAsyncOptions extends ExecuteOptions {
  /**
   * Where the result is POSTed when the code ends, signed per Standard Webhooks (https; public addresses only).
   * Without it, poll with `waitForExecution`.
   */
  webhookUrl?: string;
  /**
   * How long the client waits for the server to accept the execution, in milliseconds.
   * @default the client's `timeoutMs`
   */
  timeoutMs?: number;
}

export interface WaitOptions extends CallOptions {
  /** The first pause between two polls, in milliseconds; each pause is half as long again as the one before. @default 250 */
  pollIntervalMs?: number;
  /** The longest pause between two polls, in milliseconds. @default 5000 */
  maxPollIntervalMs?: number;
  /** How long to wait in all, in milliseconds, before AirlockTimeoutError. @default no limit (use `signal`) */
  maxWaitMs?: number;
}

/**
 * A client of an Airlock server. Runs in Node 18+, Deno, Bun, browsers and workers (fetch, AbortSignal, streams).
 *
 * ```ts
 * const airlock = new Airlock(); // AIRLOCK_API_KEY, AIRLOCK_URL
 * const result = await airlock.execute('print(6 * 7)');
 * ```
 */
export class Airlock {
  /** The files of threads' homes. */
  readonly files: FilesApi;
  /** Fork and export threads. */
  readonly threads: ThreadsApi;
  readonly #transport: Transport;

  /** @throws AirlockConfigurationError without an API key or with options that cannot work; nothing is sent. */
  constructor(options: AirlockOptions = {}) {
    this.#transport = new Transport(resolveConfiguration(options));
    this.files = new FilesApi(this.#transport);
    this.threads = new ThreadsApi(this.#transport);
  }

  /** The server this client talks to. */
  get baseUrl(): string {
    return this.#transport.configuration.baseUrl;
  }

  /**
   * Runs code and answers its result once it ends. A non-zero exit, a timeout or running out of memory is a result
   * (`success`, `status`, `exitCode`), not an error. Never retried: a retry could run the code twice.
   */
  async execute(code: string, options: ExecuteOptions = {}): Promise<ExecutionResult> {
    const result = await this.#transport.json<ExecuteResponse>({
      method: 'POST',
      path: '/v1/sandbox/execute',
      json: executeBody(code, options),
      ...executeRequest(options),
      signal: options.signal,
      timeoutMs: executeTimeoutMs(options, this.#transport.configuration),
    });
    return camelize(result);
  }

  /** Runs code and streams its events while it runs; see ExecutionStream. */
  executeStream(code: string, options: ExecuteStreamOptions = {}): ExecutionStream {
    return new ExecutionStream(this.#transport, code, options);
  }

  /**
   * Starts code in the background (`Prefer: respond-async`) and answers at once with its trace id. The result goes
   * to `webhookUrl` when given; `waitForExecution` polls for it either way.
   */
  async executeAsync(code: string, options: ExecuteAsyncOptions = {}): Promise<AcceptedExecution> {
    const accepted = await this.#transport.json<ExecuteAcceptedResponse>({
      method: 'POST',
      path: '/v1/sandbox/execute',
      json: executeBody(code, options),
      ...withHeaders(executeRequest(options), { prefer: 'respond-async' }),
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    return camelize(accepted);
  }

  /** The recorded execution; `status` is `running` until it ends, and its output fields are null until then. */
  async getExecution(traceId: string, options: CallOptions = {}): Promise<ExecutionRecord> {
    const record = await this.#transport.json<ExecutionRecordResponse>({
      method: 'GET',
      path: `/v1/executions/${encodeURIComponent(traceId)}`,
      retry: 'idempotent',
      ...options,
    });
    return camelize(record);
  }

  /** Polls `getExecution`, with growing pauses, until the execution has ended; answers its record. */
  async waitForExecution(traceId: string, options: WaitOptions = {}): Promise<ExecutionRecord> {
    const { pollIntervalMs = 250, maxPollIntervalMs = 5_000, maxWaitMs, ...call } = options;
    const deadline = maxWaitMs === undefined ? Infinity : Date.now() + maxWaitMs;
    for (let pause = pollIntervalMs; ; pause = Math.min(maxPollIntervalMs, pause * 1.5)) {
      const record = await this.getExecution(traceId, call);
      if (record.status !== 'running') return record;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new AirlockTimeoutError(`execution ${traceId} still runs after ${maxWaitMs} ms; raise maxWaitMs`, maxWaitMs ?? 0);
      }
      await sleep(Math.min(pause, left), call.signal);
    }
  }

  /**
   * Kills a running execution and answers once it has ended (`cancelled`), or `cancelling` if stopping takes longer
   * than a few seconds. A finished execution answers with the status it finished with.
   */
  async cancel(traceId: string, options: CallOptions = {}): Promise<CancelledExecution> {
    const cancelled = await this.#transport.json<ExecutionCancelResponse>({
      method: 'POST',
      path: `/v1/executions/${encodeURIComponent(traceId)}/cancel`,
      retry: 'refusals',
      ...options,
    });
    return camelize(cancelled);
  }

  /** The webhook delivery of an execution started with `webhookUrl`: its state and every attempt. */
  async getWebhookDelivery(traceId: string, options: CallOptions = {}): Promise<WebhookDelivery> {
    const delivery = await this.#transport.json<WebhookDeliveryResponse>({
      method: 'GET',
      path: `/v1/executions/${encodeURIComponent(traceId)}/webhook`,
      retry: 'idempotent',
      ...options,
    });
    return { ...camelize(delivery), attempts: delivery.attempts.map(camelize) };
  }
}
