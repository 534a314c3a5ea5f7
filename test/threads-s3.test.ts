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

  it('an outage answers 503 and leaves the thread as it was, and free', async () => {
    await airlock.execute({ language: 'bash', thread_id: 'outage-thread', code: 'echo before > state.txt' });
    await s3.stop();
    let during;
    try {
      during = await airlock.request<ExecuteResult & { error: string; message: string }>('/v1/sandbox/execute', {
        method: 'POST',
        json: { language: 'bash', thread_id: 'outage-thread', code: 'echo during > state.txt' },
      });
    } finally {
      await s3.restart();
    }
    expect(during.status).toBe(503);
    expect(during.body.error).toBe('unavailable');
    expect(during.body.message).toMatch(/could not be saved to storage; the thread is unchanged/);
    const after = await airlock.execute({ language: 'bash', thread_id: 'outage-thread', code: 'cat state.txt' });
    expect(after.stdout).toBe('before\n');
  });
});
