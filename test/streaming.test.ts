import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';

let airlock: AirlockFixture;
beforeAll(async () => {
  airlock = await startAirlock();
});
afterAll(async () => {
  await airlock?.close();
});

interface StreamEvent {
  type: string;
  seq: number;
  trace_id?: string;
  stream?: string;
  data?: string;
  status?: string;
  result?: Record<string, unknown>;
  receivedAt: number;
}

/** Posts an execution with Accept: application/x-ndjson and collects its events as they arrive. */
async function stream(body: Record<string, unknown>, options: { stopAfter?: (event: StreamEvent) => boolean } = {}) {
  const controller = new AbortController();
  const response = await fetch(`${airlock.url}/v1/sandbox/execute`, {
    method: 'POST',
    headers: { authorization: `Bearer ${airlock.apiKey}`, 'content-type': 'application/json', accept: 'application/x-ndjson' },
    body: JSON.stringify(body),
    signal: controller.signal,
  });
  const events: StreamEvent[] = [];
  if (!response.ok || !response.body) return { response, events };
  const decoder = new TextDecoder();
  let buffered = '';
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const event = { ...JSON.parse(buffered.slice(0, newline)), receivedAt: performance.now() } as StreamEvent;
        buffered = buffered.slice(newline + 1);
        events.push(event);
        if (options.stopAfter?.(event)) {
          controller.abort();
          return { response, events };
        }
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
  return { response, events };
}

describe('NDJSON streaming', () => {
  it('sends the status first, output while the code runs, then the result, numbered in order', async () => {
    const { response, events } = await stream({
      code: 'import sys, time\nprint("first")\nprint("oops", file=sys.stderr)\ntime.sleep(2)\nprint("second")',
    });
    expect(response.headers.get('content-type')).toBe('application/x-ndjson');
    expect(events[0]).toMatchObject({ type: 'status', status: 'running', seq: 0 });
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index));
    const outputs = events.filter((event) => event.type === 'output');
    expect(outputs.filter((event) => event.stream === 'stdout').map((event) => event.data).join('')).toBe('first\nsecond\n');
    expect(outputs.filter((event) => event.stream === 'stderr').map((event) => event.data).join('')).toBe('oops\n');
    const result = events.at(-1)!;
    expect(result).toMatchObject({ type: 'result', status: 'success', trace_id: events[0]!.trace_id });
    expect(result.result).toMatchObject({ success: true, stdout: 'first\nsecond\n', stderr: 'oops\n', exit_code: 0 });
    // "first" arrived while the code slept, not with the result.
    const first = outputs.find((event) => event.data?.includes('first'))!;
    expect(result.receivedAt - first.receivedAt).toBeGreaterThan(1000);
  });

  it('a client that disconnects does not stop the execution, which is recorded in full', async () => {
    const { events } = await stream(
      { language: 'bash', code: 'echo started; sleep 1; echo finished' },
      { stopAfter: (event) => event.type === 'output' },
    );
    const traceId = events[0]!.trace_id!;
    let record: Record<string, unknown> = {};
    for (let attempt = 0; attempt < 100; attempt++) {
      record = (await airlock.request(`/v1/executions/${traceId}`)).body;
      if (record.status !== 'running') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(record).toMatchObject({ status: 'success', stdout: 'started\nfinished\n', delivery_mode: 'streaming' });
  });

  it('multi-byte characters split across chunks arrive whole', async () => {
    const { events } = await stream({ code: 'import sys\nfor _ in range(3000):\n    sys.stdout.write("é✓")\n' });
    const text = events.filter((event) => event.type === 'output').map((event) => event.data).join('');
    expect(text).toBe('é✓'.repeat(3000));
  });

  it('errors before the code starts are ordinary HTTP errors', async () => {
    const { response } = await stream({ code: '', language: 'python' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'validation_error' });
  });
});

describe('executions API: replay and cancel', () => {
  async function replay(traceId: string, afterSeq?: number) {
    const query = afterSeq === undefined ? '' : `?after_seq=${afterSeq}`;
    const response = await fetch(`${airlock.url}/v1/executions/${traceId}/output${query}`, {
      headers: { authorization: `Bearer ${airlock.apiKey}` },
    });
    const text = await response.text();
    return { status: response.status, events: text.trim() ? text.trim().split('\n').map((line) => JSON.parse(line) as StreamEvent) : [] };
  }

  it('replays a finished execution from the start, or after a sequence number', async () => {
    const done = await airlock.execute({ language: 'bash', code: 'echo out; echo err >&2' });
    const all = await replay(done.trace_id);
    expect(all.status).toBe(200);
    expect(all.events[0]).toMatchObject({ type: 'status', trace_id: done.trace_id, seq: 0 });
    expect(all.events.at(-1)).toMatchObject({ type: 'result', status: 'success', result: { stdout: 'out\n', stderr: 'err\n' } });
    const later = await replay(done.trace_id, all.events.at(-2)!.seq);
    expect(later.events.map((event) => event.type)).toEqual(['result']);
    expect((await replay('trc_00000000000000000000000000000000')).status).toBe(404);
  });

  it('a replay of a running execution follows it live until its result', async () => {
    const running = stream({ language: 'bash', code: 'echo one; sleep 1; echo two' }, { stopAfter: (event) => event.type === 'status' });
    const { events: firstEvents } = await running;
    const traceId = firstEvents[0]!.trace_id!;
    const followed = await replay(traceId);
    const stdout = followed.events.filter((event) => event.type === 'output').map((event) => event.data).join('');
    expect(stdout).toBe('one\ntwo\n');
    expect(followed.events.at(-1)).toMatchObject({ type: 'result', status: 'success' });
  });

  it('cancel kills a running execution, whose status becomes cancelled', async () => {
    const streamed = await stream({ language: 'bash', code: 'echo waiting; sleep 30' }, { stopAfter: (event) => event.type === 'output' });
    const traceId = streamed.events[0]!.trace_id!;
    const cancelled = await airlock.request(`/v1/executions/${traceId}/cancel`, { method: 'POST' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toEqual({ trace_id: traceId, status: 'cancelled' });
    let record: Record<string, unknown> = {};
    for (let attempt = 0; attempt < 100; attempt++) {
      record = (await airlock.request(`/v1/executions/${traceId}`)).body;
      if (record.status !== 'running') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(record).toMatchObject({ status: 'cancelled', stdout: 'waiting\n' });
    // A finished execution's cancel answers its final status: 200, never 409 (Baponi clients read 409 as a busy thread).
    const again = await airlock.request(`/v1/executions/${traceId}/cancel`, { method: 'POST' });
    expect([again.status, again.body]).toEqual([200, { trace_id: traceId, status: 'cancelled' }]);
    const finished = await airlock.execute({ code: 'print(1)' });
    const late = await airlock.request(`/v1/executions/${finished.trace_id}/cancel`, { method: 'POST' });
    expect([late.status, late.body]).toEqual([200, { trace_id: finished.trace_id, status: 'success' }]);
    const unknown = await airlock.request('/v1/executions/trc_00000000000000000000000000000000/cancel', { method: 'POST' });
    expect(unknown.status).toBe(404);
  });
});
