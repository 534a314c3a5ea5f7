import { CONNECTOR_SCHEMAS, type ConnectorSettings, type ConnectorType } from '@airlock/contracts';
import { describe, expect, it } from 'vitest';
import { clashingVariables, connectorInjection, type OpenedConnector } from './connector-injection.js';

function connector(name: string, type: ConnectorType, settings: Record<string, unknown>): OpenedConnector {
  return { name, settings: CONNECTOR_SCHEMAS[type].parse({ type, ...settings }) as ConnectorSettings };
}

const PRIVATE_KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n';

describe('connectorInjection', () => {
  it('writes PostgreSQL connectors as pgpass files and one service file; the first by name sets the libpq variables', () => {
    const injection = connectorInjection([
      connector('warehouse', 'postgresql', { host: 'db.example.com', database: 'sales', user: 'agent', password: 'pa:ss\\word-1' }),
      connector('analytics', 'postgresql', { host: '10.0.0.5', port: 6543, database: 'events', user: 'reader', password: 'another-secret', sslmode: 'require' }),
    ]);
    const file = (path: string) => injection.files.find((entry) => entry.path === path)?.content;
    expect(file('/run/airlock/connectors/warehouse/pgpass')).toBe('db.example.com:5432:sales:agent:pa\\:ss\\\\word-1\n');
    expect(file('/run/airlock/connectors/pg_service.conf')).toContain(
      '[analytics]\nhost=10.0.0.5\nport=6543\ndbname=events\nuser=reader\nsslmode=require\npassfile=/run/airlock/connectors/analytics/pgpass\n',
    );
    expect(file('/run/airlock/connectors/pg_service.conf')).toContain('[warehouse]');
    expect(injection.env).toMatchObject({ PGHOST: '10.0.0.5', PGPORT: '6543', PGUSER: 'reader', PGPASSFILE: '/run/airlock/connectors/analytics/pgpass' });
    expect(injection.variableOwners.PGHOST).toBe('analytics');
    expect(injection.endpoints).toEqual([
      { connector: 'analytics', host: '10.0.0.5', port: 6543 },
      { connector: 'warehouse', host: 'db.example.com', port: 5432 },
    ]);
    expect(injection.secrets).toEqual(['another-secret', 'pa:ss\\word-1']);
    expect(JSON.stringify(injection.env)).not.toContain('secret');
  });

  it('quotes a MySQL password in the option file that $MYSQL_HOME points to', () => {
    const injection = connectorInjection([connector('shop', 'mysql', { host: 'mysql.internal', user: 'agent', password: 'a"b\\c-d3f', database: 'orders' })]);
    expect(injection.files[0]).toEqual({
      path: '/run/airlock/connectors/shop/my.cnf',
      content: '[client]\nhost=mysql.internal\nport=3306\nuser="agent"\npassword="a\\"b\\\\c-d3f"\n[mysql]\ndatabase="orders"\n',
    });
    expect(injection.env).toEqual({ MYSQL_HOME: '/run/airlock/connectors/shop', MYSQL_HOST: 'mysql.internal', MYSQL_TCP_PORT: '3306' });
  });

  it('gives redis-cli the password in REDISCLI_AUTH and everything else a URL without it', () => {
    const injection = connectorInjection([connector('cache', 'redis', { host: 'cache.internal', username: 'agent', password: 'redis-pass-1', database: 2, tls: true })]);
    expect(injection.env).toEqual({ REDIS_HOST: 'cache.internal', REDIS_PORT: '6379', REDIS_URL: 'rediss://agent@cache.internal:6379/2', REDISCLI_AUTH: 'redis-pass-1' });
  });

  it('writes S3 connectors as profiles of shared AWS files, with the endpoint of an S3-compatible store', () => {
    const injection = connectorInjection([
      connector('lake', 's3', { region: 'eu-west-1', access_key_id: 'AKIAEXAMPLE0001', secret_access_key: 'secret/key+value1' }),
      connector('minio', 's3', { endpoint: 'http://198.51.100.20:9000', path_style: true, access_key_id: 'minio-access', secret_access_key: 'minio-secret-1' }),
    ]);
    const credentials = injection.files.find((file) => file.path.endsWith('aws/credentials'))?.content;
    expect(credentials).toBe('[lake]\naws_access_key_id = AKIAEXAMPLE0001\naws_secret_access_key = secret/key+value1\n\n[minio]\naws_access_key_id = minio-access\naws_secret_access_key = minio-secret-1\n');
    expect(injection.files.find((file) => file.path.endsWith('aws/config'))?.content).toContain(
      '[profile minio]\nregion = us-east-1\nendpoint_url = http://198.51.100.20:9000\ns3 =\n    addressing_style = path\n',
    );
    expect(injection.env.AWS_PROFILE).toBe('lake');
    expect(injection.endpoints.map(({ host, port }) => `${host}:${port}`)).toEqual([
      's3.eu-west-1.amazonaws.com:443',
      '*.s3.eu-west-1.amazonaws.com:443',
      '198.51.100.20:9000',
    ]);
  });

  it('rewrites GitHub URLs in a git configuration that still includes the home one, and sets GH_TOKEN', () => {
    const injection = connectorInjection([connector('code', 'github', { token: 'ghp_tokenvalue0001' })]);
    expect(injection.files[0]?.content).toBe(
      '[include]\n\tpath = ~/.gitconfig\n[url "https://x-access-token:ghp_tokenvalue0001@github.com/"]\n\tinsteadOf = https://github.com/\n',
    );
    expect(injection.env).toEqual({ GIT_CONFIG_GLOBAL: '/run/airlock/connectors/code/gitconfig', GH_TOKEN: 'ghp_tokenvalue0001' });
    expect(injection.endpoints.map(({ host }) => host)).toEqual(['github.com', 'api.github.com']);
  });

  it('sets an HTTP API key in the variable the operator chose, and hides the parts of a Google private key', () => {
    const credentials = JSON.stringify({ type: 'service_account', project_id: 'acme', private_key: PRIVATE_KEY, client_email: 'agent@acme.iam.gserviceaccount.com' });
    const injection = connectorInjection([
      connector('claude', 'http_api', { base_url: 'https://api.anthropic.com', env_var: 'ANTHROPIC_API_KEY', base_url_env_var: 'ANTHROPIC_BASE_URL', api_key: 'sk-ant-000000000001' }),
      connector('gcp', 'bigquery', { credentials_json: credentials }),
    ]);
    expect(injection.env).toMatchObject({
      ANTHROPIC_API_KEY: 'sk-ant-000000000001',
      ANTHROPIC_BASE_URL: 'https://api.anthropic.com',
      GOOGLE_APPLICATION_CREDENTIALS: '/run/airlock/connectors/gcp/credentials.json',
      GOOGLE_CLOUD_PROJECT: 'acme',
    });
    expect(injection.secrets).toEqual(expect.arrayContaining([credentials, PRIVATE_KEY, 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC']));
    expect(injection.endpoints.map(({ host, port }) => `${host}:${port}`)).toEqual(['api.anthropic.com:443', 'bigquery.googleapis.com:443', 'oauth2.googleapis.com:443']);
  });

  it('builds one Azure connection string from an account key, for the endpoint of an emulator', () => {
    const injection = connectorInjection([connector('blobs', 'azure', { account: 'devstoreaccount1', key: 'a2V5LXZhbHVlLTE=', endpoint: 'http://198.51.100.20:10000/devstoreaccount1' })]);
    expect(injection.env.AZURE_STORAGE_CONNECTION_STRING).toBe(
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5LXZhbHVlLTE=;BlobEndpoint=http://198.51.100.20:10000/devstoreaccount1;',
    );
    expect(injection.endpoints).toEqual([{ connector: 'blobs', host: '198.51.100.20', port: 10000 }]);
  });

  it('finds the variables two connectors of different families would both set, and none within a family', () => {
    const warehouse = connector('warehouse', 'postgresql', { host: 'db.example.com', database: 'sales', user: 'agent', password: 'pg-password-1' });
    const analytics = connector('analytics', 'postgresql', { host: 'db2.example.com', database: 'events', user: 'agent', password: 'pg-password-2' });
    const api = (name: string, variable: string) =>
      connector(name, 'http_api', { base_url: 'https://api.example.com', env_var: variable, api_key: 'key-value-0001' });
    expect(clashingVariables(warehouse, analytics)).toEqual([]);
    expect(clashingVariables(api('claude', 'ANTHROPIC_API_KEY'), api('claude2', 'ANTHROPIC_API_KEY'))).toEqual(['ANTHROPIC_API_KEY']);
    expect(clashingVariables(api('odd', 'PGHOST'), warehouse)).toEqual(['PGHOST']);
    expect(clashingVariables(api('claude', 'ANTHROPIC_API_KEY'), api('openai', 'OPENAI_API_KEY'))).toEqual([]);
  });
});
