import { ErrorCode } from '@airlock/contracts';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../shared/api-error.js';
import type { AppEnv } from './app-context.js';

/**
 * How a body's wait is timed. `whole`: from the server's first read until the body has ended (a JSON body, a few MiB at
 * most). `stall`: from each read until bytes arrive (a streamed upload, which may rightly take hours).
 */
export type BodyClock = 'whole' | 'stall';

/**
 * `body`, erroring with `timeoutError()` once it keeps its reader waiting longer than `timeoutMs`. The clock runs only
 * while a read waits for the client: a server that reads slowly (a busy blob store) never counts against the client.
 * On expiry the source is left unread rather than cancelled, so the connection stays open for the error answer.
 */
export function withDeadline(
  body: ReadableStream<Uint8Array>,
  options: { timeoutMs: number; clock: BodyClock; timeoutError: () => Error },
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  const stopClock = (): void => {
    clearTimeout(timer);
    timer = undefined;
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        timer ??= setTimeout(() => {
          expired = true;
          controller.error(options.timeoutError());
        }, options.timeoutMs);
        const chunk = await reader.read().catch((error: unknown) => {
          stopClock();
          throw error;
        });
        if (expired) return;
        if (chunk.done) {
          stopClock();
          controller.close();
          return;
        }
        if (options.clock === 'stall') stopClock();
        controller.enqueue(chunk.value);
      },
      cancel(reason) {
        stopClock();
        return reader.cancel(reason);
      },
    },
    // No read-ahead: the stream pulls only when its reader asks, so the clock measures the client alone.
    { highWaterMark: 0 },
  );
}

/**
 * Puts a deadline on the request body (docs/decisions/0017-slow-clients.md): when it expires the body read fails with
 * 408 `request_timeout`, answered with `Connection: close`.
 */
export function bodyDeadline(options: { seconds: number; clock: BodyClock }): MiddlewareHandler<AppEnv> {
  const { seconds, clock } = options;
  const message =
    clock === 'whole'
      ? `the request body did not arrive in full within ${seconds} s; send the body right after the headers, without pauses`
      : `no bytes of the upload arrived for ${seconds} s; keep sending, or start the upload again`;
  const timeoutError = () => new ApiError(ErrorCode.requestTimeout, message, { Connection: 'close' });
  return async (context, next) => {
    const body = context.req.raw.body;
    if (body) {
      const init: RequestInit & { duplex: 'half' } = {
        body: withDeadline(body, { timeoutMs: seconds * 1000, clock, timeoutError }),
        duplex: 'half',
      };
      context.req.raw = new Request(context.req.raw, init);
    }
    await next();
  };
}
