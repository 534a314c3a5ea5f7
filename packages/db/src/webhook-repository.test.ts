import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_KINDS, TestBackend } from '../test/test-backend.js';
import {
  ExecutionRepository,
  OrganizationRepository,
  SandboxConfigRepository,
  WebhookRepository,
  generateId,
  openDatabase,
  type Database,
  type ExecutionResult,
} from './index.js';

describe.each(BACKEND_KINDS)('the webhook outbox on %s', (kind) => {
  const backend = new TestBackend(kind);
  let database: Database;
  let executions: ExecutionRepository;
  let webhooks: WebhookRepository;
  let orgId: string;
  let sandboxConfigId: string;

  beforeAll(async () => {
    await backend.start();
    database = await openDatabase(await backend.freshDatabaseOptions());
    executions = new ExecutionRepository(database);
    webhooks = new WebhookRepository(database);
    const organization = await new OrganizationRepository(database).create({ name: 'Hooks', slug: `org-${randomBytes(5).toString('hex')}` });
    orgId = organization.id;
    sandboxConfigId = (await new SandboxConfigRepository(database).create({ orgId, name: 'default' })).id;
  });

  afterAll(async () => {
    await database?.close();
    await backend.stop();
  });

  const result: ExecutionResult = {
    status: 'success',
    exitCode: 0,
    errorCode: null,
    error: null,
    stdout: 'ok\n',
    stderr: '',
    stdoutTruncated: false,
    stderrTruncated: false,
    warm: true,
    durationMs: 3,
    overheadMs: 0.5,
    peakMemoryBytes: null,
    cpuTimeMs: null,
    resultSeq: 3,
    startedAt: new Date(),
    completedAt: new Date(),
    network: null,
    storageSync: null,
  };

  async function running(webhookUrl: string | null, nodeId = 'node_a') {
    const traceId = generateId('execution');
    await executions.insertRunning({
      traceId,
      orgId,
      apiKeyId: null,
      sandboxConfigId,
      nodeId,
      language: 'python',
      code: 'print("ok")',
      deliveryMode: webhookUrl === null ? 'inline' : 'webhook',
      webhookUrl,
      createdAt: new Date(),
    });
    return traceId;
  }

  it('queues a delivery when a webhook execution completes, and none for others', async () => {
    const withHook = await running('https://hooks.example/a');
    const without = await running(null);
    expect(await webhooks.get(orgId, withHook)).toBeNull();
    await executions.complete(withHook, result);
    await executions.complete(without, result);
    expect(await webhooks.get(orgId, withHook)).toMatchObject({ url: 'https://hooks.example/a', status: 'pending', attempts: 0, attemptLog: [] });
    expect(await webhooks.get(orgId, without)).toBeNull();
    expect(await webhooks.get('org_other', withHook)).toBeNull();
  });

  it('queues the deliveries of webhook executions failed after a crash', async () => {
    const traceId = await running('https://hooks.example/crashed', 'node_crashed');
    expect(await executions.failRunning('the server stopped', { nodeId: 'node_crashed' })).toBe(1);
    expect(await webhooks.get(orgId, traceId)).toMatchObject({ status: 'pending' });
  });

  it('gives each due delivery to one claimant, records attempts, retries and finishes', async () => {
    await database.query(`UPDATE webhook_deliveries SET status = 'delivered'`);
    const traceId = await running('https://hooks.example/b');
    await executions.complete(traceId, result);
    const claims = await Promise.all(['node_a', 'node_b', 'node_c'].map((node) => webhooks.claimDue(node, { limit: 5, claimSeconds: 60 })));
    expect(claims.flat().map((delivery) => delivery.traceId)).toEqual([traceId]);
    const owner = ['node_a', 'node_b', 'node_c'][claims.findIndex((claimed) => claimed.length === 1)] as string;
    expect(await webhooks.nextDueAt()).toBeInstanceOf(Date);

    const attempt = { attempt: 1, attemptedAt: new Date(), statusCode: 500, error: 'receiver answered 500', durationMs: 12.4 };
    const retryAt = new Date(Date.now() + 60_000);
    expect(await webhooks.recordAttempt(traceId, 'node_other', attempt, { status: 'pending', retryAt })).toBe(false);
    expect(await webhooks.recordAttempt(traceId, owner, attempt, { status: 'pending', retryAt })).toBe(true);
    expect(await webhooks.claimDue('node_a', { limit: 5, claimSeconds: 60 })).toEqual([]);
    await database.query(`UPDATE webhook_deliveries SET next_attempt_at = now() WHERE trace_id = $1`, [traceId]);
    const [again] = await webhooks.claimDue('node_b', { limit: 5, claimSeconds: 60 });
    expect(again).toMatchObject({ traceId, attempts: 1 });
    const second = { attempt: 2, attemptedAt: new Date(), statusCode: 204, error: null, durationMs: 3 };
    expect(await webhooks.recordAttempt(traceId, 'node_b', second, { status: 'delivered' })).toBe(true);
    expect(await webhooks.get(orgId, traceId)).toMatchObject({
      status: 'delivered',
      attempts: 2,
      completedAt: expect.any(Date),
      attemptLog: [
        { attempt: 1, statusCode: 500, error: 'receiver answered 500', durationMs: 12 },
        { attempt: 2, statusCode: 204, error: null, durationMs: 3 },
      ],
    });
  });

  it('lets a claim lapse or be released, so another node retries it', async () => {
    await database.query(`UPDATE webhook_deliveries SET status = 'delivered'`);
    const traceId = await running('https://hooks.example/c');
    await executions.complete(traceId, result);
    expect(await webhooks.claimDue('node_gone', { limit: 5, claimSeconds: 60 })).toHaveLength(1);
    expect(await webhooks.claimDue('node_b', { limit: 5, claimSeconds: 60 })).toEqual([]);
    expect(await webhooks.releaseClaims({ nodeId: 'node_b' })).toBe(0);
    // node_gone is not among the listed nodes: another node settling the gone ones releases its claim.
    expect(await webhooks.releaseClaims({ absentNodes: true })).toBe(1);
    expect(await webhooks.claimDue('node_b', { limit: 5, claimSeconds: 0 })).toHaveLength(1);
    // A zero-second claim has lapsed at once.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await webhooks.claimDue('node_c', { limit: 5, claimSeconds: 60 })).toHaveLength(1);
  });

  it('stores a secret once unless replaced', async () => {
    expect(await webhooks.sealedSecret(sandboxConfigId)).toBeNull();
    expect(await webhooks.storeSecret(sandboxConfigId, 'sealed-1', { replace: false })).toBe('sealed-1');
    expect(await webhooks.storeSecret(sandboxConfigId, 'sealed-2', { replace: false })).toBe('sealed-1');
    expect(await webhooks.storeSecret(sandboxConfigId, 'sealed-3', { replace: true })).toBe('sealed-3');
    expect(await webhooks.sealedSecret(sandboxConfigId)).toBe('sealed-3');
    expect(await webhooks.storeSecret('sbx_missing', 'sealed', { replace: true })).toBeNull();
  });

  it('hands out a claimed delivery with its execution record and the sealed signing secret', async () => {
    await database.query(`UPDATE webhook_deliveries SET status = 'delivered'`);
    await webhooks.storeSecret(sandboxConfigId, 'sealed-for-claim', { replace: true });
    const traceId = await running('https://hooks.example/d');
    await executions.complete(traceId, result);
    const [claimed] = await webhooks.claimDue('node_a', { limit: 5, claimSeconds: 60 });
    expect(claimed).toMatchObject({ traceId, url: 'https://hooks.example/d', attempts: 0, sealedSecret: 'sealed-for-claim' });
    expect(claimed?.execution).toEqual(await executions.get(orgId, traceId));
    expect(claimed?.execution).toMatchObject({ status: 'success', stdout: result.stdout, sandboxConfigId, completedAt: expect.any(Date) });
  });

  it("lists an organization's deliveries newest first with their last attempt, by state and by page; queues only a failed one again", async () => {
    await database.query(`UPDATE webhook_deliveries SET status = 'delivered'`);
    const other = await new OrganizationRepository(database).create({ name: 'Listed', slug: `org-${randomBytes(5).toString('hex')}` });
    const otherConfig = await new SandboxConfigRepository(database).create({ orgId: other.id, name: 'default' });
    const finished: string[] = [];
    for (const name of ['delivered', 'failed', 'pending']) {
      const traceId = generateId('execution');
      await executions.insertRunning({
        traceId,
        orgId: other.id,
        apiKeyId: null,
        sandboxConfigId: otherConfig.id,
        nodeId: 'node_a',
        language: 'python',
        code: name,
        deliveryMode: 'webhook',
        webhookUrl: `https://hooks.example/${name}`,
        createdAt: new Date(),
      });
      await executions.complete(traceId, result);
      finished.push(traceId);
      // Queued in separate milliseconds, the order the list shows them in.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const [delivered, failed, pending] = finished as [string, string, string];
    expect((await webhooks.claimDue('node_a', { limit: 5, claimSeconds: 60 })).map((delivery) => delivery.traceId).sort()).toEqual([...finished].sort());
    const attempt = { attempt: 1, attemptedAt: new Date(), statusCode: 500, error: 'receiver answered 500', durationMs: 7 };
    await webhooks.recordAttempt(delivered, 'node_a', { ...attempt, statusCode: 204, error: null }, { status: 'delivered' });
    await webhooks.recordAttempt(failed, 'node_a', attempt, { status: 'failed' });
    await webhooks.releaseClaims({ nodeId: 'node_a' });

    const listed = await webhooks.list(other.id, { limit: 10 });
    expect(listed.map((delivery) => delivery.traceId)).toEqual([pending, failed, delivered]);
    expect(listed[0]).toMatchObject({ status: 'pending', attempts: 0, lastAttempt: null, url: 'https://hooks.example/pending' });
    expect(listed[1]).toMatchObject({ status: 'failed', attempts: 1, completedAt: expect.any(Date), lastAttempt: { attempt: 1, statusCode: 500, error: 'receiver answered 500', durationMs: 7 } });
    expect(listed[2]).toMatchObject({ status: 'delivered', lastAttempt: { statusCode: 204, error: null } });
    expect((await webhooks.list(other.id, { status: 'failed', limit: 10 })).map((delivery) => delivery.traceId)).toEqual([failed]);
    expect(await webhooks.list(orgId, { status: 'failed', limit: 10 })).toEqual([]);
    const first = await webhooks.list(other.id, { limit: 2 });
    const last = first.at(-1) as (typeof first)[number];
    const second = await webhooks.list(other.id, { limit: 2, after: { createdAt: last.createdAt, traceId: last.traceId } });
    expect([...first, ...second].map((delivery) => delivery.traceId)).toEqual([pending, failed, delivered]);

    expect(await webhooks.requeue(other.id, delivered)).toEqual({ requeued: false, status: 'delivered' });
    expect(await webhooks.requeue(other.id, pending)).toEqual({ requeued: false, status: 'pending' });
    expect(await webhooks.requeue(orgId, failed)).toBeNull();
    expect(await webhooks.requeue(other.id, 'trc_missing')).toBeNull();
    expect(await webhooks.requeue(other.id, failed)).toEqual({ requeued: true });
    expect(await webhooks.get(other.id, failed)).toMatchObject({ status: 'pending', attempts: 1, completedAt: null });
    expect(await webhooks.requeue(other.id, failed)).toEqual({ requeued: false, status: 'pending' });
    const due = await webhooks.claimDue('node_b', { limit: 5, claimSeconds: 60 });
    expect(due.map((delivery) => delivery.traceId).sort()).toEqual([failed, pending].sort());
    expect(due.find((delivery) => delivery.traceId === failed)).toMatchObject({ attempts: 1 });
  });
});
