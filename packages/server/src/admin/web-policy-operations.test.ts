import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminApp, validationRefusal } from '../../test-support/admin-app.js';
import { webPolicyOf } from '../auth/api-key-service.js';

// Web tool policies of sandbox configs and keys through the admin API, in-process on PGlite: validation, what
// answers show, what the API-key principal carries.
let adminApp: Awaited<ReturnType<typeof startAdminApp>>;

beforeAll(async () => {
  adminApp = await startAdminApp();
});

afterAll(async () => {
  await adminApp?.close();
});

const call = (method: string, path: string, json?: unknown, token?: string) => adminApp.call(method, path, json, token);
const refusal = validationRefusal;

describe('web policies of sandbox configs', () => {
  it('are off (null) by default; a policy is stored with its defaults filled, replaced whole by PATCH, and null turns it off', async () => {
    const sandboxes = (await call('GET', '/admin/v1/sandboxes')).body.sandboxes as Array<Record<string, unknown>>;
    expect(sandboxes.find((sandbox) => sandbox.name === 'default')).toMatchObject({ web: null });
    const created = await call('POST', '/admin/v1/sandboxes', { name: 'browsing', web: { domains: { mode: 'allowlist', entries: ['*.python.org'] }, requests_per_call: 5 } });
    expect(created).toMatchObject({
      status: 201,
      body: {
        web: {
          domains: { mode: 'allowlist', entries: ['*.python.org'] },
          https_only: true,
          requests_per_minute: 60,
          requests_per_call: 5,
          max_response_bytes: 2_097_152,
          injection_scan: 'flag',
          search: true,
        },
      },
    });
    expect((await call('PATCH', '/admin/v1/sandboxes/browsing', { cpu: 2 })).body).toMatchObject({ web: { requests_per_call: 5 } });
    expect((await call('PATCH', '/admin/v1/sandboxes/browsing', { web: { injection_scan: 'block' } })).body).toMatchObject({
      web: { domains: { mode: 'blocklist', entries: [] }, requests_per_call: 20, injection_scan: 'block' },
    });
    expect((await call('PATCH', '/admin/v1/sandboxes/browsing', { web: null })).body).toMatchObject({ web: null });
  });

  it('refuses an invalid policy naming the field and the rule', async () => {
    expect(await call('POST', '/admin/v1/sandboxes', { name: 'bad', web: { domains: { mode: 'allowlist', entries: [] } } })).toMatchObject(
      refusal(
        "web.domains.entries: an allowlist needs at least one entry (a name such as docs.python.org or a wildcard such as *.example.com); use 'blocklist' with no entries for every public host",
      ),
    );
    expect(await call('POST', '/admin/v1/sandboxes', { name: 'bad', web: { requests_per_minute: 1000 } })).toMatchObject(
      refusal('web.requests_per_minute: at most 600 requests per minute'),
    );
    expect(await call('POST', '/admin/v1/sandboxes', { name: 'bad', web: { domains: { mode: 'blocklist', entries: ['10.0.0.0/8'] } } })).toMatchObject(
      refusal('web.domains.entries.0: "10.0.0.0/8" overlaps 10.0.0.0/8, which sandboxes never reach; list public networks only'),
    );
  });
});

describe('web narrowing of keys', () => {
  it('a key narrows the policy and shows it; the principal carries both, and the effective policy is the narrower', async () => {
    await call('POST', '/admin/v1/sandboxes', { name: 'docs', web: { domains: { mode: 'allowlist', entries: ['*.example.com'] }, https_only: false } });
    const narrowing = { domains: { mode: 'allowlist', entries: ['api.example.com'] }, https_only: true, requests_per_minute: 6, search: false };
    const created = await call('POST', '/admin/v1/api-keys', { name: 'docs-key', sandbox: 'docs', web: narrowing });
    expect(created).toMatchObject({ status: 201, body: { web: narrowing } });
    const listed = (await call('GET', '/admin/v1/api-keys')).body.api_keys as Array<Record<string, unknown>>;
    expect(listed.find((key) => key.name === 'docs-key')?.web).toEqual(narrowing);
    expect(listed.find((key) => key.name === 'default')?.web).toBeNull();

    const principal = await adminApp.keys.authenticate(`Bearer ${created.body.key as string}`);
    expect(principal.apiKey.web).toEqual(narrowing);
    expect(principal.sandboxConfig.web).toMatchObject({ domains: { mode: 'allowlist', entries: ['*.example.com'] } });
    expect(webPolicyOf(principal)).toMatchObject({ domains: { mode: 'allowlist', entries: ['api.example.com'] }, https_only: true, requests_per_minute: 6, search: false });

    // A config changed afterwards is not refused for its keys: their narrowing is applied to it at each call.
    await call('PATCH', '/admin/v1/sandboxes/docs', { web: { domains: { mode: 'allowlist', entries: ['docs.python.org'] }, requests_per_minute: 3 } });
    const after = await adminApp.keys.authenticate(`Bearer ${created.body.key as string}`);
    expect(webPolicyOf(after)).toMatchObject({ domains: { mode: 'allowlist', entries: [] }, requests_per_minute: 3 });
    await call('PATCH', '/admin/v1/sandboxes/docs', { web: null });
    expect(webPolicyOf(await adminApp.keys.authenticate(`Bearer ${created.body.key as string}`))).toBeNull();
  });

  it('refuses a key that widens the policy, naming the rule; off: true is always allowed, {} keeps the policy', async () => {
    await call('POST', '/admin/v1/sandboxes', { name: 'strict', web: { domains: { mode: 'blocklist', entries: ['evil.example.com'] }, injection_scan: 'block' } });
    expect(await call('POST', '/admin/v1/api-keys', { name: 'k1', sandbox: 'strict', web: { injection_scan: 'flag' } })).toMatchObject(
      refusal("web.injection_scan: sandbox config \"strict\" scans with 'block'; a key may only make the scan stricter (off < flag < block)"),
    );
    expect(await call('POST', '/admin/v1/api-keys', { name: 'k2', sandbox: 'strict', web: { domains: { mode: 'allowlist', entries: ['*.example.com'] } } })).toMatchObject(
      refusal(
        'web.domains.entries: "*.example.com" overlaps "evil.example.com" of the web blocklist of sandbox config "strict"; a key\'s allowlist leaves out what the config blocks',
      ),
    );
    expect(await call('POST', '/admin/v1/api-keys', { name: 'k3', web: { search: false } })).toMatchObject(
      refusal('web: sandbox config "default" has the web tools off; a key may narrow its web policy (or send off: true), never turn them on'),
    );
    expect(await call('POST', '/admin/v1/api-keys', { name: 'k4', sandbox: 'strict', web: { requests_per_call: 21 } })).toMatchObject(
      refusal('web.requests_per_call: at most 20, the value of sandbox config "strict"; a key may only lower it'),
    );
    expect(await call('POST', '/admin/v1/api-keys', { name: 'k5', web: { off: true } })).toMatchObject({ status: 201, body: { web: { off: true } } });
    expect(await call('POST', '/admin/v1/api-keys', { name: 'k6', sandbox: 'strict', web: {} })).toMatchObject({ status: 201, body: { web: null } });
    expect(await call('POST', '/admin/v1/api-keys', { name: 'k7', sandbox: 'strict', web: { https_only: false } })).toMatchObject(
      refusal('web.https_only: a key may only require https (true)'),
    );
  });
});
