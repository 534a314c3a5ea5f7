import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';

// The operators' view of executions (GET /admin/v1/executions), against a real server: filters, pages, one whole.
let airlock: AirlockFixture;

beforeAll(async () => {
  airlock = await startAirlock();
});

afterAll(async () => {
  await airlock?.close();
});

interface Listed {
  executions: Array<Record<string, unknown> & { trace_id: string }>;
  next_cursor: string | null;
}

const admin = <T = Listed>(path: string) => airlock.request<T>(path, { apiKey: airlock.adminToken });

it('lists an organization’s executions newest first, filtered by status, thread and metadata, a page at a time', async () => {
  const ran = [];
  ran.push(await airlock.execute({ language: 'bash', code: 'echo one', metadata: { job: 'nightly', team: 'data' } }));
  ran.push(await airlock.execute({ language: 'bash', code: 'exit 3', metadata: { job: 'adhoc' } }));
  ran.push(await airlock.execute({ language: 'bash', code: 'echo home > note.txt', thread_id: 'research-1' }));
  const [nightly, failing, threaded] = ran.map((result) => result.trace_id);

  const all = await admin('/admin/v1/executions');
  expect(all.status).toBe(200);
  expect(all.body.executions.map((execution) => execution.trace_id)).toEqual([threaded, failing, nightly]);
  expect(all.body.executions[2]).toMatchObject({ language: 'bash', code: 'echo one', stdout: 'one\n', status: 'success', metadata: { job: 'nightly', team: 'data' } });

  const byStatus = async (query: string) => (await admin(`/admin/v1/executions?${query}`)).body.executions.map((execution) => execution.trace_id);
  expect(await byStatus('status=failed')).toEqual([failing]);
  expect(await byStatus('thread_id=research-1')).toEqual([threaded]);
  expect(await byStatus('metadata=job')).toEqual([failing, nightly]);
  expect(await byStatus('metadata=job%3Dnightly')).toEqual([nightly]);
  expect(await byStatus(`from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).toEqual([]);

  const first = await admin('/admin/v1/executions?limit=2');
  expect(first.body.executions).toHaveLength(2);
  const second = await admin(`/admin/v1/executions?limit=2&cursor=${first.body.next_cursor ?? ''}`);
  expect([...first.body.executions, ...second.body.executions].map((execution) => execution.trace_id)).toEqual([threaded, failing, nightly]);
  expect(second.body.next_cursor).toBeNull();

  const whole = await admin<Record<string, unknown>>(`/admin/v1/executions/${threaded}`);
  expect(whole.body).toMatchObject({ trace_id: threaded, thread_id: 'research-1', webhook: null, cpu_time_ms: expect.any(Number) });
  expect((await admin(`/admin/v1/executions/${threaded}?organization=nope`)).status).toBe(404);
  expect((await airlock.request('/admin/v1/executions')).status).toBe(401);
});
