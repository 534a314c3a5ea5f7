import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_KINDS, TestBackend } from '../test/test-backend.js';
import {
  ApiKeyRepository,
  ExecutionRepository,
  IdempotencyKeyTakenError,
  ImageRepository,
  NodeRepository,
  OrganizationRepository,
  SandboxConfigRepository,
  ThreadRepository,
  UniqueViolationError,
  generateId,
  openDatabase,
  type Database,
  type ExecutionResult,
  type NewExecution,
} from './index.js';

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();
const uniqueSlug = (): string => `org-${randomBytes(5).toString('hex')}`;

describe.each(BACKEND_KINDS)('repositories on %s', (kind) => {
  const backend = new TestBackend(kind);
  let database: Database;
  let organizations: OrganizationRepository;
  let sandboxConfigs: SandboxConfigRepository;
  let apiKeys: ApiKeyRepository;
  let executions: ExecutionRepository;
  let threads: ThreadRepository;

  beforeAll(async () => {
    await backend.start();
    database = await openDatabase(await backend.freshDatabaseOptions());
    organizations = new OrganizationRepository(database);
    sandboxConfigs = new SandboxConfigRepository(database);
    apiKeys = new ApiKeyRepository(database);
    executions = new ExecutionRepository(database);
    threads = new ThreadRepository(database);
  });

  afterAll(async () => {
    await database?.close();
    await backend.stop();
  });

  /** An organization with a sandbox config and an API key whose secret is returned. */
  async function createTenant() {
    const organization = await organizations.create({ name: 'Tenant', slug: uniqueSlug() });
    const sandboxConfig = await sandboxConfigs.create({ orgId: organization.id, name: 'default' });
    const secret = `sk-local-${randomBytes(16).toString('hex')}`;
    const apiKey = await apiKeys.create({
      orgId: organization.id,
      sandboxConfigId: sandboxConfig.id,
      name: 'ci',
      secretSha256: sha256(secret),
      displayPrefix: secret.slice(0, 12),
    });
    return { organization, sandboxConfig, apiKey, secret };
  }

  describe('organizations', () => {
    it('creates, finds by id and slug, and counts', async () => {
      const before = await organizations.count();
      const slug = uniqueSlug();
      const organization = await organizations.create({ name: 'Acme', slug });
      expect(organization).toEqual({
        id: expect.stringMatching(/^org_[0-9a-z]{20}$/),
        name: 'Acme',
        slug,
        maxTimeoutSeconds: 3600,
        auditRetentionDays: 365,
        createdAt: expect.any(Date),
      });
      expect(await organizations.get(organization.id)).toEqual(organization);
      expect(await organizations.getBySlug(slug)).toEqual(organization);
      expect(await organizations.get('org_missing')).toBeNull();
      expect(await organizations.getBySlug('missing')).toBeNull();
      expect(await organizations.count()).toBe(before + 1);
    });

    it('raises UniqueViolationError for a taken slug', async () => {
      const slug = uniqueSlug();
      await organizations.create({ name: 'First', slug });
      const failure = await organizations.create({ name: 'Second', slug }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(UniqueViolationError);
      expect(failure).toMatchObject({ constraint: 'organizations_slug_key' });
    });
  });

  describe('sandbox configs', () => {
    it('fills defaults and derives memory from cpu', async () => {
      const organization = await organizations.create({ name: 'Configs', slug: uniqueSlug() });
      const config = await sandboxConfigs.create({ orgId: organization.id, name: 'standard' });
      expect(config).toEqual({
        id: expect.stringMatching(/^sbx_/),
        orgId: organization.id,
        name: 'standard',
        image: 'default',
        cpu: 1,
        memoryMb: 1024,
        network: 'blocked',
        networkAllow: [],
        envVars: {},
        timeoutMaxSeconds: 3600,
        executionRetention: '30d',
        threadRetention: 'forever',
        start: 'fresh',
        web: null,
        createdAt: expect.any(Date),
        updatedAt: expect.any(Date),
      });
      const large = await sandboxConfigs.create({
        orgId: organization.id,
        name: 'large',
        cpu: 2.5,
        network: 'unrestricted',
        envVars: { MODE: 'large' },
        start: 'fork',
      });
      expect(large).toMatchObject({ cpu: 2.5, memoryMb: 2560, network: 'unrestricted', envVars: { MODE: 'large' }, start: 'fork' });
      expect(await sandboxConfigs.list(organization.id)).toEqual([large, config]);
      expect(await sandboxConfigs.getByName(organization.id, 'large')).toEqual(large);
    });

    it('keeps an allowlist only while the network is allowlist', async () => {
      const { organization } = await createTenant();
      const allow = ['api.example.com', '*.pypi.org', '198.51.100.0/24'];
      const listed = await sandboxConfigs.create({ orgId: organization.id, name: 'listed', network: 'allowlist', networkAllow: allow });
      expect(listed).toMatchObject({ network: 'allowlist', networkAllow: allow });
      expect(await sandboxConfigs.get(organization.id, listed.id)).toEqual(listed);
      const narrowed = await sandboxConfigs.update(organization.id, listed.id, { networkAllow: ['api.example.com'] });
      expect(narrowed).toMatchObject({ network: 'allowlist', networkAllow: ['api.example.com'] });
      await expect(sandboxConfigs.update(organization.id, listed.id, { network: 'unrestricted' })).rejects.toThrow(/check constraint/);
      expect(await sandboxConfigs.update(organization.id, listed.id, { network: 'unrestricted', networkAllow: [] })).toMatchObject({
        network: 'unrestricted',
        networkAllow: [],
      });
      await expect(
        sandboxConfigs.create({ orgId: organization.id, name: 'blocked-list', networkAllow: ['api.example.com'] }),
      ).rejects.toThrow(/check constraint/);
    });

    it('updates only the given settings and scopes every lookup by organization', async () => {
      const { organization, sandboxConfig } = await createTenant();
      const other = await organizations.create({ name: 'Other', slug: uniqueSlug() });

      const updated = await sandboxConfigs.update(organization.id, sandboxConfig.id, {
        cpu: 0.5,
        envVars: { A: 'b' },
        executionRetention: '1h',
        start: 'fork',
      });
      expect(updated).toEqual({
        ...sandboxConfig,
        cpu: 0.5,
        envVars: { A: 'b' },
        executionRetention: '1h',
        start: 'fork',
        updatedAt: expect.any(Date),
      });
      expect(updated!.updatedAt.getTime()).toBeGreaterThanOrEqual(sandboxConfig.updatedAt.getTime());

      expect(await sandboxConfigs.get(other.id, sandboxConfig.id)).toBeNull();
      expect(await sandboxConfigs.getByName(other.id, sandboxConfig.name)).toBeNull();
      expect(await sandboxConfigs.list(other.id)).toEqual([]);
      expect(await sandboxConfigs.update(other.id, sandboxConfig.id, { cpu: 4 })).toBeNull();
      expect((await sandboxConfigs.get(organization.id, sandboxConfig.id))?.cpu).toBe(0.5);
    });

    it('lists the images sandbox configs of every organization fork from, each once, leaving deleted configs out', async () => {
      await new ImageRepository(database).addRecipe('slim');
      const { organization } = await createTenant();
      const other = await organizations.create({ name: 'Forks', slug: uniqueSlug() });
      await sandboxConfigs.create({ orgId: organization.id, name: 'forked', start: 'fork' });
      await sandboxConfigs.create({ orgId: other.id, name: 'forked', start: 'fork' });
      await sandboxConfigs.create({ orgId: other.id, name: 'fresh-slim', image: 'slim' });
      const slim = await sandboxConfigs.create({ orgId: other.id, name: 'forked-slim', image: 'slim', start: 'fork' });
      expect(await sandboxConfigs.forkedImages()).toEqual(['default', 'slim']);
      expect(await sandboxConfigs.delete(other.id, slim.id)).toEqual({ deleted: true });
      expect(await sandboxConfigs.forkedImages()).toEqual(['default']);
    });

    it('rejects settings outside the schema limits and duplicate names in one organization', async () => {
      const { organization, sandboxConfig } = await createTenant();
      await expect(sandboxConfigs.create({ orgId: organization.id, name: 'huge', cpu: 8 })).rejects.toThrow(
        /check constraint/,
      );
      await expect(
        sandboxConfigs.create({ orgId: organization.id, name: 'warm', start: 'warm' as 'fresh' }),
      ).rejects.toThrow(/check constraint/);
      await expect(
        sandboxConfigs.create({ orgId: organization.id, name: sandboxConfig.name }),
      ).rejects.toBeInstanceOf(UniqueViolationError);
      const elsewhere = await organizations.create({ name: 'Elsewhere', slug: uniqueSlug() });
      await expect(sandboxConfigs.create({ orgId: elsewhere.id, name: sandboxConfig.name })).resolves.toBeTruthy();
    });
  });

  describe('api keys', () => {
    it('finds an active key by the hash of its secret, with its organization and sandbox config', async () => {
      const { organization, sandboxConfig, apiKey, secret } = await createTenant();
      expect(apiKey).toEqual({
        id: expect.stringMatching(/^key_/),
        orgId: organization.id,
        sandboxConfigId: sandboxConfig.id,
        name: 'ci',
        displayPrefix: secret.slice(0, 12),
        networkOverride: null,
        networkAllow: null,
        storage: {},
        connectors: null,
        web: null,
        envVars: {},
        createdAt: expect.any(Date),
        lastUsedAt: null,
        revokedAt: null,
      });
      expect(await apiKeys.findActiveBySecretHash(sha256(secret))).toEqual({ apiKey, organization, sandboxConfig });
      expect(await apiKeys.findActiveBySecretHash(sha256(`${secret}x`))).toBeNull();
    });

    it('revokes idempotently and only within the organization', async () => {
      const { organization, apiKey, secret } = await createTenant();
      const other = await organizations.create({ name: 'Other', slug: uniqueSlug() });

      expect(await apiKeys.revoke(other.id, apiKey.id)).toBe(false);
      expect(await apiKeys.findActiveBySecretHash(sha256(secret))).not.toBeNull();

      expect(await apiKeys.revoke(organization.id, apiKey.id)).toBe(true);
      expect(await apiKeys.findActiveBySecretHash(sha256(secret))).toBeNull();
      const [revoked] = await apiKeys.list(organization.id);
      expect(revoked?.revokedAt).toBeInstanceOf(Date);

      expect(await apiKeys.revoke(organization.id, apiKey.id)).toBe(true);
      expect((await apiKeys.list(organization.id))[0]?.revokedAt).toEqual(revoked?.revokedAt);
      expect(await apiKeys.revoke(organization.id, 'key_missing')).toBe(false);
      expect(await apiKeys.list(other.id)).toEqual([]);
    });

    it('stores narrowing settings, refuses a reused secret and a sandbox config of another organization', async () => {
      const { organization, sandboxConfig, secret } = await createTenant();
      const narrowed = await apiKeys.create({
        orgId: organization.id,
        sandboxConfigId: sandboxConfig.id,
        name: 'narrowed',
        secretSha256: sha256(`${secret}-narrowed`),
        displayPrefix: 'sk-local-nar',
        networkOverride: 'blocked',
        envVars: { TOKEN: 'x' },
        storage: { reports: { prefix: 'tenants/a', read_only: true }, scratch: { detached: true } },
      });
      expect(narrowed).toMatchObject({
        networkOverride: 'blocked',
        networkAllow: null,
        envVars: { TOKEN: 'x' },
        storage: { reports: { prefix: 'tenants/a', read_only: true }, scratch: { detached: true } },
      });
      expect((await apiKeys.findActiveBySecretHash(sha256(`${secret}-narrowed`)))?.apiKey).toEqual(narrowed);
      const listed = await apiKeys.create({
        orgId: organization.id,
        sandboxConfigId: sandboxConfig.id,
        name: 'listed',
        secretSha256: sha256(`${secret}-listed`),
        displayPrefix: 'sk-local-lis',
        networkOverride: 'allowlist',
        networkAllow: ['api.example.com'],
      });
      expect(listed).toMatchObject({ networkOverride: 'allowlist', networkAllow: ['api.example.com'] });
      expect((await apiKeys.findActiveBySecretHash(sha256(`${secret}-listed`)))?.apiKey).toEqual(listed);
      expect((await apiKeys.list(organization.id)).map((key) => key.name)).toEqual(['ci', 'narrowed', 'listed']);
      await expect(
        apiKeys.create({
          orgId: organization.id,
          sandboxConfigId: sandboxConfig.id,
          name: 'blocked-list',
          secretSha256: sha256(`${secret}-blocked-list`),
          displayPrefix: 'sk-local-blo',
          networkOverride: 'blocked',
          networkAllow: ['api.example.com'],
        }),
      ).rejects.toThrow(/check constraint/);

      const reused = apiKeys.create({
        orgId: organization.id,
        sandboxConfigId: sandboxConfig.id,
        name: 'again',
        secretSha256: sha256(secret),
        displayPrefix: 'sk-local-aga',
      });
      await expect(reused).rejects.toMatchObject({
        name: 'UniqueViolationError',
        constraint: 'api_keys_secret_sha256_key',
      });

      const other = await createTenant();
      await expect(
        apiKeys.create({
          orgId: organization.id,
          sandboxConfigId: other.sandboxConfig.id,
          name: 'cross-tenant',
          secretSha256: sha256(`${secret}-cross`),
          displayPrefix: 'sk-local-cro',
        }),
      ).rejects.toThrow(/foreign key/);
    });

    it('records the last use at most once per resolution interval', async () => {
      const { organization, apiKey } = await createTenant();
      await apiKeys.touchLastUsed(organization.id, apiKey.id);
      const [first] = await apiKeys.list(organization.id);
      expect(first?.lastUsedAt).toBeInstanceOf(Date);
      await apiKeys.touchLastUsed(organization.id, apiKey.id);
      const [second] = await apiKeys.list(organization.id);
      expect(second?.lastUsedAt).toEqual(first?.lastUsedAt);
    });
  });

  describe('executions', () => {
    const result = (overrides: Partial<ExecutionResult> = {}): ExecutionResult => ({
      status: 'success',
      exitCode: 0,
      errorCode: null,
      error: null,
      stdout: 'hello\n',
      stderr: '',
      stdoutTruncated: false,
      stderrTruncated: true,
      warm: true,
      durationMs: 41.6,
      overheadMs: 0.75,
      peakMemoryBytes: 6_000_000_000,
      cpuTimeMs: 12.5,
      resultSeq: 4,
      startedAt: new Date('2025-01-01T00:00:00.010Z'),
      completedAt: new Date('2025-01-01T00:00:00.052Z'),
      network: null,
      storageSync: { status: 'pending', files: ['/data/vol/a.csv'], reason: 'still uploading' },
      ...overrides,
    });

    async function startExecution(overrides: Partial<NewExecution> = {}) {
      const tenant = await createTenant();
      const execution = await executions.insertRunning({
        traceId: generateId('execution'),
        orgId: tenant.organization.id,
        apiKeyId: tenant.apiKey.id,
        sandboxConfigId: tenant.sandboxConfig.id,
        language: 'python',
        code: 'print("hello")',
        metadata: { job: '42' },
        deliveryMode: 'streaming',
        createdAt: new Date('2025-01-01T00:00:00.000Z'),
        ...overrides,
      });
      return { ...tenant, execution };
    }

    it('inserts a running execution, completes it once, and reads it back within the organization', async () => {
      const { organization, apiKey, sandboxConfig, execution } = await startExecution();
      expect(execution).toEqual({
        traceId: expect.stringMatching(/^trc_/),
        orgId: organization.id,
        apiKeyId: apiKey.id,
        sandboxConfigId: sandboxConfig.id,
        nodeId: null,
        language: 'python',
        code: 'print("hello")',
        status: 'running',
        exitCode: null,
        errorCode: null,
        error: null,
        stdout: null,
        stderr: null,
        stdoutTruncated: false,
        stderrTruncated: false,
        metadata: { job: '42' },
        threadId: null,
        deliveryMode: 'streaming',
        webhookUrl: null,
        networkMode: 'blocked',
        networkAllow: null,
        network: null,
        storageSync: null,
        warm: false,
        durationMs: null,
        overheadMs: null,
        peakMemoryBytes: null,
        cpuTimeMs: null,
        resultSeq: null,
        idempotencyKey: null,
        requestFingerprint: null,
        createdAt: new Date('2025-01-01T00:00:00.000Z'),
        startedAt: null,
        completedAt: null,
      });

      const completed = await executions.complete(execution.traceId, result());
      expect(completed).toEqual({
        ...execution,
        status: 'success',
        exitCode: 0,
        stdout: 'hello\n',
        stderr: '',
        stderrTruncated: true,
        warm: true,
        durationMs: 42,
        overheadMs: 0.75,
        peakMemoryBytes: 6_000_000_000,
        cpuTimeMs: 12.5,
        resultSeq: 4,
        startedAt: new Date('2025-01-01T00:00:00.010Z'),
        completedAt: new Date('2025-01-01T00:00:00.052Z'),
        storageSync: { status: 'pending', files: ['/data/vol/a.csv'], reason: 'still uploading' },
      });
      expect(await executions.get(organization.id, execution.traceId)).toEqual(completed);
      expect(await executions.complete(execution.traceId, result({ status: 'failed' }))).toBeNull();

      const other = await organizations.create({ name: 'Other', slug: uniqueSlug() });
      expect(await executions.get(other.id, execution.traceId)).toBeNull();
      expect(await executions.get(organization.id, 'trc_missing')).toBeNull();
    });

    it('records a finished execution in one statement exactly as a running one completed', async () => {
      const tenant = await createTenant();
      const call = (traceId: string): NewExecution => ({
        traceId,
        orgId: tenant.organization.id,
        apiKeyId: tenant.apiKey.id,
        sandboxConfigId: tenant.sandboxConfig.id,
        nodeId: 'node-a',
        language: 'python',
        code: 'print("\u0000")',
        metadata: { job: '7' },
        deliveryMode: 'inline',
        networkMode: 'allowlist',
        networkAllow: ['api.example.com'],
        createdAt: new Date('2025-01-01T00:00:00.000Z'),
      });
      const network = [
        { name: 'api.example.com', address: '198.51.100.10', port: 443, protocol: 'tcp' as const, bytes_out: 400, bytes_in: 9000, packets_out: 6, packets_in: 5, verdict: 'allowed' as const, rule: null },
      ];
      const outcome = result({ stdout: 'a\u0000b', network });
      const running = await executions.insertRunning(call(generateId('execution')));
      const completed = await executions.complete(running.traceId, outcome);
      const finished = await executions.insertFinished(call(generateId('execution')), outcome);
      expect(finished).toEqual({ ...completed, traceId: finished!.traceId });
      expect(await executions.get(tenant.organization.id, finished!.traceId)).toEqual(finished);
      expect(await executions.complete(finished!.traceId, result({ status: 'failed' }))).toBeNull();
      await expect(executions.insertFinished(call(finished!.traceId), outcome)).rejects.toBeInstanceOf(UniqueViolationError);
      for (const refused of [{ webhookUrl: 'https://example.com/hook' }, { idempotency: { key: 'k', fingerprint: 'f' } }]) {
        await expect(executions.insertFinished({ ...call(generateId('execution')), ...refused }, outcome)).rejects.toThrow(/recorded running first/);
      }
    });

    it('stores output containing NUL characters', async () => {
      const { organization, execution } = await startExecution({ code: 'print("\u0000")' });
      await executions.complete(execution.traceId, result({ stdout: 'a\u0000b', status: 'failed', exitCode: 1 }));
      const stored = await executions.get(organization.id, execution.traceId);
      expect(stored).toMatchObject({ code: 'print("\uFFFD")', stdout: 'a\uFFFDb', status: 'failed', exitCode: 1 });
    });

    it('refuses a reused trace id and an API key of another organization', async () => {
      const { execution } = await startExecution();
      await expect(startExecution({ traceId: execution.traceId })).rejects.toBeInstanceOf(UniqueViolationError);
      const other = await createTenant();
      await expect(startExecution({ apiKeyId: other.apiKey.id })).rejects.toThrow(/foreign key/);
    });

    it('fails executions left running, all of them or one node’s', async () => {
      const onNodeA = await startExecution({ nodeId: 'node-a' });
      const onNodeB = await startExecution({ nodeId: 'node-b' });
      const finished = await startExecution({ nodeId: 'node-a' });
      await executions.complete(finished.execution.traceId, result());

      expect(await executions.failRunning('server restarted', { nodeId: 'node-a' })).toBe(1);
      expect(await executions.get(onNodeA.organization.id, onNodeA.execution.traceId)).toMatchObject({
        status: 'failed',
        exitCode: -1,
        errorCode: 'server_stopped',
        error: 'server restarted',
        stdout: '',
        stderr: '',
        completedAt: expect.any(Date),
      });
      expect((await executions.get(onNodeB.organization.id, onNodeB.execution.traceId))?.status).toBe('running');
      expect((await executions.get(finished.organization.id, finished.execution.traceId))?.status).toBe('success');

      expect(await executions.failRunning('server restarted')).toBeGreaterThanOrEqual(1);
      expect((await executions.get(onNodeB.organization.id, onNodeB.execution.traceId))?.status).toBe('failed');
      expect(await database.query(`SELECT 1 FROM executions WHERE status = 'running'`)).toEqual([]);
    });

    it('removes a node that stopped beating and settles what it held, never what a listed node holds', async () => {
      const nodes = new NodeRepository(database);
      const keys = { masterKeys: ['m1', 'm0'], urlKey: 'u1' };
      await nodes.register({ id: 'node_alive', url: 'http://127.0.0.1:1', version: 'test', keys });
      await nodes.register({ id: 'node_dead', url: null, version: 'test', keys });
      const alive = await startExecution({ nodeId: 'node_alive' });
      const dead = await startExecution({ nodeId: 'node_dead' });
      const orgId = dead.organization.id;
      await threads.acquire({ orgId, threadId: 'held-by-dead', traceId: dead.execution.traceId, nodeId: 'node_dead', retention: 'forever' });
      await threads.acquire({ orgId, threadId: 'held-by-alive', traceId: 'trc_alive_hold', nodeId: 'node_alive', retention: 'forever' });

      // Listed nodes hold on to everything, however long ago they beat.
      expect(await executions.failRunning('gone', { absentNodes: true })).toBe(0);
      await database.query(`UPDATE nodes SET heartbeat_at = now() - interval '1 minute' WHERE id = 'node_dead'`);
      expect(await nodes.beat('node_alive', true)).toBe(true);
      expect(await nodes.removeLapsed(30)).toEqual(['node_dead']);
      expect(await nodes.beat('node_dead', false)).toBe(false);
      expect((await nodes.list()).map((node) => [node.id, node.draining])).toContainEqual(['node_alive', true]);

      expect(await executions.failRunning('its node stopped', { absentNodes: true })).toBe(1);
      expect(await executions.get(orgId, dead.execution.traceId)).toMatchObject({ status: 'failed', errorCode: 'server_stopped', error: 'its node stopped' });
      expect((await executions.get(alive.organization.id, alive.execution.traceId))?.status).toBe('running');
      expect(await threads.releaseAbandoned({ absentNodes: true })).toBe(1);
      expect((await threads.get(orgId, 'held-by-dead'))?.busyTraceId).toBeNull();
      expect((await threads.get(orgId, 'held-by-alive'))?.busyTraceId).toBe('trc_alive_hold');

      // A node listed again (it was only slow) starts over as a new member.
      await nodes.register({ id: 'node_dead', url: 'http://127.0.0.1:2', version: 'test', keys });
      expect(await nodes.get('node_dead')).toMatchObject({ url: 'http://127.0.0.1:2', draining: false, keys });
      await nodes.remove('node_dead');
      await nodes.remove('node_alive');
      expect(await nodes.get('node_alive')).toBeNull();
      await executions.failRunning('test over', { nodeId: 'node_alive' });
    });

    it('works inside a transaction', async () => {
      const tenant = await createTenant();
      const traceId = generateId('execution');
      await expect(
        database.transaction(async (tx) => {
          await new ExecutionRepository(tx).insertRunning({
            traceId,
            orgId: tenant.organization.id,
            apiKeyId: null,
            sandboxConfigId: null,
            language: 'bash',
            code: 'true',
            deliveryMode: 'inline',
            createdAt: new Date(),
          });
          throw new Error('abandon');
        }),
      ).rejects.toThrow('abandon');
      expect(await executions.get(tenant.organization.id, traceId)).toBeNull();
    });

    it('completing with a thread releases it and appends the layer in the same statement, only while both hold', async () => {
      const { organization, execution } = await startExecution();
      const orgId = organization.id;
      const layer = 'f'.repeat(64);
      await threads.acquire({ orgId, threadId: 'home', traceId: execution.traceId, nodeId: 'n', retention: '7d' });
      const completed = await executions.complete(execution.traceId, result(), { orgId, threadId: 'home', layer });
      expect(completed?.status).toBe('success');
      expect(await threads.get(orgId, 'home')).toMatchObject({ layers: [layer], busyTraceId: null });

      // A thread the execution does not hold (taken over) is left alone, and the record stays running.
      const second = (await startExecution()).execution;
      await threads.acquire({ orgId: second.orgId, threadId: 'home', traceId: 'trc_other', nodeId: 'n', retention: '7d' });
      expect(await executions.complete(second.traceId, result(), { orgId: second.orgId, threadId: 'home', layer })).toBeNull();
      expect((await executions.get(second.orgId, second.traceId))?.status).toBe('running');
      expect(await threads.get(second.orgId, 'home')).toMatchObject({ layers: [], busyTraceId: 'trc_other' });

      // An execution no longer running (failed by a restart) does not append its layer either.
      const third = (await startExecution()).execution;
      await threads.acquire({ orgId: third.orgId, threadId: 'home', traceId: third.traceId, nodeId: 'n', retention: '7d' });
      await database.query(`UPDATE executions SET status = 'failed' WHERE trace_id = $1`, [third.traceId]);
      expect(await executions.complete(third.traceId, result(), { orgId: third.orgId, threadId: 'home', layer })).toBeNull();
      expect(await threads.get(third.orgId, 'home')).toMatchObject({ layers: [], busyTraceId: third.traceId });
    });

    it('recording a finished execution with a thread releases it and appends the layer in the same statement, only while it holds', async () => {
      const tenant = await createTenant();
      const orgId = tenant.organization.id;
      const call = (threadId: string): NewExecution => ({
        traceId: generateId('execution'),
        orgId,
        apiKeyId: tenant.apiKey.id,
        sandboxConfigId: tenant.sandboxConfig.id,
        language: 'python',
        code: 'open("a", "w")',
        metadata: {},
        threadId,
        deliveryMode: 'inline',
        createdAt: new Date(),
      });
      const layer = 'e'.repeat(64);
      const first = call('notes');
      await threads.acquire({ orgId, threadId: 'notes', traceId: first.traceId, nodeId: 'n', retention: '7d' });
      const finished = await executions.insertFinished(first, result(), { orgId, threadId: 'notes', layer });
      expect(finished).toMatchObject({ traceId: first.traceId, status: 'success', threadId: 'notes' });
      expect(await threads.get(orgId, 'notes')).toMatchObject({ layers: [layer], busyTraceId: null });

      // Taken over by another execution: nothing is written, the thread is left alone.
      const second = call('notes');
      await threads.acquire({ orgId, threadId: 'notes', traceId: second.traceId, nodeId: 'n', retention: '7d' });
      await database.query(`UPDATE threads SET busy_trace_id = 'trc_other' WHERE org_id = $1 AND thread_id = 'notes'`, [orgId]);
      expect(await executions.insertFinished(second, result(), { orgId, threadId: 'notes', layer: 'd'.repeat(64) })).toBeNull();
      expect(await executions.get(orgId, second.traceId)).toBeNull();
      expect(await threads.get(orgId, 'notes')).toMatchObject({ layers: [layer], busyTraceId: 'trc_other' });
      // The call is then recorded as it was, without the thread.
      expect(await executions.insertFinished(second, result({ status: 'failed' }))).toMatchObject({ status: 'failed', threadId: 'notes' });
    });

    it('stores the network receipt of a finished execution as given', async () => {
      const { organization, execution } = await startExecution({ networkMode: 'unrestricted' });
      const network = [
        { name: 'web.test.example', address: '198.51.100.10', port: 8080, protocol: 'tcp' as const, bytes_out: 400, bytes_in: 9000, packets_out: 6, packets_in: 5, verdict: 'allowed' as const, rule: null },
        { name: null, address: '10.77.0.10', port: 80, protocol: 'tcp' as const, bytes_out: 60, bytes_in: 0, packets_out: 1, packets_in: 0, verdict: 'blocked' as const, rule: 'blocked_range' as const },
      ];
      await executions.complete(execution.traceId, result({ network }));
      expect(await executions.get(organization.id, execution.traceId)).toMatchObject({ networkMode: 'unrestricted', network });
    });

    it('keeps the allowlist an execution ran with', async () => {
      const networkAllow = ['api.example.com', '198.51.100.0/24'];
      const { organization, execution } = await startExecution({ networkMode: 'allowlist', networkAllow });
      expect(execution).toMatchObject({ networkMode: 'allowlist', networkAllow });
      await executions.complete(execution.traceId, result({ network: [] }));
      expect(await executions.get(organization.id, execution.traceId)).toMatchObject({ networkMode: 'allowlist', networkAllow, network: [] });
    });

    it('an idempotency key is unique in the organization for 24 hours, then free again', async () => {
      const idempotency = { key: 'retry-me', fingerprint: 'f1' };
      const { organization, execution } = await startExecution({ idempotency, createdAt: new Date() });
      expect(await executions.findByIdempotencyKey(organization.id, 'retry-me')).toMatchObject({ traceId: execution.traceId, requestFingerprint: 'f1' });
      const again = () =>
        executions.insertRunning({
          traceId: generateId('execution'),
          orgId: organization.id,
          apiKeyId: null,
          sandboxConfigId: null,
          language: 'bash',
          code: 'true',
          deliveryMode: 'inline',
          idempotency,
          createdAt: new Date(),
        });
      await expect(again()).rejects.toBeInstanceOf(IdempotencyKeyTakenError);
      // The same key in another organization is another key.
      expect((await startExecution({ idempotency, createdAt: new Date() })).execution.idempotencyKey).toBe('retry-me');

      await database.query(`UPDATE executions SET created_at = now() - interval '25 hours' WHERE trace_id = $1`, [execution.traceId]);
      expect(await executions.findByIdempotencyKey(organization.id, 'retry-me')).toBeNull();
      const reused = await again();
      expect(await executions.findByIdempotencyKey(organization.id, 'retry-me')).toMatchObject({ traceId: reused.traceId });
    });
    it('lists an organization\'s executions newest first, by status, thread, metadata and time, a page at a time', async () => {
      const { organization } = await createTenant();
      const at = (minutes: number) => new Date(Date.UTC(2026, 5, 1, 12, minutes));
      const insert = (minutes: number, extra: Partial<NewExecution>) =>
        executions.insertRunning({ traceId: generateId('execution'), orgId: organization.id, apiKeyId: null, sandboxConfigId: null, language: 'bash', code: 'true', deliveryMode: 'inline', createdAt: at(minutes), ...extra });
      const first = await insert(1, { metadata: { job: 'nightly' } });
      const second = await insert(2, { threadId: 'research', metadata: { job: 'adhoc' } });
      const third = await insert(3, {});
      await executions.complete(third.traceId, result({ status: 'failed', exitCode: 1 }));
      const ids = async (filter: Parameters<ExecutionRepository['list']>[1], limit = 10) =>
        (await executions.list(organization.id, filter, { limit })).map((execution) => execution.traceId);
      expect(await ids({})).toEqual([third.traceId, second.traceId, first.traceId]);
      expect(await ids({ status: 'failed' })).toEqual([third.traceId]);
      expect(await ids({ threadId: 'research' })).toEqual([second.traceId]);
      expect(await ids({ metadataKey: 'job' })).toEqual([second.traceId, first.traceId]);
      expect(await ids({ metadataKey: 'job', metadataValue: 'nightly' })).toEqual([first.traceId]);
      expect(await ids({ from: at(2), to: at(3) })).toEqual([second.traceId]);
      const page = await executions.list(organization.id, {}, { limit: 2, after: { createdAt: second.createdAt, traceId: second.traceId } });
      expect(page.map((execution) => execution.traceId)).toEqual([first.traceId]);
      expect(await executions.list(generateId('organization'), {}, { limit: 10 })).toEqual([]);
    });

    it('deletes finished executions past their sandbox config retention in bounded batches, never running ones or pending webhooks', async () => {
      const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000);
      const { organization, sandboxConfig, execution: old } = await startExecution({ createdAt: hoursAgo(3) });
      await sandboxConfigs.update(organization.id, sandboxConfig.id, { executionRetention: '1h' });
      const sibling = (createdAt: Date, overrides: Partial<NewExecution> = {}) =>
        executions.insertRunning({
          traceId: generateId('execution'),
          orgId: organization.id,
          apiKeyId: null,
          sandboxConfigId: sandboxConfig.id,
          language: 'bash',
          code: 'true',
          deliveryMode: 'inline',
          createdAt,
          ...overrides,
        });
      const finishedAt = (execution: { traceId: string }, completedAt: Date) =>
        executions.complete(execution.traceId, result({ startedAt: completedAt, completedAt }));
      await finishedAt(old, hoursAgo(2.5));
      const older = await sibling(hoursAgo(4));
      await finishedAt(older, hoursAgo(3.5));
      const recent = await sibling(hoursAgo(0.5));
      await finishedAt(recent, hoursAgo(0.4));
      const longRunning = await sibling(hoursAgo(5));
      const lateFinish = await sibling(hoursAgo(2));
      await finishedAt(lateFinish, hoursAgo(0.2));
      const webhook = await sibling(hoursAgo(2), { deliveryMode: 'webhook', webhookUrl: 'https://hooks.example.com/airlock' });
      await finishedAt(webhook, hoursAgo(1.5));
      const kept = await startExecution({ createdAt: hoursAgo(3) });
      await finishedAt(kept.execution, hoursAgo(2.5));

      const cutoff = hoursAgo(1);
      const first = await executions.deleteExpired({ retention: '1h', cutoff, limit: 1 });
      expect(first).toEqual([{ traceId: older.traceId, orgId: organization.id }]);
      const rest = await executions.deleteExpired({ retention: '1h', cutoff, limit: 100 });
      expect(rest.filter((deleted) => deleted.orgId === organization.id)).toEqual([{ traceId: old.traceId, orgId: organization.id }]);
      for (const gone of [old, older]) expect(await executions.get(organization.id, gone.traceId)).toBeNull();
      for (const stays of [recent, longRunning, lateFinish, webhook]) expect(await executions.get(organization.id, stays.traceId)).not.toBeNull();
      // The default retention is 30 days.
      expect(await executions.get(kept.organization.id, kept.execution.traceId)).not.toBeNull();
    });
  });

  describe('threads', () => {
    const take = (orgId: string, threadId: string, traceId: string, nodeId = 'node_a') =>
      threads.acquire({ orgId, threadId, traceId, nodeId, retention: '7d' });

    it('one execution at a time: of concurrent takers exactly one wins, until it releases', async () => {
      const { organization } = await createTenant();
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, index) => take(organization.id, 'busy-thread', `trc_${index}`)),
      );
      const winners = results.flatMap((layers, index) => (layers === null ? [] : [index]));
      expect(winners).toHaveLength(1);
      expect(results[winners[0]!]).toEqual([]);
      expect(await take(organization.id, 'busy-thread', 'trc_late')).toBeNull();
      // Another thread, and the same thread id in another organization, are independent.
      expect(await take(organization.id, 'other-thread', 'trc_other')).toEqual([]);
      const { organization: second } = await createTenant();
      expect(await take(second.id, 'busy-thread', 'trc_second')).toEqual([]);

      expect(await threads.release({ orgId: organization.id, threadId: 'busy-thread', traceId: 'trc_late' })).toBe(false);
      const winner = `trc_${winners[0]}`;
      expect(
        await threads.release({ orgId: organization.id, threadId: 'busy-thread', traceId: winner, layer: 'a'.repeat(64) }),
      ).toBe(true);
      expect(await take(organization.id, 'busy-thread', 'trc_next')).toEqual(['a'.repeat(64)]);
    });

    it('a hold older than any execution is taken over: its node died without restarting', async () => {
      const { organization } = await createTenant();
      await take(organization.id, 'orphan', 'trc_dead', 'node_gone');
      expect(await take(organization.id, 'orphan', 'trc_now', 'node_b')).toBeNull();
      await database.query(`UPDATE threads SET busy_since = now() - interval '2 hours' WHERE org_id = $1`, [organization.id]);
      expect(await take(organization.id, 'orphan', 'trc_now', 'node_b')).toEqual([]);
      // The dead node's release, should it come after all, changes nothing.
      expect(await threads.release({ orgId: organization.id, threadId: 'orphan', traceId: 'trc_dead', layer: 'e'.repeat(64) })).toBe(false);
    });

    it('a release without layers keeps the layers; a restarted node releases only its own threads', async () => {
      const { organization } = await createTenant();
      await take(organization.id, 't1', 'trc_1', 'node_a');
      await threads.release({ orgId: organization.id, threadId: 't1', traceId: 'trc_1', layer: 'b'.repeat(64) });
      await take(organization.id, 't1', 'trc_2', 'node_a');
      await take(organization.id, 't2', 'trc_3', 'node_b');
      expect(await threads.releaseAbandoned({ nodeId: 'node_a' })).toBeGreaterThanOrEqual(1);
      expect((await threads.get(organization.id, 't1'))).toMatchObject({ layers: ['b'.repeat(64)], busyTraceId: null });
      expect((await threads.get(organization.id, 't2'))?.busyTraceId).toBe('trc_3');
      // Compaction replaces a prefix, also under a running execution, whose release then appends on top.
      await take(organization.id, 't1', 'trc_4', 'node_a');
      expect(await threads.replacePrefix(organization.id, 't1', ['x'], 'c'.repeat(64))).toBe(false);
      expect(await threads.replacePrefix(organization.id, 't1', ['b'.repeat(64)], 'c'.repeat(64))).toBe(true);
      await threads.release({ orgId: organization.id, threadId: 't1', traceId: 'trc_4', layer: 'd'.repeat(64) });
      expect((await threads.get(organization.id, 't1'))?.layers).toEqual(['c'.repeat(64), 'd'.repeat(64)]);
      expect(await threads.referencedLayers()).toContain('c'.repeat(64));
    });

    it('deletes idle threads past their retention, never busy or forever ones', async () => {
      const { organization } = await createTenant();
      for (const [threadId, retention] of [['old', '24h'], ['kept', 'forever'], ['busy', '24h']] as const) {
        await threads.acquire({ orgId: organization.id, threadId, traceId: `trc_${threadId}`, nodeId: 'n', retention });
        if (threadId !== 'busy') await threads.release({ orgId: organization.id, threadId, traceId: `trc_${threadId}` });
      }
      await database.query(`UPDATE threads SET last_used_at = now() - interval '2 days' WHERE org_id = $1`, [organization.id]);
      expect(await threads.deleteExpired()).toBeGreaterThanOrEqual(1);
      expect(await threads.get(organization.id, 'old')).toBeNull();
      expect(await threads.get(organization.id, 'kept')).not.toBeNull();
      expect(await threads.get(organization.id, 'busy')).not.toBeNull();
    });
  });
});
