import { describe, expect, it } from 'vitest';
import { withDeadline, type BodyClock } from './body-deadline.js';

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

const timed = (body: ReadableStream<Uint8Array>, clock: BodyClock) =>
  new Response(withDeadline(body, { timeoutMs: 150, clock, timeoutError: () => new Error('timed out') })).text();

describe('withDeadline', () => {
  it('a whole body that arrives within the deadline passes unchanged', async () => {
    expect(await timed(arriving([10, 10, 10]), 'whole')).toBe('012');
  });

  it('a whole body that trickles past the deadline fails, though no single pause is that long', async () => {
    await expect(timed(arriving([60, 60, 60, 60]), 'whole')).rejects.toThrow('timed out');
  });

  it('a stalled body fails on either clock', async () => {
    for (const clock of ['whole', 'stall'] as const) await expect(timed(arriving([10, 400]), clock)).rejects.toThrow('timed out');
  });

  it('a streamed body may take any time while bytes keep coming', async () => {
    expect(await timed(arriving([60, 60, 60, 60, 60]), 'stall')).toBe('01234');
  });

  it('the clock stops while the reader is not reading: a slow server does not count against the client', async () => {
    const reader = withDeadline(arriving([0, 0]), { timeoutMs: 50, clock: 'stall', timeoutError: () => new Error('timed out') }).getReader();
    expect((await reader.read()).value).toEqual(chunk('0'));
    await sleep(200);
    expect((await reader.read()).value).toEqual(chunk('1'));
    expect((await reader.read()).done).toBe(true);
  });
});
