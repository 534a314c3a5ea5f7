import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase, type Database } from '../packages/db/src/index.js';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { startPostgres, type PostgresServer } from './support/postgres-server.js';

let postgres: PostgresServer;
let airlock: AirlockFixture;
let database: Database;
beforeAll(async () => {
  postgres = await startPostgres();
  airlock = await startAirlock({ environment: { DATABASE_URL: postgres.url, AIRLOCK_GARBAGE_GRACE_SECONDS: '0' } });
  database = await openDatabase({ url: postgres.url });
});
afterAll(async () => {
  await database?.close();
  await airlock?.close();
  await postgres?.stop();
});

function storedBlobs(): Set<string> {
  const root = join(airlock.dataDirectory, 'blobs', 'sha256');
  return new Set(readdirSync(root).flatMap((prefix) => readdirSync(join(root, prefix))));
}

it('sweeps threads past their retention and the blobs only they used; keeps the others', async () => {
  const admin = (path: string, json: unknown) =>
    airlock.request(path, { method: 'POST', apiKey: airlock.adminToken, json });
  await admin('/admin/v1/sandboxes', { name: 'short-lived', thread_retention: '24h' });
  const key = (await admin('/admin/v1/api-keys', { name: 'short', sandbox: 'short-lived' })).body.key as string;
  const run = (apiKey: string | undefined, threadId: string, code: string) =>
    airlock.request<{ stdout: string }>('/v1/sandbox/execute', {
      method: 'POST',
      ...(apiKey ? { apiKey } : {}),
      json: { language: 'bash', thread_id: threadId, code },
    });
  await run(key, 'expiring', 'echo "only in the expiring thread" > unique.txt; echo shared > shared.txt');
  await run(undefined, 'kept', 'echo "kept forever" > kept.txt; echo shared > shared.txt');
  const before = storedBlobs();

  // Idle for two days: past the 24h retention of the first thread, not the second's (forever).
  await database.query(`UPDATE threads SET last_used_at = now() - interval '2 days'`);
  const result = await airlock.server.sweep();
  expect(result.expiredThreads).toBe(1);
  expect(result.deletedBlobs).toBeGreaterThanOrEqual(2); // its unique file and its layer manifest
  const after = storedBlobs();
  expect(after.size).toBe(before.size - result.deletedBlobs);

  expect((await run(key, 'expiring', 'ls -A | wc -l')).body.stdout).toBe('0\n');
  expect((await run(undefined, 'kept', 'cat kept.txt shared.txt')).body.stdout).toBe('kept forever\nshared\n');
  // Nothing another thread still uses was deleted, and a second sweep finds nothing more to remove.
  expect((await airlock.server.sweep()).deletedBlobs).toBe(0);
});

it('sweeps executions past their sandbox config retention, as it is now; keeps the others and records the sweep', async () => {
  const admin = (path: string, method: string, json: unknown) => airlock.request(path, { method, apiKey: airlock.adminToken, json });
  await admin('/admin/v1/sandboxes', 'POST', { name: 'brief', execution_retention: '7d' });
  const key = (await admin('/admin/v1/api-keys', 'POST', { name: 'brief', sandbox: 'brief' })).body.key as string;
  const run = async (apiKey: string | undefined) =>
    (await airlock.request<{ trace_id: string }>('/v1/sandbox/execute', { method: 'POST', ...(apiKey ? { apiKey } : {}), json: { language: 'bash', code: 'echo hi' } })).body.trace_id;
  const brief = await run(key);
  const ordinary = await run(undefined);
  await database.query(`UPDATE executions SET created_at = now() - interval '2 hours', completed_at = now() - interval '2 hours'`);
  const status = async (traceId: string, apiKey?: string) =>
    (await airlock.request(`/v1/executions/${traceId}`, { ...(apiKey ? { apiKey } : {}) })).status;

  expect((await airlock.server.sweep()).deletedExecutions).toBe(0);
  // Shortening the config's retention applies to the executions it already has.
  expect((await admin('/admin/v1/sandboxes/brief', 'PATCH', { execution_retention: '1h' })).status).toBe(200);
  expect((await airlock.server.sweep()).deletedExecutions).toBe(1);
  expect(await status(brief, key)).toBe(404);
  expect(await status(ordinary)).toBe(200);
  const audit = await airlock.request<{ entries: Array<Record<string, unknown>> }>('/admin/v1/audit?action=execution.retention', { apiKey: airlock.adminToken });
  expect(audit.body.entries).toEqual([expect.objectContaining({ actor: 'system', auth_method: 'system', changes: { deleted: { '1h': 1 } } })]);
});
