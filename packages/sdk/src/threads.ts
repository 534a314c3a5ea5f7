import type { ThreadForkRequest, ThreadForkResponse } from '@airlock/contracts';
import { camelize } from './camel-case.js';
import { releasedWhenRead } from './response-body.js';
import type { CallOptions, Transport } from './transport.js';
import type { ForkedThread } from './types.js';

/** Airlock's thread extensions: fork a home into a new thread, export it as an archive. */
export class ThreadsApi {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** Starts `newThreadId` from this thread's home as it is now (no copy is made); the two then diverge. */
  async fork(threadId: string, newThreadId: string, options: CallOptions = {}): Promise<ForkedThread> {
    const body: ThreadForkRequest = { thread_id: newThreadId };
    const forked = await this.#transport.json<ThreadForkResponse>({
      method: 'POST',
      path: `/v1/threads/${encodeURIComponent(threadId)}/fork`,
      json: body,
      retry: 'refusals',
      ...options,
    });
    return camelize(forked);
  }

  /** The home as a `.tar.gz`, streamed: a fetch Response to read with `.body`, `.arrayBuffer()` or `.blob()`. */
  async export(threadId: string, options: CallOptions = {}): Promise<Response> {
    const opened = await this.#transport.open({
      method: 'GET',
      path: `/v1/threads/${encodeURIComponent(threadId)}/export`,
      headers: { accept: 'application/gzip' },
      retry: 'idempotent',
      ...options,
    });
    return releasedWhenRead(opened);
  }
}
