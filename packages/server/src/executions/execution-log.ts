import { StringDecoder } from 'node:string_decoder';
import type { ExecuteResponse, ExecutionEvent, NetworkMode } from '@airlock/contracts';

/** A stream event before the log numbers it. */
export type NewEvent = ExecutionEvent extends infer E ? (E extends unknown ? Omit<E, 'seq'> : never) : never;

const KEEPALIVE_MS = 15_000;

/** Output kept in memory per execution for replay; output beyond it is still streamed live, not replayed. */
const REPLAY_LIMIT_BYTES = 1024 * 1024;

/**
 * The events of one execution as it runs on this node: numbered once, replayed from any point to late readers
 * (`GET /v1/executions/{id}/output?after_seq=N`) and followed live; also the handle that cancels it.
 */
export class ExecutionLog {
  readonly orgId: string;
  readonly traceId: string;
  /** What the execution's record says of its request, for a read before the record is written. */
  readonly request: { metadata: Record<string, string>; createdAt: Date; networkMode: NetworkMode; networkAllow: string[] | null };
  readonly cancel = new AbortController();
  /** Resolves with the result when the execution has ended. */
  readonly finished: Promise<ExecuteResponse>;
  #resolveFinished: (result: ExecuteResponse) => void = () => undefined;
  readonly #events: ExecutionEvent[] = [];
  readonly #listeners = new Set<(event: ExecutionEvent | null) => void>();
  readonly #decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  readonly #keepalive: NodeJS.Timeout;
  #bytes = 0;
  #seq = 0;
  #outputEnded = false;
  #done = false;

  constructor(orgId: string, traceId: string, request: ExecutionLog['request']) {
    this.orgId = orgId;
    this.traceId = traceId;
    this.request = request;
    this.finished = new Promise((resolve) => (this.#resolveFinished = resolve));
    this.append({ type: 'status', trace_id: traceId, status: 'running' });
    // Keeps idle connections (and proxies) open while the code prints nothing.
    this.#keepalive = setInterval(() => this.append({ type: 'keepalive' }), KEEPALIVE_MS);
    this.#keepalive.unref();
  }

  get done(): boolean {
    return this.#done;
  }

  /** Raw output of the sandbox; split multi-byte characters are carried over to the next chunk. */
  output(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const data = this.#decoders[stream].write(chunk);
    if (data.length > 0) this.append({ type: 'output', stream, data });
  }

  /**
   * Ends the output, flushing characters split across chunks, and stops the keepalives; returns the seq the result
   * event will have (stored with the record, so a replay built from it numbers the result the same way).
   */
  endOutput(): number {
    if (!this.#outputEnded) {
      this.#outputEnded = true;
      clearInterval(this.#keepalive);
      for (const stream of ['stdout', 'stderr'] as const) {
        const rest = this.#decoders[stream].end();
        if (rest.length > 0) this.append({ type: 'output', stream, data: rest });
      }
    }
    return this.#seq;
  }

  finish(result: ExecuteResponse): void {
    this.endOutput();
    this.append(resultEvent(result));
    this.#done = true;
    for (const listener of this.#listeners) listener(null);
    this.#listeners.clear();
    this.#resolveFinished(result);
  }

  append(event: NewEvent): void {
    const numbered = { ...event, seq: this.#seq++ } as ExecutionEvent;
    const size = numbered.type === 'output' ? numbered.data.length : 0;
    if (this.#bytes + size <= REPLAY_LIMIT_BYTES) {
      this.#bytes += size;
      this.#events.push(numbered);
    }
    for (const listener of this.#listeners) listener(numbered);
  }

  /** Calls `onEvent` with every kept event after `afterSeq`, then with new ones, and with null at the end. */
  follow(afterSeq: number, onEvent: (event: ExecutionEvent | null) => void): () => void {
    for (const event of this.#events) if (event.seq > afterSeq) onEvent(event);
    if (this.#done) {
      onEvent(null);
      return () => undefined;
    }
    const listener = (event: ExecutionEvent | null): void => {
      if (event === null || event.seq > afterSeq) onEvent(event);
    };
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** How long a finished execution's events stay in memory for exact replay. */
const KEEP_FINISHED_MS = 60_000;

/** The executions running on this node, and those that finished a moment ago. */
export class LiveExecutions {
  readonly #logs = new Map<string, ExecutionLog>();

  start(orgId: string, traceId: string, request: ExecutionLog['request']): ExecutionLog {
    const log = new ExecutionLog(orgId, traceId, request);
    this.#logs.set(traceId, log);
    return log;
  }

  /** Forgets a finished execution after a while. */
  retire(log: ExecutionLog): void {
    setTimeout(() => this.#logs.delete(log.traceId), KEEP_FINISHED_MS).unref();
  }

  /** The executions still running here. */
  running(): ExecutionLog[] {
    return [...this.#logs.values()].filter((log) => !log.done);
  }

  get(orgId: string, traceId: string): ExecutionLog | undefined {
    const log = this.#logs.get(traceId);
    return log?.orgId === orgId ? log : undefined;
  }
}

/** The stream's last event: the execute answer, live and in replays built from the record. */
export function resultEvent(result: ExecuteResponse): Extract<NewEvent, { type: 'result' }> {
  return {
    type: 'result',
    trace_id: result.trace_id,
    status: result.status,
    result,
    output_truncated: result.stdout_truncated || result.stderr_truncated,
  };
}
