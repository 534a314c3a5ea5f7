import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExecutionRepository, generateId } from '@airlock/db';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_TOKEN, startAdminApp } from '../../test-support/admin-app.js';

// An organization's data as a whole, in-process on PGlite: the JSON Lines export, and the erasure.
let adminApp: Awaited<ReturnType<typeof startAdminApp>>;
const PASSWORD = 'warehouse-password-81c2d7';

beforeAll(async () => {
  adminApp = await startAdminApp();
});

afterAll(async () => {
  await adminApp?.close();
});

const call = (method: string, path: string, json?: unknown) => adminApp.call(method, path, json);

async function exportLines(slug: string): Promise<Array<{ type: string; data: Record<string, unknown> }>> {
  const response = await adminApp.request(`/admin/v1/organizations/${slug}/export`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/x-ndjson');
  const text = await response.text();
  expect(text).not.toContain(PASSWORD);
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { type: string; data: Record<string, unknown> });
}

/** A finished execution recorded for the organization, as a call would leave it. */
async function recordExecution(orgId: string, code: string): Promise<string> {
  const executions = new ExecutionRepository(adminApp.database);
  const traceId = generateId('execution');
  await executions.insertRunning({ traceId, orgId, apiKeyId: null, sandboxConfigId: null, language: 'python', code, deliveryMode: 'inline', createdAt: new Date() });
  const now = new Date();
  await executions.complete(traceId, {
    status: 'success', exitCode: 0, errorCode: null, error: null, stdout: 'out\n', stderr: '', stdoutTruncated: false, stderrTruncated: false,
    warm: true, durationMs: 5, overheadMs: 1, peakMemoryBytes: 1, cpuTimeMs: 1, resultSeq: 2, startedAt: now, completedAt: now, network: null, storageSync: null,
  });
  return traceId;
}

it('exports an organization as JSON Lines: settings without secrets, executions with their code, the audit log', async () => {
  const organization = (await call('POST', '/admin/v1/organizations', { name: 'Gone Soon', slug: 'gone' })).body;
  await call('POST', '/admin/v1/sandboxes?organization=gone', { name: 'work' });
  await call('POST', '/admin/v1/api-keys', { name: 'worker', organization: 'gone', sandbox: 'work' });
  await call('POST', '/admin/v1/connectors?organization=gone', { name: 'db', type: 'postgresql', host: 'db.example.com', database: 'd', user: 'u', password: PASSWORD });
  await call('POST', '/admin/v1/volumes?organization=gone', { name: 'Scratch', slug: 'scratch' });
  await call('POST', '/admin/v1/members?organization=gone', { email: 'ann@example.com', role: 'viewer' });
  const traceId = await recordExecution(organization.id as string, 'print("exported")');

  const lines = await exportLines('gone');
  expect(lines[0]).toEqual({ type: 'organization', data: expect.objectContaining({ slug: 'gone' }) });
  expect(lines.map((line) => line.type)).toEqual(
    expect.arrayContaining(['sandbox', 'api_key', 'connector', 'volume', 'member', 'execution', 'audit']),
  );
  expect(lines.find((line) => line.type === 'execution')?.data).toMatchObject({ trace_id: traceId, code: 'print("exported")', stdout: 'out\n' });
  expect(lines.filter((line) => line.type === 'audit').map((line) => line.data.action)).toEqual(
    expect.arrayContaining(['organization.create', 'sandbox.create', 'api_key.create', 'connector.create', 'member.set']),
  );
  const [recorded] = ((await call('GET', '/admin/v1/audit?organization=gone&action=organization.export')).body.entries as Array<Record<string, unknown>>);
  expect(recorded).toMatchObject({ outcome: 'success', actor: 'bootstrap' });
});

it('erases an organization once its slug is repeated: keys revoked, data and volume files gone, its audit log kept', async () => {
  const orgId = ((await call('GET', '/admin/v1/organizations')).body.organizations as Array<{ id: string; slug: string }>).find((organization) => organization.slug === 'gone')?.id ?? '';
  await mkdir(join(adminApp.volumeDirectory, orgId, 'vol_x'), { recursive: true });
  await writeFile(join(adminApp.volumeDirectory, orgId, 'vol_x', 'data.csv'), 'a,b\n');
  const key = (await call('POST', '/admin/v1/api-keys', { name: 'second', organization: 'gone', sandbox: 'work' })).body.key as string;

  expect(await call('POST', '/admin/v1/organizations/gone/erase', { confirm: 'gone-please' })).toMatchObject({
    status: 400,
    body: { message: 'confirm: must repeat the organization\'s slug ("gone") to erase it' },
  });
  expect(await call('POST', '/admin/v1/organizations/default/erase', { confirm: 'default' })).toMatchObject({ status: 409 });
  const running = await new ExecutionRepository(adminApp.database).insertRunning({
    traceId: generateId('execution'), orgId, apiKeyId: null, sandboxConfigId: null, language: 'bash', code: 'sleep 1', deliveryMode: 'inline', createdAt: new Date(),
  });
  expect(await call('POST', '/admin/v1/organizations/gone/erase', { confirm: 'gone' })).toMatchObject({ status: 409, body: { message: expect.stringMatching(/1 executions running/) } });
  await new ExecutionRepository(adminApp.database).failRunning('test over');
  expect(running.status).toBe('running');

  const erased = await call('POST', '/admin/v1/organizations/gone/erase', { confirm: 'gone' });
  expect(erased).toMatchObject({
    status: 200,
    body: { erased: expect.objectContaining({ api_keys: 2, executions: 2, connectors: 1, volumes: 1, members: 1, sandbox_configs: 1 }), volume_files_removed: true },
  });
  await expect(adminApp.keys.authenticate(`Bearer ${key}`)).rejects.toThrow();
  expect((await call('GET', '/admin/v1/sandboxes?organization=gone')).status).toBe(404);
  const remaining = await adminApp.database.query('SELECT 1 FROM executions WHERE org_id = $1 UNION ALL SELECT 1 FROM connectors WHERE org_id = $1', [orgId]);
  expect(remaining).toEqual([]);
  const audit = (await call('GET', `/admin/v1/audit?organization=${orgId}&limit=1000`)).body.entries as Array<Record<string, unknown>>;
  expect(audit[0]).toMatchObject({ action: 'organization.erase', outcome: 'success', changes: expect.objectContaining({ volume_files_removed: true }) });
  expect(audit.map((entry) => entry.action)).toContain('organization.create');
  expect((await call('POST', '/admin/v1/audit/verify', { organization: orgId })).body.ok).toBe(true);
});
