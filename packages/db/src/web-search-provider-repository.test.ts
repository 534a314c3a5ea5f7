import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebPolicySettings } from '@airlock/contracts';
import { BACKEND_KINDS, TestBackend } from '../test/test-backend.js';
import {
  ApiKeyRepository,
  OrganizationRepository,
  SandboxConfigRepository,
  WebSearchProviderRepository,
  eraseOrganization,
  openDatabase,
  type Database,
} from './index.js';

const uniqueSlug = (): string => `org-${randomBytes(5).toString('hex')}`;

const POLICY: WebPolicySettings = {
  domains: { mode: 'allowlist', entries: ['*.example.com', '198.51.100.0/24'] },
  https_only: true,
  requests_per_minute: 30,
  requests_per_call: 10,
  max_response_bytes: 1_048_576,
  injection_scan: 'block',
  search: false,
};

describe.each(BACKEND_KINDS)('web tool policies and search providers on %s', (kind) => {
  const backend = new TestBackend(kind);
  let database: Database;
  let organizations: OrganizationRepository;
  let sandboxConfigs: SandboxConfigRepository;
  let apiKeys: ApiKeyRepository;
  let providers: WebSearchProviderRepository;

  beforeAll(async () => {
    await backend.start();
    database = await openDatabase(await backend.freshDatabaseOptions());
    organizations = new OrganizationRepository(database);
    sandboxConfigs = new SandboxConfigRepository(database);
    apiKeys = new ApiKeyRepository(database);
    providers = new WebSearchProviderRepository(database);
  });

  afterAll(async () => {
    await database?.close();
    await backend.stop();
  });

  it("keeps a sandbox config's web policy (null by default), changes it and turns it off; other changes keep it", async () => {
    const organization = await organizations.create({ name: 'Web', slug: uniqueSlug() });
    const plain = await sandboxConfigs.create({ orgId: organization.id, name: 'plain' });
    expect(plain.web).toBeNull();
    const browsing = await sandboxConfigs.create({ orgId: organization.id, name: 'browsing', web: POLICY });
    expect(browsing.web).toEqual(POLICY);
    expect((await sandboxConfigs.update(organization.id, browsing.id, { cpu: 2 }))?.web).toEqual(POLICY);
    const opened = { ...POLICY, domains: { mode: 'blocklist' as const, entries: [] } };
    expect((await sandboxConfigs.update(organization.id, plain.id, { web: opened }))?.web).toEqual(opened);
    expect((await sandboxConfigs.update(organization.id, browsing.id, { web: null }))?.web).toBeNull();
    expect((await sandboxConfigs.getByName(organization.id, 'plain'))?.web).toEqual(opened);
  });

  it("keeps a key's web narrowing, and authorizing a key carries both the config's policy and the key's narrowing", async () => {
    const organization = await organizations.create({ name: 'Keys', slug: uniqueSlug() });
    const config = await sandboxConfigs.create({ orgId: organization.id, name: 'default', web: POLICY });
    const secretSha256 = createHash('sha256').update(`sk-test-${randomBytes(8).toString('hex')}`).digest();
    const narrowing = { domains: { mode: 'allowlist' as const, entries: ['api.example.com'] }, requests_per_call: 2 };
    const key = await apiKeys.create({ orgId: organization.id, sandboxConfigId: config.id, name: 'narrow', secretSha256, displayPrefix: 'sk-test-x', web: narrowing });
    expect(key.web).toEqual(narrowing);
    const plain = await apiKeys.create({
      orgId: organization.id,
      sandboxConfigId: config.id,
      name: 'plain',
      secretSha256: createHash('sha256').update('another').update(randomBytes(8)).digest(),
      displayPrefix: 'sk-test-y',
    });
    expect(plain.web).toBeNull();
    const authorization = await apiKeys.findActiveBySecretHash(secretSha256);
    expect(authorization?.apiKey.web).toEqual(narrowing);
    expect(authorization?.sandboxConfig.web).toEqual(POLICY);
  });

  it("sets, replaces, reads and deletes an organization's search provider, only within that organization", async () => {
    const organization = await organizations.create({ name: 'Search', slug: uniqueSlug() });
    const other = await organizations.create({ name: 'Other', slug: uniqueSlug() });
    expect(await providers.get(organization.id)).toBeNull();
    const brave = await providers.put({ orgId: organization.id, kind: 'brave', endpoint: null, sealedApiKey: 'v1.abcd1234.sealed', apiKeyHint: '****wxyz' });
    expect(brave).toMatchObject({ orgId: organization.id, kind: 'brave', endpoint: null, sealedApiKey: 'v1.abcd1234.sealed', apiKeyHint: '****wxyz' });
    expect(brave.updatedAt).toBeInstanceOf(Date);
    expect(await providers.get(other.id)).toBeNull();
    const searxng = await providers.put({ orgId: organization.id, kind: 'searxng', endpoint: 'https://searx.example.com', sealedApiKey: null, apiKeyHint: null });
    expect(await providers.get(organization.id)).toEqual(searxng);
    expect(searxng).toMatchObject({ kind: 'searxng', endpoint: 'https://searx.example.com', sealedApiKey: null, apiKeyHint: null });
    await expect(providers.put({ orgId: organization.id, kind: 'brave', endpoint: null, sealedApiKey: 'v1.sealed', apiKeyHint: null })).rejects.toThrow();
    expect(await providers.delete(other.id)).toBe(false);
    expect(await providers.delete(organization.id)).toBe(true);
    expect(await providers.get(organization.id)).toBeNull();
  });

  it("erasing an organization deletes its search provider and its sealed key", async () => {
    const organization = await organizations.create({ name: 'Erased', slug: uniqueSlug() });
    await providers.put({ orgId: organization.id, kind: 'tavily', endpoint: null, sealedApiKey: 'v1.abcd1234.sealed', apiKeyHint: '****abcd' });
    const outcome = await eraseOrganization(database, organization.id);
    expect(outcome).toMatchObject({ erased: { web_search_providers: 1 } });
    expect(await providers.get(organization.id)).toBeNull();
  });
});
