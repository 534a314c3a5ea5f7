import { ErrorCode } from '@airlock/contracts';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../shared/api-error.js';
import type { AppEnv } from './app-context.js';

/**
 * `body`, erroring with `timeoutError()` once a read waits longer than `timeoutMs` for bytes: a streamed upload may
 * rightly take hours, but not stall. The clock runs only while a read waits for the client: a server that reads slowly
 * (a busy blob store) never counts against the client. On expiry the source is left unread rather than cancelled, so
 * the connection stays open for the error answer.
 */
export function withDeadline(
  body: ReadableStream<Uint8Array>,
  options: { timeoutMs: number; timeoutError: () => Error },
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
        stopClock();
        if (chunk.done) controller.close();
        else controller.enqueue(chunk.value);
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
 * Puts a stall deadline on a streamed request body (docs/decisions/0017-slow-clients.md): when it expires the body
 * read fails with 408 `request_timeout`, answered with `Connection: close`. Other bodies are read whole (wholeBody).
 */
export function bodyDeadline(options: { seconds: number }): MiddlewareHandler<AppEnv> {
  const { seconds } = options;
  const message = `no bytes of the upload arrived for ${seconds} s; keep sending, or start the upload again`;
  const timeoutError = () => new ApiError(ErrorCode.requestTimeout, message, { Connection: 'close' });
  return async (context, next) => {
    const body = context.req.raw.body;
    if (body) {
      const init: RequestInit & { duplex: 'half' } = {
        body: withDeadline(body, { timeoutMs: seconds * 1000, timeoutError }),
        duplex: 'half',
      };
      context.req.raw = new Request(context.req.raw, init);
    }
    await next();
  };
}
