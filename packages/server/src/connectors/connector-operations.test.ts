import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminApp } from '../../test-support/admin-app.js';
import type { OpenedConnector } from './connector-injection.js';
import type { ConnectorTester } from './connector-service.js';

// Connector administration in-process on PGlite: the request schemas, the service, the repository and the error
// mapping. "Test connection" runs a stand-in tester here (the real probes are tested end to end in
// test/connectors.test.ts); it records what it was given and answers what the test sets.
let adminApp: Awaited<ReturnType<typeof startAdminApp>>;

/** The stand-in tester: it keeps what it was given and answers `answer`. */
const tester: ConnectorTester & { seen: OpenedConnector[]; answer: { ok: boolean; message: string } } = {
  seen: [],
  answer: { ok: true, message: 'connected as reader' },
  async test(connector) {
    tester.seen.push(structuredClone(connector));
    return tester.answer;
  },
};

const SECRETS = {
  postgresPassword: 'pg-password-7f3a9c2e1b',
  postgresNewPassword: 'pg-rotated-password-44d1aa90',
  redisPassword: 'redis-pw9',
  s3AccessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  s3SecretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  s3SessionToken: 'FwoGZXIvYXdzEXAMPLESESSIONTOKEN0123',
  githubToken: 'ghp_0123456789abcdefghijABCDEFGHIJ',
  httpApiKey: 'sk-ant-api03-0123456789abcdefXYZW',
  serviceAccountKey: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-connector-secret\n-----END PRIVATE KEY-----\n',
};
const serviceAccountJson = JSON.stringify({
  type: 'service_account',
  project_id: 'acme-analytics',
  client_email: 'airlock@acme-analytics.iam.gserviceaccount.com',
  private_key: SECRETS.serviceAccountKey,
});

const warehouse = { name: 'warehouse', type: 'postgresql', host: 'db.example.com', database: 'analytics', user: 'reader', password: SECRETS.postgresPassword };

beforeAll(async () => {
  adminApp = await startAdminApp({ connectorTester: tester });
});

afterAll(async () => {
  await adminApp?.close();
});

const call = (method: string, path: string, json?: unknown) => adminApp.call(method, path, json);

const refusal = (status: number, error: string, message: string | RegExp) => ({
  status,
  body: expect.objectContaining({ error, message: typeof message === 'string' ? message : expect.stringMatching(message) }),
});
const invalid = (message: string | RegExp) => refusal(400, 'validation_error', message);

/** Creates a connector, failing the test with the answer when it is refused. */
async function create(json: Record<string, unknown>, organization?: string): Promise<Record<string, unknown>> {
  const answer = await call('POST', `/admin/v1/connectors${organization ? `?organization=${organization}` : ''}`, json);
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return answer.body;
}

describe('creating connectors', () => {
  it('a postgresql connector gets its defaults; answers show a hint of the password, its endpoint and variables', async () => {
    const created = await create(warehouse);
    expect(created).toEqual({
      id: expect.stringMatching(/^con_/),
      name: 'warehouse',
      type: 'postgresql',
      settings: { host: 'db.example.com', port: 5432, database: 'analytics', user: 'reader', sslmode: 'prefer' },
      secrets: { password: '****2e1b' },
      endpoints: ['db.example.com:5432'],
      variables: ['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGSSLMODE', 'PGPASSFILE', 'PGSERVICEFILE'],
      status: 'untested',
      status_message: null,
      tested_at: null,
      used_by: [],
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(await call('GET', '/admin/v1/connectors/warehouse')).toEqual({ status: 200, body: created });
    expect((await call('GET', '/admin/v1/connectors')).body.connectors).toContainEqual(created);

    const [row] = await adminApp.database.query<{ sealed_secrets: string; settings: unknown }>('SELECT sealed_secrets, settings FROM connectors WHERE id = $1', [created.id]);
    expect(row?.sealed_secrets).toMatch(/^v1\./);
    expect(JSON.stringify(row)).not.toContain(SECRETS.postgresPassword);
  });

  it('a redis connector needs no password; s3, github and http_api connectors get their defaults', async () => {
    expect(await create({ name: 'cache', type: 'redis', host: '10.20.0.5' })).toMatchObject({
      settings: { host: '10.20.0.5', port: 6379, database: 0, tls: false },
      secrets: {},
      endpoints: ['10.20.0.5:6379'],
      variables: ['REDIS_HOST', 'REDIS_PORT', 'REDIS_URL'],
    });
    // A secret of 8 to 15 characters shows no characters at all.
    expect(await create({ name: 'sessions', type: 'redis', host: 'redis.example.com', password: SECRETS.redisPassword })).toMatchObject({
      secrets: { password: '****' },
      variables: ['REDIS_HOST', 'REDIS_PORT', 'REDIS_URL', 'REDISCLI_AUTH'],
    });
    expect(
      await create({ name: 'lake', type: 's3', bucket: 'acme-lake', access_key_id: SECRETS.s3AccessKeyId, secret_access_key: SECRETS.s3SecretAccessKey }),
    ).toMatchObject({
      settings: { region: 'us-east-1', bucket: 'acme-lake', path_style: false },
      secrets: { access_key_id: '****MPLE', secret_access_key: '****EKEY' },
      endpoints: ['s3.us-east-1.amazonaws.com:443', '*.s3.us-east-1.amazonaws.com:443'],
    });
    expect(await create({ name: 'code', type: 'github', token: SECRETS.githubToken })).toMatchObject({
      settings: { host: 'github.com' },
      secrets: { token: '****GHIJ' },
      endpoints: ['github.com:443', 'api.github.com:443'],
      variables: ['GIT_CONFIG_GLOBAL', 'GH_TOKEN'],
    });
    const anthropic = await create({
      name: 'anthropic',
      type: 'http_api',
      base_url: 'https://api.anthropic.com',
      env_var: 'ANTHROPIC_API_KEY',
      base_url_env_var: 'ANTHROPIC_BASE_URL',
      api_key: SECRETS.httpApiKey,
    });
    expect(anthropic).toMatchObject({
      type: 'http_api',
      settings: { base_url: 'https://api.anthropic.com', env_var: 'ANTHROPIC_API_KEY', base_url_env_var: 'ANTHROPIC_BASE_URL' },
      secrets: { api_key: '****XYZW' },
      endpoints: ['api.anthropic.com:443'],
      variables: ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL'],
    });
    expect(Object.keys(anthropic.settings as object)).not.toContain('api_key');
  });

  it("a gcs connector's hint is its service account's email; other Google credential files are refused", async () => {
    expect(await create({ name: 'gcs-data', type: 'gcs', bucket: 'acme-gcs', credentials_json: serviceAccountJson })).toMatchObject({
      settings: { bucket: 'acme-gcs' },
      secrets: { credentials_json: 'airlock@acme-analytics.iam.gserviceaccount.com' },
      endpoints: ['storage.googleapis.com:443', 'oauth2.googleapis.com:443'],
      variables: ['GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_CLOUD_PROJECT'],
    });
    const externalAccount = JSON.stringify({ type: 'external_account', audience: '//iam.googleapis.com/projects/1/pools/p' });
    for (const credentials of [externalAccount, 'not json at all', '["service_account"]']) {
      expect(await call('POST', '/admin/v1/connectors', { name: 'gcs-bad', type: 'gcs', credentials_json: credentials }), credentials).toMatchObject(
        invalid(/^credentials_json: a service account key file or an authorized user file/),
      );
    }
    expect(
      await create({ name: 'bq-user', type: 'bigquery', project: 'acme', credentials_json: JSON.stringify({ type: 'authorized_user', client_id: 'x', refresh_token: 'refresh-token-0123456789' }) }),
    ).toMatchObject({ secrets: { credentials_json: 'authorized user' } });
  });

  it('refuses short secrets, unknown fields, loopback and IPv6 hosts, naming the field', async () => {
    const refused: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...warehouse, name: 'short', password: 'seven77' }, /^password: at least 8 characters/],
      [{ name: 'short-token', type: 'github', token: 'ghp_123' }, /^token: at least 8 characters/],
      [{ ...warehouse, name: 'extra', schema: 'public' }, /^unknown field "schema"/],
      [{ ...warehouse, name: 'local', host: '127.0.0.1' }, /^host: a loopback address/],
      [{ ...warehouse, name: 'local', host: '127.8.9.10' }, /^host: a loopback address/],
      [{ ...warehouse, name: 'local', host: 'localhost' }, /^host: a loopback address/],
      [{ ...warehouse, name: 'local', host: 'LocalHost' }, /^host: a loopback address/],
      [{ ...warehouse, name: 'metadata', host: '169.254.169.254' }, /^host: a link-local address/],
      [{ name: 'metadata', type: 'http_api', base_url: 'http://169.254.169.254/latest', env_var: 'API_KEY', api_key: SECRETS.httpApiKey }, /^base_url: an http\(s\) URL .*not loopback or link-local/],
      [{ ...warehouse, name: 'v6', host: '::1' }, /^host: a DNS name or an IPv4 address \(sandboxes have no IPv6\)/],
      [{ ...warehouse, name: 'v6', host: '2001:db8::5' }, /^host: a DNS name or an IPv4 address/],
      [{ ...warehouse, name: 'port', port: 0 }, /^port: /],
      [{ ...warehouse, name: 'Upper' }, /^name: lowercase letters/],
      [{ ...warehouse, name: 'ssl', sslmode: 'sometimes' }, /^sslmode: /],
      [{ name: 'api', type: 'http_api', base_url: 'http://localhost:8080', env_var: 'API_KEY', api_key: SECRETS.httpApiKey }, /^base_url: an http\(s\) URL/],
      [{ name: 'api', type: 'http_api', base_url: 'https://[2001:db8::5]/', env_var: 'API_KEY', api_key: SECRETS.httpApiKey }, /^base_url: an http\(s\) URL/],
      [{ name: 'api', type: 'http_api', base_url: 'ftp://files.example.com', env_var: 'API_KEY', api_key: SECRETS.httpApiKey }, /^base_url: an http\(s\) URL/],
      [{ name: 'nothing', type: 'ftp', host: 'files.example.com' }, /^type: /],
    ];
    for (const [json, message] of refused) {
      expect(await call('POST', '/admin/v1/connectors', json), JSON.stringify(json)).toMatchObject(invalid(message));
    }
  });

  it('refuses text that is not valid Unicode; a hint never splits a character', async () => {
    const lake = { name: 'odd', type: 's3', access_key_id: SECRETS.s3AccessKeyId, secret_access_key: SECRETS.s3SecretAccessKey };
    expect(await call('POST', '/admin/v1/connectors', { ...lake, bucket: 'acme\ud800' })).toMatchObject(invalid('bucket: must be valid Unicode (no lone surrogates)'));
    expect(await call('POST', '/admin/v1/connectors', { ...lake, access_key_id: 'AKIAEXAMPLE\udc00' })).toMatchObject(
      invalid('access_key_id: must be valid Unicode (no lone surrogates)'),
    );
    expect(await call('POST', '/admin/v1/connectors', { ...warehouse, name: 'odd', ca_certificate: '-----BEGIN CERTIFICATE-----\ud83d' })).toMatchObject(
      invalid('ca_certificate: must be valid Unicode (no lone surrogates)'),
    );
    // The last four UTF-16 units of this key start inside the emoji.
    expect(await create({ ...lake, access_key_id: 'AKIAEXAMPLE12345\u{1F511}abc' })).toMatchObject({
      secrets: { access_key_id: '****\u{1F511}abc', secret_access_key: '****EKEY' },
    });
    expect((await call('GET', '/admin/v1/connectors')).status).toBe(200);
  });

  it("refuses an http_api connector's bad or reserved variable names, and base_url_env_var equal to env_var", async () => {
    const api = { name: 'api', type: 'http_api', base_url: 'https://api.example.com/v1', api_key: SECRETS.httpApiKey };
    for (const envVar of ['1API_KEY', 'API-KEY', 'API KEY', '']) {
      expect(await call('POST', '/admin/v1/connectors', { ...api, env_var: envVar }), envVar).toMatchObject(invalid(/^env_var: a variable name/));
    }
    for (const envVar of ['PATH', 'LD_PRELOAD', 'HOME', 'AIRLOCK_TRACE']) {
      expect(await call('POST', '/admin/v1/connectors', { ...api, env_var: envVar }), envVar).toMatchObject(invalid(/^env_var: a name the sandbox sets itself/));
    }
    expect(await call('POST', '/admin/v1/connectors', { ...api, env_var: 'API_KEY', base_url_env_var: 'LD_LIBRARY_PATH' })).toMatchObject(
      invalid(/^base_url_env_var: a name the sandbox sets itself/),
    );
    expect(await call('POST', '/admin/v1/connectors', { ...api, env_var: 'API_KEY', base_url_env_var: 'API_KEY' })).toMatchObject(
      invalid('base_url_env_var: must differ from env_var'),
    );
    expect(await create({ ...api, env_var: 'OPENAI_API_KEY' })).toMatchObject({ variables: ['OPENAI_API_KEY'], endpoints: ['api.example.com:443'] });
  });

  it('an azure connector signs in one whole way', async () => {
    const azure = { name: 'blobs', type: 'azure' };
    expect(await call('POST', '/admin/v1/connectors', { ...azure, account: 'acmestorage' })).toMatchObject(
      invalid(/signs in with key, sas_token, connection_string or a service principal/),
    );
    expect(await call('POST', '/admin/v1/connectors', { ...azure, key: 'azureAccountKeyBase64==' })).toMatchObject(invalid(/^account: an account key needs its account/));
    expect(await call('POST', '/admin/v1/connectors', { ...azure, sas_token: 'sv=2022-11-02&sig=abcdef' })).toMatchObject(invalid(/^account: a SAS token needs/));
    for (const partial of [
      { tenant_id: 'tenant-1', client_id: 'client-1' },
      { tenant_id: 'tenant-1', client_secret: 'client-secret-0123' },
      { account: 'acmestorage', client_id: 'client-1', client_secret: 'client-secret-0123' },
    ]) {
      expect(await call('POST', '/admin/v1/connectors', { ...azure, ...partial }), JSON.stringify(partial)).toMatchObject(
        invalid(/^tenant_id, client_id, client_secret: a service principal needs all three/),
      );
    }
    expect(await create({ ...azure, account: 'acmestorage', key: 'azureAccountKeyBase64Value==' })).toMatchObject({
      settings: { account: 'acmestorage' },
      secrets: { key: '****ue==' },
      endpoints: ['acmestorage.blob.core.windows.net:443'],
    });
    expect(
      await create({ name: 'blobs-sp', type: 'azure', account: 'acmestorage', tenant_id: 'tenant-1', client_id: 'client-1', client_secret: 'client-secret-0123' }),
    ).toMatchObject({ secrets: { client_secret: '****0123' }, endpoints: ['acmestorage.blob.core.windows.net:443', 'login.microsoftonline.com:443'] });
  });

  it('an azure connector names a blob endpoint it can open; a bad one is refused and lists keep working', async () => {
    const key = 'connectionStringAccountKey0123==';
    expect(await call('POST', '/admin/v1/connectors', { name: 'blobs-bad', type: 'azure', account: 'acme storage', key })).toMatchObject(
      invalid(/^account: a storage account name: 3 to 24 lowercase letters and digits/),
    );
    expect(await call('POST', '/admin/v1/connectors', { name: 'blobs-bad', type: 'azure', account: 'AcmeStorage', key })).toMatchObject(invalid(/^account: /));
    for (const connectionString of [
      `BlobEndpoint=not-a-url;SharedAccessSignature=sv=2022&sig=${key}`,
      `AccountName=acme storage;AccountKey=${key}`,
      `BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;SharedAccessSignature=sv=2022&sig=${key}`,
      `BlobEndpoint=http://[::1]:10000/devstoreaccount1;SharedAccessSignature=sv=2022&sig=${key}`,
    ]) {
      const answer = await call('POST', '/admin/v1/connectors', { name: 'blobs-bad', type: 'azure', connection_string: connectionString });
      expect(answer, connectionString).toMatchObject(invalid(/^connection_string: its blob endpoint .* must be an http\(s\) URL/));
      expect(JSON.stringify(answer.body)).not.toContain(key);
    }
    expect(await call('POST', '/admin/v1/connectors', { name: 'blobs-bad', type: 'azure', connection_string: 'UseDevelopmentStorage=true' })).toMatchObject(
      invalid(/^connection_string: names no blob endpoint/),
    );
    expect(await call('GET', '/admin/v1/connectors/blobs-bad')).toMatchObject(refusal(404, 'not_found', /no connector "blobs-bad"/));
    expect((await call('GET', '/admin/v1/connectors')).status).toBe(200);

    expect(
      await create({ name: 'blobs-cs', type: 'azure', connection_string: `DefaultEndpointsProtocol=https;AccountName=acmestorage;AccountKey=${key};EndpointSuffix=core.windows.net` }),
    ).toMatchObject({ secrets: { connection_string: '****.net' }, endpoints: ['acmestorage.blob.core.windows.net:443'] });
    // With endpoint set, the connection string's own endpoint is not used.
    expect(
      await create({ name: 'blobs-local', type: 'azure', endpoint: 'http://azurite.test:10000/devstoreaccount1', connection_string: 'UseDevelopmentStorage=true' }),
    ).toMatchObject({ endpoints: ['azurite.test:10000'] });
    expect(await call('PATCH', '/admin/v1/connectors/blobs-cs', { connection_string: `BlobEndpoint=not-a-url;AccountKey=${key}` })).toMatchObject(
      invalid(/^connection_string: its blob endpoint/),
    );
    expect((await call('GET', '/admin/v1/connectors/blobs-cs')).body).toMatchObject({ endpoints: ['acmestorage.blob.core.windows.net:443'] });
  });

  it("an s3 connector without an endpoint has a region that names AWS's endpoint; with one, any region", async () => {
    const lake = { type: 's3', access_key_id: SECRETS.s3AccessKeyId, secret_access_key: SECRETS.s3SecretAccessKey };
    for (const region of ['eu west 1', 'EU-WEST-1', 'eu-west-1.evil.example', '-eu']) {
      expect(await call('POST', '/admin/v1/connectors', { ...lake, name: 'lake-bad', region }), region).toMatchObject(
        invalid(/^region: names the endpoint s3.<region>.amazonaws.com/),
      );
    }
    expect(await create({ ...lake, name: 'lake-eu', region: 'eu-central-2' })).toMatchObject({
      endpoints: ['s3.eu-central-2.amazonaws.com:443', '*.s3.eu-central-2.amazonaws.com:443'],
    });
    expect(await create({ ...lake, name: 'lake-garage', region: 'Garage Zone', endpoint: 'https://garage.example.com:3900', path_style: true })).toMatchObject({
      settings: { region: 'Garage Zone', endpoint: 'https://garage.example.com:3900', path_style: true },
      endpoints: ['garage.example.com:3900'],
    });
    expect(await call('PATCH', '/admin/v1/connectors/lake-garage', { endpoint: null })).toMatchObject(invalid(/^region: /));
  });

  it('a name is taken once per organization (409); another organization may use it', async () => {
    await create({ ...warehouse, name: 'taken' });
    expect(await call('POST', '/admin/v1/connectors', { ...warehouse, name: 'taken', host: 'other.example.com' })).toMatchObject(
      refusal(409, 'conflict', 'organization "default" has a connector named "taken"; choose another name'),
    );
    expect((await call('POST', '/admin/v1/organizations', { name: 'Neighbours', slug: 'neighbours' })).status).toBe(201);
    expect(await create({ ...warehouse, name: 'taken', host: 'theirs.example.com' }, 'neighbours')).toMatchObject({ settings: { host: 'theirs.example.com' } });
    expect((await call('GET', '/admin/v1/connectors/taken')).body).toMatchObject({ settings: { host: 'db.example.com' } });
  });
});

describe('changing and testing connectors', () => {
  it('a secret left out is kept: its hint stays and a test still gets it', async () => {
    await create({ ...warehouse, name: 'kept' });
    const changed = await call('PATCH', '/admin/v1/connectors/kept', { port: 6543, sslmode: 'require' });
    expect(changed).toMatchObject({
      status: 200,
      body: { settings: { host: 'db.example.com', port: 6543, sslmode: 'require' }, secrets: { password: '****2e1b' }, endpoints: ['db.example.com:6543'] },
    });
    tester.answer = { ok: true, message: 'connected as reader' };
    expect((await call('POST', '/admin/v1/connectors/kept/test')).status).toBe(200);
    expect(tester.seen.at(-1)).toEqual({
      name: 'kept',
      settings: { type: 'postgresql', host: 'db.example.com', port: 6543, database: 'analytics', user: 'reader', password: SECRETS.postgresPassword, sslmode: 'require' },
    });

    const rotated = await call('PATCH', '/admin/v1/connectors/kept', { password: SECRETS.postgresNewPassword });
    expect(rotated.body).toMatchObject({ secrets: { password: '****aa90' }, settings: { port: 6543 } });
    await call('POST', '/admin/v1/connectors/kept/test');
    expect(tester.seen.at(-1)?.settings).toMatchObject({ password: SECRETS.postgresNewPassword, port: 6543 });
  });

  it('null removes an optional setting (a secret too) and restores a default; a required one cannot be removed', async () => {
    await create({
      name: 'lake-2',
      type: 's3',
      region: 'eu-west-1',
      bucket: 'acme-lake',
      endpoint: 'https://minio.example.com:9000',
      access_key_id: SECRETS.s3AccessKeyId,
      secret_access_key: SECRETS.s3SecretAccessKey,
      session_token: SECRETS.s3SessionToken,
    });
    const changed = await call('PATCH', '/admin/v1/connectors/lake-2', { bucket: null, endpoint: null, region: null, session_token: null });
    expect(changed.status).toBe(200);
    expect(changed.body.settings).toEqual({ region: 'us-east-1', path_style: false });
    expect(changed.body.secrets).toEqual({ access_key_id: '****MPLE', secret_access_key: '****EKEY' });
    expect(changed.body.endpoints).toEqual(['s3.us-east-1.amazonaws.com:443', '*.s3.us-east-1.amazonaws.com:443']);
    expect(await call('PATCH', '/admin/v1/connectors/lake-2', { secret_access_key: null })).toMatchObject(invalid(/^secret_access_key: /));
    expect((await call('GET', '/admin/v1/connectors/lake-2')).body.secrets).toEqual({ access_key_id: '****MPLE', secret_access_key: '****EKEY' });
  });

  it('the type and name never change, and a change is checked as a creation is', async () => {
    await create({ ...warehouse, name: 'checked' });
    const before = (await call('GET', '/admin/v1/connectors/checked')).body;
    expect(await call('PATCH', '/admin/v1/connectors/checked', { type: 'mysql' })).toMatchObject(invalid(/^type: a connector's type never changes/));
    expect(await call('PATCH', '/admin/v1/connectors/checked', { type: 'postgresql' })).toMatchObject(invalid(/^type: /));
    expect(await call('PATCH', '/admin/v1/connectors/checked', { name: 'renamed' })).toMatchObject(invalid(/^name: a connector's name never changes/));
    expect(await call('PATCH', '/admin/v1/connectors/checked', { port: 70_000 })).toMatchObject(invalid(/^port: /));
    expect(await call('PATCH', '/admin/v1/connectors/checked', { host: 'localhost' })).toMatchObject(invalid(/^host: a loopback address/));
    expect(await call('PATCH', '/admin/v1/connectors/checked', { password: 'short' })).toMatchObject(invalid(/^password: at least 8 characters/));
    expect(await call('PATCH', '/admin/v1/connectors/checked', { schema: 'public' })).toMatchObject(invalid(/unknown field "schema"/));
    expect(await call('GET', '/admin/v1/connectors/checked')).toEqual({ status: 200, body: before });
    expect(await call('GET', '/admin/v1/connectors/renamed')).toMatchObject(refusal(404, 'not_found', 'no connector "renamed" in organization "default"'));

    await create({ name: 'api-2', type: 'http_api', base_url: 'https://api.example.com', env_var: 'API_KEY', api_key: SECRETS.httpApiKey });
    expect(await call('PATCH', '/admin/v1/connectors/api-2', { base_url_env_var: 'API_KEY' })).toMatchObject(invalid('base_url_env_var: must differ from env_var'));
    expect(await call('PATCH', '/admin/v1/connectors/api-2', { env_var: 'LD_PRELOAD' })).toMatchObject(invalid(/^env_var: a name the sandbox sets itself/));
  });

  it('a test records its status, message and time; a change makes the connector untested again', async () => {
    await create({ ...warehouse, name: 'tested' });
    tester.answer = { ok: false, message: 'password authentication failed for user "reader"' };
    const failed = await call('POST', '/admin/v1/connectors/tested/test');
    expect(failed).toEqual({
      status: 200,
      body: { status: 'failed', message: 'password authentication failed for user "reader"', duration_ms: expect.any(Number), tested_at: expect.any(String) },
    });
    expect((await call('GET', '/admin/v1/connectors/tested')).body).toMatchObject({
      status: 'failed',
      status_message: 'password authentication failed for user "reader"',
      tested_at: failed.body.tested_at,
    });

    tester.answer = { ok: true, message: 'connected as reader' };
    const passed = await call('POST', '/admin/v1/connectors/tested/test');
    expect(passed.body).toMatchObject({ status: 'ok', message: 'connected as reader' });
    expect((await call('GET', '/admin/v1/connectors')).body.connectors).toContainEqual(
      expect.objectContaining({ name: 'tested', status: 'ok', status_message: 'connected as reader', tested_at: passed.body.tested_at }),
    );

    const changed = await call('PATCH', '/admin/v1/connectors/tested', { database: 'reporting' });
    expect(changed.body).toMatchObject({ status: 'untested', status_message: null, tested_at: null, settings: { database: 'reporting' } });
    expect((await call('GET', '/admin/v1/connectors/tested')).body).toMatchObject({ status: 'untested', status_message: null, tested_at: null });
    expect(await call('POST', '/admin/v1/connectors/missing/test')).toMatchObject(refusal(404, 'not_found', 'no connector "missing" in organization "default"'));
  });

  it('a server that cannot run probes (no network) answers a failed test saying so, never a 5xx', async () => {
    const untestable = await startAdminApp();
    try {
      expect((await untestable.call('POST', '/admin/v1/connectors', warehouse)).status).toBe(201);
      const tested = await untestable.call('POST', '/admin/v1/connectors/warehouse/test');
      expect(tested).toEqual({
        status: 200,
        body: {
          status: 'failed',
          message: expect.stringMatching(/^no probe could run: this server runs sandboxes without network \(AIRLOCK_NETWORK=off\).*turn AIRLOCK_NETWORK on$/),
          duration_ms: expect.any(Number),
          tested_at: expect.any(String),
        },
      });
      expect((await untestable.call('GET', '/admin/v1/connectors/warehouse')).body).toMatchObject({
        status: 'failed',
        status_message: tested.body.message,
        tested_at: tested.body.tested_at,
      });
      expect(await untestable.call('POST', '/admin/v1/connectors/missing/test')).toMatchObject(refusal(404, 'not_found', /no connector "missing"/));
    } finally {
      await untestable.close();
    }
  });
});

describe('attaching connectors to sandbox configs', () => {
  it('attaches (twice is fine), lists, detaches once, and deletes a connector only once detached', async () => {
    await create({ ...warehouse, name: 'shared' });
    expect((await call('POST', '/admin/v1/sandboxes', { name: 'analysts' })).status).toBe(201);
    const attached = await call('POST', '/admin/v1/sandboxes/analysts/connectors', { connector: 'shared' });
    expect(attached).toMatchObject({ status: 200, body: { connectors: [expect.objectContaining({ name: 'shared', used_by: ['analysts'], secrets: { password: '****2e1b' } })] } });
    expect(await call('POST', '/admin/v1/sandboxes/analysts/connectors', { connector: 'shared' })).toEqual(attached);
    expect(await call('GET', '/admin/v1/sandboxes/analysts/connectors')).toEqual(attached);
    expect((await call('GET', '/admin/v1/connectors/shared')).body.used_by).toEqual(['analysts']);

    expect(await call('DELETE', '/admin/v1/connectors/shared')).toMatchObject(
      refusal(409, 'conflict', /^connector "shared" is attached to sandbox configs "analysts"; detach it there first/),
    );
    expect(await call('DELETE', '/admin/v1/sandboxes/analysts/connectors/shared')).toEqual({ status: 204, body: {} });
    expect(await call('DELETE', '/admin/v1/sandboxes/analysts/connectors/shared')).toMatchObject(
      refusal(404, 'not_found', 'sandbox config "analysts" does not attach connector "shared"'),
    );
    expect(await call('GET', '/admin/v1/sandboxes/analysts/connectors')).toEqual({ status: 200, body: { connectors: [] } });
    expect(await call('DELETE', '/admin/v1/connectors/shared')).toEqual({ status: 204, body: {} });
    expect(await call('GET', '/admin/v1/connectors/shared')).toMatchObject(refusal(404, 'not_found', 'no connector "shared" in organization "default"'));
    expect(await call('DELETE', '/admin/v1/connectors/shared')).toMatchObject(refusal(404, 'not_found', /no connector "shared"/));
  });

  it('a connector attached to a deleted sandbox config can be deleted', async () => {
    await create({ ...warehouse, name: 'orphaned' });
    await call('POST', '/admin/v1/sandboxes', { name: 'short-lived' });
    await call('POST', '/admin/v1/sandboxes/short-lived/connectors', { connector: 'orphaned' });
    expect((await call('DELETE', '/admin/v1/sandboxes/short-lived')).status).toBe(204);
    expect((await call('GET', '/admin/v1/connectors/orphaned')).body.used_by).toEqual([]);
    expect(await call('DELETE', '/admin/v1/connectors/orphaned')).toEqual({ status: 204, body: {} });
  });

  it('refuses a connector whose variables another connector of the sandbox config, or its env_vars, set', async () => {
    const api = { type: 'http_api', base_url: 'https://api.example.com', api_key: 'key-value-00000001' };
    await create({ ...api, name: 'claude-a', env_var: 'ANTHROPIC_API_KEY' });
    await create({ ...api, name: 'claude-b', env_var: 'ANTHROPIC_API_KEY' });
    await call('POST', '/admin/v1/sandboxes', { name: 'clashes', env_vars: { OPENAI_API_KEY: 'set-here' } });
    expect((await call('POST', '/admin/v1/sandboxes/clashes/connectors', { connector: 'claude-a' })).status).toBe(200);
    expect(await call('POST', '/admin/v1/sandboxes/clashes/connectors', { connector: 'claude-b' })).toEqual(
      invalid('connector: "claude-b" and connector "claude-a" of sandbox config "clashes" both set ANTHROPIC_API_KEY; a call cannot give both'),
    );
    await create({ ...api, name: 'openai', env_var: 'OPENAI_API_KEY' });
    expect(await call('POST', '/admin/v1/sandboxes/clashes/connectors', { connector: 'openai' })).toEqual(
      invalid('connector: "openai" sets OPENAI_API_KEY, which sandbox config "clashes" sets in its env_vars; remove it there first'),
    );
  });

  it("unknown connectors and sandbox configs, and another organization's connector, are 404", async () => {
    await create({ ...warehouse, name: 'ours' });
    await call('POST', '/admin/v1/organizations', { name: 'Others', slug: 'others' });
    await create({ ...warehouse, name: 'theirs', host: 'theirs.example.com' }, 'others');

    expect(await call('GET', '/admin/v1/connectors/theirs')).toMatchObject(refusal(404, 'not_found', 'no connector "theirs" in organization "default"'));
    expect(await call('PATCH', '/admin/v1/connectors/theirs', { port: 6000 })).toMatchObject(refusal(404, 'not_found', /no connector "theirs"/));
    expect(await call('POST', '/admin/v1/connectors/theirs/test')).toMatchObject(refusal(404, 'not_found', /no connector "theirs"/));
    expect(await call('DELETE', '/admin/v1/connectors/theirs')).toMatchObject(refusal(404, 'not_found', /no connector "theirs"/));
    expect(await call('POST', '/admin/v1/sandboxes/default/connectors', { connector: 'theirs' })).toMatchObject(refusal(404, 'not_found', /no connector "theirs"/));
    expect(await call('POST', '/admin/v1/sandboxes/default/connectors', { connector: 'nowhere' })).toMatchObject(refusal(404, 'not_found', /no connector "nowhere"/));
    expect(await call('POST', '/admin/v1/sandboxes/missing/connectors', { connector: 'ours' })).toMatchObject(refusal(404, 'not_found', /"missing"/));
    expect(await call('DELETE', '/admin/v1/sandboxes/default/connectors/nowhere')).toMatchObject(refusal(404, 'not_found', /no connector "nowhere"/));
    expect(await call('GET', '/admin/v1/connectors/ours?organization=others')).toMatchObject(refusal(404, 'not_found', 'no connector "ours" in organization "others"'));
    expect(await call('GET', '/admin/v1/connectors?organization=nowhere')).toMatchObject(refusal(404, 'not_found', /no organization "nowhere"/));

    const theirs = (await call('GET', '/admin/v1/connectors?organization=others')).body.connectors as Array<{ name: string }>;
    expect(theirs.map((connector) => connector.name)).toEqual(['theirs']);
    expect((await call('GET', '/admin/v1/connectors/theirs')).status).toBe(404);
    expect((await call('GET', '/admin/v1/sandboxes/default/connectors')).body.connectors).toEqual([]);
  });
});

describe('API keys that keep some connectors', () => {
  it('a key keeps only attached connectors; its calls get those, secrets opened', async () => {
    await call('POST', '/admin/v1/sandboxes', { name: 'reporting' });
    await create({ ...warehouse, name: 'reports-db', password: SECRETS.postgresPassword });
    await create({ name: 'reports-api', type: 'http_api', base_url: 'https://api.example.com', env_var: 'REPORTS_API_KEY', api_key: SECRETS.httpApiKey });
    await create({ name: 'not-attached', type: 'github', token: SECRETS.githubToken });
    for (const connector of ['reports-db', 'reports-api']) {
      expect((await call('POST', '/admin/v1/sandboxes/reporting/connectors', { connector })).status).toBe(200);
    }

    expect(await call('POST', '/admin/v1/api-keys', { name: 'wider', sandbox: 'reporting', connectors: ['reports-db', 'not-attached'] })).toMatchObject(
      invalid(/^connectors: sandbox config "reporting" does not attach connector "not-attached" \(it attaches: "reports-api", "reports-db"\)/),
    );

    const narrowed = await call('POST', '/admin/v1/api-keys', { name: 'db-only', sandbox: 'reporting', connectors: ['reports-db'] });
    expect(narrowed).toMatchObject({ status: 201, body: { name: 'db-only', sandbox: 'reporting', connectors: ['reports-db'] } });
    const listed = (await call('GET', '/admin/v1/api-keys')).body.api_keys as Array<Record<string, unknown>>;
    expect(listed.find((key) => key.name === 'db-only')).toMatchObject({ connectors: ['reports-db'] });

    const principal = await adminApp.keys.authenticate(`Bearer ${narrowed.body.key as string}`);
    expect(await adminApp.connectors.forCall(principal)).toEqual([
      {
        name: 'reports-db',
        settings: { type: 'postgresql', host: 'db.example.com', port: 5432, database: 'analytics', user: 'reader', password: SECRETS.postgresPassword, sslmode: 'prefer' },
      },
    ]);

    const whole = await call('POST', '/admin/v1/api-keys', { name: 'all-connectors', sandbox: 'reporting' });
    expect(whole).toMatchObject({ status: 201, body: { connectors: null } });
    const all = await adminApp.connectors.forCall(await adminApp.keys.authenticate(`Bearer ${whole.body.key as string}`));
    expect(all.map((connector) => connector.name)).toEqual(['reports-api', 'reports-db']);
    expect(all[0]?.settings).toMatchObject({ type: 'http_api', api_key: SECRETS.httpApiKey });

    const none = await call('POST', '/admin/v1/api-keys', { name: 'no-connectors', sandbox: 'reporting', connectors: [] });
    expect(none).toMatchObject({ status: 201, body: { connectors: [] } });
    expect(await adminApp.connectors.forCall(await adminApp.keys.authenticate(`Bearer ${none.body.key as string}`))).toEqual([]);

    // A key keeps nothing once its sandbox config detaches the connector.
    await call('DELETE', '/admin/v1/sandboxes/reporting/connectors/reports-db');
    expect(await adminApp.connectors.forCall(principal)).toEqual([]);
  });
});

describe('secrets', () => {
  it('no answer and no log line holds a secret value', () => {
    const everything = [...adminApp.answers, ...adminApp.logLines].join('\n');
    expect(adminApp.answers.length).toBeGreaterThan(50);
    for (const secret of [...Object.values(SECRETS), JSON.stringify(serviceAccountJson), 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC-connector-secret']) {
      expect(everything, secret).not.toContain(secret);
    }
  });
});
