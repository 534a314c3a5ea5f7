import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_KINDS, TestBackend } from '../test/test-backend.js';
import {
  ApiKeyRepository,
  ConnectorRepository,
  OrganizationRepository,
  SandboxConfigRepository,
  UniqueViolationError,
  generateId,
  openDatabase,
  type ConnectorFields,
  type Database,
} from './index.js';

const uniqueSlug = (): string => `org-${randomBytes(5).toString('hex')}`;

/** A postgresql connector's stored fields; the sealed value is opaque to the database. */
const postgresFields = (overrides: Partial<ConnectorFields> = {}): ConnectorFields => ({
  settings: { host: 'db.example.com', port: 5432, database: 'analytics', user: 'reader', sslmode: 'prefer' },
  sealedSecrets: 'v1.abcd1234.sealed',
  secretHints: { password: '****word' },
  ...overrides,
});

describe.each(BACKEND_KINDS)('connector repository on %s', (kind) => {
  const backend = new TestBackend(kind);
  let database: Database;
  let organizations: OrganizationRepository;
  let sandboxConfigs: SandboxConfigRepository;
  let connectors: ConnectorRepository;
  let apiKeys: ApiKeyRepository;

  beforeAll(async () => {
    await backend.start();
    database = await openDatabase(await backend.freshDatabaseOptions());
    organizations = new OrganizationRepository(database);
    sandboxConfigs = new SandboxConfigRepository(database);
    connectors = new ConnectorRepository(database);
    apiKeys = new ApiKeyRepository(database);
  });

  afterAll(async () => {
    await database?.close();
    await backend.stop();
  });

  async function createTenant() {
    const organization = await organizations.create({ name: 'Tenant', slug: uniqueSlug() });
    const sandboxConfig = await sandboxConfigs.create({ orgId: organization.id, name: 'default' });
    return { organization, sandboxConfig };
  }

  const createConnector = (orgId: string, name: string, overrides: Partial<ConnectorFields> = {}) =>
    connectors.create({ id: generateId('connector'), orgId, name, type: 'postgresql', ...postgresFields(overrides) });

  it('creates a connector untested and unattached, and reads it back only within its organization', async () => {
    const { organization } = await createTenant();
    const id = generateId('connector');
    const created = await connectors.create({ id, orgId: organization.id, name: 'warehouse', type: 'postgresql', ...postgresFields() });
    expect(created).toEqual({
      id,
      orgId: organization.id,
      name: 'warehouse',
      type: 'postgresql',
      ...postgresFields(),
      status: 'untested',
      statusMessage: null,
      testedAt: null,
      createdAt: expect.any(Date),
      updatedAt: expect.any(Date),
      usedBy: [],
    });
    expect(id).toMatch(/^con_/);
    expect(await connectors.get(organization.id, 'warehouse')).toEqual(created);

    const other = await organizations.create({ name: 'Other', slug: uniqueSlug() });
    expect(await connectors.get(other.id, 'warehouse')).toBeNull();
    expect(await connectors.list(other.id)).toEqual([]);
    expect(await connectors.update(other.id, id, postgresFields({ secretHints: {} }))).toBeNull();
    expect(await connectors.delete(other.id, id)).toBeNull();
    expect(await connectors.get(organization.id, 'warehouse')).toEqual(created);
  });

  it('a name is unique in its organization; another organization may use it', async () => {
    const { organization } = await createTenant();
    await createConnector(organization.id, 'cache');
    const again = createConnector(organization.id, 'cache');
    await expect(again).rejects.toBeInstanceOf(UniqueViolationError);
    await expect(again).rejects.toMatchObject({ constraint: 'connectors_org_id_name_key' });
    expect((await connectors.list(organization.id)).map((connector) => connector.name)).toEqual(['cache']);

    const other = await organizations.create({ name: 'Other', slug: uniqueSlug() });
    await expect(createConnector(other.id, 'cache')).resolves.toMatchObject({ orgId: other.id, name: 'cache' });
    await expect(createConnector(organization.id, 'Cache')).rejects.toThrow(/check constraint/);
  });

  it('lists by name, each with the live sandbox configs that attach it', async () => {
    const { organization, sandboxConfig } = await createTenant();
    const reporting = await sandboxConfigs.create({ orgId: organization.id, name: 'reporting' });
    const retired = await sandboxConfigs.create({ orgId: organization.id, name: 'retired' });
    const warehouse = await createConnector(organization.id, 'warehouse');
    const archive = await createConnector(organization.id, 'archive');
    for (const config of [reporting, sandboxConfig, retired]) {
      expect(await connectors.attach(organization.id, config.id, warehouse.id)).toEqual({ attached: true });
    }
    expect(await sandboxConfigs.delete(organization.id, retired.id)).toEqual({ deleted: true });

    const listed = await connectors.list(organization.id);
    expect(listed.map(({ name, usedBy }) => ({ name, usedBy }))).toEqual([
      { name: 'archive', usedBy: [] },
      { name: 'warehouse', usedBy: ['default', 'reporting'] },
    ]);
    expect((await connectors.get(organization.id, 'warehouse'))?.usedBy).toEqual(['default', 'reporting']);
    expect((await connectors.get(organization.id, archive.name))?.usedBy).toEqual([]);
  });

  it('an update replaces settings, secrets and hints, and makes a tested connector untested again', async () => {
    const { organization } = await createTenant();
    const connector = await createConnector(organization.id, 'warehouse');
    await connectors.recordTest(organization.id, connector.id, connector.updatedAt, { status: 'ok', message: 'connected as reader', testedAt: new Date() });
    expect(await connectors.get(organization.id, 'warehouse')).toMatchObject({ status: 'ok', statusMessage: 'connected as reader', testedAt: expect.any(Date) });

    const changed = postgresFields({
      settings: { host: 'replica.example.com', port: 6432, database: 'analytics', user: 'reader', sslmode: 'require' },
      sealedSecrets: 'v1.abcd1234.resealed',
      secretHints: { password: '****9876' },
    });
    const updated = await connectors.update(organization.id, connector.id, changed);
    expect(updated).toEqual({
      ...connector,
      ...changed,
      status: 'untested',
      statusMessage: null,
      testedAt: null,
      updatedAt: expect.any(Date),
    });
    expect(updated?.updatedAt.getTime()).toBeGreaterThanOrEqual(connector.updatedAt.getTime());
    expect(await connectors.get(organization.id, 'warehouse')).toEqual(updated);
  });

  it('records a test of the version read, and ignores one that finished after a change', async () => {
    const { organization } = await createTenant();
    const connector = await createConnector(organization.id, 'warehouse');
    const testedAt = new Date('2030-01-02T03:04:05.678Z');
    await connectors.recordTest(organization.id, connector.id, connector.updatedAt, { status: 'failed', message: 'password authentication failed', testedAt });
    expect(await connectors.get(organization.id, 'warehouse')).toMatchObject({ status: 'failed', statusMessage: 'password authentication failed', testedAt });

    // A test read the connector, then it changed before the test's result came back.
    const read = (await connectors.get(organization.id, 'warehouse'))!;
    await new Promise((resolve) => setTimeout(resolve, 5));
    await connectors.update(organization.id, connector.id, postgresFields({ sealedSecrets: 'v1.abcd1234.new-password' }));
    await connectors.recordTest(organization.id, connector.id, read.updatedAt, { status: 'ok', message: 'connected with the old password', testedAt: new Date() });
    expect(await connectors.get(organization.id, 'warehouse')).toMatchObject({ status: 'untested', statusMessage: null, testedAt: null });

    // Another organization's test of the same id records nothing.
    const other = await organizations.create({ name: 'Other', slug: uniqueSlug() });
    const current = (await connectors.get(organization.id, 'warehouse'))!;
    await connectors.recordTest(other.id, connector.id, current.updatedAt, { status: 'ok', message: 'not mine', testedAt: new Date() });
    expect((await connectors.get(organization.id, 'warehouse'))?.status).toBe('untested');
  });

  it('attaching is idempotent; a missing or deleted sandbox config and another organization\'s connector are refused', async () => {
    const { organization, sandboxConfig } = await createTenant();
    const connector = await createConnector(organization.id, 'warehouse');
    expect(await connectors.attach(organization.id, sandboxConfig.id, connector.id)).toEqual({ attached: true });
    expect(await connectors.attach(organization.id, sandboxConfig.id, connector.id)).toEqual({ attached: true });
    expect((await connectors.listAttached(organization.id, sandboxConfig.id)).map((attached) => attached.name)).toEqual(['warehouse']);
    expect((await connectors.get(organization.id, 'warehouse'))?.usedBy).toEqual(['default']);

    expect(await connectors.attach(organization.id, generateId('sandboxConfig'), connector.id)).toEqual({ refused: 'sandbox_missing' });
    const deleted = await sandboxConfigs.create({ orgId: organization.id, name: 'deleted' });
    await sandboxConfigs.delete(organization.id, deleted.id);
    expect(await connectors.attach(organization.id, deleted.id, connector.id)).toEqual({ refused: 'sandbox_missing' });
    expect(await connectors.attach(organization.id, sandboxConfig.id, generateId('connector'))).toEqual({ refused: 'connector_missing' });

    const other = await createTenant();
    const theirs = await createConnector(other.organization.id, 'theirs');
    expect(await connectors.attach(organization.id, sandboxConfig.id, theirs.id)).toEqual({ refused: 'connector_missing' });
    // Their sandbox config cannot be named from this organization either.
    expect(await connectors.attach(organization.id, other.sandboxConfig.id, connector.id)).toEqual({ refused: 'sandbox_missing' });
    expect(await connectors.listAttached(organization.id, sandboxConfig.id)).toHaveLength(1);
    expect(await connectors.listAttached(other.organization.id, other.sandboxConfig.id)).toEqual([]);
  });

  it('detaches once; a connector that is not attached is not detached', async () => {
    const { organization, sandboxConfig } = await createTenant();
    const connector = await createConnector(organization.id, 'warehouse');
    await connectors.attach(organization.id, sandboxConfig.id, connector.id);
    const other = await organizations.create({ name: 'Other', slug: uniqueSlug() });
    expect(await connectors.detach(other.id, sandboxConfig.id, connector.id)).toBe(false);
    expect(await connectors.detach(organization.id, sandboxConfig.id, connector.id)).toBe(true);
    expect(await connectors.detach(organization.id, sandboxConfig.id, connector.id)).toBe(false);
    expect(await connectors.listAttached(organization.id, sandboxConfig.id)).toEqual([]);
    expect((await connectors.get(organization.id, 'warehouse'))?.usedBy).toEqual([]);
  });

  it('is deleted only once no live sandbox config attaches it, naming those that do', async () => {
    const { organization, sandboxConfig } = await createTenant();
    const reporting = await sandboxConfigs.create({ orgId: organization.id, name: 'reporting' });
    const connector = await createConnector(organization.id, 'warehouse');
    await connectors.attach(organization.id, reporting.id, connector.id);
    await connectors.attach(organization.id, sandboxConfig.id, connector.id);
    expect(await connectors.delete(organization.id, connector.id)).toEqual({ attachedTo: ['default', 'reporting'] });

    expect(await connectors.detach(organization.id, sandboxConfig.id, connector.id)).toBe(true);
    expect(await connectors.delete(organization.id, connector.id)).toEqual({ attachedTo: ['reporting'] });
    // Deleting the sandbox config leaves its attachment behind, which no longer holds the connector.
    expect(await sandboxConfigs.delete(organization.id, reporting.id)).toEqual({ deleted: true });
    expect(await connectors.delete(organization.id, connector.id)).toEqual({ deleted: true });
    expect(await connectors.get(organization.id, 'warehouse')).toBeNull();
    expect(await connectors.delete(organization.id, connector.id)).toBeNull();

    // The name is free again.
    await expect(createConnector(organization.id, 'warehouse')).resolves.toMatchObject({ usedBy: [] });
  });

  it("lists a sandbox config's connectors by name, whatever the order they were attached in", async () => {
    const { organization, sandboxConfig } = await createTenant();
    const other = await sandboxConfigs.create({ orgId: organization.id, name: 'other' });
    for (const name of ['zeta', 'alpha', 'mid-2', 'mid-10']) {
      const connector = await createConnector(organization.id, name);
      await connectors.attach(organization.id, sandboxConfig.id, connector.id);
    }
    await createConnector(organization.id, 'unattached');
    const onOther = await createConnector(organization.id, 'only-other');
    await connectors.attach(organization.id, other.id, onOther.id);

    const attached = await connectors.listAttached(organization.id, sandboxConfig.id);
    expect(attached.map((connector) => connector.name)).toEqual(['alpha', 'mid-10', 'mid-2', 'zeta']);
    expect(attached[0]).toMatchObject({ type: 'postgresql', sealedSecrets: 'v1.abcd1234.sealed', usedBy: ['default'] });
    expect((await connectors.listAttached(organization.id, other.id)).map((connector) => connector.name)).toEqual(['only-other']);
  });

  it("an API key keeps all its sandbox config's connectors (null), some, or none", async () => {
    const { organization, sandboxConfig } = await createTenant();
    const cases: Array<{ connectors: string[] | null | undefined; stored: string[] | null }> = [
      { connectors: undefined, stored: null },
      { connectors: null, stored: null },
      { connectors: ['warehouse', 'cache'], stored: ['warehouse', 'cache'] },
      { connectors: [], stored: [] },
    ];
    for (const [index, example] of cases.entries()) {
      const secretSha256 = createHash('sha256').update(`sk-test-${randomBytes(8).toString('hex')}`).digest();
      const created = await apiKeys.create({
        orgId: organization.id,
        sandboxConfigId: sandboxConfig.id,
        name: `key-${index}`,
        secretSha256,
        displayPrefix: 'sk-test-abc',
        ...(example.connectors !== undefined && { connectors: example.connectors }),
      });
      expect(created.connectors, JSON.stringify(example)).toEqual(example.stored);
      const found = await apiKeys.findActiveBySecretHash(secretSha256);
      expect(found?.apiKey.connectors, JSON.stringify(example)).toEqual(example.stored);
    }
    const [row] = await database.query<{ connectors: unknown }>(`SELECT connectors FROM api_keys WHERE org_id = $1 AND name = 'key-0'`, [organization.id]);
    expect(row?.connectors).toBeNull();
  });
});
