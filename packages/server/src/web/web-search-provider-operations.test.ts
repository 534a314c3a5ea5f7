import type { AuditEntry } from '@airlock/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminApp, validationRefusal } from '../../test-support/admin-app.js';

// The organization's web search provider through the admin API, in-process on PGlite: validation, roles, the sealed
// key shown as a hint and opened for the gateway, the audit entries.
let adminApp: Awaited<ReturnType<typeof startAdminApp>>;

beforeAll(async () => {
  adminApp = await startAdminApp();
});

afterAll(async () => {
  await adminApp?.close();
});

const call = (method: string, path: string, json?: unknown, token?: string) => adminApp.call(method, path, json, token);
const refusal = validationRefusal;

const BRAVE_KEY = 'BSA-brave-subscription-token-7f3e';

async function auditEntries(action: string): Promise<AuditEntry[]> {
  const { body } = await call('GET', `/admin/v1/audit?action=${action}`);
  return body.entries as AuditEntry[];
}

describe('the search provider', () => {
  it('is absent at first, set with a sealed key shown as a hint, replaced, read by a viewer, and deleted', async () => {
    expect(await call('GET', '/admin/v1/web/search-provider')).toMatchObject({
      status: 404,
      body: { error: 'not_found', message: 'organization "default" has no web search provider; set one with PUT /admin/v1/web/search-provider' },
    });
    expect(await adminApp.webSearchProviders.searchProviderSettings((await adminApp.admin.organization()).id)).toBeNull();

    const set = await call('PUT', '/admin/v1/web/search-provider', { kind: 'brave', api_key: BRAVE_KEY });
    expect(set).toMatchObject({ status: 200, body: { kind: 'brave', endpoint: null, api_key: '****7f3e' } });
    expect(JSON.stringify(set.body)).not.toContain(BRAVE_KEY);
    const orgId = (await adminApp.admin.organization()).id;
    expect(await adminApp.webSearchProviders.searchProviderSettings(orgId)).toEqual({ kind: 'brave', apiKey: BRAVE_KEY });
    const [row] = await adminApp.database.query<{ sealed_api_key: string }>('SELECT sealed_api_key FROM web_search_providers WHERE org_id = $1', [orgId]);
    expect(row?.sealed_api_key).toMatch(/^v1\./);
    expect(row?.sealed_api_key).not.toContain(BRAVE_KEY);

    const viewer = await call('POST', '/admin/v1/admin-tokens', { name: 'web-viewer', role: 'viewer' });
    const viewerToken = viewer.body.token as string;
    expect(await call('GET', '/admin/v1/web/search-provider', undefined, viewerToken)).toMatchObject({ status: 200, body: { kind: 'brave', api_key: '****7f3e' } });
    expect(await call('PUT', '/admin/v1/web/search-provider', { kind: 'searxng', endpoint: 'https://searx.example.com' }, viewerToken)).toMatchObject({
      status: 403,
    });
    expect(await call('DELETE', '/admin/v1/web/search-provider', undefined, viewerToken)).toMatchObject({ status: 403 });

    expect(await call('PUT', '/admin/v1/web/search-provider', { kind: 'searxng', endpoint: 'http://127.0.0.1:8888' })).toMatchObject({
      status: 200,
      body: { kind: 'searxng', endpoint: 'http://127.0.0.1:8888', api_key: null },
    });
    expect(await adminApp.webSearchProviders.searchProviderSettings(orgId)).toEqual({ kind: 'searxng', endpoint: 'http://127.0.0.1:8888' });
    expect(await call('DELETE', '/admin/v1/web/search-provider')).toMatchObject({ status: 204 });
    expect(await call('DELETE', '/admin/v1/web/search-provider')).toMatchObject({ status: 404 });
    expect(await call('GET', '/admin/v1/web/search-provider')).toMatchObject({ status: 404 });
  });

  it('refuses a request without what its kind needs, and acts within the organization named', async () => {
    expect(await call('PUT', '/admin/v1/web/search-provider', { kind: 'tavily' })).toMatchObject(refusal('api_key: tavily needs its api_key'));
    expect(await call('PUT', '/admin/v1/web/search-provider', { kind: 'searxng' })).toMatchObject(
      refusal("endpoint: searxng needs the instance's URL (its JSON API must be enabled: search.formats includes json)"),
    );
    expect(await call('PUT', '/admin/v1/web/search-provider', { kind: 'bing', api_key: BRAVE_KEY })).toMatchObject({ status: 400 });
    await call('POST', '/admin/v1/organizations', { name: 'Other', slug: 'other' });
    expect(await call('PUT', '/admin/v1/web/search-provider?organization=other', { kind: 'tavily', api_key: 'tvly-0123456789abcdef' })).toMatchObject({
      status: 200,
      body: { kind: 'tavily', api_key: '****cdef' },
    });
    expect(await call('GET', '/admin/v1/web/search-provider')).toMatchObject({ status: 404 });
    expect(await call('GET', '/admin/v1/web/search-provider?organization=nowhere')).toMatchObject({ status: 404 });
  });

  it('records each change with the key only as changed, never its value', async () => {
    await call('PUT', '/admin/v1/web/search-provider', { kind: 'brave', api_key: BRAVE_KEY });
    await call('DELETE', '/admin/v1/web/search-provider');
    const set = await auditEntries('web_search_provider.set');
    const deleted = await auditEntries('web_search_provider.delete');
    expect(set[0]).toMatchObject({ action: 'web_search_provider.set', target_type: 'web_search_provider', target_id: 'brave', outcome: 'success' });
    expect(set[0]?.changes).toMatchObject({ kind: { after: 'brave' }, api_key: 'changed' });
    expect(deleted[0]).toMatchObject({ action: 'web_search_provider.delete', target_id: 'brave', outcome: 'success', changes: { kind: { before: 'brave' } } });
    const everything = JSON.stringify((await call('GET', '/admin/v1/audit')).body);
    expect(everything).not.toContain(BRAVE_KEY);
    expect(everything).not.toContain('tvly-0123456789abcdef');
  });
});
