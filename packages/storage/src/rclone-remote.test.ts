import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RCLONE_PATH, RCLONE_VERSION } from './rclone-binary.js';
import { rcloneRemote, rcloneRemotePath, type StorageConnection } from './rclone-remote.js';

const SERVICE_ACCOUNT = '{"type":"service_account","project_id":"p","private_key":"-----BEGIN PRIVATE KEY-----\\n..."}';

describe('rclone remotes from storage connections', () => {
  it('an S3-compatible bucket: provider Other, its endpoint, region and path style, no bucket check', () => {
    const remote = rcloneRemote('conn_1', {
      provider: 's3',
      bucket: 'reports',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      path_style: true,
      access_key_id: 'AKID',
      secret_access_key: 'SECRET',
    });
    expect(remote).toEqual({
      name: 'conn_1',
      bucket: 'reports',
      environment: {
        RCLONE_CONFIG: '/dev/null',
        RCLONE_CONFIG_CONN_1_TYPE: 's3',
        RCLONE_CONFIG_CONN_1_PROVIDER: 'Other',
        RCLONE_CONFIG_CONN_1_ACCESS_KEY_ID: 'AKID',
        RCLONE_CONFIG_CONN_1_SECRET_ACCESS_KEY: 'SECRET',
        RCLONE_CONFIG_CONN_1_FORCE_PATH_STYLE: 'true',
        RCLONE_CONFIG_CONN_1_NO_CHECK_BUCKET: 'true',
        RCLONE_CONFIG_CONN_1_ENDPOINT: 'http://127.0.0.1:9000',
        RCLONE_CONFIG_CONN_1_REGION: 'eu-west-1',
      },
    });
  });

  it('an AWS bucket: provider AWS, virtual-hosted requests unless path style is asked for, no endpoint or region set', () => {
    const { environment } = rcloneRemote('aws', {
      provider: 's3',
      bucket: 'b',
      path_style: false,
      access_key_id: 'AKID',
      secret_access_key: 'SECRET',
    });
    expect(environment).toMatchObject({ RCLONE_CONFIG_AWS_PROVIDER: 'AWS', RCLONE_CONFIG_AWS_FORCE_PATH_STYLE: 'false' });
    expect(Object.keys(environment)).not.toContain('RCLONE_CONFIG_AWS_ENDPOINT');
    expect(Object.keys(environment)).not.toContain('RCLONE_CONFIG_AWS_REGION');
  });

  it("an S3 bucket without keys: anonymous (a public bucket), or the host's AWS chain (env_auth), never a key variable", () => {
    const anonymous = rcloneRemote('pub', { provider: 's3', bucket: 'open-data', path_style: false, anonymous: true }).environment;
    expect(Object.keys(anonymous).filter((name) => /KEY|ENV_AUTH/.test(name))).toEqual([]);
    const chain = rcloneRemote('own', { provider: 's3', bucket: 'airlock', path_style: false, env_auth: true }).environment;
    expect(chain.RCLONE_CONFIG_OWN_ENV_AUTH).toBe('true');
    expect(Object.keys(chain).filter((name) => name.includes('KEY'))).toEqual([]);
  });

  it('GCS with a service account: the gcs backend with the JSON key inline, ACLs left to the bucket', () => {
    const { environment } = rcloneRemote('g', { provider: 'gcs', bucket: 'b', service_account_json: SERVICE_ACCOUNT });
    expect(environment).toEqual({
      RCLONE_CONFIG: '/dev/null',
      RCLONE_CONFIG_G_TYPE: 'gcs',
      RCLONE_CONFIG_G_BUCKET_POLICY_ONLY: 'true',
      RCLONE_CONFIG_G_NO_CHECK_BUCKET: 'true',
      RCLONE_CONFIG_G_SERVICE_ACCOUNT_CREDENTIALS: SERVICE_ACCOUNT,
    });
  });

  it('GCS without credentials, at an emulator: anonymous, the emulator as the JSON API endpoint', () => {
    const { environment } = rcloneRemote('g', { provider: 'gcs', bucket: 'b', anonymous: true, endpoint: 'http://127.0.0.1:4443/storage/v1/' });
    expect(environment).toEqual({
      RCLONE_CONFIG: '/dev/null',
      RCLONE_CONFIG_G_TYPE: 'gcs',
      RCLONE_CONFIG_G_BUCKET_POLICY_ONLY: 'true',
      RCLONE_CONFIG_G_NO_CHECK_BUCKET: 'true',
      RCLONE_CONFIG_G_ENDPOINT: 'http://127.0.0.1:4443/storage/v1/',
      RCLONE_CONFIG_G_ANONYMOUS: 'true',
    });
  });

  it('GCS with an HMAC key: the s3 backend, provider GCS, at storage.googleapis.com unless an endpoint is given', () => {
    const connection: StorageConnection = { provider: 'gcs', bucket: 'b', hmac: { access_key_id: 'GOOG1E', secret: 'S' } };
    expect(rcloneRemote('h', connection).environment).toEqual({
      RCLONE_CONFIG: '/dev/null',
      RCLONE_CONFIG_H_TYPE: 's3',
      RCLONE_CONFIG_H_PROVIDER: 'GCS',
      RCLONE_CONFIG_H_ENDPOINT: 'https://storage.googleapis.com',
      RCLONE_CONFIG_H_ACCESS_KEY_ID: 'GOOG1E',
      RCLONE_CONFIG_H_SECRET_ACCESS_KEY: 'S',
      RCLONE_CONFIG_H_NO_CHECK_BUCKET: 'true',
    });
    expect(rcloneRemote('h', { ...connection, endpoint: 'http://127.0.0.1:4443' }).environment).toMatchObject({
      RCLONE_CONFIG_H_ENDPOINT: 'http://127.0.0.1:4443',
    });
  });

  it('Azure with an account and key, and the endpoint of an emulator', () => {
    const remote = rcloneRemote('az', {
      provider: 'azure',
      container: 'data',
      account: 'devstoreaccount1',
      key: 'a2V5',
      endpoint: 'http://127.0.0.1:10000/devstoreaccount1',
    });
    expect(remote).toEqual({
      name: 'az',
      bucket: 'data',
      environment: {
        RCLONE_CONFIG: '/dev/null',
        RCLONE_CONFIG_AZ_TYPE: 'azureblob',
        RCLONE_CONFIG_AZ_NO_CHECK_CONTAINER: 'true',
        RCLONE_CONFIG_AZ_ACCOUNT: 'devstoreaccount1',
        RCLONE_CONFIG_AZ_KEY: 'a2V5',
        RCLONE_CONFIG_AZ_ENDPOINT: 'http://127.0.0.1:10000/devstoreaccount1',
      },
    });
  });

  it('Azure with a SAS URL or a connection string: that option alone', () => {
    const sas = 'https://acct.blob.core.windows.net/data?sv=2022-11-02&sig=x';
    expect(rcloneRemote('az', { provider: 'azure', container: 'data', sas_url: sas }).environment).toEqual({
      RCLONE_CONFIG: '/dev/null',
      RCLONE_CONFIG_AZ_TYPE: 'azureblob',
      RCLONE_CONFIG_AZ_NO_CHECK_CONTAINER: 'true',
      RCLONE_CONFIG_AZ_SAS_URL: sas,
    });
    const connectionString = 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net';
    expect(rcloneRemote('az', { provider: 'azure', container: 'data', connection_string: connectionString }).environment).toEqual({
      RCLONE_CONFIG: '/dev/null',
      RCLONE_CONFIG_AZ_TYPE: 'azureblob',
      RCLONE_CONFIG_AZ_NO_CHECK_CONTAINER: 'true',
      RCLONE_CONFIG_AZ_CONNECTION_STRING: connectionString,
    });
  });

  it('refuses a remote name that cannot be part of an environment variable name', () => {
    const connection: StorageConnection = { provider: 'gcs', bucket: 'b', anonymous: true };
    for (const name of ['', 'Upper', '1st', 'with-dash', 'with space', 'dot.ted', 'a'.repeat(64)]) {
      expect(() => rcloneRemote(name, connection), name).toThrow(/must be a lowercase letter/);
    }
    expect(rcloneRemote('a'.repeat(63), connection).name).toHaveLength(63);
  });

  it('a remote path is <remote>:<bucket>/<prefix>, without stray slashes', () => {
    const remote = rcloneRemote('conn', { provider: 'azure', container: 'box', connection_string: 'x' });
    expect(rcloneRemotePath(remote)).toBe('conn:box');
    expect(rcloneRemotePath(remote, '')).toBe('conn:box');
    expect(rcloneRemotePath(remote, '/')).toBe('conn:box');
    expect(rcloneRemotePath(remote, 'tenants/a')).toBe('conn:box/tenants/a');
    expect(rcloneRemotePath(remote, '/tenants/a/')).toBe('conn:box/tenants/a');
  });
});

describe('the pinned rclone', () => {
  it('scripts/setup.sh installs the version and path the server runs by default', () => {
    const setup = readFileSync(new URL('../../../scripts/setup.sh', import.meta.url), 'utf8');
    expect(setup).toContain(`rclone_version=${RCLONE_VERSION}\n`);
    expect(DEFAULT_RCLONE_PATH.replace(RCLONE_VERSION, '$rclone_version')).toBe(/^rclone_path=(\S+)$/m.exec(setup)?.[1]);
  });
});
