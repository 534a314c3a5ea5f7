import type { Execution, ExecutionRepository, ExecutionResult, HeldThread, NewExecution } from '@airlock/db';

/**
 * How long an inline call without an idempotency key runs before its running record is written. A call that ends
 * sooner is recorded once, with its result and its thread's release (one statement instead of two); nobody can ask
 * for it meanwhile, since its caller learns its trace id only from the answer.
 */
export const RECORD_DELAY_MS = 100;

/**
 * One execution's record: written running before its code runs (a call with an idempotency key, which must take the
 * key first), while it runs (on the next turn of the event loop), or after RECORD_DELAY_MS (see there); then
 * completed with the result.
 */
export class RecordWriter {
  readonly #executions: ExecutionRepository;
  readonly #execution: NewExecution;
  #written: Promise<unknown> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #onWritten: (() => void) | undefined;
  /** Resolves once the running record exists: a read of it on any node finds it. */
  readonly written: Promise<void>;

  private constructor(executions: ExecutionRepository, execution: NewExecution) {
    this.#executions = executions;
    this.#execution = execution;
    this.written = new Promise<void>((resolve) => (this.#onWritten = resolve));
  }

  /** Writes the running record now; rejects (IdempotencyKeyTakenError, ...) when it cannot. */
  static async before(executions: ExecutionRepository, execution: NewExecution): Promise<RecordWriter> {
    const record = new RecordWriter(executions, execution);
    await record.#write();
    return record;
  }

  /** Writes the running record on the next turn of the event loop, while the code starts. */
  static soon(executions: ExecutionRepository, execution: NewExecution): RecordWriter {
    const record = new RecordWriter(executions, execution);
    record.#written = new Promise((resolve) => setImmediate(resolve)).then(() => record.#insert());
    record.#written.catch(() => undefined);
    return record;
  }

  /** Writes the running record only if the call still runs after RECORD_DELAY_MS. */
  static deferred(executions: ExecutionRepository, execution: NewExecution): RecordWriter {
    const record = new RecordWriter(executions, execution);
    record.#timer = setTimeout(() => void record.#write().catch(() => undefined), RECORD_DELAY_MS);
    return record;
  }

  /**
   * Stores the result: completes the running record, or, when none was written yet, records the finished execution
   * in one statement; either releases `thread` in the same statement (null when the execution no longer held it, and
   * nothing was written).
   */
  async complete(result: ExecutionResult, thread?: HeldThread): Promise<Execution | null> {
    clearTimeout(this.#timer);
    if (this.#written === undefined) {
      const finished = await this.#executions.insertFinished(this.#execution, result, thread);
      if (finished) this.#onWritten?.();
      return finished;
    }
    await this.#written;
    return this.#executions.complete(this.#execution.traceId, result, thread);
  }

  #write(): Promise<unknown> {
    this.#written ??= this.#insert();
    return this.#written;
  }

  async #insert(): Promise<unknown> {
    const inserted = await this.#executions.insertRunning(this.#execution);
    this.#onWritten?.();
    return inserted;
  }
}
