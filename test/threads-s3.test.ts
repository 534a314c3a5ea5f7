import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../packages/storage/src/index.js';
import { startS3Server, type TestS3Server } from '../packages/storage/test-support/s3-server.js';
import { startAirlock, type AirlockFixture, type ExecuteResult } from './support/airlock-fixture.js';

let s3: TestS3Server;
let airlock: AirlockFixture;
beforeAll(async () => {
  s3 = await startS3Server();
  airlock = await startAirlock({
    environment: {
      AIRLOCK_S3_BUCKET: s3.bucket,
      AIRLOCK_S3_ENDPOINT: s3.endpoint,
      AIRLOCK_S3_PREFIX: 'layers/',
      AIRLOCK_S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AIRLOCK_S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    },
  });
});
afterAll(async () => {
  await airlock?.close();
  await s3?.close();
});

describe('threads on an S3-compatible blob store', () => {
  it('stores the layers in the bucket and restores them', async () => {
    await airlock.execute({ language: 'bash', thread_id: 's3-thread', code: 'echo "in the bucket" > note.txt' });
    const next = await airlock.execute({ language: 'bash', thread_id: 's3-thread', code: 'cat note.txt' });
    expect(next.stdout).toBe('in the bucket\n');
    const bucket = new S3BlobStore({
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      credentials: s3.credentials,
      prefix: 'layers/',
      spoolDirectory: `${airlock.dataDirectory}/inspect-spool`,
    });
    const stored = [];
    for await (const blob of bucket.list()) stored.push(blob);
    bucket.close();
    expect(stored.length).toBeGreaterThanOrEqual(2); // the file and the layer manifest
  });

  it('an outage: the answer says the home was not saved, and the thread stays as it was, and free', async () => {
    await airlock.execute({ language: 'bash', thread_id: 'outage-thread', code: 'echo before > state.txt' });
    await s3.stop();
    let during;
    try {
      during = await airlock.request<ExecuteResult>('/v1/sandbox/execute', {
        method: 'POST',
        json: { language: 'bash', thread_id: 'outage-thread', code: 'echo during > state.txt; echo ran' },
      });
    } finally {
      await s3.restart();
    }
    // This node keeps the thread's last layer since its save, so the call runs and its save meets the outage.
    expect(during.status).toBe(200);
    expect(during.body).toMatchObject({ success: false, status: 'failed', exit_code: 0, stdout: 'ran\n', error: 'thread_save_error' });
    expect(during.body.error_message).toMatch(/could not be saved \(the storage could not be reached\)/);
    const after = await airlock.execute({ language: 'bash', thread_id: 'outage-thread', code: 'cat state.txt' });
    expect(after.stdout).toBe('before\n');
  });

  it('download URLs are presigned by the bucket; uploads stream through Airlock into it', async () => {
    const signed = await airlock.request<{ url: string; method: string }>('/v1/files/upload_url', {
      method: 'POST',
      json: { source: 'thread', id: 's3-files', path: 'in.txt', content_length: 8 },
    });
    expect(new URL(signed.body.url).origin).toBe(new URL(airlock.url).origin);
    expect((await fetch(signed.body.url, { method: 'PUT', body: 'uploaded' })).status).toBe(204);
    await airlock.execute({ language: 'bash', thread_id: 's3-files', code: 'tr a-z A-Z < in.txt > out.txt' });
    const download = await airlock.request<{ url: string }>('/v1/files/download_url', {
      method: 'POST',
      json: { source: 'thread', id: 's3-files', path: 'out.txt' },
    });
    expect(download.body.url.startsWith(s3.endpoint)).toBe(true);
    expect(download.body.url).toContain('X-Amz-Signature=');
    const fetched = await fetch(download.body.url);
    expect(fetched.status).toBe(200);
    expect(await fetched.text()).toBe('UPLOADED');
  });
});
