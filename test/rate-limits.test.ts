import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';

let airlock: AirlockFixture;
beforeAll(async () => {
  airlock = await startAirlock({
    environment: { AIRLOCK_RATE_LIMIT_PER_MINUTE: '5', AIRLOCK_MAX_CONCURRENT_EXECUTIONS: '1' },
  });
});
afterAll(async () => {
  await airlock?.close();
});

describe('rate limits', () => {
  it('a key over its requests per minute gets 429 with Retry-After and RateLimit headers; other keys do not', async () => {
    const other = await airlock.request('/admin/v1/api-keys', { method: 'POST', apiKey: airlock.adminToken, json: { name: 'other' } });
    const responses = [];
    for (let index = 0; index < 6; index++) responses.push(await airlock.request('/v1/executions/trc_00000000000000000000000000000000'));
    expect(responses.map((response) => response.status)).toEqual([404, 404, 404, 404, 404, 429]);
    expect(responses[0]!.headers.get('ratelimit-limit')).toBe('5');
    expect(responses[0]!.headers.get('ratelimit-remaining')).toBe('4');
    const limited = responses[5]!;
    expect(limited.body).toMatchObject({ error: 'rate_limited' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    const fresh = await airlock.request('/v1/executions/trc_00000000000000000000000000000000', { apiKey: other.body.key as string });
    expect(fresh.status).toBe(404);
  });

  it('an organization over its concurrent executions gets 429 until one ends', async () => {
    const key = (await airlock.request('/admin/v1/api-keys', { method: 'POST', apiKey: airlock.adminToken, json: { name: 'runner' } }))
      .body.key as string;
    const call = () =>
      airlock.request('/v1/sandbox/execute', { method: 'POST', apiKey: key, json: { language: 'bash', code: 'sleep 1' } });
    const first = call();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await call();
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('1');
    expect((await first).status).toBe(200);
    expect((await call()).status).toBe(200);
  });
});
