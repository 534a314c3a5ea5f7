import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminApp } from '../../test-support/admin-app.js';

// Storage administration in-process on PGlite: connections, volumes, attachments and key narrowing, through the
// request schemas, the services and the error mapping. Every answer and log line is kept and searched for secrets.
let adminApp: Awaited<ReturnType<typeof startAdminApp>>;
let fakeRcloneDirectory: string;

const SERVICE_ACCOUNT_KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-service-account-secret\n-----END PRIVATE KEY-----\n';
const SECRETS = {
  s3AccessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  s3SecretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  s3NewSecretAccessKey: 'rotatedSecretAccessKey/0123456789abcdefWXYZ',
  serviceAccountKey: SERVICE_ACCOUNT_KEY,
  hmacAccessId: 'GOOG1EHMACACCESSIDEXAMPLE',
  hmacSecret: 'hmacSecretValue+0123456789abcdefQRST',
  azureKey: 'azureAccountKeyBase64Value0123456789==',
  azureSasUrl: 'https://acmestorage.blob.core.windows.net/archive?sv=2022-11-02&sp=rl&sig=SASSIGNATUREVALUE0123',
  azureConnectionString:
    'DefaultEndpointsProtocol=https;AccountName=acmestorage;AccountKey=connectionStringAccountKey0123==;EndpointSuffix=core.windows.net',
};
const serviceAccountJson = JSON.stringify({
  type: 'service_account',
  project_id: 'acme',
  client_email: 'airlock@acme.iam.gserviceaccount.com',
  private_key: SECRETS.serviceAccountKey,
});

beforeAll(async () => {
  // Connection tests run a stand-in for rclone that fails as rclone does, its error quoting how it was run: its
  // arguments and its whole environment, the connection's credentials in it.
  fakeRcloneDirectory = mkdtempSync(join(tmpdir(), 'airlock-fake-rclone-'));
  const rclone = join(fakeRcloneDirectory, 'rclone');
  writeFileSync(rclone, '#!/bin/sh\nprintf \'%s\\n\' "2026/12/05 00:00:00 NOTICE: Failed to $1: refused: $* $(env | tr \'\\n\' \' \')" >&2\nexit 1\n');
  chmodSync(rclone, 0o755);
  adminApp = await startAdminApp({ rclone });
});

afterAll(async () => {
  await adminApp?.close();
  if (fakeRcloneDirectory) rmSync(fakeRcloneDirectory, { recursive: true, force: true });
});

const call = (method: string, path: string, json?: unknown) => adminApp.call(method, path, json);

const refusal = (status: number, error: string, message: string | RegExp) => ({
  status,
  body: expect.objectContaining({ error, message: typeof message === 'string' ? message : expect.stringMatching(message) }),
});
const invalid = (message: string | RegExp) => refusal(400, 'validation_error', message);

const s3Connection = {
  provider: 's3',
  name: 'Company data',
  mount_name: 'company-data',
  bucket: 'acme-data',
  endpoint: 'http://127.0.0.1:9000',
  region: 'eu-west-1',
  path_style: true,
  access_key_id: SECRETS.s3AccessKeyId,
  secret_access_key: SECRETS.s3SecretAccessKey,
  prefix: 'exports',
};

describe('storage connections', () => {
  it('an s3 connection is created, read and listed with hints of its keys, never the keys', async () => {
    const created = await call('POST', '/admin/v1/storage-connections', s3Connection);
    expect(created).toEqual({
      status: 201,
      body: {
        id: expect.stringMatching(/^stc_/),
        provider: 's3',
        name: 'Company data',
        mount_name: 'company-data',
        bucket: 'acme-data',
        endpoint: 'http://127.0.0.1:9000',
        region: 'eu-west-1',
        path_style: true,
        anonymous: false,
        prefix: 'exports',
        read_only: false,
        sync_mode: 'write_back',
        credentials: { access_key_id: '****MPLE', secret_access_key: '****EKEY' },
        created_at: expect.any(String),
        updated_at: expect.any(String),
      },
    });
    const id = created.body.id as string;
    expect(await call('GET', `/admin/v1/storage-connections/${id}`)).toEqual({ status: 200, body: created.body });
    expect((await call('GET', '/admin/v1/storage-connections')).body.connections).toContainEqual(created.body);
    expect(await call('GET', `/admin/v1/storage-connections/${id}?organization=nowhere`)).toMatchObject(refusal(404, 'not_found', 'no organization "nowhere"'));
    expect(await call('GET', '/admin/v1/storage-connections/stc_missing')).toMatchObject(
      refusal(404, 'not_found', 'no storage connection stc_missing in organization "default"'),
    );

    const [row] = await adminApp.database.query<{ sealed_credentials: string }>('SELECT sealed_credentials FROM storage_connections WHERE id = $1', [id]);
    expect(row?.sealed_credentials).toMatch(/^v1\./);
    expect(row?.sealed_credentials).not.toContain(SECRETS.s3SecretAccessKey);
    expect(await adminApp.storage.openConnection(await defaultOrganizationId(), id)).toEqual({
      provider: 's3',
      bucket: 'acme-data',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      path_style: true,
      access_key_id: SECRETS.s3AccessKeyId,
      secret_access_key: SECRETS.s3SecretAccessKey,
    });
  });

  it('gcs and azure connections sign in one way each; hints show the service account or the last characters', async () => {
    const gcs = await call('POST', '/admin/v1/storage-connections', {
      provider: 'gcs',
      name: 'Warehouse',
      mount_name: 'warehouse',
      bucket: 'acme-warehouse',
      service_account_json: serviceAccountJson,
      read_only: true,
      sync_mode: 'strict',
    });
    expect(gcs).toMatchObject({
      status: 201,
      body: { provider: 'gcs', read_only: true, sync_mode: 'strict', credentials: { service_account_json: 'airlock@acme.iam.gserviceaccount.com' } },
    });
    const azure = await call('POST', '/admin/v1/storage-connections', {
      provider: 'azure',
      name: 'Archive',
      mount_name: 'archive',
      container: 'archive',
      account: 'acmestorage',
      key: SECRETS.azureKey,
    });
    expect(azure).toMatchObject({ status: 201, body: { provider: 'azure', container: 'archive', account: 'acmestorage', credentials: { key: '****89==' } } });
    const anonymous = await call('POST', '/admin/v1/storage-connections', {
      provider: 's3',
      name: 'Open data',
      mount_name: 'open-data',
      bucket: 'noaa-ghcn-pds',
      anonymous: true,
      read_only: true,
    });
    expect(anonymous).toMatchObject({ status: 201, body: { anonymous: true, credentials: {} } });
  });

  it('refuses what cannot sign in or is not the provider’s, naming the field and never repeating a secret', async () => {
    const base = { name: 'Bad', mount_name: 'bad' };
    const cases: Array<[unknown, ReturnType<typeof invalid>]> = [
      [{ ...base, provider: 'ftp' }, invalid("provider: 's3' (any S3-compatible store), 'gcs' or 'azure'")],
      [{ ...base }, invalid("provider: 's3' (any S3-compatible store), 'gcs' or 'azure'")],
      [
        { ...base, provider: 's3', bucket: 'acme-data', access_key_id: SECRETS.s3AccessKeyId },
        invalid('secret_access_key: a connection to s3 needs access_key_id and secret_access_key (or anonymous: true for a public bucket)'),
      ],
      [
        { ...base, provider: 's3', bucket: 'acme-data', anonymous: true, secret_access_key: SECRETS.s3SecretAccessKey },
        invalid('secret_access_key: an anonymous connection signs in with no credentials; leave them out, or send anonymous: false'),
      ],
      [{ ...base, provider: 's3', bucket: 'acme-data', container: 'archive', anonymous: true }, invalid('unknown field "container"')],
      [{ ...base, provider: 's3', bucket: 'acme-data', anonymous: true, prefix: 'exports/../secrets' }, invalid('prefix: must not contain "." or ".." segments')],
      [{ ...base, provider: 's3', bucket: 'acme-data', anonymous: true, prefix: '/exports' }, invalid(/^prefix: must be relative/)],
      [{ ...base, mount_name: 'Bad Name', provider: 's3', bucket: 'acme-data', anonymous: true }, invalid(/^mount_name: the mount name "Bad Name" must match/)],
      [
        { ...base, provider: 's3', bucket: 'acme-data', anonymous: true, endpoint: `https://user:${SECRETS.s3AccessKeyId}@s3.example.com` },
        invalid('endpoint: must not hold credentials; give them in their own fields'),
      ],
      [
        { ...base, provider: 'gcs', bucket: 'acme-data', service_account_json: `{"private_key": "${SECRETS.hmacSecret}"}` },
        invalid('service_account_json: not a service account key file (a JSON object with "type": "service_account", client_email and private_key)'),
      ],
      [
        {
          ...base,
          provider: 'gcs',
          bucket: 'acme-data',
          service_account_json: serviceAccountJson,
          hmac: { access_key_id: SECRETS.hmacAccessId, secret: SECRETS.hmacSecret },
        },
        invalid('hmac: a connection to gcs signs in with service_account_json or with hmac, not both'),
      ],
      [
        { ...base, provider: 'gcs', bucket: 'acme-data' },
        invalid('service_account_json: a connection to gcs needs service_account_json or hmac (or anonymous: true for a public bucket)'),
      ],
      [
        { ...base, provider: 'gcs', bucket: 'acme-data', anonymous: true, hmac: { access_key_id: SECRETS.hmacAccessId, secret: SECRETS.hmacSecret } },
        invalid('hmac: an anonymous connection signs in with no credentials; leave them out, or send anonymous: false'),
      ],
      [
        { ...base, provider: 'azure', container: 'archive', sas_url: SECRETS.azureSasUrl, endpoint: 'http://127.0.0.1:10000/devstoreaccount1' },
        invalid('endpoint: goes with account and key; sas_url and connection_string carry their own URL'),
      ],
      [{ ...base, provider: 'azure', container: 'archive', anonymous: true }, invalid('unknown field "anonymous"')],
      [{ ...base, provider: 'azure', container: 'archive', account: 'acmestorage' }, invalid('key: the account needs its key')],
      [{ ...base, provider: 'azure', container: 'archive', key: SECRETS.azureKey }, invalid('account: an account key needs its account')],
      [
        { ...base, provider: 'azure', container: 'archive', sas_url: SECRETS.azureSasUrl, connection_string: SECRETS.azureConnectionString },
        invalid('key: a connection to azure signs in with one of account and key, sas_url or connection_string'),
      ],
      [
        { ...base, provider: 'azure', container: 'archive', account: 'acmestorage', sas_url: SECRETS.azureSasUrl },
        invalid('account: goes with key; sas_url and connection_string name the account themselves'),
      ],
      [{ ...base, provider: 'azure', container: 'archive', sas_url: `ftp://x/${SECRETS.azureKey}` }, invalid('sas_url: must be an http(s) URL')],
      [
        { ...base, provider: 's3', bucket: 'acme-data', access_key_id: `${SECRETS.s3AccessKeyId}\n[injected]`, secret_access_key: SECRETS.s3SecretAccessKey },
        invalid('access_key_id: must be one line without control characters'),
      ],
    ];
    for (const [body, expected] of cases) expect(await call('POST', '/admin/v1/storage-connections', body), JSON.stringify(body)).toMatchObject(expected);
    expect((await call('GET', '/admin/v1/storage-connections')).body.connections).not.toContainEqual(expect.objectContaining({ name: 'Bad' }));
  });

  it('a change keeps secrets left out, replaces those sent, and switches the way of signing in', async () => {
    const created = await call('POST', '/admin/v1/storage-connections', { ...s3Connection, name: 'Changing', mount_name: 'changing' });
    const id = created.body.id as string;
    const organizationId = await defaultOrganizationId();

    const renamed = await call('PATCH', `/admin/v1/storage-connections/${id}`, { name: 'Renamed', prefix: '', region: null });
    expect(renamed).toMatchObject({ status: 200, body: { name: 'Renamed', prefix: '', region: null, credentials: created.body.credentials } });
    expect(await adminApp.storage.openConnection(organizationId, id)).toMatchObject({ access_key_id: SECRETS.s3AccessKeyId, secret_access_key: SECRETS.s3SecretAccessKey });

    const rotated = await call('PATCH', `/admin/v1/storage-connections/${id}`, { secret_access_key: SECRETS.s3NewSecretAccessKey });
    expect(rotated.body.credentials).toEqual({ access_key_id: '****MPLE', secret_access_key: '****WXYZ' });
    expect(await adminApp.storage.openConnection(organizationId, id)).toMatchObject({ access_key_id: SECRETS.s3AccessKeyId, secret_access_key: SECRETS.s3NewSecretAccessKey });

    expect(await call('PATCH', `/admin/v1/storage-connections/${id}`, { anonymous: true })).toMatchObject({ status: 200, body: { anonymous: true, credentials: {} } });
    expect(await call('PATCH', `/admin/v1/storage-connections/${id}`, { anonymous: false })).toMatchObject(
      invalid('access_key_id: a connection to s3 needs access_key_id and secret_access_key (or anonymous: true for a public bucket)'),
    );
    const keyed = { access_key_id: SECRETS.s3AccessKeyId, secret_access_key: SECRETS.s3SecretAccessKey };
    expect(await call('PATCH', `/admin/v1/storage-connections/${id}`, keyed)).toMatchObject({ status: 200, body: { anonymous: false } });
    expect(await adminApp.storage.openConnection(organizationId, id)).toMatchObject(keyed);
    expect(await call('PATCH', `/admin/v1/storage-connections/${id}`, { container: 'archive' })).toMatchObject(
      invalid('container: a connection to s3 has no container (its fields: bucket, endpoint, region, path_style, anonymous, access_key_id, secret_access_key); the provider cannot change'),
    );
    expect(await call('PATCH', `/admin/v1/storage-connections/${id}`, { provider: 'gcs' })).toMatchObject(invalid('unknown field "provider"'));

    const azure = await call('POST', '/admin/v1/storage-connections', {
      provider: 'azure',
      name: 'Switching',
      mount_name: 'switching',
      container: 'archive',
      account: 'acmestorage',
      key: SECRETS.azureKey,
    });
    const azureId = azure.body.id as string;
    expect(await call('PATCH', `/admin/v1/storage-connections/${azureId}`, { sas_url: SECRETS.azureSasUrl })).toMatchObject({
      status: 200,
      body: { account: null, credentials: { sas_url: '****0123' } },
    });
    expect(await adminApp.storage.openConnection(organizationId, azureId)).toEqual({ provider: 'azure', container: 'archive', sas_url: SECRETS.azureSasUrl });
    expect(await call('PATCH', `/admin/v1/storage-connections/${azureId}`, { endpoint: null, name: 'Still SAS' })).toMatchObject({
      status: 200,
      body: { name: 'Still SAS', endpoint: null, credentials: { sas_url: '****0123' } },
    });
    expect(await call('PATCH', `/admin/v1/storage-connections/${azureId}`, { account: 'acmestorage' })).toMatchObject(invalid('key: the account needs its key'));
    expect(await call('PATCH', `/admin/v1/storage-connections/${azureId}`, { connection_string: SECRETS.azureConnectionString })).toMatchObject({
      status: 200,
      body: { credentials: { connection_string: '****.net' } },
    });

    const gcs = await call('POST', '/admin/v1/storage-connections', {
      provider: 'gcs',
      name: 'Switching gcs',
      mount_name: 'switching-gcs',
      bucket: 'acme-warehouse',
      service_account_json: serviceAccountJson,
    });
    const hmac = await call('PATCH', `/admin/v1/storage-connections/${gcs.body.id as string}`, {
      hmac: { access_key_id: SECRETS.hmacAccessId, secret: SECRETS.hmacSecret },
    });
    expect(hmac.body.credentials).toEqual({ 'hmac.access_key_id': '****MPLE', 'hmac.secret': '****QRST' });
    expect(await call('PATCH', `/admin/v1/storage-connections/${gcs.body.id as string}`, { anonymous: true, endpoint: 'http://127.0.0.1:4443/storage/v1/' })).toMatchObject({
      status: 200,
      body: { anonymous: true, credentials: {} },
    });
    expect(await adminApp.storage.openConnection(organizationId, gcs.body.id as string)).toEqual({
      provider: 'gcs',
      bucket: 'acme-warehouse',
      endpoint: 'http://127.0.0.1:4443/storage/v1/',
      anonymous: true,
    });
  });
});

describe('testing a connection', () => {
  it("runs rclone with the connection's remote and prefix and nothing else, and answers its failure without a secret", async () => {
    const connections = (await call('GET', '/admin/v1/storage-connections')).body.connections as Array<Record<string, unknown>>;
    expect(connections.map((connection) => connection.provider)).toEqual(expect.arrayContaining(['s3', 'gcs', 'azure']));
    for (const connection of connections) {
      const tested = await call('POST', `/admin/v1/storage-connections/${connection.id as string}/test`);
      const where = `${(connection.bucket ?? connection.container) as string}${connection.prefix === '' ? '' : `/${connection.prefix as string}`}`;
      expect(tested, JSON.stringify(connection)).toEqual({
        status: 200,
        body: {
          reachable: false,
          writable: connection.read_only ? null : false,
          checked_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
          message: expect.stringContaining(`Not reachable: listing "${where}" failed: refused: lsf --max-depth 1 bucket:${where} --config /dev/null --low-level-retries 1`),
        },
      });
      const message = tested.body.message as string;
      const variables = [...message.matchAll(/(?:^| )([A-Z][A-Z0-9_]*)=/g)].map((match) => match[1]!);
      expect(variables.filter((name) => !name.startsWith('RCLONE_CONFIG_BUCKET_')).sort()).toEqual(['PATH', 'PWD', 'RCLONE_CONFIG']);
      expect(message).toMatch(/ PATH=\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin:\/sbin:\/bin[ ;]/);
      expect(message).toMatch(/ RCLONE_CONFIG=\/dev\/null[ ;]/);
      if (Object.keys(connection.credentials as object).length > 0) expect(message).toMatch(/ RCLONE_CONFIG_BUCKET_[A-Z_]+=\*\*\*\*[ ;]/);
    }
  });

  it('is refused for a connection the organization does not have, and without the admin token', async () => {
    expect(await call('POST', '/admin/v1/storage-connections/stc_missing/test')).toMatchObject(
      refusal(404, 'not_found', 'no storage connection stc_missing in organization "default"'),
    );
    const response = await adminApp.request('/admin/v1/storage-connections/stc_missing/test', { method: 'POST' });
    expect(response.status).toBe(401);
  });
});

describe('sealed credentials', () => {
  it('belong to their row: a value copied to another connection does not open, and the failure logs no secret', async () => {
    const first = await call('POST', '/admin/v1/storage-connections', { ...s3Connection, name: 'First', mount_name: 'first' });
    const second = await call('POST', '/admin/v1/storage-connections', { ...s3Connection, name: 'Second', mount_name: 'second' });
    await adminApp.database.query(
      `UPDATE storage_connections SET sealed_credentials = (SELECT sealed_credentials FROM storage_connections WHERE id = $1) WHERE id = $2`,
      [first.body.id, second.body.id],
    );
    const loggedBefore = adminApp.logLines.length;
    expect(await call('PATCH', `/admin/v1/storage-connections/${second.body.id as string}`, { name: 'Moved' })).toMatchObject({
      status: 500,
      body: { error: 'internal_error' },
    });
    expect(adminApp.logLines.slice(loggedBefore).join('')).toContain('sealed value does not authenticate');
    await expect(adminApp.storage.openConnection(await defaultOrganizationId(), second.body.id as string)).rejects.toThrow(/does not authenticate/);
    expect(await call('DELETE', `/admin/v1/storage-connections/${second.body.id as string}`)).toEqual({ status: 204, body: {} });
  });
});

describe('volumes', () => {
  it('are created with a slug unique in the organization, changed, and read with their usage', async () => {
    const created = await call('POST', '/admin/v1/volumes', { name: 'Scratch', slug: 'scratch', quota_bytes: 10_737_418_240 });
    expect(created).toEqual({
      status: 201,
      body: {
        id: expect.stringMatching(/^vol_/),
        name: 'Scratch',
        slug: 'scratch',
        quota_bytes: 10_737_418_240,
        used_bytes: null,
        used_measured_at: null,
        created_at: expect.any(String),
        updated_at: expect.any(String),
      },
    });
    expect(await call('POST', '/admin/v1/volumes', { name: 'Again', slug: 'scratch' })).toMatchObject(
      refusal(409, 'conflict', 'volume "scratch" exists in organization "default"'),
    );
    expect(await call('POST', '/admin/v1/volumes', { name: 'Bad', slug: '-bad' })).toMatchObject(invalid(/^slug: the mount name "-bad" must match/));
    expect(await call('POST', '/admin/v1/volumes', { name: 'Bad', slug: 'bad', quota_bytes: 0 })).toMatchObject(invalid('quota_bytes: at least 1 byte'));
    expect(await call('PATCH', '/admin/v1/volumes/scratch', { quota_bytes: null, name: 'Scratch space' })).toMatchObject({
      status: 200,
      body: { name: 'Scratch space', quota_bytes: null },
    });
    expect(await call('GET', '/admin/v1/volumes/scratch')).toMatchObject({ status: 200, body: { slug: 'scratch', used_bytes: null } });
    expect((await call('GET', '/admin/v1/volumes')).body.volumes).toEqual([expect.objectContaining({ slug: 'scratch' })]);
    expect(await call('GET', '/admin/v1/volumes/missing')).toMatchObject(refusal(404, 'not_found', 'no volume "missing" in organization "default"'));
  });
});

describe('attachments', () => {
  let connectionId: string;
  let readOnlyConnectionId: string;

  beforeAll(async () => {
    connectionId = (await call('POST', '/admin/v1/storage-connections', { ...s3Connection, name: 'Attached', mount_name: 'company' })).body.id as string;
    readOnlyConnectionId = (
      await call('POST', '/admin/v1/storage-connections', { ...s3Connection, name: 'Reference', mount_name: 'reference', read_only: true })
    ).body.id as string;
    await call('POST', '/admin/v1/volumes', { name: 'Shared', slug: 'shared' });
    await call('POST', '/admin/v1/sandboxes', { name: 'analysts' });
    await call('POST', '/admin/v1/sandboxes', { name: 'reporting' });
  });

  it('mount volumes and connections at /data/<mount name>, one per name; a read-only connection stays read-only', async () => {
    const volume = await call('POST', '/admin/v1/sandboxes/analysts/attachments', { volume: 'shared' });
    expect(volume).toEqual({
      status: 201,
      body: {
        id: expect.stringMatching(/^att_/),
        mount_name: 'shared',
        path: '/data/shared',
        kind: 'volume',
        volume: 'shared',
        connection: null,
        read_only: false,
        created_at: expect.any(String),
      },
    });
    expect(await call('POST', '/admin/v1/sandboxes/analysts/attachments', { connection: connectionId })).toMatchObject({
      status: 201,
      body: { mount_name: 'company', path: '/data/company', kind: 'connection', connection: connectionId, volume: null, read_only: false },
    });
    expect(await call('POST', '/admin/v1/sandboxes/analysts/attachments', { connection: readOnlyConnectionId, read_only: false })).toMatchObject(
      invalid('read_only: connection "Reference" is read-only; attach it with read_only: true'),
    );
    expect(await call('POST', '/admin/v1/sandboxes/analysts/attachments', { connection: readOnlyConnectionId })).toMatchObject({
      status: 201,
      body: { mount_name: 'reference', read_only: true },
    });
    expect(await call('POST', '/admin/v1/sandboxes/analysts/attachments', { volume: 'shared', mount_name: 'company' })).toMatchObject(
      refusal(409, 'conflict', 'sandbox config "analysts" mounts something at /data/company already; send another mount_name'),
    );
    expect(await call('POST', '/admin/v1/sandboxes/analysts/attachments', { volume: 'shared', connection: connectionId })).toMatchObject(
      invalid('volume: attach either a volume (its slug in volume) or a connection (its id in connection)'),
    );
    expect(await call('POST', '/admin/v1/sandboxes/analysts/attachments', { mount_name: 'nothing' })).toMatchObject(
      invalid('volume: attach either a volume (its slug in volume) or a connection (its id in connection)'),
    );
    expect(await call('POST', '/admin/v1/sandboxes/analysts/attachments', { volume: 'missing' })).toMatchObject(
      refusal(404, 'not_found', 'no volume "missing" in organization "default"'),
    );
    expect(await call('POST', '/admin/v1/sandboxes/nobody/attachments', { volume: 'shared' })).toMatchObject(
      refusal(404, 'not_found', 'no sandbox config "nobody" in organization "default"'),
    );
    expect(await call('POST', '/admin/v1/sandboxes/reporting/attachments', { volume: 'shared', mount_name: 'reports', read_only: true })).toMatchObject({
      status: 201,
    });
    expect(await call('POST', '/admin/v1/sandboxes/reporting/attachments', { connection: connectionId, mount_name: 'company-ro', read_only: true })).toMatchObject({
      status: 201,
    });
    const listed = await call('GET', '/admin/v1/sandboxes/analysts/attachments');
    expect((listed.body.attachments as Array<{ mount_name: string }>).map((attachment) => attachment.mount_name)).toEqual(['company', 'reference', 'shared']);
  });

  it('an attached volume or connection is not deleted (409 naming the sandbox configs), nor made read-only under a writer', async () => {
    expect(await call('DELETE', `/admin/v1/storage-connections/${connectionId}`)).toMatchObject(
      refusal(
        409,
        'conflict',
        `connection "Attached" (${connectionId}) is attached to the sandbox configs "analysts", "reporting"; detach it from them first (DELETE /admin/v1/sandboxes/{name}/attachments/{mount})`,
      ),
    );
    expect(await call('DELETE', '/admin/v1/volumes/shared')).toMatchObject(
      refusal(409, 'conflict', 'volume "shared" is attached to the sandbox configs "analysts", "reporting"; detach it from them first (DELETE /admin/v1/sandboxes/{name}/attachments/{mount})'),
    );
    expect(await call('PATCH', `/admin/v1/storage-connections/${connectionId}`, { read_only: true })).toMatchObject(
      refusal(409, 'conflict', 'read_only: the sandbox configs "analysts" attach connection "Attached" read-write; detach it there (or attach it read-only) first'),
    );
  });

  it('an API key narrows mounts by name: a deeper prefix, read-only, detached; never wider', async () => {
    const narrowed = await call('POST', '/admin/v1/api-keys', {
      name: 'tenant-a',
      sandbox: 'analysts',
      storage: { company: { prefix: 'tenants/a', read_only: true }, shared: { detached: true }, reference: { prefix: '', read_only: true } },
    });
    expect(narrowed).toMatchObject({
      status: 201,
      body: { storage: { company: { prefix: 'tenants/a', read_only: true }, shared: { detached: true }, reference: { read_only: true } } },
    });
    const listed = (await call('GET', '/admin/v1/api-keys')).body.api_keys as Array<Record<string, unknown>>;
    expect(listed.find((key) => key.name === 'tenant-a')?.storage).toEqual(narrowed.body.storage);
    expect(listed.find((key) => key.name === 'default')?.storage).toEqual({});

    const principal = await adminApp.keys.authenticate(`Bearer ${narrowed.body.key as string}`);
    expect(await adminApp.storage.mountsOf(principal)).toEqual([
      {
        mountName: 'company',
        attachmentId: expect.stringMatching(/^att_/),
        kind: 'connection',
        connectionId,
        syncMode: 'write_back',
        readOnly: true,
        connectionPrefix: 'exports',
        keyPrefix: 'tenants/a',
      },
      {
        mountName: 'reference',
        attachmentId: expect.stringMatching(/^att_/),
        kind: 'connection',
        connectionId: readOnlyConnectionId,
        syncMode: 'write_back',
        readOnly: true,
        connectionPrefix: 'exports',
        keyPrefix: '',
      },
    ]);
    const whole = await call('POST', '/admin/v1/api-keys', { name: 'whole', sandbox: 'analysts' });
    expect((await adminApp.storage.mountsOf(await adminApp.keys.authenticate(`Bearer ${whole.body.key as string}`))).map((mount) => [mount.mountName, mount.readOnly])).toEqual([
      ['company', false],
      ['reference', true],
      ['shared', false],
    ]);

    const cases: Array<[Record<string, unknown>, ReturnType<typeof invalid>]> = [
      [
        { storage: { elsewhere: { prefix: 'a' } } },
        invalid(
          'storage.elsewhere: sandbox config "analysts" attaches nothing at /data/elsewhere (its mounts: company, reference, shared); a key only narrows its sandbox config\'s mounts',
        ),
      ],
      [
        { storage: { reference: { read_only: false } } },
        invalid('storage.reference.read_only: sandbox config "analysts" attaches /data/reference read-only; a key may narrow a mount, never make it writable'),
      ],
      [{ storage: { company: { detached: true, prefix: 'a' } } }, invalid('storage.company: a detached mount takes no prefix or read_only')],
      [{ storage: { company: { prefix: 'tenants/../b' } } }, invalid('storage.company.prefix: must not contain "." or ".." segments')],
      [{ storage: { company: { prefix: '/tenants' } } }, invalid(/^storage\.company\.prefix: must be relative/)],
      [{ storage: { company: { detached: false } } }, invalid('storage.company.detached: only true (the key does not see the mount); leave it out to keep the mount')],
      [{ storage: { 'Company!': {} } }, invalid(/^storage\.Company!: the mount name "Company!" must match/)],
      [{ storage: { company: { bucket: 'x' } } }, invalid('storage.company: unknown field "bucket"')],
    ];
    for (const [body, expected] of cases) {
      expect(await call('POST', '/admin/v1/api-keys', { name: 'refused', sandbox: 'analysts', ...body }), JSON.stringify(body)).toMatchObject(expected);
    }
    expect(await call('POST', '/admin/v1/api-keys', { name: 'refused', storage: { company: {} } })).toMatchObject(
      invalid('storage.company: sandbox config "default" attaches nothing at /data/company (it attaches no storage); a key only narrows its sandbox config\'s mounts'),
    );
  });

  it('detaching frees them for deletion; a deleted sandbox config takes its attachments with it', async () => {
    expect(await call('DELETE', '/admin/v1/sandboxes/analysts/attachments/company')).toEqual({ status: 204, body: {} });
    expect(await call('DELETE', '/admin/v1/sandboxes/analysts/attachments/company')).toMatchObject(
      refusal(404, 'not_found', 'sandbox config "analysts" mounts nothing at /data/company'),
    );
    expect(await call('DELETE', '/admin/v1/sandboxes/reporting')).toEqual({ status: 204, body: {} });
    expect(await call('DELETE', `/admin/v1/storage-connections/${connectionId}`)).toEqual({ status: 204, body: {} });
    expect(await call('GET', `/admin/v1/storage-connections/${connectionId}`)).toMatchObject({ status: 404 });
    await call('DELETE', '/admin/v1/sandboxes/analysts/attachments/shared');
    expect(await call('DELETE', '/admin/v1/volumes/shared')).toEqual({ status: 204, body: {} });
    expect(await call('POST', '/admin/v1/volumes', { name: 'Shared again', slug: 'shared' })).toMatchObject({ status: 201 });
  });

  it('answers only the admin token', async () => {
    const response = await adminApp.request('/admin/v1/storage-connections', { headers: { authorization: 'Bearer sk-test-notadmin0123456789' } });
    expect(response.status).toBe(401);
  });
});

describe('secrets', () => {
  it('appear in no answer and no log line', () => {
    expect(adminApp.answers.length).toBeGreaterThan(50);
    const secrets = [...Object.values(SECRETS), serviceAccountJson, 'service-account-secret'];
    for (const text of [...adminApp.answers, ...adminApp.logLines]) {
      for (const secret of secrets) expect(text).not.toContain(secret);
      expect(text).not.toMatch(/"sealed|v1\.[0-9a-f]{8}\./);
    }
  });
});

async function defaultOrganizationId(): Promise<string> {
  const [row] = await adminApp.database.query<{ id: string }>(`SELECT id FROM organizations WHERE slug = 'default'`);
  return row!.id;
}
