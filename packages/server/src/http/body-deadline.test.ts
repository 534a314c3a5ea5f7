import { describe, expect, it } from 'vitest';
import { withDeadline } from './body-deadline.js';

const chunk = (text: string) => new TextEncoder().encode(text);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A body whose chunks arrive after the given delays (ms), then ends. */
function arriving(delays: number[]): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (index === delays.length) return controller.close();
        await sleep(delays[index]!);
        controller.enqueue(chunk(String(index++)));
      },
    },
    { highWaterMark: 0 },
  );
}

const timed = (body: ReadableStream<Uint8Array>) =>
  new Response(withDeadline(body, { timeoutMs: 150, timeoutError: () => new Error('timed out') })).text();

describe('withDeadline', () => {
  it('a stalled body fails', async () => {
    await expect(timed(arriving([10, 400]))).rejects.toThrow('timed out');
  });

  it('a streamed body may take any time while bytes keep coming', async () => {
    expect(await timed(arriving([60, 60, 60, 60, 60]))).toBe('01234');
  });

  it('the clock stops while the reader is not reading: a slow server does not count against the client', async () => {
    const reader = withDeadline(arriving([0, 0]), { timeoutMs: 50, timeoutError: () => new Error('timed out') }).getReader();
    expect((await reader.read()).value).toEqual(chunk('0'));
    await sleep(200);
    expect((await reader.read()).value).toEqual(chunk('1'));
    expect((await reader.read()).done).toBe(true);
  });
});
