import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';

let airlock: AirlockFixture;
beforeAll(async () => {
  airlock = await startAirlock();
});
afterAll(async () => {
  await airlock?.close();
});

/** Sum of a metric's samples whose labels include every one of `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => present[key] === value)) total += Number(match[3]);
  }
  return total;
}

describe('metrics and the execution record', () => {
  it('counts executions, overhead and pool hits and misses in /metrics', async () => {
    const before = (await airlock.request<string>('/metrics', { apiKey: null })).body;
    for (let index = 0; index < 3; index++) await airlock.execute({ language: 'bash', code: 'echo hi' });
    await airlock.execute({ language: 'bash', code: 'exit 3' });
    const response = await airlock.request<string>('/metrics', { apiKey: null });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const after = response.body;
    const delta = (name: string, labels?: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('airlock_executions_total', { language: 'bash', status: 'success' })).toBe(3);
    expect(delta('airlock_executions_total', { language: 'bash', status: 'failed' })).toBe(1);
    expect(delta('airlock_execution_overhead_seconds_count', { language: 'bash' })).toBe(4);
    expect(delta('airlock_pool_hits_total') + delta('airlock_pool_misses_total')).toBe(4);
    expect(sample(after, 'airlock_pool_refills_total')).toBeGreaterThan(0);
    expect(sample(after, 'airlock_pool_refill_seconds_total')).toBeGreaterThan(0);
    expect(after).toMatch(/^airlock_pool_slots\{key="[^"]*bash[^"]*",state="target"\} \d+$/m);
    expect(after).toMatch(/^process_cpu_seconds_total /m);
    // One node alone, taking work.
    expect(sample(after, 'airlock_nodes_active')).toBe(1);
    expect(sample(after, 'airlock_node_draining')).toBe(0);
  });

  it('the execution record says how long the sandbox took to start the code and whether it was warm', async () => {
    const first = await airlock.execute({ language: 'python', code: 'print(1)' });
    // The first call of a pool key teaches the pool to keep a python sandbox ready; the next call takes it.
    const deadline = Date.now() + 10_000;
    const pythonReady = () =>
      airlock.server.poolStatistics()!.keys.some((key) => key.key.includes('python') && key.ready > 0);
    while (!pythonReady() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await airlock.execute({ language: 'python', code: 'print(2)' });
    for (const [result, warm] of [[first, false], [second, true]] as const) {
      const record = await airlock.request(`/v1/executions/${result.trace_id}`);
      expect(record.status).toBe(200);
      expect(record.body.overhead_ms).toBe(result.overhead_ms);
      expect(record.body.warm).toBe(warm);
    }
  });
});
