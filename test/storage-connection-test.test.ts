import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonLogger } from '../packages/server/src/index.js';
import type { StorageProvider } from '../packages/storage/src/index.js';
import { startAirlock, type AirlockFixture, type HttpResult } from './support/airlock-fixture.js';
import { startStorageEmulator, type StorageEmulator } from './support/storage-emulators.js';

// POST /admin/v1/storage-connections/{id}/test with the pinned rclone, against an emulator of each provider on
// loopback: reachable and writable, read-only, wrong credentials, a bucket that is not there, an outage. Every answer
// and log line is kept and searched for the credentials.
let airlock: AirlockFixture;
const answers: string[] = [];
const logLines: string[] = [];
/** Every credential a connection of this file was given. */
const secrets = new Set<string>();

beforeAll(async () => {
  airlock = await startAirlock({ logger: createJsonLogger((line) => logLines.push(line)) });
}, 120_000);

afterAll(async () => {
  await airlock?.close();
});

async function createConnection(body: Record<string, unknown>): Promise<string> {
  for (const field of ['access_key_id', 'secret_access_key', 'key']) if (typeof body[field] === 'string') secrets.add(body[field]);
  const response = await airlock.request<Record<string, unknown>>('/admin/v1/storage-connections', { method: 'POST', json: body, apiKey: airlock.adminToken });
  answers.push(JSON.stringify(response.body));
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body.id as string;
}

interface TestAnswer {
  reachable: boolean;
  writable: boolean | null;
  checked_at: string;
  message: string;
}

async function testConnection(id: string): Promise<HttpResult<TestAnswer>> {
  const response = await airlock.request<TestAnswer>(`/admin/v1/storage-connections/${id}/test`, { method: 'POST', apiKey: airlock.adminToken });
  answers.push(JSON.stringify(response.body));
  return response;
}

const PROBE = '\\.airlock-connection-test-[0-9a-f]{12}';

describe.each(['s3', 'gcs', 'azure'] as const)('testing a %s connection', (provider: StorageProvider) => {
  let emulator: StorageEmulator;

  beforeAll(async () => {
    emulator = await startStorageEmulator(provider);
    await emulator.put('exports/existing.csv', 'id\n1\n');
  }, 120_000);

  afterAll(async () => {
    await emulator?.remove();
  });

  const connection = (settings: Record<string, unknown>) => ({ name: `${provider} bucket`, mount_name: 'bucket', ...emulator.connection, ...settings });

  it('is reachable and writable: a probe object below the prefix is written, read back and deleted', async () => {
    const id = await createConnection(connection({ prefix: 'exports' }));
    const started = Date.now();
    const tested = await testConnection(id);
    expect(tested.status).toBe(200);
    expect(tested.body).toEqual({
      reachable: true,
      writable: true,
      checked_at: expect.any(String),
      message: expect.stringMatching(new RegExp(`^Reachable and writable: listed "airlock-test/exports", and wrote, read back and deleted ${PROBE} there\\.$`)),
    });
    expect(Date.parse(tested.body.checked_at)).toBeGreaterThanOrEqual(started - 1_000);
    expect(await emulator.list()).toEqual(['exports/existing.csv']);
  });

  it('read-only is listed and never written to: writable is null', async () => {
    const id = await createConnection(connection({ prefix: 'exports', read_only: true }));
    const tested = await testConnection(id);
    expect(tested.body).toMatchObject({
      reachable: true,
      writable: null,
      message: 'Reachable: listed "airlock-test/exports". Nothing was written: the connection is read-only.',
    });
    expect(await emulator.list()).toEqual(['exports/existing.csv']);
  });

  it('a bucket that is not there is not reachable, and the message says to check its name', async () => {
    const missing = provider === 'azure' ? { container: 'no-such-container' } : { bucket: 'no-such-bucket' };
    const tested = await testConnection(await createConnection(connection(missing)));
    expect(tested.body).toMatchObject({ reachable: false, writable: false, message: expect.stringMatching(/check that the bucket exists and its name is right\.$/) });
  });

  it('an emulator that is stopped is not reachable, within the time bound, and reachable again once it serves', async () => {
    const id = await createConnection(connection({}));
    await emulator.stop();
    try {
      const started = Date.now();
      const tested = await testConnection(id);
      expect(tested.body).toMatchObject({
        reachable: false,
        writable: false,
        message: expect.stringMatching(/^Not reachable: listing "airlock-test" (failed: .+|got no answer within 15 s); check the endpoint/),
      });
      expect(Date.now() - started).toBeLessThan(16_000);
    } finally {
      await emulator.start();
    }
    expect((await testConnection(id)).body).toMatchObject({ reachable: true, writable: true });
  });
});

describe('wrong credentials', () => {
  let emulator: StorageEmulator;

  beforeAll(async () => {
    emulator = await startStorageEmulator('s3');
  }, 120_000);

  afterAll(async () => {
    await emulator?.remove();
  });

  it("an S3 secret that does not sign: not reachable, with the provider's refusal and no secret in the answer", async () => {
    const id = await createConnection({ name: 'wrong', mount_name: 'wrong', ...emulator.connection, secret_access_key: 'wrong-secret-0123456789abcdef' });
    const tested = await testConnection(id);
    expect(tested.body).toEqual({
      reachable: false,
      writable: false,
      checked_at: expect.any(String),
      message: expect.stringMatching(/^Not reachable: listing "airlock-test" failed: .*SignatureDoesNotMatch.*; check the endpoint, the bucket name and the credentials/),
    });
    expect(await emulator.list()).toEqual([]);
  });
});

describe('credentials', () => {
  it('appear in no answer and no log line', () => {
    expect(secrets.size).toBeGreaterThanOrEqual(3);
    expect(answers.length).toBeGreaterThan(20);
    for (const text of [...answers, ...logLines]) {
      for (const secret of secrets) expect(text).not.toContain(secret);
      expect(text).not.toContain('RCLONE_CONFIG');
    }
  });
});
