import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminApp } from '../../test-support/admin-app.js';

// Sandbox config settings through the admin API, in-process: the request schemas and the service's rules, on PGlite.
let adminApp: Awaited<ReturnType<typeof startAdminApp>>;

beforeAll(async () => {
  adminApp = await startAdminApp();
});

afterAll(async () => {
  await adminApp?.close();
});

const call = (method: string, path: string, json?: unknown) => adminApp.call(method, path, json);

/** A 400 whose message is `message` (or matches it). */
const refusal = (message: string | RegExp) => ({
  status: 400,
  body: expect.objectContaining({ error: 'validation_error', message: typeof message === 'string' ? message : expect.stringMatching(message) }),
});

describe('network allowlists through the admin API', () => {
  it('a sandbox config with an allowlist is created and read back with its entries; others show an empty list', async () => {
    const allow = ['api.example.com', '*.pypi.org', '198.51.100.0/24'];
    const created = await call('POST', '/admin/v1/sandboxes', { name: 'listed', network: 'allowlist', network_allow: allow });
    expect(created).toMatchObject({ status: 201, body: { name: 'listed', network: 'allowlist', network_allow: allow } });
    const { body } = await call('GET', '/admin/v1/sandboxes');
    const sandboxes = body.sandboxes as Array<Record<string, unknown>>;
    expect(sandboxes.find((sandbox) => sandbox.name === 'listed')).toMatchObject({ network: 'allowlist', network_allow: allow });
    expect(sandboxes.find((sandbox) => sandbox.name === 'default')).toMatchObject({ network: 'blocked', network_allow: [] });
  });

  it('refuses an allowlist without entries, entries that are not public names or networks, and entries without an allowlist', async () => {
    expect(await call('POST', '/admin/v1/sandboxes', { name: 'bare', network: 'allowlist' })).toMatchObject(
      refusal(
        "network_allow: network 'allowlist' needs at least one entry (a name such as api.example.com, a wildcard such as " +
          '*.example.com, or a public IPv4 network such as 198.51.100.0/24)',
      ),
    );
    expect(await call('POST', '/admin/v1/sandboxes', { name: 'private', network: 'allowlist', network_allow: ['api.example.com', '10.1.0.0/16'] })).toMatchObject(
      refusal('network_allow.1: "10.1.0.0/16" overlaps 10.0.0.0/8, which sandboxes never reach; list public networks only'),
    );
    expect(await call('POST', '/admin/v1/sandboxes', { name: 'metadata', network: 'allowlist', network_allow: ['169.254.169.254'] })).toMatchObject(
      refusal('network_allow.0: "169.254.169.254" overlaps 169.254.0.0/16, which sandboxes never reach; list public networks only'),
    );
    expect(await call('POST', '/admin/v1/sandboxes', { name: 'upper', network: 'allowlist', network_allow: ['API.example.com'] })).toMatchObject(
      refusal('network_allow.0: "API.example.com" is not a lowercase domain name with at least two labels (a wildcard is "*." and a name)'),
    );
    expect(await call('POST', '/admin/v1/sandboxes', { name: 'twice', network: 'allowlist', network_allow: ['a.example.com', 'a.example.com'] })).toMatchObject(
      refusal('network_allow: each entry at most once'),
    );
    expect(await call('POST', '/admin/v1/sandboxes', { name: 'blocked-list', network: 'blocked', network_allow: ['api.example.com'] })).toMatchObject(
      refusal(
        "network_allow: only a sandbox config whose network is 'allowlist' has one (this one's is 'blocked'); send network: " +
          "'allowlist' with it, or leave network_allow out",
      ),
    );
    expect((await call('GET', '/admin/v1/sandboxes')).body.sandboxes).toHaveLength(2);
  });

  it('an update keeps the list, replaces it, and clears it when the mode leaves allowlist', async () => {
    await call('POST', '/admin/v1/sandboxes', { name: 'changing', network: 'allowlist', network_allow: ['api.example.com'] });
    expect((await call('PATCH', '/admin/v1/sandboxes/changing', { cpu: 2 })).body).toMatchObject({ network: 'allowlist', network_allow: ['api.example.com'] });
    expect((await call('PATCH', '/admin/v1/sandboxes/changing', { network_allow: ['*.example.com'] })).body).toMatchObject({ network_allow: ['*.example.com'] });
    expect((await call('PATCH', '/admin/v1/sandboxes/changing', { network: 'unrestricted' })).body).toMatchObject({ network: 'unrestricted', network_allow: [] });
    expect(await call('PATCH', '/admin/v1/sandboxes/changing', { network: 'allowlist' })).toMatchObject(
      refusal(/^network_allow: network 'allowlist' needs at least one entry/),
    );
  });

  it('a key narrows to blocked or to a subset of the allowlist; a wider key is refused naming the rule', async () => {
    await call('POST', '/admin/v1/sandboxes', { name: 'narrowed', network: 'allowlist', network_allow: ['*.example.com', '198.51.100.0/24'] });
    const subset = await call('POST', '/admin/v1/api-keys', { name: 'subset', sandbox: 'narrowed', network: 'allowlist', network_allow: ['api.example.com', '198.51.100.128/25'] });
    expect(subset).toMatchObject({ status: 201, body: { network: 'allowlist', network_allow: ['api.example.com', '198.51.100.128/25'] } });
    expect(await call('POST', '/admin/v1/api-keys', { name: 'off', sandbox: 'narrowed', network: 'blocked' })).toMatchObject({
      status: 201,
      body: { network: 'blocked', network_allow: null },
    });
    const listed = (await call('GET', '/admin/v1/api-keys')).body.api_keys as Array<Record<string, unknown>>;
    expect(listed.find((key) => key.name === 'subset')).toMatchObject({ network: 'allowlist', network_allow: ['api.example.com', '198.51.100.128/25'] });
    expect(listed.find((key) => key.name === 'bootstrap' || key.name === 'default')).toMatchObject({ network: null, network_allow: null });

    expect(await call('POST', '/admin/v1/api-keys', { name: 'wider', sandbox: 'narrowed', network: 'allowlist', network_allow: ['example.com'] })).toMatchObject(
      refusal('network_allow: "example.com" is not within the allowlist of sandbox config "narrowed"; a key may only remove entries or narrow them'),
    );
    expect(await call('POST', '/admin/v1/api-keys', { name: 'widest', sandbox: 'narrowed', network: 'unrestricted' })).toMatchObject(
      refusal("network: a key may only narrow the network to 'blocked' or to 'allowlist' (with network_allow within its sandbox config's)"),
    );
    expect(await call('POST', '/admin/v1/api-keys', { name: 'from-blocked', network: 'allowlist', network_allow: ['api.example.com'] })).toMatchObject(
      refusal(`network: sandbox config "default" is 'blocked'; a key may narrow its network, never widen it`),
    );
    expect(await call('POST', '/admin/v1/api-keys', { name: 'private', sandbox: 'narrowed', network: 'allowlist', network_allow: ['192.168.1.0/24'] })).toMatchObject(
      refusal('network_allow.0: "192.168.1.0/24" overlaps 192.168.0.0/16, which sandboxes never reach; list public networks only'),
    );
  });
});

describe("a sandbox config's interpreter start through the admin API", () => {
  const listed = async (name: string) =>
    ((await call('GET', '/admin/v1/sandboxes')).body.sandboxes as Array<Record<string, unknown>>).find((sandbox) => sandbox.name === name);

  it("is 'fresh' unless set; 'fork' is created, read back and changed", async () => {
    expect((await call('POST', '/admin/v1/sandboxes', { name: 'plain' })).body).toMatchObject({ start: 'fresh' });
    expect(await call('POST', '/admin/v1/sandboxes', { name: 'forked', start: 'fork' })).toMatchObject({ status: 201, body: { start: 'fork' } });
    expect(await listed('forked')).toMatchObject({ start: 'fork' });
    expect(await listed('default')).toMatchObject({ start: 'fresh' });

    expect((await call('PATCH', '/admin/v1/sandboxes/forked', { cpu: 2 })).body).toMatchObject({ start: 'fork' });
    expect((await call('PATCH', '/admin/v1/sandboxes/forked', { start: 'fresh' })).body).toMatchObject({ start: 'fresh' });
    expect((await call('PATCH', '/admin/v1/sandboxes/plain', { start: 'fork' })).body).toMatchObject({ start: 'fork' });
    expect(await listed('plain')).toMatchObject({ start: 'fork' });
  });

  it('refuses an unknown start, changing nothing', async () => {
    await call('POST', '/admin/v1/sandboxes', { name: 'steady' });
    expect(await call('POST', '/admin/v1/sandboxes', { name: 'warm', start: 'warm' })).toMatchObject(refusal(/^start: 'fresh' \(.*\) or 'fork' \(/));
    expect(await call('PATCH', '/admin/v1/sandboxes/steady', { start: 'snapshot' })).toMatchObject(refusal(/^start: 'fresh' \(.*\) or 'fork' \(/));
    expect(await listed('steady')).toMatchObject({ start: 'fresh' });
    expect(await listed('warm')).toBeUndefined();
  });
});
