import { randomBytes } from 'node:crypto';
import {
  ApiKeyRepository,
  ImageRepository,
  OrganizationRepository,
  SandboxConfigRepository,
  StorageAttachmentRepository,
  ConnectorRepository,
  WebhookRepository,
  type Database,
} from '@airlock/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDatabase } from '../../test-support/test-tenant.js';
import { ApiKeyService, networkOf } from '../auth/api-key-service.js';
import { SecretBox } from '../shared/secret-box.js';
import { WebhookSecrets } from '../webhooks/webhook-secrets.js';
import { AdminService, type AdminServiceOptions } from './admin-service.js';

let testDatabase: Awaited<ReturnType<typeof startTestDatabase>>;
let database: Database;
let keys: ApiKeyService;
let admin: AdminService;
let options: AdminServiceOptions;

beforeAll(async () => {
  testDatabase = await startTestDatabase();
  database = testDatabase.database;
  const apiKeys = new ApiKeyRepository(database);
  keys = new ApiKeyService({ keys: apiKeys, region: 'test', cacheSeconds: 60 });
  options = {
    images: new ImageRepository(database),
    organizations: new OrganizationRepository(database),
    sandboxConfigs: new SandboxConfigRepository(database),
    apiKeys,
    attachments: new StorageAttachmentRepository(database),
    attachedConnectors: async (orgId, sandboxConfigId) =>
      (await new ConnectorRepository(database).listAttached(orgId, sandboxConfigId)).map((connector) => connector.name),
    keyService: keys,
    webhookSecrets: new WebhookSecrets({ repository: new WebhookRepository(database), box: new SecretBox([randomBytes(32)]) }),
    networkEnabled: true,
  };
  admin = new AdminService(options);
});

afterAll(async () => {
  await testDatabase?.close();
});

describe('AdminService on PGlite', () => {
  it('the first start makes the default organization, sandbox config and one key; later starts make none', async () => {
    const created = await admin.bootstrap(undefined);
    expect(created?.key).toMatch(/^sk-test-/);
    expect(await admin.bootstrap(undefined)).toBeNull();
    expect((await keys.authenticate(`Bearer ${created!.key}`)).sandboxConfig.name).toBe('default');
    expect((await admin.listOrganizations()).map((organization) => organization.slug)).toEqual(['default']);
  });

  it('a rotated key keeps its id; the old secret stops authenticating at once, though it was cached', async () => {
    const created = await admin.createKey({ name: 'rotating' });
    await keys.authenticate(`Bearer ${created.key}`);
    const rotated = await admin.rotateKey(created.id);
    expect([rotated.id, rotated.name, rotated.sandbox]).toEqual([created.id, 'rotating', 'default']);
    await expect(keys.authenticate(`Bearer ${created.key}`)).rejects.toMatchObject({ code: 'unauthorized' });
    expect((await keys.authenticate(`Bearer ${rotated.key}`)).apiKey.id).toBe(created.id);
  });

  it('deletes a sandbox config or an organization only once no unrevoked key uses it', async () => {
    await admin.createOrganization({ name: 'Other', slug: 'other' });
    await admin.createSandbox('default', {}, 'other');
    const key = await admin.createKey({ name: 'other-key', organization: 'other' });
    await expect(admin.deleteSandbox('default', 'other')).rejects.toMatchObject({ code: 'conflict' });
    await expect(admin.deleteOrganization('other')).rejects.toMatchObject({
      code: 'conflict',
      message: 'organization "other" has the API keys "other-key"; revoke them first',
    });
    await admin.revokeKey(key.id, 'other');
    await admin.deleteOrganization('other');
    await expect(admin.listSandboxes('other')).rejects.toMatchObject({ code: 'not_found' });
    await expect(admin.deleteOrganization('default')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('tells the image of a config created or changed to fork, so its template starts before the first call', async () => {
    const forked: string[] = [];
    const told = new AdminService({ ...options, onForkedImage: (image) => forked.push(image) });
    await told.createSandbox('started-fresh', {});
    await told.updateSandbox('started-fresh', { cpu: 0.5 });
    expect(forked).toEqual([]);
    await told.createSandbox('started-forked', { start: 'fork' });
    await told.updateSandbox('started-fresh', { start: 'fork' });
    await expect(told.createSandbox('started-forked', { start: 'fork' })).rejects.toMatchObject({ code: 'conflict' });
    expect(forked).toEqual(['default', 'default']);
  });

  it('gives a sandbox config network only on a server that runs sandboxes with network', async () => {
    const offline = new AdminService({ ...options, networkEnabled: false });
    await expect(offline.createSandbox('online', { network: 'unrestricted' })).rejects.toMatchObject({
      code: 'validation_error',
      message: "network: this server runs sandboxes without network (AIRLOCK_NETWORK=off); only 'blocked' is possible",
    });
    expect((await admin.createSandbox('online', { network: 'unrestricted' })).network).toBe('unrestricted');
    await expect(offline.createSandbox('listed', { network: 'allowlist', network_allow: ['api.example.com'] })).rejects.toMatchObject({
      code: 'validation_error',
      message: "network: this server runs sandboxes without network (AIRLOCK_NETWORK=off); only 'blocked' is possible",
    });
  });

  it('an allowlist sandbox config needs entries; entries need an allowlist; leaving allowlist clears them', async () => {
    const created = await admin.createSandbox('allow', { network: 'allowlist', network_allow: ['api.example.com', '*.pypi.org'] });
    expect(created).toMatchObject({ network: 'allowlist', network_allow: ['api.example.com', '*.pypi.org'] });
    await expect(admin.createSandbox('allow-empty', { network: 'allowlist' })).rejects.toMatchObject({
      code: 'validation_error',
      message: expect.stringMatching(/^network_allow: network 'allowlist' needs at least one entry/),
    });
    await expect(admin.createSandbox('allow-empty', { network: 'allowlist', network_allow: [] })).rejects.toMatchObject({
      message: expect.stringMatching(/^network_allow: network 'allowlist' needs at least one entry/),
    });
    await expect(admin.createSandbox('blocked-list', { network_allow: ['api.example.com'] })).rejects.toMatchObject({
      code: 'validation_error',
      message: "network_allow: only a sandbox config whose network is 'allowlist' has one (this one's is 'blocked'); send network: 'allowlist' with it, or leave network_allow out",
    });
    // The summary of any other config round-trips: its empty list is accepted with it.
    expect((await admin.createSandbox('plain', { network: 'blocked', network_allow: [] })).network_allow).toEqual([]);

    // An update keeps the stored list, replaces it, or clears it with the mode.
    expect(await admin.updateSandbox('allow', { cpu: 2 })).toMatchObject({ cpu: 2, network: 'allowlist', network_allow: ['api.example.com', '*.pypi.org'] });
    expect((await admin.updateSandbox('allow', { network_allow: ['api.example.com'] })).network_allow).toEqual(['api.example.com']);
    await expect(admin.updateSandbox('allow', { network_allow: [] })).rejects.toMatchObject({
      message: expect.stringMatching(/^network_allow: network 'allowlist' needs at least one entry/),
    });
    await expect(admin.updateSandbox('plain', { network: 'allowlist' })).rejects.toMatchObject({
      message: expect.stringMatching(/^network_allow: network 'allowlist' needs at least one entry/),
    });
    await expect(admin.updateSandbox('online', { network_allow: ['api.example.com'] })).rejects.toMatchObject({
      message: expect.stringMatching(/^network_allow: only a sandbox config whose network is 'allowlist' has one \(this one's is 'unrestricted'\)/),
    });
    expect(await admin.updateSandbox('allow', { network: 'unrestricted' })).toMatchObject({ network: 'unrestricted', network_allow: [] });
    expect(await admin.updateSandbox('allow', { network: 'allowlist', network_allow: ['198.51.100.0/24'] })).toMatchObject({
      network: 'allowlist',
      network_allow: ['198.51.100.0/24'],
    });
    expect((await admin.listSandboxes()).find((sandbox) => sandbox.name === 'allow')?.network_allow).toEqual(['198.51.100.0/24']);
  });

  it('a key narrows its sandbox config to blocked or a subset of its allowlist, never wider', async () => {
    await admin.createSandbox('narrowing', { network: 'allowlist', network_allow: ['*.example.com', '198.51.100.0/24'] });
    await admin.createSandbox('open', { network: 'unrestricted' });
    await admin.createSandbox('closed', {});

    const subset = await admin.createKey({ name: 'subset', sandbox: 'narrowing', network: 'allowlist', network_allow: ['api.example.com', '198.51.100.0/28'] });
    expect(subset).toMatchObject({ network: 'allowlist', network_allow: ['api.example.com', '198.51.100.0/28'] });
    const whole = await admin.createKey({ name: 'whole', sandbox: 'narrowing', network: 'allowlist' });
    expect(whole).toMatchObject({ network: 'allowlist', network_allow: null });
    expect(await admin.createKey({ name: 'off', sandbox: 'narrowing', network: 'blocked' })).toMatchObject({ network: 'blocked', network_allow: null });
    expect(await admin.createKey({ name: 'plain-key', sandbox: 'narrowing' })).toMatchObject({ network: null, network_allow: null });
    expect(await admin.createKey({ name: 'open-list', sandbox: 'open', network: 'allowlist', network_allow: ['pypi.org'] })).toMatchObject({
      network: 'allowlist',
      network_allow: ['pypi.org'],
    });
    expect((await admin.listKeys()).find((key) => key.name === 'subset')).toMatchObject({ network: 'allowlist', network_allow: ['api.example.com', '198.51.100.0/28'] });

    const refused: Array<[Parameters<AdminService['createKey']>[0], string]> = [
      [
        { name: 'wider', sandbox: 'narrowing', network: 'allowlist', network_allow: ['api.example.com', 'pypi.org'] },
        'network_allow: "pypi.org" is not within the allowlist of sandbox config "narrowing"; a key may only remove entries or narrow them',
      ],
      [
        { name: 'wider-net', sandbox: 'narrowing', network: 'allowlist', network_allow: ['198.51.100.0/23'] },
        'network_allow: "198.51.100.0/23" is not within the allowlist of sandbox config "narrowing"; a key may only remove entries or narrow them',
      ],
      [
        { name: 'from-closed', sandbox: 'closed', network: 'allowlist', network_allow: ['api.example.com'] },
        `network: sandbox config "closed" is 'blocked'; a key may narrow its network, never widen it`,
      ],
      [
        { name: 'open-whole', sandbox: 'open', network: 'allowlist' },
        "network_allow: sandbox config \"open\" is 'unrestricted', so a key narrowing it to 'allowlist' lists its entries",
      ],
      [{ name: 'blocked-list', sandbox: 'narrowing', network: 'blocked', network_allow: ['api.example.com'] }, "network_allow: a key narrowed to 'blocked' has no allowlist"],
      [{ name: 'list-only', sandbox: 'narrowing', network_allow: ['api.example.com'] }, "network_allow: a key's allowlist comes with network: 'allowlist'; send both"],
      [
        { name: 'empty', sandbox: 'narrowing', network: 'allowlist', network_allow: [] },
        "network_allow: a key narrowed to 'allowlist' keeps at least one entry; narrow it to 'blocked' for none",
      ],
    ];
    for (const [request, message] of refused) {
      await expect(admin.createKey(request), request.name).rejects.toMatchObject({ code: 'validation_error', message });
    }
    expect((await admin.listKeys()).map((key) => key.name)).not.toContain('wider');
  });

  it("an API key's principal runs with the effective network: its config's, as the key narrows it", async () => {
    const created = await admin.createKey({ name: 'effective', sandbox: 'narrowing', network: 'allowlist', network_allow: ['api.example.com'] });
    expect(networkOf(await keys.authenticate(`Bearer ${created.key}`))).toEqual({ mode: 'allowlist', allow: ['api.example.com'] });
    await admin.updateSandbox('narrowing', { network: 'blocked' });
    expect(networkOf(await keys.authenticate(`Bearer ${created.key}`))).toEqual({ mode: 'blocked', allow: [] });
    const whole = await admin.createKey({ name: 'effective-open', sandbox: 'open' });
    expect(networkOf(await keys.authenticate(`Bearer ${whole.key}`))).toEqual({ mode: 'unrestricted', allow: [] });
  });
});
