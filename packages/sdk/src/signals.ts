import { AirlockAbortError, AirlockConnectionError, AirlockTimeoutError } from './errors.js';

export function abortError(signal: AbortSignal): AirlockAbortError {
  return new AirlockAbortError('the call was aborted by its AbortSignal', { cause: signal.reason });
}

/** Waits `ms`; rejects with AirlockAbortError as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * One attempt's AbortSignal: aborts when the caller's signal does, when `timeoutMs` passes, or on `abort()`.
 * `failure(error)` says which of them ended the attempt. (AbortSignal.any is not in Node 18.)
 */
export class AttemptSignal {
  readonly #controller = new AbortController();
  readonly #caller: AbortSignal | undefined;
  readonly #timeoutMs: number | undefined;
  readonly #onCallerAbort = (): void => this.#controller.abort(this.#caller?.reason);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timedOut = false;

  constructor(caller: AbortSignal | undefined, timeoutMs: number | undefined) {
    this.#caller = caller;
    this.#timeoutMs = timeoutMs;
    if (caller?.aborted) this.#controller.abort(caller.reason);
    else caller?.addEventListener('abort', this.#onCallerAbort, { once: true });
    this.restartTimer();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Starts the time limit again, e.g. when a streamed answer makes progress. */
  restartTimer(): void {
    this.stopTimer();
    if (this.#timeoutMs === undefined || this.#controller.signal.aborted) return;
    this.#timer = setTimeout(() => {
      this.#timedOut = true;
      this.#controller.abort(new AirlockTimeoutError(`no answer within ${this.#timeoutMs} ms`, this.#timeoutMs ?? 0));
    }, this.#timeoutMs);
  }

  stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  get timedOut(): boolean {
    return this.#timedOut;
  }

  get callerAborted(): boolean {
    return this.#caller?.aborted === true;
  }

  /** Ends the attempt (its connection closes); the caller's signal is left alone. */
  abort(): void {
    this.#controller.abort();
  }

  /** Releases the timer and the listener on the caller's signal. */
  dispose(): void {
    this.stopTimer();
    this.#caller?.removeEventListener('abort', this.#onCallerAbort);
  }

  /** The SDK error for an exception of fetch or of reading the body, given why the signal aborted (if it did). */
  failure(error: unknown, what: string): Error {
    if (this.callerAborted && this.#caller) return abortError(this.#caller);
    if (this.#timedOut) return new AirlockTimeoutError(`${what}: no answer within ${this.#timeoutMs} ms; raise timeoutMs`, this.#timeoutMs ?? 0);
    return new AirlockConnectionError(`${what}: ${describe(error)}`, { cause: error });
  }
}

/** An error's message with its cause's (undici puts the reason, e.g. ECONNREFUSED, in `cause`). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause && cause !== error.message ? `${error.message} (${cause})` : error.message;
}
