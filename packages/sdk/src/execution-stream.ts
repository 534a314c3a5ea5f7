import type { ExecutionEvent as WireExecutionEvent } from '@airlock/contracts';
import { camelize } from './camel-case.js';
import { AirlockConnectionError, AirlockError, AirlockTimeoutError } from './errors.js';
import { executeBody, executeRequest, withHeaders, type ExecuteOptions } from './execute-options.js';
import { NdjsonDecoder } from './ndjson.js';
import { retryDelayMs } from './retry.js';
import { sleep } from './signals.js';
import type { OpenResponse, Transport } from './transport.js';
import type { ExecutionEvent, ExecutionResult } from './types.js';

export const DEFAULT_MAX_RESUMES = 3;

export interface ExecuteStreamOptions extends ExecuteOptions {
  /** Called with each chunk of stdout as it is read. */
  onStdout?: (data: string) => void;
  /** Called with each chunk of stderr as it is read. */
  onStderr?: (data: string) => void;
  /** Called with every event (status, output, keepalive, result) as it is read. */
  onEvent?: (event: ExecutionEvent) => void;
  /**
   * How many times a stream that drops is resumed from its last event (`GET /v1/executions/{id}/output?after_seq=N`).
   * @default 3
   */
  maxResumes?: number;
  /**
   * How long the client waits for the stream to start, and then between two events, in milliseconds; a stream silent
   * for longer is resumed. @default the client's `timeoutMs`
   */
  timeoutMs?: number;
}

/**
 * A streamed execution: iterate it for its events (`for await`), or await `finalResult()`; callbacks fire as events
 * are read either way. The code starts at once. A stream that drops after its status event is resumed where it
 * stopped. Leaving the loop early, or the signal aborting, closes the connection but does not stop the code: call
 * `cancel(traceId)` for that.
 */
export class ExecutionStream implements AsyncIterable<ExecutionEvent> {
  readonly #transport: Transport;
  readonly #options: ExecuteStreamOptions;
  readonly #started: Promise<OpenResponse>;
  readonly #result: Promise<ExecutionResult>;
  #settle!: { resolve: (result: ExecutionResult) => void; reject: (error: unknown) => void };
  #reader: 'iterator' | 'finalResult' | undefined;
  #traceId: string | undefined;

  constructor(transport: Transport, code: string, options: ExecuteStreamOptions) {
    this.#transport = transport;
    this.#options = options;
    this.#result = new Promise((resolve, reject) => (this.#settle = { resolve, reject }));
    // Observed here so that a stream read only by iterating never reports an unhandled rejection.
    this.#result.catch(() => undefined);
    this.#started = transport.open({
      method: 'POST',
      path: '/v1/sandbox/execute',
      json: executeBody(code, options),
      ...withHeaders(executeRequest(options), { accept: 'application/x-ndjson' }),
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? transport.configuration.timeoutMs,
    });
    this.#started.catch(() => undefined);
  }

  /** The execution's trace id, once its status event has been read. */
  get traceId(): string | undefined {
    return this.#traceId;
  }

  /** The events in order; a stream is read once, by one loop or by `finalResult()`. */
  [Symbol.asyncIterator](): AsyncIterator<ExecutionEvent> {
    this.#claim('iterator');
    return this.#events();
  }

  /**
   * The execution's result. Reads the rest of the stream when nothing iterates it (callbacks still fire); with a loop
   * running, settles when the loop reads the result.
   */
  finalResult(): Promise<ExecutionResult> {
    if (this.#reader === undefined) {
      this.#claim('finalResult');
      void (async () => {
        for await (const _event of this.#events()) {
          // the callbacks and the result are handled by #events
        }
      })().catch(() => undefined);
    }
    return this.#result;
  }

  #claim(reader: 'iterator' | 'finalResult'): void {
    if (this.#reader !== undefined) {
      throw new AirlockError(`this execution stream is already read by ${this.#reader === 'iterator' ? 'a loop' : 'finalResult()'}; read it once`);
    }
    this.#reader = reader;
  }

  async *#events(): AsyncGenerator<ExecutionEvent, void, undefined> {
    try {
      for await (const event of this.#connections()) {
        this.#deliver(event);
        yield event;
        if (event.type === 'result') {
          this.#settle.resolve(event.result);
          return;
        }
      }
      throw new AirlockError('the execution stream ended without a result');
    } catch (error) {
      this.#settle.reject(error);
      throw error;
    } finally {
      this.#settle.reject(new AirlockError('the execution stream was closed before its result'));
    }
  }

  #deliver(event: ExecutionEvent): void {
    if (event.type === 'output') (event.stream === 'stdout' ? this.#options.onStdout : this.#options.onStderr)?.(event.data);
    this.#options.onEvent?.(event);
  }

  /**
   * Events of the execute call, then of replays after each drop, each event once. A replay that ends without the
   * result read the execution's record (its live events are gone: it ended a while ago or ran on another node), whose
   * events are numbered afresh; the result is then taken from a replay of the whole record.
   */
  async *#connections(): AsyncGenerator<ExecutionEvent, void, undefined> {
    const maxResumes = this.#options.maxResumes ?? DEFAULT_MAX_RESUMES;
    let connection = await this.#started;
    let lastSeq = -1;
    for (let resumes = 0; ; resumes++) {
      let failure: Error;
      try {
        for await (const event of readEvents(connection)) {
          if (event.seq <= lastSeq) continue;
          lastSeq = event.seq;
          if (event.type === 'status') this.#traceId = event.traceId;
          yield event;
          if (event.type === 'result') return;
        }
        if (resumes > 0) {
          yield await this.#recordedResult();
          return;
        }
        failure = new AirlockConnectionError('the execution stream ended before its result');
      } catch (error) {
        if (!(error instanceof AirlockConnectionError || error instanceof AirlockTimeoutError)) throw error;
        failure = error;
      }
      if (this.#traceId === undefined) {
        throw new AirlockConnectionError(`${failure.message}; it dropped before the trace id arrived, the code may still run`, {
          cause: failure,
        });
      }
      if (resumes >= maxResumes) {
        throw new AirlockConnectionError(
          `${failure.message}; resumed ${resumes} times (maxResumes); read the result with getExecution("${this.#traceId}")`,
          { cause: failure },
        );
      }
      await sleep(retryDelayMs({ attempt: resumes }), this.#options.signal);
      connection = await this.#replay({ after_seq: String(lastSeq) });
    }
  }

  async #recordedResult(): Promise<ExecutionEvent> {
    for await (const event of readEvents(await this.#replay({}))) {
      if (event.type === 'result') return event;
    }
    throw new AirlockConnectionError(`the replay of execution ${this.#traceId ?? ''} ended without its result`);
  }

  #replay(query: Record<string, string>): Promise<OpenResponse> {
    return this.#transport.open({
      method: 'GET',
      path: `/v1/executions/${encodeURIComponent(this.#traceId ?? '')}/output`,
      query,
      headers: { accept: 'application/x-ndjson' },
      retry: 'idempotent',
      signal: this.#options.signal,
      timeoutMs: this.#options.timeoutMs ?? this.#transport.configuration.timeoutMs,
    });
  }
}

/**
 * The events of one NDJSON answer as they arrive; the time limit restarts with every chunk. Failures are SDK errors
 * (AirlockConnectionError for a dropped connection, AirlockTimeoutError for silence, AirlockAbortError).
 */
async function* readEvents(connection: OpenResponse): AsyncGenerator<ExecutionEvent, void, undefined> {
  const { response, attempt } = connection;
  const body = response.body;
  if (body === null) return;
  const reader = body.getReader();
  // Ends a pending read when the attempt aborts, also with a fetch whose body ignores its signal.
  const onAbort = (): void => void reader.cancel().catch(() => undefined);
  attempt.signal.addEventListener('abort', onAbort, { once: true });
  const decoder = new NdjsonDecoder();
  let finished = false;
  try {
    for (;;) {
      attempt.restartTimer();
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
        if (attempt.signal.aborted) throw attempt.signal.reason;
      } catch (error) {
        throw attempt.failure(error, 'reading the execution stream');
      }
      // The time limit is for the server's silence, not for the time the caller takes with an event.
      attempt.stopTimer();
      const values = chunk.done ? decoder.end() : decoder.push(chunk.value);
      for (const value of values) {
        const event = toEvent(value as WireExecutionEvent);
        if (event) yield event;
      }
      if (chunk.done) {
        finished = true;
        return;
      }
    }
  } finally {
    attempt.signal.removeEventListener('abort', onAbort);
    attempt.dispose();
    if (!finished) reader.cancel().catch(() => undefined);
    attempt.abort();
  }
}

/** A wire event in the SDK's shape; undefined for an event type this SDK does not know (a newer server's). */
function toEvent(wire: WireExecutionEvent): ExecutionEvent | undefined {
  switch (wire.type) {
    case 'status':
    case 'output':
    case 'keepalive':
      return camelize(wire);
    case 'result':
      return { ...camelize(wire), result: camelize(wire.result) };
    default:
      return undefined;
  }
}
