import {
  Airlock,
  AirlockAbortError,
  AirlockConnectionError,
  AirlockTimeoutError,
  ConflictError,
  IdempotencyKeyReusedError,
  NotFoundError,
  RateLimitedError,
  ThreadBusyError,
  UnauthorizedError,
  ValidationError,
  type AirlockOptions,
  type ExecutionEvent,
  type FetchFunction,
} from '@airlock/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

/** A fetch that passes every request to the server and records its URL and answer status. */
function recordingFetch(wrap?: (url: string, response: Response) => Response) {
  const requests: Array<{ url: string; status: number }> = [];
  const recording: FetchFunction = async (url, init) => {
    const response = await fetch(url, init);
    requests.push({ url, status: response.status });
    return wrap ? wrap(url, response) : response;
  };
  return { fetch: recording, requests };
}

/** The body, cut after `limit` bytes by an error, as a connection that drops mid-stream reads. */
function droppedAfter(body: ReadableStream<Uint8Array>, limit: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent >= limit) {
        await reader.cancel();
        controller.error(new TypeError('terminated', { cause: new Error('other side closed') }));
        return;
      }
      const chunk = await reader.read();
      if (chunk.done) {
        controller.close();
        return;
      }
      const kept = chunk.value.subarray(0, limit - sent);
      sent += kept.length;
      controller.enqueue(kept);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

let airlock: AirlockFixture;
let client: Airlock;
const connect = (options: AirlockOptions = {}) => new Airlock({ apiKey: airlock.apiKey, baseUrl: airlock.url, ...options });
let counter = 0;
const newThread = () => `sdk-${process.pid}-${Date.now()}-${counter++}`;

beforeAll(async () => {
  airlock = await startAirlock({ environment: { AIRLOCK_WEBHOOK_ALLOW_LOOPBACK: 'true', AIRLOCK_WEBHOOK_RETRY_SECONDS: '0.2' } });
  client = connect();
});
afterAll(async () => {
  await airlock?.close();
});

describe('SDK: execute', () => {
  it('runs python and bash and answers the result in camelCase', async () => {
    const python = await client.execute('import sys; print(6 * 7); print("warn", file=sys.stderr)');
    expect(python).toMatchObject({ success: true, stdout: '42\n', stderr: 'warn\n', exitCode: 0, error: null, status: 'success' });
    expect(python).toMatchObject({ stdoutTruncated: false, stderrTruncated: false });
    expect(python.traceId).toMatch(/^trc_[0-9a-z]{20}$/);
    expect(python.durationMs).toEqual(expect.any(Number));
    expect(python.overheadMs).toEqual(expect.any(Number));
    const bash = await client.execute('echo "$GREETING $((6 * 7))"', { language: 'bash', envVars: { GREETING: 'hello' }, metadata: { job: '1' } });
    expect(bash).toMatchObject({ success: true, stdout: 'hello 42\n' });
  });

  it('a non-zero exit is a result, not an error', async () => {
    const result = await client.execute('echo partial; exit 3', { language: 'bash' });
    expect(result).toMatchObject({ success: false, exitCode: 3, status: 'failed', stdout: 'partial\n' });
  });

  it("a refused request is a ValidationError carrying the server's message and request id", async () => {
    const raw = await airlock.request('/v1/sandbox/execute', { method: 'POST', json: { code: 'print(1)', timeout: 0 } });
    const error = await rejection(client.execute('print(1)', { timeout: 0 }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ status: 400, code: 'validation_error', message: raw.body.message });
    expect((error as ValidationError).message).toBe('timeout: at least 1 second');
    expect((error as ValidationError).requestId).toMatch(/^req_/);
  });

  it('an unknown API key is an UnauthorizedError', async () => {
    const stranger = connect({ apiKey: 'sk-test-not-a-key' });
    const error = await rejection(stranger.execute('print(1)'));
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
    await expect(stranger.getExecution('trc_00000000000000000000')).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('a thread keeps its home between calls; a second call while one runs is a ThreadBusyError', async () => {
    const threadId = newThread();
    await client.execute('echo kept > note.txt', { language: 'bash', threadId });
    expect((await client.execute('print(open("note.txt").read())', { threadId })).stdout).toBe('kept\n\n');
    const first = client.execute('sleep 2; echo first', { language: 'bash', threadId });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const error = await rejection(client.execute('echo second', { language: 'bash', threadId }));
    expect(error).toBeInstanceOf(ThreadBusyError);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'thread_busy' });
    expect((await first).stdout).toBe('first\n');
  });

  it('a retry with the idempotency key answers the first result and runs nothing; another body is refused', async () => {
    const threadId = newThread();
    const code = 'echo x >> runs.txt; wc -l < runs.txt';
    const first = await client.execute(code, { language: 'bash', threadId, idempotencyKey: `${threadId}-1` });
    const again = await client.execute(code, { language: 'bash', threadId, idempotencyKey: `${threadId}-1` });
    expect(again).toMatchObject({ traceId: first.traceId, stdout: '1\n' });
    const error = await rejection(client.execute('echo other', { language: 'bash', threadId, idempotencyKey: `${threadId}-1` }));
    expect(error).toBeInstanceOf(IdempotencyKeyReusedError);
    expect(error).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
    expect((await client.execute('wc -l < runs.txt', { language: 'bash', threadId })).stdout).toBe('1\n');
  });

  it('an AbortSignal ends a long execute on the client at once', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('user pressed stop')), 300);
    const error = await rejection(client.execute('sleep 4', { language: 'bash', signal: controller.signal }));
    expect(error).toBeInstanceOf(AirlockAbortError);
    expect((error as AirlockAbortError).cause).toEqual(new Error('user pressed stop'));
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('timeoutMs bounds how long the client waits', async () => {
    const error = await rejection(client.execute('sleep 3', { language: 'bash', timeoutMs: 300 }));
    expect(error).toBeInstanceOf(AirlockTimeoutError);
    expect(error).toMatchObject({ timeoutMs: 300 });
  });

  it('a server that does not answer is an AirlockConnectionError', async () => {
    const nowhere = new Airlock({ apiKey: 'sk-test', baseUrl: 'http://127.0.0.1:1', maxRetries: 0 });
    await expect(nowhere.getExecution('trc_00000000000000000000')).rejects.toBeInstanceOf(AirlockConnectionError);
  });
});

describe('SDK: streaming', () => {
  it('yields the status first, output as it is produced, the result last; callbacks see the same output', async () => {
    const stdout: Array<{ data: string; at: number }> = [];
    const stderr: string[] = [];
    const stream = client.executeStream('import sys, time\nprint("first", flush=True)\nprint("oops", file=sys.stderr)\ntime.sleep(2)\nprint("second")', {
      onStdout: (data) => stdout.push({ data, at: Date.now() }),
      onStderr: (data) => stderr.push(data),
    });
    expect(stream.traceId).toBeUndefined();
    const events: Array<ExecutionEvent & { at: number }> = [];
    for await (const event of stream) events.push({ ...event, at: Date.now() });
    const [status] = events;
    expect(status).toMatchObject({ type: 'status', seq: 0, status: 'running' });
    expect(stream.traceId).toBe(status?.type === 'status' ? status.traceId : undefined);
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index));
    const result = events.at(-1);
    expect(result).toMatchObject({ type: 'result', status: 'success', traceId: stream.traceId, outputTruncated: false });
    expect(result?.type === 'result' && result.result).toMatchObject({ success: true, stdout: 'first\nsecond\n', stderr: 'oops\n', exitCode: 0 });
    expect(stdout.map((chunk) => chunk.data).join('')).toBe('first\nsecond\n');
    expect(stderr.join('')).toBe('oops\n');
    // "first" arrived while the code slept, long before the result.
    expect((result?.at ?? 0) - (stdout[0]?.at ?? Infinity)).toBeGreaterThan(1000);
    expect(await stream.finalResult()).toMatchObject({ success: true, traceId: stream.traceId });
  });

  it('finalResult() reads a stream nobody iterates, firing the callbacks', async () => {
    const chunks: string[] = [];
    const stream = client.executeStream('for i in 1 2 3; do echo $i; sleep 0.1; done; exit 4', {
      language: 'bash',
      onStdout: (data) => chunks.push(data),
    });
    const result = await stream.finalResult();
    expect(result).toMatchObject({ success: false, exitCode: 4, stdout: '1\n2\n3\n' });
    expect(chunks.join('')).toBe('1\n2\n3\n');
    expect(() => stream[Symbol.asyncIterator]()).toThrow(/already read by finalResult/);
  });

  it('errors before the code starts reject the stream with their class', async () => {
    await expect(client.executeStream('', { language: 'bash' }).finalResult()).rejects.toBeInstanceOf(ValidationError);
  });

  it('a stream that drops mid-way resumes from its last event, each event once', async () => {
    const { fetch, requests } = recordingFetch((url, response) =>
      url.endsWith('/v1/sandbox/execute') && response.body
        ? new Response(droppedAfter(response.body, 120), { status: response.status, headers: response.headers })
        : response,
    );
    const stdout: string[] = [];
    const stream = connect({ fetch }).executeStream('import time\nfor i in range(5):\n    print(f"line {i}", flush=True)\n    time.sleep(0.3)', {
      onStdout: (data) => stdout.push(data),
    });
    const events: ExecutionEvent[] = [];
    for await (const event of stream) events.push(event);
    const expected = [0, 1, 2, 3, 4].map((index) => `line ${index}\n`).join('');
    expect(stdout.join('')).toBe(expected);
    expect(events.at(-1)).toMatchObject({ type: 'result', result: { success: true, stdout: expected } });
    const seqs = events.map((event) => event.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    const resumed = requests.filter((request) => request.url.includes('/output?after_seq='));
    expect(resumed).toHaveLength(1);
    expect(resumed[0]?.url).toBe(`${airlock.url}/v1/executions/${stream.traceId}/output?after_seq=0`);
  });

  it('cancel() kills a running execution, whose stream ends cancelled; a second cancel answers its final status', async () => {
    const stream = client.executeStream('echo waiting; sleep 30', { language: 'bash' });
    for await (const event of stream) {
      if (event.type === 'output') break;
    }
    const traceId = stream.traceId as string;
    expect(await client.cancel(traceId)).toEqual({ traceId, status: 'cancelled' });
    const record = await client.waitForExecution(traceId, { maxWaitMs: 10_000 });
    expect(record).toMatchObject({ traceId, status: 'cancelled', stdout: 'waiting\n', deliveryMode: 'streaming' });
    expect(await client.cancel(traceId)).toEqual({ traceId, status: 'cancelled' });
    await expect(client.cancel('trc_00000000000000000000')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('SDK: background executions', () => {
  it('executeAsync answers at once; waitForExecution polls the record; the webhook receives the result', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const started = Date.now();
      const accepted = await client.executeAsync('import time; time.sleep(1); print("done")', {
        webhookUrl: receiver.url,
        metadata: { job: '7' },
      });
      expect(Date.now() - started).toBeLessThan(900);
      expect(accepted).toEqual({ traceId: expect.stringMatching(/^trc_/), status: 'running' });
      const record = await client.waitForExecution(accepted.traceId, { pollIntervalMs: 100 });
      expect(record).toMatchObject({
        traceId: accepted.traceId,
        status: 'success',
        exitCode: 0,
        stdout: 'done\n',
        deliveryMode: 'webhook',
        webhookUrl: receiver.url,
      });
      const [webhook] = await receiver.waitFor(1);
      expect(JSON.parse(webhook?.body ?? '{}')).toMatchObject({ trace_id: accepted.traceId, stdout: 'done\n', metadata: { job: '7' } });
      let delivery = await client.getWebhookDelivery(accepted.traceId);
      for (let attempt = 0; attempt < 50 && delivery.status !== 'delivered'; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        delivery = await client.getWebhookDelivery(accepted.traceId);
      }
      expect(delivery).toMatchObject({ url: receiver.url, status: 'delivered', nextAttemptAt: null });
      expect(delivery.attempts).toEqual([
        { attempt: 1, attemptedAt: expect.any(String), statusCode: 204, error: null, durationMs: expect.any(Number) },
      ]);
    } finally {
      await receiver.close();
    }
  });

  it('waitForExecution stops when its signal aborts or its maxWaitMs passes; cancel ends the execution', async () => {
    const { traceId } = await client.executeAsync('sleep 20', { language: 'bash' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    await expect(client.waitForExecution(traceId, { signal: controller.signal })).rejects.toBeInstanceOf(AirlockAbortError);
    await expect(client.waitForExecution(traceId, { maxWaitMs: 300 })).rejects.toBeInstanceOf(AirlockTimeoutError);
    await client.cancel(traceId);
    expect(await client.waitForExecution(traceId)).toMatchObject({ status: 'cancelled', deliveryMode: 'webhook', webhookUrl: null });
  });
});

describe('SDK: files and threads', () => {
  it('uploads text, bytes, a Blob and a stream; lists, downloads and deletes them', async () => {
    const threadId = newThread();
    await client.files.upload(threadId, 'in/text.txt', 'héllo\n');
    await client.files.upload(threadId, 'in/bytes.bin', new Uint8Array([0, 1, 2, 255]));
    await client.files.upload(threadId, 'in/blob.json', new Blob(['{"a":1}'], { type: 'application/json' }));
    const streamed = new TextEncoder().encode('streamed\n');
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(streamed.subarray(0, 4));
        controller.enqueue(streamed.subarray(4));
        controller.close();
      },
    });
    await client.files.upload(threadId, 'in/stream.txt', body, { contentLength: streamed.byteLength });

    const run = await client.execute('cat in/text.txt in/stream.txt; od -An -tu1 in/bytes.bin; echo out > out.txt', { language: 'bash', threadId });
    expect(run.stdout).toBe('héllo\nstreamed\n   0   1   2 255\n');
    const files = await client.files.list(threadId);
    expect(files.map((file) => file.path).sort()).toEqual(['in', 'in/blob.json', 'in/bytes.bin', 'in/stream.txt', 'in/text.txt', 'out.txt']);
    expect(files.find((file) => file.path === 'in/text.txt')).toMatchObject({ name: 'text.txt', size: 7, isDirectory: false });
    expect(files.find((file) => file.path === 'in')).toMatchObject({ isDirectory: true });
    expect((await client.files.list(threadId, 'in')).map((file) => file.name).sort()).toEqual(['blob.json', 'bytes.bin', 'stream.txt', 'text.txt']);

    expect(await (await client.files.download(threadId, 'out.txt')).text()).toBe('out\n');
    expect(new Uint8Array(await (await client.files.download(threadId, 'in/bytes.bin')).arrayBuffer())).toEqual(new Uint8Array([0, 1, 2, 255]));
    const signed = await client.files.downloadUrl(threadId, 'in/blob.json');
    expect(signed).toMatchObject({ method: 'GET', headers: [], expiresAt: expect.any(String) });
    expect(await (await fetch(signed.url)).json()).toEqual({ a: 1 });

    await client.files.delete(threadId, 'out.txt');
    expect((await client.files.list(threadId)).map((file) => file.path)).not.toContain('out.txt');
    await expect(client.files.download(threadId, 'out.txt')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.files.delete(threadId, 'out.txt')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.files.list(threadId, '../etc')).rejects.toBeInstanceOf(ValidationError);
    await expect(client.files.upload(threadId, 'x', new ReadableStream())).rejects.toThrow(/needs its size/);
  });

  it('fork starts a new thread from a home; export streams a home as tar.gz', async () => {
    const source = newThread();
    const copy = newThread();
    await client.execute('echo original > shared.txt', { language: 'bash', threadId: source });
    expect(await client.threads.fork(source, copy)).toEqual({ threadId: copy, forkedFrom: source });
    await client.execute('echo changed > shared.txt', { language: 'bash', threadId: copy });
    expect((await client.execute('cat shared.txt', { language: 'bash', threadId: source })).stdout).toBe('original\n');
    await expect(client.threads.fork(source, copy)).rejects.toBeInstanceOf(ConflictError);

    const archive = await client.threads.export(copy);
    expect(archive.headers.get('content-type')).toBe('application/gzip');
    const tar = new Uint8Array(await new Response(archive.body?.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
    const text = new TextDecoder().decode(tar);
    expect(text).toContain('shared.txt');
    expect(text).toContain('changed\n');
    await expect(client.threads.export(`never-made-${counter}`)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('SDK: rate limits', () => {
  let limited: AirlockFixture;
  beforeAll(async () => {
    limited = await startAirlock({ environment: { AIRLOCK_RATE_LIMIT_PER_MINUTE: '2' } });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it(
    'a 429 surfaces as RateLimitedError with retryAfterSeconds; reads wait out Retry-After and retry, executions never',
    async () => {
      const { fetch, requests } = recordingFetch();
      const options = { apiKey: limited.apiKey, baseUrl: limited.url, fetch };
      const impatient = new Airlock({ ...options, maxRetryDelayMs: 1000 });
      const { traceId } = await impatient.execute('print(1)');
      await impatient.getExecution(traceId);
      // The minute's two requests are spent; the next is allowed in 30 seconds.

      const error = await rejection(impatient.getExecution(traceId));
      expect(error).toBeInstanceOf(RateLimitedError);
      expect(error).toMatchObject({ status: 429, code: 'rate_limited' });
      expect((error as RateLimitedError).retryAfterSeconds).toBeGreaterThanOrEqual(29);
      await expect(new Airlock({ ...options, maxRetryDelayMs: 60_000 }).execute('print(1)')).rejects.toBeInstanceOf(RateLimitedError);
      expect(requests.map((request) => request.status)).toEqual([200, 200, 429, 429]);

      const started = Date.now();
      const record = await new Airlock({ ...options, maxRetries: 1, maxRetryDelayMs: 40_000 }).getExecution(traceId);
      expect(record).toMatchObject({ traceId, status: 'success' });
      expect(requests.slice(4).map((request) => request.status)).toEqual([429, 200]);
      expect(Date.now() - started).toBeGreaterThan(25_000);
    },
    60_000,
  );
});
