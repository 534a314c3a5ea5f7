import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type TestS3Server } from '../test-support/s3-server.js';
import { BlobNotFoundError, BlobStoreUnavailableError, type BlobStore } from './blob-store.js';
import { LocalBlobStore } from './local-blob-store.js';
import { S3BlobStore } from './s3-blob-store.js';

const root = mkdtempSync(join(tmpdir(), 'airlock-blobs-'));
let s3: TestS3Server;
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3?.close();
  rmSync(root, { recursive: true, force: true });
});

const sha256 = (value: string | Buffer) => createHash('sha256').update(value).digest('hex');

const BACKENDS: Array<[string, () => BlobStore, string]> = [
  ['local', () => new LocalBlobStore(join(root, 'store')), join(root, 'store', 'incoming')],
  [
    's3',
    () =>
      new S3BlobStore({
        bucket: s3.bucket,
        endpoint: s3.endpoint,
        credentials: s3.credentials,
        prefix: 'contract/',
        spoolDirectory: join(root, 's3-spool'),
      }),
    join(root, 's3-spool'),
  ],
];

describe.each(BACKENDS)('%s blob store', (_name, makeStore, spool) => {
  let store: BlobStore;
  beforeAll(() => {
    store = makeStore();
  });

  it('stores content under its digest, once, and reads it back', async () => {
    const first = await store.put(Buffer.from('hello'));
    expect(first).toEqual({ digest: sha256('hello'), size: 5 });
    const again = await store.put(Readable.from([Buffer.from('hel'), Buffer.from('lo')]));
    expect(again).toEqual(first);
    expect(await store.has(first.digest)).toBe(true);
    expect(await text(await store.get(first.digest))).toBe('hello');
    expect((await store.read(first.digest)).toString()).toBe('hello');
    const listed = [];
    for await (const blob of store.list()) listed.push(blob.digest);
    expect(listed).toEqual([first.digest]);
    await store.delete(first.digest);
    expect(await store.has(first.digest)).toBe(false);
    await expect(store.get(first.digest)).rejects.toBeInstanceOf(BlobNotFoundError);
  });

  it('rejects anything but a digest as a key, so no path can be built from input', async () => {
    await expect(store.read('../../etc/passwd')).rejects.toThrow(/not a SHA-256 digest/);
    await expect(store.get('A'.repeat(64))).rejects.toThrow(/not a SHA-256 digest/);
  });

  it('a source that fails half way leaves no blob and no partial file', async () => {
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1024, 1));
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(store.put(failing)).rejects.toBeInstanceOf(BlobStoreUnavailableError);
    expect(readdirSync(spool)).toEqual([]);
    const listed = [];
    for await (const blob of store.list()) listed.push(blob.digest);
    expect(listed).toEqual([]);
  });
});

describe('S3 blob store during an outage', () => {
  it('fails fast with a clear error, then works again when the server is back', async () => {
    const store = new S3BlobStore({
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      credentials: s3.credentials,
      prefix: 'outage/',
      spoolDirectory: join(root, 'outage-spool'),
    });
    const kept = await store.put(Buffer.from('before the outage'));
    await s3.stop();
    try {
      const startedAt = Date.now();
      await expect(store.put(Buffer.from('during'))).rejects.toBeInstanceOf(BlobStoreUnavailableError);
      await expect(store.read(kept.digest)).rejects.toBeInstanceOf(BlobStoreUnavailableError);
      expect(Date.now() - startedAt).toBeLessThan(20_000);
    } finally {
      await s3.restart();
    }
    expect((await store.read(kept.digest)).toString()).toBe('before the outage');
    expect(readdirSync(join(root, 'outage-spool'))).toEqual([]);
  });
});
