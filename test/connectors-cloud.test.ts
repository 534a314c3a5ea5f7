import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonLogger } from '../packages/server/src/index.js';
import { allOrNone } from './support/all-or-none.js';
import { startAirlock, type AirlockFixture, type ExecuteResult } from './support/airlock-fixture.js';
import { createNetworkTopology, type NetworkTopology } from './support/network-topology.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, runRclone, startStorageEmulator, type StorageEmulator } from './support/storage-emulators.js';

// The cloud connectors end to end: an S3 store (rclone serve s3, which checks the signature of every request), a GCS
// emulator (fake-gcs-server, which signs nobody in) and Azure Blob Storage (Azurite, which checks the shared key) on
// the test topology's internet host, each on a port of its own, reached from sandboxes whose network is blocked only
// because a connector names them. BigQuery has no emulator here: its files, variables and endpoints are checked, and
// its names resolve only through the test DNS server, which does not know them, so nothing goes to Google.
let topology: NetworkTopology;
let airlock: AirlockFixture;
let s3: StorageEmulator;
let gcs: StorageEmulator;
let azure: StorageEmulator;
/** A service account key file of a made-up project, with a throwaway RSA key. */
let serviceAccount: { json: string; privateKey: string; email: string };
/** API keys that keep one Google connector each: the first Google connector by name sets the variables of a call. */
const keys: Record<'account' | 'bigquery', string> = { account: '', bigquery: '' };
const WRONG_S3_SECRET = 'wrong-secret-7d1c4e9a';
/** A key of Azurite's length that is not its key. */
const WRONG_AZURE_KEY = randomBytes(64).toString('base64');
const logLines: string[] = [];
/** Every call of the tests, whose records and replays are searched for secrets. */
const calls: ExecuteResult[] = [];

/** The emulator's bucket (or container). */
function bucketOf(emulator: StorageEmulator): string {
  const { connection } = emulator;
  return connection.provider === 'azure' ? connection.container : connection.bucket;
}

function s3Settings() {
  if (s3.connection.provider !== 's3' || !('access_key_id' in s3.connection)) throw new Error('the S3 emulator has static keys');
  return { bucket: s3.connection.bucket, access_key_id: s3.connection.access_key_id, secret_access_key: s3.connection.secret_access_key };
}

function azureEndpoint(): string {
  if (azure.connection.provider !== 'azure' || !('endpoint' in azure.connection) || azure.connection.endpoint === undefined) {
    throw new Error('the Azure emulator has an account endpoint');
  }
  return azure.connection.endpoint;
}

/** The private key's lines of base64, each redacted on its own when printed. */
function keyLines(): string[] {
  return serviceAccount.privateKey.split('\n').filter((line) => line.length >= 16 && !line.startsWith('-----'));
}

/** Every secret of the connectors, as the operator gave them. */
function secrets(): string[] {
  const { access_key_id, secret_access_key } = s3Settings();
  return [access_key_id, secret_access_key, WRONG_S3_SECRET, AZURITE_KEY, WRONG_AZURE_KEY, serviceAccount.json, serviceAccount.privateKey, ...keyLines()];
}

async function admin(path: string, json?: unknown, method = 'POST') {
  const response = await airlock.request<Record<string, unknown>>(path, { method, json, apiKey: airlock.adminToken });
  expect(response.status, `${method} ${path}: ${JSON.stringify(response.body)}`).toBeLessThan(300);
  return response.body;
}

async function run(code: string, apiKey?: string): Promise<ExecuteResult> {
  const response = await airlock.request<ExecuteResult>('/v1/sandbox/execute', {
    method: 'POST',
    json: { language: 'bash', code, timeout: 60 },
    ...(apiKey !== undefined && { apiKey }),
  });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  calls.push(response.body);
  return response.body;
}

/** Prints the environment twice, as `env` and from /proc/self/environ, after a line `environment:`. */
const DUMP_ENVIRONMENT = "echo environment:; env; cat /proc/self/environ | tr '\\0' '\\n'";

/** A call's output before DUMP_ENVIRONMENT, and the lines of the dump. */
function splitDump(stdout: string): { lines: string[]; environment: string[] } {
  const lines = stdout.trim().split('\n');
  const start = lines.indexOf('environment:');
  return { lines: lines.slice(0, start), environment: lines.slice(start + 1) };
}

/** splitDump of a call whose environment holds pointers alone: nothing in it was redacted. */
function splitPointerDump(stdout: string): { lines: string[]; environment: string[] } {
  const split = splitDump(stdout);
  expect(split.environment.filter((line) => line.includes('[REDACTED]'))).toEqual([]);
  return split;
}

function python(source: string): string {
  return `python3 - <<'PYTHON'\n${source}\nPYTHON`;
}

/** A service account key file as Google issues them, for a project that does not exist, with a new RSA key. */
function makeServiceAccount() {
  const privateKey = execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], { encoding: 'utf8' });
  const email = 'agent@airlock-test-project.iam.gserviceaccount.com';
  const json = JSON.stringify({
    type: 'service_account',
    project_id: 'airlock-test-project',
    private_key_id: randomBytes(20).toString('hex'),
    private_key: privateKey,
    client_email: email,
    client_id: '100000000000000000001',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
  });
  return { json, privateKey, email };
}

beforeAll(async () => {
  topology = await createNetworkTopology();
  const placement = (port: number) => ({ namespace: topology.namespaces.internet, address: topology.serverAddresses.internet, port });
  [s3, gcs, azure] = await allOrNone(
    [startStorageEmulator('s3', placement(9000)), startStorageEmulator('gcs', placement(4443)), startStorageEmulator('azure', placement(10000))],
    (emulator) => emulator.remove(),
  );
  serviceAccount = makeServiceAccount();
  airlock = await startAirlock({
    environment: { AIRLOCK_NETWORK: 'on', AIRLOCK_NETWORK_SUBNET: '10.218', AIRLOCK_NETWORK_DNS: topology.dns },
    logger: createJsonLogger((line) => logLines.push(line)),
  });
  const connectors = [
    { name: 'objects', type: 's3', endpoint: s3.url, path_style: true, ...s3Settings() },
    { name: 'files', type: 'gcs', endpoint: gcs.url, bucket: bucketOf(gcs) },
    { name: 'blobs', type: 'azure', account: AZURITE_ACCOUNT, key: AZURITE_KEY, endpoint: azureEndpoint(), container: bucketOf(azure) },
    { name: 'gcs-account', type: 'gcs', credentials_json: serviceAccount.json },
    { name: 'warehouse', type: 'bigquery', project: 'airlock-analytics', location: 'EU', credentials_json: serviceAccount.json },
  ];
  for (const connector of connectors) {
    await admin('/admin/v1/connectors', connector);
    await admin('/admin/v1/sandboxes/default/connectors', { connector: connector.name });
  }
  keys.account = (await admin('/admin/v1/api-keys', { name: 'google-account', connectors: ['gcs-account'] })).key as string;
  keys.bigquery = (await admin('/admin/v1/api-keys', { name: 'bigquery', connectors: ['warehouse'] })).key as string;
}, 120_000);

afterAll(async () => {
  await airlock?.close();
  await Promise.all([s3, gcs, azure].map((emulator) => emulator?.remove()));
  await topology?.remove();
});

describe('cloud connectors', () => {
  it('let boto3 put and get an object of an S3-compatible store with no credentials in code, from a blocked sandbox', async () => {
    const { bucket } = s3Settings();
    const result = await run(
      [
        python(
          [
            'import boto3',
            's3 = boto3.client("s3")',
            `s3.put_object(Bucket="${bucket}", Key="from-sandbox/hello.txt", Body=b"hello from boto3")`,
            `print("got:", s3.get_object(Bucket="${bucket}", Key="from-sandbox/hello.txt")["Body"].read().decode())`,
            'print("endpoint:", s3.meta.endpoint_url)',
          ].join('\n'),
        ),
        `curl -fsS -m 5 http://${topology.internet}/ >/dev/null 2>&1 && echo reached-internet || echo blocked-internet`,
      ].join('\n'),
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual(['got: hello from boto3', `endpoint: ${s3.url}`, 'blocked-internet']);
    expect((await s3.get('from-sandbox/hello.txt'))?.toString()).toBe('hello from boto3');
    const reached = (result.network ?? []).filter((flow) => flow.verdict === 'allowed');
    expect(reached.map((flow) => `${flow.connector} ${flow.address}:${flow.port}`)).toEqual([`objects ${topology.serverAddresses.internet}:9000`]);
  });

  it('let google-cloud-storage upload, list and download on a GCS emulator with no configuration in code', async () => {
    await gcs.put('from-host.txt', 'put by the host');
    const result = await run(
      python(
        [
          'from google.cloud import storage',
          'client = storage.Client()',
          `bucket = client.bucket("${bucketOf(gcs)}")`,
          'bucket.blob("from-sandbox/note.txt").upload_from_string("hello from google-cloud-storage")',
          'print("listed:", sorted(blob.name for blob in client.list_blobs(bucket)))',
          'print("got:", bucket.blob("from-host.txt").download_as_text())',
        ].join('\n'),
      ),
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual(["listed: ['from-host.txt', 'from-sandbox/note.txt']", 'got: put by the host']);
    expect((await gcs.get('from-sandbox/note.txt'))?.toString()).toBe('hello from google-cloud-storage');
  });

  it('let azure-storage-blob create a container, upload and read a blob with the connection string of the environment', async () => {
    const result = await run(
      python(
        [
          'import os',
          'from azure.storage.blob import BlobServiceClient',
          'service = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])',
          'container = service.create_container("made-in-sandbox")',
          'container.upload_blob("hello.txt", b"hello from azure-storage-blob")',
          'print("got:", container.download_blob("hello.txt").readall().decode())',
        ].join('\n'),
      ),
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('got: hello from azure-storage-blob');
    const read = await runRclone(azure.remote, ['cat', `${azure.remote.name}:made-in-sandbox/hello.txt`]);
    expect(read.toString()).toBe('hello from azure-storage-blob');
  });

  it('give a service account key file and its project to Google clients, the key redacted when printed', async () => {
    const result = await run(
      [
        'stat -c "%a %n" "$GOOGLE_APPLICATION_CREDENTIALS"',
        'echo "project: $GOOGLE_CLOUD_PROJECT"',
        python(
          [
            'import json, os',
            'import google.auth',
            'from google.cloud import storage',
            'credentials, project = google.auth.default()',
            'print("adc:", credentials.service_account_email, project)',
            'print("storage:", storage.Client().project)',
            'key = json.load(open(os.environ["GOOGLE_APPLICATION_CREDENTIALS"]))["private_key"]',
            'print("key:", key)',
            'print("line:", key.splitlines()[3])',
          ].join('\n'),
        ),
        'cat "$GOOGLE_APPLICATION_CREDENTIALS"; echo',
        'echo "emulator: ${STORAGE_EMULATOR_HOST:-none}"',
        DUMP_ENVIRONMENT,
      ].join('\n'),
      keys.account,
    );
    expect(result.stderr).toBe('');
    const { lines, environment } = splitPointerDump(result.stdout);
    expect(environment).toContain('GOOGLE_APPLICATION_CREDENTIALS=/run/airlock/connectors/gcs-account/credentials.json');
    expect(lines).toEqual([
      '600 /run/airlock/connectors/gcs-account/credentials.json',
      'project: airlock-test-project',
      `adc: ${serviceAccount.email} airlock-test-project`,
      'storage: airlock-test-project',
      'key: [REDACTED]',
      'line: [REDACTED]',
      '[REDACTED]',
      'emulator: none',
    ]);
  });

  it('give BigQuery its key file and project, open only its Google endpoints, and send nothing to Google', async () => {
    const summary = await admin('/admin/v1/connectors/warehouse', undefined, 'GET');
    expect(summary).toMatchObject({
      endpoints: ['bigquery.googleapis.com:443', 'oauth2.googleapis.com:443'],
      variables: ['GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_CLOUD_PROJECT'],
    });
    const result = await run(
      [
        'ls /run/airlock/connectors',
        'echo "credentials: $GOOGLE_APPLICATION_CREDENTIALS project: $GOOGLE_CLOUD_PROJECT"',
        `python3 -c 'from google.cloud import bigquery; client = bigquery.Client(); print("client:", client.project, client._credentials.service_account_email)'`,
        // Its names may be resolved, but the test DNS server does not know them: nothing is sent to Google.
        'for name in bigquery.googleapis.com oauth2.googleapis.com example.com; do getent hosts $name >/dev/null && echo "resolved $name" || echo "unresolved $name"; done',
        // Other addresses, the S3 store of another connector included, are out of reach.
        `for target in ${topology.internet}:80 ${topology.internet}:443 ${s3.url.replace('http://', '')}; do`,
        '  curl -fsS -m 5 -o /dev/null "http://$target/" 2>/dev/null && echo "reached $target" || echo "blocked $target"',
        'done',
        DUMP_ENVIRONMENT,
      ].join('\n'),
      keys.bigquery,
    );
    expect(result.stderr).toBe('');
    const s3Target = s3.url.replace('http://', '');
    const { lines, environment } = splitPointerDump(result.stdout);
    expect(environment).toContain('GOOGLE_CLOUD_PROJECT=airlock-analytics');
    expect(lines).toEqual([
      'warehouse',
      'credentials: /run/airlock/connectors/warehouse/credentials.json project: airlock-analytics',
      `client: airlock-analytics ${serviceAccount.email}`,
      'unresolved bigquery.googleapis.com',
      'unresolved oauth2.googleapis.com',
      'unresolved example.com',
      `blocked ${topology.internet}:80`,
      `blocked ${topology.internet}:443`,
      `blocked ${s3Target}`,
    ]);
    const network = result.network ?? [];
    expect(network.filter((flow) => flow.verdict === 'allowed')).toEqual([]);
    // The resolver refused the name no connector opens, and let the connector's names through to the test DNS server.
    const refusedNames = network.filter((flow) => flow.port === 53 && flow.verdict === 'blocked').map((flow) => flow.name);
    expect(refusedNames).toContain('example.com');
    expect(refusedNames.filter((name) => name?.endsWith('googleapis.com'))).toEqual([]);
    const blocked = network.filter((flow) => flow.protocol === 'tcp' && flow.verdict === 'blocked').map((flow) => `${flow.address}:${flow.port}`);
    expect(blocked.sort()).toEqual([`${topology.internet}:443`, `${topology.internet}:80`, s3Target].sort());
  });

  it("test each connector from a sandbox: ok against the emulators, failed with the store's words for a wrong secret", async () => {
    const { bucket, access_key_id } = s3Settings();
    await admin('/admin/v1/connectors', { name: 'objects-wrong', type: 's3', endpoint: s3.url, path_style: true, bucket, access_key_id, secret_access_key: WRONG_S3_SECRET });
    await admin('/admin/v1/connectors', { name: 'blobs-wrong', type: 'azure', account: AZURITE_ACCOUNT, key: WRONG_AZURE_KEY, endpoint: azureEndpoint(), container: bucketOf(azure) });
    const names = ['objects', 'files', 'blobs', 'objects-wrong', 'blobs-wrong', 'warehouse', 'gcs-account'];
    const answers = await Promise.all(names.map((name) => admin(`/admin/v1/connectors/${name}/test`)));
    const answer = (name: string) => answers[names.indexOf(name)];
    expect(answer('objects')).toMatchObject({ status: 'ok', message: 'boto3 list_objects_v2 of the bucket: objects listed: 1' });
    expect(answer('files')).toMatchObject({ status: 'ok', message: 'google-cloud-storage list_blobs of the bucket: objects listed: 1' });
    expect(answer('blobs')).toMatchObject({ status: 'ok', message: `azure-storage-blob get_container_properties: container: ${bucketOf(azure)}` });
    expect(await admin('/admin/v1/connectors/objects', undefined, 'GET')).toMatchObject({ status: 'ok' });
    // rclone serve s3 and Azurite check every request's signature.
    expect(answer('objects-wrong')).toMatchObject({ status: 'failed', message: expect.stringContaining('SignatureDoesNotMatch') });
    expect(answer('blobs-wrong')).toMatchObject({ status: 'failed', message: expect.stringContaining('AuthorizationFailure') });
    // Google's names do not resolve here: the probes fail saying so (their clients would otherwise retry for minutes).
    for (const name of ['warehouse', 'gcs-account']) {
      expect(answer(name), name).toMatchObject({ status: 'failed', message: expect.stringContaining("Failed to resolve 'oauth2.googleapis.com'") });
    }
    for (const text of answers.map((body) => JSON.stringify(body))) {
      for (const secret of secrets()) expect(text).not.toContain(secret);
    }
  });

  it('keep every secret out of outputs, records, replays and logs; the Azure key, which must be in the environment, comes back redacted', async () => {
    const result = await run(
      [
        'cat /run/airlock/connectors/aws/credentials /run/airlock/connectors/blobs/connection_string; echo',
        'printf %s "$AZURE_STORAGE_KEY" | base64 -w0; echo',
        DUMP_ENVIRONMENT,
      ].join('\n'),
    );
    for (const call of calls) {
      const record = await airlock.request<Record<string, unknown>>(`/v1/executions/${call.trace_id}`);
      const replay = await airlock.request<string>(`/v1/executions/${call.trace_id}/output`);
      expect(record.status).toBe(200);
      for (const text of [JSON.stringify(call), JSON.stringify(record.body), String(replay.body)]) {
        for (const secret of secrets()) {
          expect(text).not.toContain(secret);
          expect(text).not.toContain(Buffer.from(secret).toString('base64'));
        }
      }
    }
    const logs = logLines.join('\n');
    for (const secret of secrets()) expect(logs).not.toContain(secret);

    const { lines, environment } = splitDump(result.stdout);
    const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=[REDACTED];BlobEndpoint=${azureEndpoint()};`;
    expect(lines).toEqual(['[objects]', 'aws_access_key_id = [REDACTED]', 'aws_secret_access_key = [REDACTED]', connectionString, '[REDACTED]']);
    // The environment of S3 and GCS holds pointers alone; Azure's key is in it, and printed redacted (each line twice:
    // once from env, once from /proc/self/environ).
    const count = (expected: string) => environment.filter((line) => line === expected).length;
    expect(environment.filter((line) => /^(AWS_|GOOGLE_|STORAGE_EMULATOR_HOST)/.test(line) && line.includes('[REDACTED]'))).toEqual([]);
    expect(count('AWS_PROFILE=objects')).toBe(2);
    expect(count('AWS_CONFIG_FILE=/run/airlock/connectors/aws/config')).toBe(2);
    expect(count(`STORAGE_EMULATOR_HOST=${gcs.url}`)).toBe(2);
    expect(count('AZURE_STORAGE_KEY=[REDACTED]')).toBe(2);
    expect(count(`AZURE_STORAGE_CONNECTION_STRING=${connectionString}`)).toBe(2);
  });

  it('leave no secret in the data directory', () => {
    // The image, mounted below it, is left out: its azure-storage-blob and pyarrow carry Azurite's published key. A
    // multi-line secret (the private key) is looked for line by line: grep takes each line as a pattern of its own.
    for (const secret of secrets().filter((value) => !value.includes('\n'))) {
      const found = spawnSync('grep', ['-rlaF', '--exclude-dir=image-*', '--', secret, airlock.dataDirectory], { encoding: 'utf8' });
      expect(found.stdout.trim()).toBe('');
    }
  });
});
