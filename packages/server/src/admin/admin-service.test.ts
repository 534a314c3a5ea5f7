import { randomBytes } from 'node:crypto';
import { ApiKeyRepository, OrganizationRepository, SandboxConfigRepository, WebhookRepository, type Database } from '@airlock/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDatabase } from '../../test-support/test-tenant.js';
import { ApiKeyService } from '../auth/api-key-service.js';
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
    imageNames: ['default'],
    organizations: new OrganizationRepository(database),
    sandboxConfigs: new SandboxConfigRepository(database),
    apiKeys,
    keyService: keys,
    webhookSecrets: new WebhookSecrets({ repository: new WebhookRepository(database), box: new SecretBox([randomBytes(32)]) }),
    adminToken: 'adm-test',
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

  it('gives a sandbox config network only on a server that runs sandboxes with network', async () => {
    const offline = new AdminService({ ...options, networkEnabled: false });
    await expect(offline.createSandbox('online', { network: 'unrestricted' })).rejects.toMatchObject({
      code: 'validation_error',
      message: "network: this server runs sandboxes without network (AIRLOCK_NETWORK=off); only 'blocked' is possible",
    });
    expect((await admin.createSandbox('online', { network: 'unrestricted' })).network).toBe('unrestricted');
  });
});
