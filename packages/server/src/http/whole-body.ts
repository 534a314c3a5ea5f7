import type { IncomingMessage } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import { ErrorCode, LIMITS } from '@airlock/contracts';
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from '../shared/api-error.js';
import type { AppEnv } from './app-context.js';

interface WholeBodyLimits {
  maxBytes: number;
  timeoutMs: number;
  tooLarge: () => Error;
  timeoutError: () => Error;
}

/**
 * Lets a handler read the request's body in full with `requestBody(context)` (docs/decisions/0017-slow-clients.md):
 * at most `maxBytes` (413 `payload_too_large`, at once when Content-Length says more), all of it within `seconds` of
 * the first read (408 `request_timeout`, answered with `Connection: close`; the rest is left unread, so the connection
 * stays open for that answer). On the Node server the body is read from the request's socket stream directly, without
 * a web stream around it.
 */
export function wholeBody(options: { seconds: number; maxBytes?: number }): MiddlewareHandler<AppEnv> {
  const maxBytes = options.maxBytes ?? LIMITS.bodyMaxBytes;
  const timeoutMessage = `the request body did not arrive in full within ${options.seconds} s; send the body right after the headers, without pauses`;
  const limits: WholeBodyLimits = {
    maxBytes,
    timeoutMs: options.seconds * 1000,
    tooLarge: () => new ApiError('payload_too_large', `request body is larger than ${maxBytes} bytes`),
    timeoutError: () => new ApiError(ErrorCode.requestTimeout, timeoutMessage, { Connection: 'close' }),
  };
  return async (context, next) => {
    if (Number(context.req.header('content-length') ?? 0) > maxBytes) throw limits.tooLarge();
    const incoming = (context.env as Partial<HttpBindings> | undefined)?.incoming;
    let read: Promise<Uint8Array> | undefined;
    context.set('body', () => {
      if (incoming) {
        const hasBody = incoming.headers['content-length'] !== undefined || incoming.headers['transfer-encoding'] !== undefined;
        read ??= hasBody ? readIncoming(incoming, limits) : Promise.resolve(new Uint8Array());
      } else {
        const { body } = context.req.raw;
        read ??= body ? readStream(body, limits) : Promise.resolve(new Uint8Array());
      }
      return read;
    });
    await next();
  };
}

/**
 * The request's body, read on the first call (after authentication: a caller the server refuses never has its body
 * read); a request that did not pass wholeBody (an app of some operations only) is read plainly.
 */
export async function requestBody(context: Context<AppEnv>): Promise<Uint8Array> {
  const read = context.get('body');
  return read ? read() : new Uint8Array(await context.req.raw.arrayBuffer());
}

/** A body's chunks, up to the byte limit. */
class Collected {
  readonly #chunks: Uint8Array[] = [];
  #size = 0;

  constructor(readonly limits: WholeBodyLimits) {}

  /** Adds a chunk; false once the body is over the limit. */
  add(chunk: Uint8Array): boolean {
    this.#size += chunk.byteLength;
    if (this.#size > this.limits.maxBytes) return false;
    this.#chunks.push(chunk);
    return true;
  }

  bytes(): Uint8Array {
    return this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#size);
  }
}

function readIncoming(incoming: IncomingMessage, limits: WholeBodyLimits): Promise<Uint8Array> {
  const collected = new Collected(limits);
  return new Promise((resolve, reject) => {
    const settle = (error?: Error): void => {
      clearTimeout(timer);
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', settle);
      incoming.off('close', onClose);
      if (error === undefined) return resolve(collected.bytes());
      incoming.pause();
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      if (!collected.add(chunk)) settle(limits.tooLarge());
    };
    const onEnd = (): void => settle();
    const onClose = (): void => settle(new Error('the client closed the connection before its request body ended'));
    const timer = setTimeout(() => settle(limits.timeoutError()), limits.timeoutMs);
    incoming.on('data', onData);
    incoming.once('end', onEnd);
    incoming.once('error', settle);
    incoming.once('close', onClose);
  });
}

async function readStream(body: ReadableStream<Uint8Array>, limits: WholeBodyLimits): Promise<Uint8Array> {
  const collected = new Collected(limits);
  const reader = body.getReader();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(limits.timeoutError()), limits.timeoutMs)));
  try {
    for (;;) {
      const chunk = await Promise.race([reader.read(), expired]);
      if (chunk.done) return collected.bytes();
      if (!collected.add(chunk.value)) throw limits.tooLarge();
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
}
