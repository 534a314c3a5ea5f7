import type { UsageResponse } from '@airlock/contracts';
import { AdminTokenRepository, ExecutionRepository, generateId } from '@airlock/db';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startAdminApp } from '../../test-support/admin-app.js';
import { adminGate } from '../auth/admin-authentication.js';
import { AdminTokenService } from '../auth/admin-token-service.js';
import { adminDeclarer } from '../http/admin-operation.js';
import type { AppEnv } from '../http/app-context.js';
import { errorResponse } from '../http/errors.js';
import { requestId } from '../http/middleware.js';
import { openApiPaths, serveOperations, type Operation } from '../http/operation.js';
import { createOpenApiDocument } from '../http/openapi/openapi-document.js';
import { silentLogger } from '../shared/logger.js';
import { usageOperations } from './usage-operations.js';
import { UsageService } from './usage-service.js';

// GET /admin/v1/usage in-process on PGlite: executions recorded through the execution repository, read back per day
// and over the range; the query's validation, the organization it names, and who may call it.
const NOW = new Date('2026-05-20T15:00:00Z');
let adminApp: Awaited<ReturnType<typeof startAdminApp>>;
let app: Hono<AppEnv>;
let operations: Operation[];

beforeAll(async () => {
  adminApp = await startAdminApp();
  const { database, admin, audit, sessions } = adminApp;
  const logger = silentLogger;
  const declare = adminDeclarer(
    adminGate({ adminTokens: new AdminTokenService(new AdminTokenRepository(database)), sessions, admin, audit, origins: { publicUrl: undefined, corsOrigins: [] }, logger }),
  );
  app = new Hono<AppEnv>();
  app.use('*', requestId);
  operations = usageOperations(new UsageService({ database, now: () => NOW }), admin, declare);
  serveOperations(app, operations);
  app.onError((error, context) => errorResponse(context, error, logger));

  const organization = await admin.organization();
  const executions = new ExecutionRepository(database);
  const run = async (createdAt: string, status: 'success' | 'failed', durationMs: number, cpuTimeMs: number) => {
    const traceId = generateId('execution');
    const common = { orgId: organization.id, apiKeyId: null, sandboxConfigId: null, language: 'python', code: 'pass', deliveryMode: 'inline' as const };
    await executions.insertRunning({ traceId, ...common, createdAt: new Date(createdAt) });
    await executions.complete(traceId, {
      status,
      exitCode: status === 'success' ? 0 : 1,
      errorCode: null,
      error: null,
      stdout: '',
      stderr: '',
      stdoutTruncated: false,
      stderrTruncated: false,
      warm: true,
      durationMs,
      overheadMs: 1,
      peakMemoryBytes: 1024,
      cpuTimeMs,
      resultSeq: null,
      startedAt: new Date(createdAt),
      completedAt: new Date(createdAt),
      network: null,
      storageSync: null,
    });
  };
  await run('2026-05-20T09:00:00Z', 'success', 100, 1500);
  await run('2026-05-20T10:00:00Z', 'failed', 300, 500);
  await run('2026-05-18T23:30:00Z', 'success', 50, 250);
  // Outside a week ending on 2026-05-20.
  await run('2026-05-13T23:59:00Z', 'success', 9, 9);
});

afterAll(async () => {
  await adminApp?.close();
});

const get = async (query: string, token: string | null = ADMIN_TOKEN) => {
  const response = await app.request(`/admin/v1/usage${query}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as UsageResponse & { error?: string; message?: string } };
};

describe('GET /admin/v1/usage', () => {
  it('answers each UTC day of the range, today last, with executions by status, percentiles and CPU seconds', async () => {
    const { status, body } = await get('?days=7');
    expect(status).toBe(200);
    expect(body).toMatchObject({ organization: 'default', first_day: '2026-05-14', last_day: '2026-05-20' });
    expect(body.daily.map((day) => day.day)).toEqual(['2026-05-14', '2026-05-15', '2026-05-16', '2026-05-17', '2026-05-18', '2026-05-19', '2026-05-20']);
    expect(body.daily[6]).toEqual({
      day: '2026-05-20',
      executions: 2,
      by_status: { running: 0, success: 1, failed: 1, timeout: 0, oom: 0, blocked: 0, cancelled: 0 },
      p50_duration_ms: 200,
      p95_duration_ms: 290,
      cpu_seconds: 2,
    });
    expect(body.daily[4]).toMatchObject({ executions: 1, cpu_seconds: 0.25, p50_duration_ms: 50 });
    expect(body.daily[0]).toMatchObject({ executions: 0, p50_duration_ms: null, p95_duration_ms: null, cpu_seconds: 0 });
    expect(body.totals).toMatchObject({
      executions: 3,
      by_status: { success: 2, failed: 1, running: 0 },
      p50_duration_ms: 100,
      cpu_seconds: 2.25,
      active_threads: 0,
      storage_bytes: 0,
      volumes: 0,
      unmeasured_volumes: 0,
    });
  });

  it('covers 14 days by default, and counts the volumes as last measured', async () => {
    const created = await adminApp.call('POST', '/admin/v1/volumes', { name: 'Scratch', slug: 'scratch' });
    expect(created.status).toBe(201);
    await adminApp.database.query(`UPDATE volumes SET used_bytes = 2048, used_measured_at = now() WHERE slug = 'scratch'`);
    const { status, body } = await get('?organization=default');
    expect(status).toBe(200);
    expect(body.daily).toHaveLength(14);
    expect(body.first_day).toBe('2026-05-07');
    expect(body.totals).toMatchObject({ executions: 4, storage_bytes: 2048, volumes: 1, unmeasured_volumes: 0 });
  });

  it('refuses a range outside 1-90 days, an unknown organization, and a caller without credentials', async () => {
    for (const days of ['0', '91', 'seven', '']) {
      const { status, body } = await get(`?days=${days}`);
      expect(status, days).toBe(400);
      expect(body.error).toBe('validation_error');
      expect(body.message).toMatch(/^days: /);
    }
    expect((await get('?days=90')).body.daily).toHaveLength(90);
    expect((await get('?organization=nowhere')).status).toBe(404);
    expect((await get('', null)).status).toBe(401);
  });

  it('is in the OpenAPI document with its query and answer', () => {
    const document = JSON.stringify(createOpenApiDocument(openApiPaths(operations)));
    const parsed = JSON.parse(document) as { paths: Record<string, { get?: { operationId?: string } }>; components: { schemas: Record<string, unknown> } };
    expect(parsed.paths['/admin/v1/usage']?.get?.operationId).toBe('adminGetUsage');
    expect(Object.keys(parsed.components.schemas)).toEqual(expect.arrayContaining(['UsageResponse', 'UsageDay', 'UsageTotals', 'ExecutionsByStatus']));
  });
});
