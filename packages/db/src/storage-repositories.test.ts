import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_KINDS, TestBackend } from '../test/test-backend.js';
import {
  ApiKeyRepository,
  OrganizationRepository,
  SandboxConfigRepository,
  StorageAttachmentRepository,
  StorageConnectionRepository,
  UniqueViolationError,
  VolumeRepository,
  generateId,
  openDatabase,
  type Database,
  type StorageConnectionFields,
} from './index.js';

const uniqueSlug = (): string => `org-${randomBytes(5).toString('hex')}`;

/** An s3 connection's fields; the sealed value is opaque to the database. */
const s3Fields = (overrides: Partial<StorageConnectionFields> = {}): StorageConnectionFields => ({
  name: 'Company data',
  mountName: 'company-data',
  provider: 's3',
  bucket: 'acme-data',
  container: null,
  endpoint: 'http://127.0.0.1:9000',
  region: 'eu-west-1',
  pathStyle: true,
  account: null,
  anonymous: false,
  sealedCredentials: 'v1.abcd1234.sealed',
  credentialHints: { access_key_id: '****MPLE', secret_access_key: '****EKEY' },
  prefix: 'exports/daily',
  readOnly: false,
  syncMode: 'write_back',
  ...overrides,
});

describe.each(BACKEND_KINDS)('storage repositories on %s', (kind) => {
  const backend = new TestBackend(kind);
  let database: Database;
  let organizations: OrganizationRepository;
  let sandboxConfigs: SandboxConfigRepository;
  let connections: StorageConnectionRepository;
  let volumes: VolumeRepository;
  let attachments: StorageAttachmentRepository;

  beforeAll(async () => {
    await backend.start();
    database = await openDatabase(await backend.freshDatabaseOptions());
    organizations = new OrganizationRepository(database);
    sandboxConfigs = new SandboxConfigRepository(database);
    connections = new StorageConnectionRepository(database);
    volumes = new VolumeRepository(database);
    attachments = new StorageAttachmentRepository(database);
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

  const createConnection = (orgId: string, overrides: Partial<StorageConnectionFields> = {}) =>
    connections.create({ id: generateId('storageConnection'), orgId, ...s3Fields(overrides) });

  describe('storage connections', () => {
    it('stores parameters, the sealed credentials and their hints, and reads them back within the organization', async () => {
      const { organization } = await createTenant();
      const id = generateId('storageConnection');
      const created = await connections.create({ id, orgId: organization.id, ...s3Fields() });
      expect(created).toEqual({ id, orgId: organization.id, ...s3Fields(), createdAt: expect.any(Date), updatedAt: expect.any(Date) });
      expect(id).toMatch(/^stc_[0-9a-z]{20}$/);
      expect(await connections.get(organization.id, id)).toEqual(created);
      const azure = await createConnection(organization.id, {
        name: 'Archive',
        provider: 'azure',
        bucket: null,
        container: 'archive',
        region: null,
        pathStyle: false,
        account: 'acmestorage',
      });
      expect((await connections.list(organization.id)).map((connection) => connection.name)).toEqual(['Archive', 'Company data']);
      expect(azure).toMatchObject({ provider: 'azure', container: 'archive', bucket: null, account: 'acmestorage' });

      const other = await organizations.create({ name: 'Other', slug: uniqueSlug() });
      expect(await connections.get(other.id, id)).toBeNull();
      expect(await connections.list(other.id)).toEqual([]);
      expect(await connections.update(other.id, id, s3Fields({ name: 'Taken' }))).toBeNull();
      expect(await connections.delete(other.id, id)).toBeNull();
    });

    it('refuses fields another provider has, credentials that contradict anonymous, bad prefixes and mount names', async () => {
      const { organization } = await createTenant();
      const refused = [
        { provider: 'azure' as const },
        { provider: 'gcs' as const, region: 'eu-west-1' },
        { provider: 'gcs' as const, region: null, pathStyle: true },
        { account: 'acmestorage' },
        { container: 'archive' },
        { anonymous: true },
        { sealedCredentials: null },
        { provider: 'azure' as const, bucket: null, container: 'archive', region: null, pathStyle: false, anonymous: true, sealedCredentials: null },
        { prefix: '/exports' },
        { prefix: 'exports/' },
        { prefix: 'exports//daily' },
        { prefix: 'exports/../secrets' },
        { mountName: 'Company' },
      ];
      for (const overrides of refused) {
        await expect(createConnection(organization.id, overrides), JSON.stringify(overrides)).rejects.toThrow(/check constraint/);
      }
      await expect(createConnection(organization.id, { anonymous: true, sealedCredentials: null, credentialHints: {} })).resolves.toMatchObject({
        anonymous: true,
      });
    });

    it('an update replaces every field; making it read-only while attached read-write names the sandbox configs', async () => {
      const { organization, sandboxConfig } = await createTenant();
      const connection = await createConnection(organization.id);
      const updated = await connections.update(organization.id, connection.id, s3Fields({ prefix: '', region: null, syncMode: 'strict' }));
      expect(updated).toEqual({
        connection: { ...connection, prefix: '', region: null, syncMode: 'strict', updatedAt: expect.any(Date) },
      });

      const readOnly = await sandboxConfigs.create({ orgId: organization.id, name: 'reader' });
      await attachments.create({ orgId: organization.id, sandboxConfigId: readOnly.id, mountName: 'data', target: { connectionId: connection.id }, readOnly: true });
      expect(await connections.update(organization.id, connection.id, s3Fields({ readOnly: true }))).toMatchObject({ connection: { readOnly: true } });
      await connections.update(organization.id, connection.id, s3Fields());
      await attachments.create({ orgId: organization.id, sandboxConfigId: sandboxConfig.id, mountName: 'data', target: { connectionId: connection.id }, readOnly: false });
      expect(await connections.update(organization.id, connection.id, s3Fields({ readOnly: true }))).toEqual({ writableIn: ['default'] });
      expect((await connections.get(organization.id, connection.id))?.readOnly).toBe(false);
    });

    it('is deleted only once no live sandbox config attaches it', async () => {
      const { organization, sandboxConfig } = await createTenant();
      const connection = await createConnection(organization.id);
      const second = await sandboxConfigs.create({ orgId: organization.id, name: 'second' });
      for (const [config, mountName] of [[sandboxConfig, 'a'], [sandboxConfig, 'b'], [second, 'a']] as const) {
        await attachments.create({ orgId: organization.id, sandboxConfigId: config.id, mountName, target: { connectionId: connection.id }, readOnly: false });
      }
      expect(await connections.delete(organization.id, connection.id)).toEqual({ attachedTo: ['default', 'second'] });
      expect(await sandboxConfigs.delete(organization.id, second.id)).toEqual({ deleted: true });
      expect(await connections.delete(organization.id, connection.id)).toEqual({ attachedTo: ['default'] });
      expect(await attachments.delete(organization.id, sandboxConfig.id, 'a')).toBe(true);
      expect(await attachments.delete(organization.id, sandboxConfig.id, 'b')).toBe(true);
      expect(await connections.delete(organization.id, connection.id)).toEqual({ deleted: true });
      expect(await connections.get(organization.id, connection.id)).toBeNull();
      expect(await connections.delete(organization.id, connection.id)).toBeNull();
    });
  });

  describe('volumes', () => {
    it('creates with a slug unique in the organization, changes name and quota, records usage', async () => {
      const { organization } = await createTenant();
      const volume = await volumes.create({ orgId: organization.id, name: 'Scratch', slug: 'scratch', quotaBytes: 10_000_000_000 });
      expect(volume).toEqual({
        id: expect.stringMatching(/^vol_/),
        orgId: organization.id,
        name: 'Scratch',
        slug: 'scratch',
        quotaBytes: 10_000_000_000,
        usedBytes: null,
        usedMeasuredAt: null,
        createdAt: expect.any(Date),
        updatedAt: expect.any(Date),
      });
      await expect(volumes.create({ orgId: organization.id, name: 'Again', slug: 'scratch' })).rejects.toMatchObject({
        name: 'UniqueViolationError',
        constraint: 'volumes_org_id_slug_key',
      });
      const other = await organizations.create({ name: 'Other', slug: uniqueSlug() });
      await expect(volumes.create({ orgId: other.id, name: 'Theirs', slug: 'scratch' })).resolves.toMatchObject({ quotaBytes: null });

      expect(await volumes.update(organization.id, volume.id, { name: 'Renamed' })).toMatchObject({ name: 'Renamed', quotaBytes: 10_000_000_000 });
      expect(await volumes.update(organization.id, volume.id, { quotaBytes: null })).toMatchObject({ name: 'Renamed', quotaBytes: null });
      const measuredAt = new Date('2030-01-01T00:00:00Z');
      await volumes.recordUsage(organization.id, volume.id, 4096, measuredAt);
      expect(await volumes.getBySlug(organization.id, 'scratch')).toMatchObject({ usedBytes: 4096, usedMeasuredAt: measuredAt });
      // An older measurement, finished later, does not overwrite it.
      await volumes.recordUsage(organization.id, volume.id, 1, new Date('2029-12-31T23:59:59Z'));
      expect(await volumes.getBySlug(organization.id, 'scratch')).toMatchObject({ usedBytes: 4096, usedMeasuredAt: measuredAt });
      expect(await volumes.update(other.id, volume.id, { name: 'Stolen' })).toBeNull();
      await expect(volumes.create({ orgId: organization.id, name: 'Bad', slug: 'Bad Slug' })).rejects.toThrow(/check constraint/);
      await expect(volumes.create({ orgId: organization.id, name: 'Empty', slug: 'empty', quotaBytes: 0 })).rejects.toThrow(/check constraint/);
    });

    it('is deleted only once unattached, and its slug is free again', async () => {
      const { organization, sandboxConfig } = await createTenant();
      const volume = await volumes.create({ orgId: organization.id, name: 'Shared', slug: 'shared' });
      await attachments.create({ orgId: organization.id, sandboxConfigId: sandboxConfig.id, mountName: 'shared', target: { volumeId: volume.id }, readOnly: true });
      expect(await volumes.delete(organization.id, volume.id)).toEqual({ attachedTo: ['default'] });
      await attachments.delete(organization.id, sandboxConfig.id, 'shared');
      expect(await volumes.delete(organization.id, volume.id)).toEqual({ deleted: true });
      expect(await volumes.getBySlug(organization.id, 'shared')).toBeNull();
      expect(await volumes.list(organization.id)).toEqual([]);
      expect(await volumes.delete(organization.id, volume.id)).toBeNull();
      const again = await volumes.create({ orgId: organization.id, name: 'Shared again', slug: 'shared' });
      expect(again.id).not.toBe(volume.id);
      expect(
        await attachments.create({ orgId: organization.id, sandboxConfigId: sandboxConfig.id, mountName: 'old', target: { volumeId: volume.id }, readOnly: false }),
      ).toEqual({ refused: 'target_missing' });
    });
  });

  describe('attachments', () => {
    it('lists what each mount needs, one mount per name, in the organization only', async () => {
      const { organization, sandboxConfig } = await createTenant();
      const volume = await volumes.create({ orgId: organization.id, name: 'Scratch', slug: 'scratch' });
      const connection = await createConnection(organization.id, { readOnly: true, syncMode: 'strict' });
      const attachedVolume = await attachments.create({
        orgId: organization.id,
        sandboxConfigId: sandboxConfig.id,
        mountName: 'scratch',
        target: { volumeId: volume.id },
        readOnly: false,
      });
      expect(attachedVolume).toEqual({
        attachment: {
          id: expect.stringMatching(/^att_/),
          orgId: organization.id,
          sandboxConfigId: sandboxConfig.id,
          mountName: 'scratch',
          readOnly: false,
          createdAt: expect.any(Date),
          target: { kind: 'volume', volumeId: volume.id, slug: 'scratch', quotaBytes: volume.quotaBytes, usedBytes: null },
        },
      });
      const attach = (mountName: string, readOnly: boolean) =>
        attachments.create({ orgId: organization.id, sandboxConfigId: sandboxConfig.id, mountName, target: { connectionId: connection.id }, readOnly });
      expect(await attach('company-data', false)).toEqual({ refused: 'read_only_connection' });
      const attachedConnection = await attach('company-data', true);
      expect(attachedConnection).toMatchObject({
        attachment: {
          mountName: 'company-data',
          readOnly: true,
          target: { kind: 'connection', connectionId: connection.id, readOnly: true, prefix: 'exports/daily', syncMode: 'strict' },
        },
      });
      const taken = await attach('scratch', true).catch((error: unknown) => error);
      expect(taken).toBeInstanceOf(UniqueViolationError);
      expect(taken).toMatchObject({ constraint: 'storage_attachments_sandbox_config_id_mount_name_key' });

      const list = await attachments.list(organization.id, sandboxConfig.id);
      expect(list.map((attachment) => attachment.mountName)).toEqual(['company-data', 'scratch']);
      expect(list[1]).toEqual('attachment' in attachedVolume ? attachedVolume.attachment : null);

      const other = await createTenant();
      const target = { volumeId: volume.id };
      expect(await attachments.create({ orgId: other.organization.id, sandboxConfigId: other.sandboxConfig.id, mountName: 'x', target, readOnly: false })).toEqual({
        refused: 'target_missing',
      });
      expect(await attachments.create({ orgId: other.organization.id, sandboxConfigId: sandboxConfig.id, mountName: 'x', target, readOnly: false })).toEqual({
        refused: 'sandbox_missing',
      });
      expect(await attachments.list(other.organization.id, sandboxConfig.id)).toEqual([]);
      expect(await attachments.delete(other.organization.id, sandboxConfig.id, 'scratch')).toBe(false);
      await expect(
        database.query(
          `INSERT INTO storage_attachments (id, org_id, sandbox_config_id, mount_name, volume_id, connection_id) VALUES ($1, $2, $3, 'both', $4, $5)`,
          [generateId('storageAttachment'), organization.id, sandboxConfig.id, volume.id, connection.id],
        ),
      ).rejects.toThrow(/check constraint/);
      await expect(
        database.query(
          `INSERT INTO storage_attachments (id, org_id, sandbox_config_id, mount_name, volume_id) VALUES ($1, $2, $3, 'theirs', $4)`,
          [generateId('storageAttachment'), other.organization.id, other.sandboxConfig.id, volume.id],
        ),
      ).rejects.toThrow(/foreign key/);
    });

    it('go with their sandbox config; an organization takes its volumes and connections with it', async () => {
      const { organization, sandboxConfig } = await createTenant();
      const volume = await volumes.create({ orgId: organization.id, name: 'Scratch', slug: 'scratch' });
      const connection = await createConnection(organization.id);
      await attachments.create({ orgId: organization.id, sandboxConfigId: sandboxConfig.id, mountName: 'scratch', target: { volumeId: volume.id }, readOnly: false });
      const second = await sandboxConfigs.create({ orgId: organization.id, name: 'second' });
      await attachments.create({ orgId: organization.id, sandboxConfigId: second.id, mountName: 'data', target: { connectionId: connection.id }, readOnly: false });
      expect(await sandboxConfigs.delete(organization.id, second.id)).toEqual({ deleted: true });
      expect(await attachments.list(organization.id, second.id)).toEqual([]);

      expect(await organizations.delete(organization.id)).toEqual({ deleted: true });
      expect(await attachments.list(organization.id, sandboxConfig.id)).toEqual([]);
      expect(await volumes.list(organization.id)).toEqual([]);
      expect(await connections.list(organization.id)).toEqual([]);
    });

    it('a volume deleted while it is attached concurrently ends either attached or deleted, never both', async () => {
      for (let round = 0; round < 5; round += 1) {
        const { organization, sandboxConfig } = await createTenant();
        const volume = await volumes.create({ orgId: organization.id, name: 'Raced', slug: 'raced' });
        const [attached, deleted] = await Promise.all([
          attachments.create({ orgId: organization.id, sandboxConfigId: sandboxConfig.id, mountName: 'raced', target: { volumeId: volume.id }, readOnly: false }),
          volumes.delete(organization.id, volume.id),
        ]);
        const listed = await attachments.list(organization.id, sandboxConfig.id);
        if ('attachment' in attached) {
          expect(deleted).toEqual({ attachedTo: ['default'] });
          expect(listed).toHaveLength(1);
        } else {
          expect([attached, deleted]).toEqual([{ refused: 'target_missing' }, { deleted: true }]);
          expect(listed).toEqual([]);
        }
      }
    });
  });

  it('an API key keeps its storage narrowing', async () => {
    const { organization, sandboxConfig } = await createTenant();
    const key = await new ApiKeyRepository(database).create({
      orgId: organization.id,
      sandboxConfigId: sandboxConfig.id,
      name: 'narrow',
      secretSha256: randomBytes(32),
      displayPrefix: 'sk-local-nar',
      storage: { data: { prefix: 'tenants/a' } },
    });
    expect(key.storage).toEqual({ data: { prefix: 'tenants/a' } });
    await expect(database.query(`UPDATE api_keys SET storage = '[]' WHERE id = $1`, [key.id])).rejects.toThrow(/check constraint/);
  });
});
