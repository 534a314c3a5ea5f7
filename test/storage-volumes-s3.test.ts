import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Connection } from '../packages/storage/src/index.js';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { startStorageEmulator, type StorageEmulator } from './support/storage-emulators.js';

// Managed volumes on the S3-compatible backend (AIRLOCK_S3_*): in the server's bucket, below
// <prefix>volumes/<organization id>/<volume id>, mounted through rclone like a storage connection, for calls and for
// the Files API.
let emulator: StorageEmulator;
let airlock: AirlockFixture;
let key: string;

beforeAll(async () => {
  emulator = await startStorageEmulator('s3');
  const s3 = emulator.connection as S3Connection & { access_key_id: string; secret_access_key: string };
  airlock = await startAirlock({
    environment: {
      AIRLOCK_S3_BUCKET: s3.bucket,
      AIRLOCK_S3_ENDPOINT: s3.endpoint!,
      AIRLOCK_S3_FORCE_PATH_STYLE: 'true',
      AIRLOCK_S3_PREFIX: 'airlock/',
      AIRLOCK_S3_ACCESS_KEY_ID: s3.access_key_id,
      AIRLOCK_S3_SECRET_ACCESS_KEY: s3.secret_access_key,
    },
  });
  await airlock.admin('/admin/v1/volumes', { name: 'Shared', slug: 'shared' });
  await airlock.admin('/admin/v1/sandboxes', { name: 'volumes' });
  await airlock.admin('/admin/v1/sandboxes/volumes/attachments', { volume: 'shared' });
  key = (await airlock.admin('/admin/v1/api-keys', { name: 'volumes', sandbox: 'volumes' })).key as string;
}, 120_000);

afterAll(async () => {
  await airlock?.close();
  await emulator?.remove();
});

describe('managed volumes on the S3 backend', () => {
  it('a file written at /data/<slug> is in the server bucket below the volume prefix when the answer arrives, and read back', async () => {
    const written = await airlock.request<{ stderr: string; storage_sync: unknown }>('/v1/sandbox/execute', {
      method: 'POST',
      apiKey: key,
      json: { language: 'python', code: 'import os\nos.makedirs("/data/shared/reports", exist_ok=True)\nopen("/data/shared/reports/s.csv", "w").write("x,1\\n")' },
    });
    expect(written.body.stderr).toBe('');
    expect(written.body.storage_sync).toEqual({ status: 'synced', files: [], reason: null });
    const stored = (await emulator.list('airlock/volumes')).filter((name) => name.endsWith('/reports/s.csv'));
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatch(/^airlock\/volumes\/[^/]+\/[^/]+\/reports\/s\.csv$/);
    expect((await emulator.get(stored[0]!))?.toString()).toBe('x,1\n');
    const read = await airlock.request<{ stdout: string }>('/v1/sandbox/execute', {
      method: 'POST',
      apiKey: key,
      json: { language: 'python', code: 'print(open("/data/shared/reports/s.csv").read(), end="")' },
    });
    expect(read.body.stdout).toBe('x,1\n');
  });

  it('the Files API: an upload is in the bucket when its PUT answers and read by the next call; what code wrote is listed and downloaded; delete reaches the bucket', async () => {
    const files = (operation: string, json: Record<string, unknown>) =>
      airlock.request<Record<string, unknown>>(`/v1/files/${operation}`, { method: 'POST', apiKey: key, json: { source: 'volume', id: 'shared', ...json } });
    const run = async (code: string) =>
      (await airlock.request<{ stdout: string }>('/v1/sandbox/execute', { method: 'POST', apiKey: key, json: { language: 'python', code } })).body.stdout;
    const stored = async (below: string) =>
      (await emulator.list('airlock/volumes')).map((name) => name.split('/').slice(4).join('/')).filter((name) => name.startsWith(below));

    const signed = (await files('upload_url', { path: 'inputs/data.csv', content_length: 8 })).body as {
      url: string;
      method: string;
      headers: Array<{ name: string; value: string }>;
    };
    const headers = Object.fromEntries(signed.headers.map((header) => [header.name, header.value]));
    const put = await fetch(signed.url, { method: signed.method, headers, body: 'a,b\n1,2\n' });
    expect(put.status).toBe(204);
    expect(await stored('inputs/')).toEqual(['inputs/data.csv']);
    expect(await run('print(open("/data/shared/inputs/data.csv").read(), end="")')).toBe('a,b\n1,2\n');

    await run('import os\nos.makedirs("/data/shared/out", exist_ok=True)\nopen("/data/shared/out/result.txt", "w").write("sum=3\\n")');
    const listed = (await files('list', { path: 'out' })).body.files as Array<{ path: string; size: number; is_directory: boolean }>;
    expect(listed.map(({ path, size, is_directory }) => ({ path, size, is_directory }))).toEqual([
      { path: 'out/result.txt', size: 6, is_directory: false },
    ]);
    const link = (await files('download_url', { path: 'out/result.txt' })).body as { url: string };
    expect(await (await fetch(link.url)).text()).toBe('sum=3\n');

    expect((await files('delete', { path: 'inputs' })).status).toBe(200);
    expect(await stored('inputs/')).toEqual([]);
    expect(await run('import os\nprint(os.path.exists("/data/shared/inputs"))')).toBe('False\n');
  });

  it("usage is the objects' sizes below the volume's prefix, measured after a call", async () => {
    await airlock.request('/v1/sandbox/execute', {
      method: 'POST',
      apiKey: key,
      json: { language: 'python', code: 'open("/data/shared/usage.bin", "wb").write(b"u" * 50000)' },
    });
    const expected = 50_000 + 4 + 6; // usage.bin, reports/s.csv and out/result.txt
    const deadline = Date.now() + 15_000;
    let usedBytes: unknown;
    while (Date.now() < deadline) {
      usedBytes = (await airlock.request<{ used_bytes: number | null }>('/admin/v1/volumes/shared', { apiKey: airlock.adminToken })).body.used_bytes;
      if (usedBytes === expected) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(usedBytes).toBe(expected);
  });
});
