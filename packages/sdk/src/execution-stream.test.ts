import { describe, expect, it } from 'vitest';
import { resolveConfiguration, type AirlockOptions, type FetchFunction } from './configuration.js';
import { AirlockConnectionError, AirlockError, ThreadBusyError } from './errors.js';
import { ExecutionStream, type ExecuteStreamOptions } from './execution-stream.js';
import { Transport } from './transport.js';
import type { ExecutionEvent } from './types.js';

const TRACE = 'trc_abcdefghijklmnopqrst';
const result = (stdout: string) => ({
  success: true,
  stdout,
  stderr: '',
  exit_code: 0,
  error: null,
  trace_id: TRACE,
  status: 'success',
  stdout_truncated: false,
  stderr_truncated: false,
  duration_ms: 5,
  overhead_ms: 1,
});
const status = (seq = 0) => ({ type: 'status', seq, trace_id: TRACE, status: 'running' });
const output = (seq: number, data: string) => ({ type: 'output', seq, stream: 'stdout', data });
const finished = (seq: number, stdout: string) => ({ type: 'result', seq, trace_id: TRACE, status: 'success', result: result(stdout), output_truncated: false });

/** An NDJSON answer of these events; with `drop`, the connection fails after them instead of ending. */
function ndjson(events: object[], options: { drop?: boolean; hang?: boolean } = {}): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const event of events) controller.enqueue(encoder.encode(`${JSON.stringify(event)}\n`));
      if (options.drop) controller.enqueue(encoder.encode('{"type":"outp'));
      else if (!options.hang) controller.close();
    },
    pull(controller) {
      if (options.drop) controller.error(new TypeError('terminated'));
    },
  });
  return new Response(body, { headers: { 'content-type': 'application/x-ndjson' } });
}

/** A fetch answering each request with the next of `answers`, recording the URLs. */
function server(...answers: Array<(init: RequestInit) => Response>) {
  const urls: string[] = [];
  const fetch: FetchFunction = async (url, init) => {
    urls.push(url);
    const answer = answers[urls.length - 1];
    if (!answer) throw new Error(`unexpected request ${url}`);
    const response = answer(init);
    // A body that never ends still ends when the request is aborted, as fetch's does.
    init.signal?.addEventListener('abort', () => void response.body?.cancel().catch(() => undefined));
    return response;
  };
  return { fetch, urls };
}

function stream(fetch: FetchFunction, options: ExecuteStreamOptions = {}, client: AirlockOptions = {}): ExecutionStream {
  const configuration = resolveConfiguration({ apiKey: 'sk-test', baseUrl: 'http://127.0.0.1:1', fetch, ...client }, () => undefined);
  return new ExecutionStream(new Transport(configuration, { random: () => 0 }), 'print(1)', options);
}

async function collect(execution: ExecutionStream): Promise<ExecutionEvent[]> {
  const events: ExecutionEvent[] = [];
  for await (const event of execution) events.push(event);
  return events;
}

describe('ExecutionStream', () => {
  it('posts the code for NDJSON and converts the events', async () => {
    const { fetch } = server(() => ndjson([status(), output(1, 'a\n'), { type: 'keepalive', seq: 2 }, finished(3, 'a\n')]));
    const events = await collect(stream(fetch));
    expect(events).toEqual([
      { type: 'status', seq: 0, traceId: TRACE, status: 'running' },
      { type: 'output', seq: 1, stream: 'stdout', data: 'a\n' },
      { type: 'keepalive', seq: 2 },
      { type: 'result', seq: 3, traceId: TRACE, status: 'success', outputTruncated: false, result: expect.objectContaining({ exitCode: 0, traceId: TRACE }) },
    ]);
  });

  it('after a drop, resumes after the last event it read and skips events it already has', async () => {
    const { fetch, urls } = server(
      () => ndjson([status(), output(1, 'a\n')], { drop: true }),
      () => ndjson([output(1, 'a\n'), output(2, 'b\n'), finished(3, 'a\nb\n')]),
    );
    const stdout: string[] = [];
    const execution = stream(fetch, { onStdout: (data) => stdout.push(data) });
    expect((await collect(execution)).map((event) => event.seq)).toEqual([0, 1, 2, 3]);
    expect(stdout).toEqual(['a\n', 'b\n']);
    expect(urls).toEqual(['http://127.0.0.1:1/v1/sandbox/execute', `http://127.0.0.1:1/v1/executions/${TRACE}/output?after_seq=1`]);
  });

  it('a replay that ends without the result (the record, numbered afresh) takes the result from the whole record', async () => {
    const { fetch, urls } = server(
      () => ndjson([status(), output(1, 'a\n'), output(2, 'b\n'), output(3, 'c\n')], { drop: true }),
      () => ndjson([]),
      () => ndjson([status(), output(1, 'a\nb\nc\nd\n'), finished(2, 'a\nb\nc\nd\n')]),
    );
    const execution = stream(fetch);
    const events = await collect(execution);
    expect(events.map((event) => event.type)).toEqual(['status', 'output', 'output', 'output', 'result']);
    expect(await execution.finalResult()).toMatchObject({ stdout: 'a\nb\nc\nd\n' });
    expect(urls.slice(1)).toEqual([
      `http://127.0.0.1:1/v1/executions/${TRACE}/output?after_seq=3`,
      `http://127.0.0.1:1/v1/executions/${TRACE}/output`,
    ]);
  });

  it('gives up after maxResumes, naming the trace id to read the result with', async () => {
    const { fetch, urls } = server(
      () => ndjson([status()], { drop: true }),
      () => ndjson([], { drop: true }),
      () => ndjson([], { drop: true }),
    );
    const error = await stream(fetch, { maxResumes: 2 }).finalResult().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AirlockConnectionError);
    expect((error as Error).message).toMatch(new RegExp(`resumed 2 times \\(maxResumes\\); read the result with getExecution\\("${TRACE}"\\)`));
    expect(urls).toHaveLength(3);
  });

  it('a drop before the status event cannot be resumed', async () => {
    const { fetch, urls } = server(() => ndjson([], { drop: true }));
    await expect(stream(fetch).finalResult()).rejects.toThrow(/before the trace id arrived, the code may still run/);
    expect(urls).toHaveLength(1);
  });

  it('a stream silent for longer than timeoutMs is resumed', async () => {
    const { fetch, urls } = server(() => ndjson([status()], { hang: true }), () => ndjson([finished(1, '')]));
    expect((await collect(stream(fetch, { timeoutMs: 100 }))).map((event) => event.type)).toEqual(['status', 'result']);
    expect(urls[1]).toContain('after_seq=0');
  });

  it('an error answer rejects the stream with its class and is not retried', async () => {
    const busy = () => new Response(JSON.stringify({ error: 'thread_busy', message: 'busy', request_id: 'r' }), { status: 409 });
    const { fetch, urls } = server(busy, busy);
    const execution = stream(fetch);
    await expect(collect(execution)).rejects.toBeInstanceOf(ThreadBusyError);
    await expect(execution.finalResult()).rejects.toBeInstanceOf(ThreadBusyError);
    expect(urls).toHaveLength(1);
  });

  it('is read once; leaving the loop early closes it and rejects finalResult', async () => {
    const { fetch } = server(() => ndjson([status(), output(1, 'a\n')], { hang: true }));
    const execution = stream(fetch);
    for await (const event of execution) if (event.type === 'output') break;
    expect(() => execution[Symbol.asyncIterator]()).toThrow(AirlockError);
    await expect(execution.finalResult()).rejects.toThrow(/closed before its result/);
    expect(execution.traceId).toBe(TRACE);
  });
});
