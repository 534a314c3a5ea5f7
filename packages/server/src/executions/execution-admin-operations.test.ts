import { ExecuteRequest, type AdminWebhookPage, type AuditEntry, type ExecutionEvent } from '@airlock/contracts';
import { AdminTokenRepository, ExecutionRepository, WebhookRepository } from '@airlock/db';
import type { AcquiredSandbox, PreparedSandbox, RunRequest, SandboxOutcome } from '@airlock/runtime';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startAdminApp } from '../../test-support/admin-app.js';
import { adminGate } from '../auth/admin-authentication.js';
import { AdminTokenService } from '../auth/admin-token-service.js';
import type { Principal } from '../auth/api-key-service.js';
import { RateLimits } from '../auth/rate-limits.js';
import { adminDeclarer } from '../http/admin-operation.js';
import type { AppEnv } from '../http/app-context.js';
import { errorResponse } from '../http/errors.js';
import { requestId } from '../http/middleware.js';
import { serveOperations } from '../http/operation.js';
import { silentLogger } from '../shared/logger.js';
import { ServerMetrics } from '../shared/metrics.js';
import { BackgroundExecutions } from './background-executions.js';
import { executionAdminOperations } from './execution-admin-operations.js';
import { ExecutionBrowser } from './execution-browser.js';
import { LiveExecutions } from './execution-log.js';
import { ExecutionService } from './execution-service.js';

// The operators' output, cancel, webhook list and retry, in-process on PGlite with a sandbox that runs nothing: each
// as the API-key endpoints behave, scoped by organization, refused to viewers, changes recorded in the audit log.

/** A sandbox that prints what it is told and then runs until it is cancelled (or at once, with `exitAtOnce`). */
class PrintingSandbox implements PreparedSandbox {
  readonly language = 'python' as const;
  readonly ready = Promise.resolve();
  readonly codeStarted = Promise.resolve();
  readonly isAlive = true;

  async attachLayers(): Promise<string> {
    return '/changes';
  }
  async attachStorage(): Promise<void> {}
  async destroy(): Promise<void> {}

  async run(request: RunRequest): Promise<SandboxOutcome> {
    request.onStdout?.(Buffer.from(`${request.code}\n`));
    const cancelled = request.code === 'exit'
      ? false
      : await new Promise<boolean>((resolve) => request.signal?.addEventListener('abort', () => resolve(true)));
    await request.afterExit?.();
    return {
      status: cancelled ? 'cancelled' : 'success',
      exitCode: cancelled ? 137 : 0,
      stdout: `${request.code}\n`,
      stderr: '',
      stdoutTruncated: false,
      stderrTruncated: false,
      codeStartedAt: performance.now(),
      runMs: 1,
      peakMemoryBytes: 1024,
      cpuTimeMs: 1,
      network: null,
    } as SandboxOutcome;
  }
}

let adminApp: Awaited<ReturnType<typeof startAdminApp>>;
let app: Hono<AppEnv>;
let executionService: ExecutionService;
let principal: Principal;
let viewerToken: string;
let kicks = 0;

beforeAll(async () => {
  adminApp = await startAdminApp();
  const { database } = adminApp;
  const executions = new ExecutionRepository(database);
  const deliveries = new WebhookRepository(database);
  executionService = new ExecutionService({
    runtime: {
      languages: () => ['python'],
      acquire: async (): Promise<AcquiredSandbox> => ({ sandbox: new PrintingSandbox(), warm: true }),
    },
    executions,
    logger: silentLogger,
    metrics: new ServerMetrics({ poolStatistics: () => null, activeSandboxes: () => 0 }),
    threads: {
      begin: () => Promise.reject(new Error('no threads here')),
      expectedLowerDirectories: () => undefined,
    },
    live: new LiveExecutions(),
    rateLimits: new RateLimits({ requestsPerMinute: 1000, concurrentExecutionsPerOrganization: 10 }),
    nodeId: 'node_test',
    webhooks: { deliveries, onQueued: () => undefined },
  });
  const background = new BackgroundExecutions({ executions: executionService, records: executions, deliveries, policy: { allowLoopback: true } });
  const browser = new ExecutionBrowser({ executions, deliveries, background, service: executionService, onWebhookRequeued: () => void kicks++ });
  const declare = adminDeclarer(
    adminGate({
      adminTokens: new AdminTokenService(new AdminTokenRepository(database)),
      sessions: adminApp.sessions,
      admin: adminApp.admin,
      audit: adminApp.audit,
      origins: { publicUrl: undefined, corsOrigins: [] },
      logger: silentLogger,
    }),
  );
  app = new Hono<AppEnv>();
  app.use('*', requestId);
  serveOperations(app, executionAdminOperations(browser, adminApp.admin, declare));
  app.onError((error, context) => errorResponse(context, error, silentLogger));

  const key = await adminApp.call('POST', '/admin/v1/api-keys', { name: 'runner', sandbox: 'default' });
  principal = await adminApp.keys.authenticate(`Bearer ${String(key.body.key)}`);
  viewerToken = String((await adminApp.call('POST', '/admin/v1/admin-tokens', { name: 'dashboard', role: 'viewer' })).body.token);
});

afterAll(async () => {
  await adminApp?.close();
});

const call = (method: string, path: string, token = ADMIN_TOKEN) => app.request(path, { method, headers: { authorization: `Bearer ${token}` } });

/** Starts code that prints itself and runs until cancelled; resolves with its trace id once it runs. */
function startRunning(code: string): Promise<string> {
  return new Promise((resolve) => {
    void executionService.execute(principal, ExecuteRequest.parse({ code }), {
      acceptedAt: performance.now(),
      answer: { mode: 'streaming', onStarted: (log) => resolve(log.traceId) },
    });
  });
}

/** Runs code that exits at once with a webhook; resolves with its trace id once it has finished. */
async function runWithWebhook(): Promise<string> {
  let traceId = '';
  await executionService.execute(principal, ExecuteRequest.parse({ code: 'exit' }), {
    acceptedAt: performance.now(),
    answer: { mode: 'webhook', webhookUrl: 'http://127.0.0.1:9/hook', onRecorded: (id) => (traceId = id) },
  });
  return traceId;
}

/** A page of `GET /admin/v1/webhooks` with this query. */
async function deliveries(query = ''): Promise<AdminWebhookPage> {
  return (await (await call('GET', `/admin/v1/webhooks${query}`)).json()) as AdminWebhookPage;
}

const traceIds = (page: AdminWebhookPage) => page.deliveries.map((delivery) => delivery.trace_id);

async function auditEntries(action: string): Promise<AuditEntry[]> {
  return (await adminApp.call('GET', `/admin/v1/audit?action=${action}`)).body.entries as AuditEntry[];
}

/** Reads NDJSON events from a response until `count` have arrived. */
async function readEvents(response: Response, count: number): Promise<ExecutionEvent[]> {
  const reader = (response.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  while (text.split('\n').length <= count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  await reader.cancel();
  return text.split('\n').filter(Boolean).slice(0, count).map((line) => JSON.parse(line) as ExecutionEvent);
}

describe('output and cancel', () => {
  it('replays a running execution live from after_seq, cancels it for admins only (recorded), and the stream ends with the result', async () => {
    const traceId = await startRunning('print("live")');
    const live = await call('GET', `/admin/v1/executions/${traceId}/output?after_seq=0`);
    expect(live.status).toBe(200);
    expect(live.headers.get('content-type')).toBe('application/x-ndjson');
    expect(await readEvents(live, 1)).toEqual([{ type: 'output', seq: 1, stream: 'stdout', data: 'print("live")\n' }]);

    const refused = await call('POST', `/admin/v1/executions/${traceId}/cancel`, viewerToken);
    expect(refused.status).toBe(403);
    const following = call('GET', `/admin/v1/executions/${traceId}/output`);
    const cancelled = await call('POST', `/admin/v1/executions/${traceId}/cancel`);
    expect(await cancelled.json()).toEqual({ trace_id: traceId, status: 'cancelled' });
    const events = (await (await following).text()).split('\n').filter(Boolean).map((line) => JSON.parse(line) as ExecutionEvent);
    expect(events.map((event) => event.type)).toEqual(['status', 'output', 'result']);
    expect(events.at(-1)).toMatchObject({ type: 'result', status: 'cancelled' });
    expect(await (await call('POST', `/admin/v1/executions/${traceId}/cancel`)).json()).toEqual({ trace_id: traceId, status: 'cancelled' });

    const recorded = (await auditEntries('execution.cancel')).map((entry) => [entry.actor, entry.outcome, entry.target_id]);
    expect(recorded).toEqual([
      ['bootstrap', 'success', traceId],
      ['bootstrap', 'success', traceId],
      ['dashboard', 'denied', traceId],
    ]);
  });

  it('404 for an execution of another organization or none, 400 for an after_seq that is not a number', async () => {
    const traceId = await runWithWebhook();
    expect((await call('GET', `/admin/v1/executions/${traceId}/output?after_seq=-1`)).status).toBe(200);
    expect((await call('GET', '/admin/v1/executions/trc_none/output')).status).toBe(404);
    expect((await call('POST', '/admin/v1/executions/trc_none/cancel')).status).toBe(404);
    expect((await call('GET', `/admin/v1/executions/${traceId}/output?organization=nope`)).status).toBe(404);
    const invalid = await call('GET', `/admin/v1/executions/${traceId}/output?after_seq=x`);
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ error: 'validation_error', message: expect.stringMatching(/^after_seq: /) });
  });
});

describe('webhook deliveries', () => {
  it('lists deliveries by state; retries only a failed one, for admins, kicking the dispatcher (recorded); 409 otherwise', async () => {
    const traceId = await runWithWebhook();
    const listed = await deliveries();
    expect(listed.deliveries[0]).toMatchObject({ trace_id: traceId, url: 'http://127.0.0.1:9/hook', status: 'pending', attempts: 0, last_attempt_at: null });

    const pending = await call('POST', `/admin/v1/executions/${traceId}/webhook/retry`);
    expect(pending.status).toBe(409);
    expect(await pending.json()).toMatchObject({ error: 'conflict', message: expect.stringContaining('is pending') });

    await adminApp.database.query(`UPDATE webhook_deliveries SET status = 'failed', completed_at = now() WHERE trace_id = $1`, [traceId]);
    expect(traceIds(await deliveries('?status=failed'))).toEqual([traceId]);
    expect((await call('POST', `/admin/v1/executions/${traceId}/webhook/retry`, viewerToken)).status).toBe(403);
    expect(kicks).toBe(0);
    const retried = await call('POST', `/admin/v1/executions/${traceId}/webhook/retry`);
    expect(retried.status).toBe(200);
    expect(await retried.json()).toMatchObject({ url: 'http://127.0.0.1:9/hook', status: 'pending', attempts: [], next_attempt_at: expect.any(String) });
    expect(kicks).toBe(1);
    expect(traceIds(await deliveries('?status=failed'))).toEqual([]);

    await adminApp.database.query(`UPDATE webhook_deliveries SET status = 'delivered' WHERE trace_id = $1`, [traceId]);
    expect(await (await call('POST', `/admin/v1/executions/${traceId}/webhook/retry`)).json()).toMatchObject({ error: 'conflict', message: expect.stringContaining('was delivered') });
    const recorded = (await auditEntries('webhook.retry')).map((entry) => [entry.actor, entry.outcome, entry.target_id]);
    expect(recorded).toEqual([
      ['bootstrap', 'failure', traceId],
      ['bootstrap', 'success', traceId],
      ['dashboard', 'denied', traceId],
      ['bootstrap', 'failure', traceId],
    ]);
  });

  it('404 for an execution without webhook or absent; 400 for a cursor it did not give; pages follow next_cursor', async () => {
    const withoutWebhook = await new Promise<string>((resolve) => {
      void executionService.execute(principal, ExecuteRequest.parse({ code: 'exit' }), { acceptedAt: performance.now() }).then((answer) => resolve(answer.trace_id));
    });
    expect((await call('POST', `/admin/v1/executions/${withoutWebhook}/webhook/retry`)).status).toBe(404);
    expect((await call('POST', '/admin/v1/executions/trc_none/webhook/retry')).status).toBe(404);
    expect((await call('GET', '/admin/v1/webhooks?cursor=nonsense')).status).toBe(400);

    const all = traceIds(await deliveries());
    expect(all.length).toBeGreaterThanOrEqual(2);
    const first = await deliveries('?limit=1');
    const second = await deliveries(`?limit=1&cursor=${first.next_cursor ?? ''}`);
    expect([...traceIds(first), ...traceIds(second)]).toEqual(all.slice(0, 2));
  });
});
