import { describe, expect, it } from 'vitest';
import { resolveConfiguration, type AirlockOptions, type FetchFunction } from './configuration.js';
import {
  AirlockAbortError,
  AirlockConnectionError,
  AirlockTimeoutError,
  NotFoundError,
  RateLimitedError,
  UnavailableError,
} from './errors.js';
import type { RetryPolicy } from './retry.js';
import { Transport } from './transport.js';

/** A fetch that answers from a script, one entry per request, and records what it was sent. */
function scripted(...answers: Array<() => Response | Promise<Response>>) {
  const requests: Array<{ url: string; init: RequestInit }> = [];
  const fetch: FetchFunction = async (url, init) => {
    requests.push({ url, init });
    const answer = answers[Math.min(requests.length, answers.length) - 1];
    if (!answer) throw new Error('no answer scripted');
    return answer();
  };
  return { fetch, requests };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => () =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const refused = () => {
  throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') });
};
const busy = json(503, { error: 'unavailable', message: 'no sandbox free', request_id: 'req_1' }, { 'retry-after': '0' });

function transport(fetch: FetchFunction, options: AirlockOptions = {}): Transport {
  return new Transport(resolveConfiguration({ apiKey: 'sk-test', baseUrl: 'http://127.0.0.1:1', fetch, ...options }, () => undefined), {
    random: () => 0,
  });
}

const get = (retry: RetryPolicy, extra: { signal?: AbortSignal; timeoutMs?: number } = {}) =>
  ({ method: 'GET', path: '/v1/executions/trc_1', retry, ...extra }) as const;

describe('transport', () => {
  it('sends the API key, JSON and the configured headers to the base URL', async () => {
    const { fetch, requests } = scripted(json(200, { ok: true }));
    const answer = await transport(fetch, { headers: { 'x-team': 'a' } }).json({
      method: 'POST',
      path: '/v1/files/list',
      json: { id: 't' },
      retry: 'idempotent',
    });
    expect(answer).toEqual({ ok: true });
    expect(requests[0]?.url).toBe('http://127.0.0.1:1/v1/files/list');
    expect(requests[0]?.init).toMatchObject({
      method: 'POST',
      body: '{"id":"t"}',
      headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json', accept: 'application/json', 'x-team': 'a' },
    });
  });

  it('never sends the API key to a signed URL', async () => {
    const { fetch, requests } = scripted(() => new Response('content'));
    await transport(fetch).open({ method: 'GET', url: 'https://bucket.example.com/f?X-Signature=1', retry: 'idempotent' });
    expect(JSON.stringify(requests[0]?.init.headers)).not.toMatch(/sk-test/);
  });

  it('retries an idempotent call after 503 and network errors, then answers', async () => {
    const { fetch, requests } = scripted(busy, refused, json(200, { status: 'success' }));
    expect(await transport(fetch).json(get('idempotent'))).toEqual({ status: 'success' });
    expect(requests).toHaveLength(3);
  });

  it('retries a call that changes something only after 429 and 503, which the server answers before acting', async () => {
    const limited = json(429, { error: 'rate_limited', message: 'slow down', request_id: 'r' }, { 'retry-after': '0' });
    const first = scripted(limited, json(200, { status: 'cancelled' }));
    expect(await transport(first.fetch).json(get('refusals'))).toEqual({ status: 'cancelled' });
    expect(first.requests).toHaveLength(2);
    const second = scripted(refused, json(200, {}));
    await expect(transport(second.fetch).json(get('refusals'))).rejects.toBeInstanceOf(AirlockConnectionError);
    expect(second.requests).toHaveLength(1);
  });

  it('never retries an execution', async () => {
    for (const answer of [busy, refused]) {
      const { fetch, requests } = scripted(answer, json(200, {}));
      await expect(transport(fetch).json(get('never'))).rejects.toThrow();
      expect(requests).toHaveLength(1);
    }
  });

  it('gives up after maxRetries with the last error, and does not retry other errors', async () => {
    const { fetch, requests } = scripted(busy);
    const error = await transport(fetch, { maxRetries: 3 }).json(get('idempotent')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({ status: 503, code: 'unavailable', requestId: 'req_1', retryAfterSeconds: 0 });
    expect(requests).toHaveLength(4);
    const missing = scripted(json(404, { error: 'not_found', message: 'no execution', request_id: 'r' }));
    await expect(transport(missing.fetch).json(get('idempotent'))).rejects.toBeInstanceOf(NotFoundError);
    expect(missing.requests).toHaveLength(1);
  });

  it('throws at once when Retry-After asks for longer than maxRetryDelayMs', async () => {
    const { fetch, requests } = scripted(json(429, { error: 'rate_limited', message: 'm', request_id: 'r' }, { 'retry-after': '30' }));
    const started = Date.now();
    const error = await transport(fetch, { maxRetryDelayMs: 1000 }).json(get('idempotent')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterSeconds).toBe(30);
    expect(requests).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('the caller signal aborts a wait for a retry', async () => {
    const slow = json(503, { error: 'unavailable', message: 'm', request_id: 'r' }, { 'retry-after': '20' });
    const { fetch, requests } = scripted(slow);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user left')), 100);
    const started = Date.now();
    const error = await transport(fetch).json(get('idempotent', { signal: controller.signal })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AirlockAbortError);
    expect((error as Error).cause).toEqual(new Error('user left'));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(requests).toHaveLength(1);
  });

  it('an aborted signal sends nothing; a time limit that passes is an AirlockTimeoutError', async () => {
    const { fetch, requests } = scripted(json(200, {}));
    await expect(transport(fetch).json(get('idempotent', { signal: AbortSignal.abort() }))).rejects.toBeInstanceOf(AirlockAbortError);
    expect(requests).toHaveLength(0);
    const hanging: FetchFunction = (_url, init) =>
      new Promise((_resolve, reject) => init.signal?.addEventListener('abort', () => reject(init.signal?.reason)));
    const error = await transport(hanging, { maxRetries: 0 }).json(get('idempotent', { timeoutMs: 50 })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AirlockTimeoutError);
    expect(error).toMatchObject({ timeoutMs: 50 });
  });

  it('a network failure is an AirlockConnectionError naming the call and the cause', async () => {
    const { fetch } = scripted(refused);
    const error = await transport(fetch, { maxRetries: 0 }).json(get('idempotent')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AirlockConnectionError);
    expect((error as Error).message).toBe('GET /v1/executions/trc_1: fetch failed (connect ECONNREFUSED 127.0.0.1:1)');
  });
});
