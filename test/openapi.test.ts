import { compileErrors, validate } from '@readme/openapi-parser';
import { describe, expect, it } from 'vitest';
import { appWithoutServices } from './support/app-without-services.js';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const app = appWithoutServices();

interface Document {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
}

async function openApiDocument(): Promise<Document> {
  const response = await app.request('/openapi.json');
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return (await response.json()) as Document;
}

/** Hono's `:param` as OpenAPI's `{param}`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** The app's handlers (middleware patterns such as `/v1/*` left out), as OpenAPI paths. */
function servedRoutes(): Array<{ method: string; path: string }> {
  return app.routes
    .filter((route) => !route.path.endsWith('*'))
    .map((route) => ({ method: route.method.toLowerCase(), path: openApiPath(route.path) }));
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document, served without credentials', async () => {
    const document = await openApiDocument();
    expect(document.openapi).toMatch(/^3\.1\./);
    const result = await validate(structuredClone(document) as never);
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    expect(result.warnings).toEqual([]);
  });

  it('describes every route the app serves', async () => {
    const { paths } = await openApiDocument();
    const routes = servedRoutes();
    expect(routes.length).toBeGreaterThan(20);
    const missing = routes.filter(({ method, path }) =>
      method === 'all' ? paths[path] === undefined : paths[path]?.[method] === undefined,
    );
    expect(missing, 'routes without an operation in the document').toEqual([]);
  });

  it('describes no operation the app does not serve', async () => {
    const { paths } = await openApiDocument();
    const routes = servedRoutes();
    const operations = Object.entries(paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((key) => HTTP_METHODS.includes(key))
        .map((method) => ({ method, path })),
    );
    const unserved = operations.filter(
      ({ method, path }) => !routes.some((route) => route.path === path && (route.method === method || route.method === 'all')),
    );
    expect(unserved).toEqual([]);
  });

  it('names the request schemas the routes validate with, and every credential', async () => {
    const { components } = await openApiDocument();
    for (const name of [
      'ExecuteRequest',
      'FilesListRequest',
      'FileUploadUrlRequest',
      'FileDownloadUrlRequest',
      'FileDeleteRequest',
      'ThreadForkRequest',
      'CreateApiKeyRequest',
      'CreateSandboxRequest',
      'SandboxSettingsRequest',
      'StorageConnectionSettingsRequest',
      'CreateVolumeRequest',
      'VolumeSettingsRequest',
      'CreateAttachmentRequest',
    ]) {
      expect(components.schemas[name], name).toMatchObject({ type: 'object', additionalProperties: false });
    }
    expect(Object.keys(components.securitySchemes).sort()).toEqual(['adminToken', 'apiKey', 'consoleSession', 'nodeSignature']);
  });

  it('documents network allowlists on sandbox configs, API keys and execution records', async () => {
    type Schema = { properties: Record<string, { enum?: string[]; type?: unknown; items?: unknown; maxItems?: number }>; required?: string[] };
    const schemas = (await openApiDocument()).components.schemas as Record<string, Schema>;
    for (const name of ['CreateSandboxRequest', 'SandboxSettingsRequest']) {
      expect(schemas[name]?.properties.network?.enum, name).toEqual(['blocked', 'allowlist', 'unrestricted']);
      expect(schemas[name]?.properties.network_allow, name).toMatchObject({ type: 'array', items: { type: 'string' }, maxItems: 256 });
    }
    expect(schemas.SandboxSummary?.required).toEqual(expect.arrayContaining(['network', 'network_allow']));
    expect(schemas.CreateApiKeyRequest?.properties.network?.enum).toEqual(['blocked', 'allowlist']);
    expect(schemas.CreateApiKeyRequest?.properties.network_allow).toMatchObject({ type: 'array' });
    expect(schemas.ApiKeySummary?.required).toEqual(expect.arrayContaining(['network', 'network_allow']));
    expect(schemas.ExecutionRecordResponse?.required).toEqual(expect.arrayContaining(['network_mode', 'network_allow']));
  });

  it("documents a sandbox config's start: its two values and what each does", async () => {
    type Schema = { properties: Record<string, { enum?: string[]; description?: string }>; required?: string[] };
    const schemas = (await openApiDocument()).components.schemas as Record<string, Schema>;
    for (const name of ['CreateSandboxRequest', 'SandboxSettingsRequest', 'SandboxSummary']) {
      expect(schemas[name]?.properties.start?.enum, name).toEqual(['fresh', 'fork']);
      expect(schemas[name]?.properties.start?.description, name).toMatch(/'fresh' \(the default\).*'fork'.*start fresh whatever the setting/s);
    }
    expect(schemas.SandboxSummary?.required).toContain('start');
    expect(schemas.SandboxSettingsRequest?.required ?? []).not.toContain('start');
  });

  it("documents sub_paths as the Baponi SDK sends it: a list of paths under /data", async () => {
    type Schema = { properties: Record<string, { type?: unknown; items?: unknown; maxItems?: number; description?: string }> };
    const execute = ((await openApiDocument()).components.schemas as Record<string, Schema>).ExecuteRequest;
    expect(execute?.properties.sub_paths).toMatchObject({ type: 'array', items: { type: 'string' }, maxItems: 16 });
    expect(execute?.properties.sub_paths?.description).toMatch(/`\/data\/<mount>\/<path>`, at most one entry per mount/);
  });

  it('documents storage connections, volumes and attachments, with no secret in any answer', async () => {
    type Schema = { properties?: Record<string, { type?: unknown }>; oneOf?: Schema[]; required?: string[] };
    const document = await openApiDocument();
    const operations = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
    expect(operations).toEqual(
      expect.arrayContaining([
        'get /admin/v1/storage-connections',
        'post /admin/v1/storage-connections',
        'get /admin/v1/storage-connections/{id}',
        'patch /admin/v1/storage-connections/{id}',
        'delete /admin/v1/storage-connections/{id}',
        'post /admin/v1/storage-connections/{id}/test',
        'get /admin/v1/volumes',
        'post /admin/v1/volumes',
        'get /admin/v1/volumes/{slug}',
        'patch /admin/v1/volumes/{slug}',
        'delete /admin/v1/volumes/{slug}',
        'get /admin/v1/sandboxes/{name}/attachments',
        'post /admin/v1/sandboxes/{name}/attachments',
        'delete /admin/v1/sandboxes/{name}/attachments/{mount}',
      ]),
    );
    const deleteVolume = document.paths['/admin/v1/volumes/{slug}']?.delete as { responses: Record<string, unknown> };
    expect(Object.keys(deleteVolume.responses)).toContain('409');
    const schemas = document.components.schemas as Record<string, Schema>;
    const create = schemas.CreateStorageConnectionRequest?.oneOf ?? [];
    expect(create.map((branch) => Object.keys(branch.properties ?? {}))).toEqual([
      expect.arrayContaining(['provider', 'bucket', 'endpoint', 'region', 'path_style', 'access_key_id', 'secret_access_key', 'prefix', 'read_only', 'sync_mode']),
      expect.arrayContaining(['provider', 'bucket', 'service_account_json', 'hmac']),
      expect.arrayContaining(['provider', 'container', 'account', 'key', 'sas_url', 'connection_string']),
    ]);
    const secretFields = ['access_key_id', 'secret_access_key', 'service_account_json', 'hmac', 'key', 'sas_url', 'connection_string'];
    for (const branch of schemas.StorageConnectionSummary?.oneOf ?? []) {
      expect(Object.keys(branch.properties ?? {})).toContain('credentials');
      expect(Object.keys(branch.properties ?? {}).filter((name) => secretFields.includes(name))).toEqual([]);
    }
    expect(schemas.StorageConnectionSummary?.oneOf).toHaveLength(3);
    const testConnection = document.paths['/admin/v1/storage-connections/{id}/test']?.post as { responses: Record<string, unknown> };
    expect(Object.keys(testConnection.responses)).toEqual(expect.arrayContaining(['200', '404', '503']));
    expect(schemas.StorageConnectionTestResponse?.required).toEqual(['reachable', 'writable', 'checked_at', 'message']);
    expect(schemas.VolumeSummary?.required).toEqual(expect.arrayContaining(['quota_bytes', 'used_bytes']));
    expect(Object.keys(schemas.CreateApiKeyRequest?.properties ?? {})).toContain('storage');
    expect(schemas.ApiKeySummary?.required).toContain('storage');
  });

  it('gives every error status its stable codes and the X-Request-Id header', async () => {
    const document = (await openApiDocument()) as Document & {
      components: { responses: Record<string, { description: string; headers: Record<string, unknown> }> };
    };
    const execute = document.paths['/v1/sandbox/execute']?.post as { responses: Record<string, unknown> };
    expect(Object.keys(execute.responses).sort()).toEqual(['200', '202', '400', '401', '408', '409', '413', '415', '422', '429', '500', '503']);
    const rateLimited = document.components.responses.RateLimited;
    expect(rateLimited?.description).toMatch(/^`rate_limited`/);
    expect(Object.keys(rateLimited?.headers ?? {})).toEqual(expect.arrayContaining(['X-Request-Id', 'Retry-After', 'RateLimit-Limit']));
  });
});

describe('GET /docs', () => {
  it('is an HTML page that loads only assets of this server', async () => {
    const response = await app.request('/docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).not.toMatch(/https?:\/\//);
    const references = [...html.matchAll(/\b(?:src|href)\s*=\s*["']([^"']+)["']/g)].map((match) => match[1] ?? '');
    expect(references.length).toBeGreaterThan(0);
    for (const reference of references) {
      expect(reference).toMatch(/^\/[^/]/);
      const asset = await app.request(reference);
      expect(asset.status, reference).toBe(200);
      expect(asset.headers.get('content-type'), reference).toMatch(/javascript/);
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
    }
    expect(html).toContain('/openapi.json');
  });
});
