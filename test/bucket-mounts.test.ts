import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BucketMounts, BucketUnavailableError, type BucketMountSpec } from '../packages/storage/src/bucket-mounts.js';

// rclone mounts managed by BucketMounts, of a remote of rclone's local backend (a directory standing for a bucket),
// with real FUSE: the upload queue, restarts, failures. The emulated clouds are in storage-emulators.test.ts.
const RCLONE = process.env.AIRLOCK_TEST_RCLONE ?? '/usr/local/lib/airlock/rclone-1.75.2/rclone';
let directory: string;
let bucket: string;
let mounts: BucketMounts;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'airlock-bucket-mounts-'));
  bucket = join(directory, 'bucket');
  mkdirSync(bucket);
  mounts = new BucketMounts({ rclone: RCLONE, directory: join(directory, 'state'), owner: { uid: 0, gid: 0 }, freshnessMs: 300 });
  await mounts.start();
});

afterAll(async () => {
  await mounts?.close();
  await rm(directory, { recursive: true, force: true });
});

const spec = (overrides: Partial<BucketMountSpec> = {}): BucketMountSpec => ({
  label: 'test-bucket',
  environment: { RCLONE_CONFIG_BUCKET_TYPE: 'local' },
  remotePath: `bucket:${bucket}`,
  readOnly: false,
  syncMode: 'write_back',
  ...overrides,
});

/** The rclone processes of this test's mounts (pgrep exits 1 when there is none). */
function rclonePids(): string[] {
  try {
    return execFileSync('pgrep', ['-f', `${directory}/state/mounts`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('bucket mounts', () => {
  it('a write through the mount is in the bucket once drained, and a file put into the bucket shows', async () => {
    const lease = await mounts.acquire(spec(), '');
    mkdirSync(join(lease.root, 'reports'));
    writeFileSync(join(lease.root, 'reports', 'summary.csv'), 'total,1\n');
    writeFileSync(join(lease.root, 'elsewhere.txt'), 'x');
    expect(await lease.drain('reports', 10_000)).toEqual({ status: 'synced' });
    expect(readFileSync(join(bucket, 'reports', 'summary.csv'), 'utf8')).toBe('total,1\n');
    writeFileSync(join(bucket, 'put-directly.txt'), 'from the bucket');
    await new Promise((resolve) => setTimeout(resolve, 400)); // the listing's freshness
    expect(readFileSync(join(lease.root, 'put-directly.txt'), 'utf8')).toBe('from the bucket');
    lease.release();
  });

  it('one mount serves every call of the same bucket; another prefix or another credential is another mount', async () => {
    const [first, second] = await Promise.all([mounts.acquire(spec(), ''), mounts.acquire(spec(), '')]);
    expect(first.root).toBe(second.root);
    const readOnly = await mounts.acquire(spec({ readOnly: true }), '');
    expect(readOnly.root).not.toBe(first.root);
    expect(() => writeFileSync(join(readOnly.root, 'no.txt'), 'x')).toThrow(/EROFS/);
    for (const lease of [first, second, readOnly]) lease.release();
  });

  it('an upload that keeps failing is reported failed, with its files, when the budget ends', async () => {
    const lease = await mounts.acquire(spec(), '');
    mkdirSync(join(lease.root, 'blocked'));
    // The bucket's "blocked" becomes immutable: every upload into it fails, for root too.
    execFileSync('chattr', ['+i', join(bucket, 'blocked')]);
    try {
      writeFileSync(join(lease.root, 'blocked', 'a.txt'), 'never lands');
      const sync = await lease.drain('blocked', 1_500);
      expect(sync.status).toBe('failed');
      expect(sync).toMatchObject({ files: ['blocked/a.txt'] });
      expect((sync as { reason: string }).reason).toContain('failed to upload to test-bucket');
    } finally {
      execFileSync('chattr', ['-i', join(bucket, 'blocked')]);
      lease.release();
    }
  });

  it('a killed rclone is mounted again by the next call', async () => {
    const lease = await mounts.acquire(spec(), '');
    lease.release();
    for (const pid of rclonePids()) process.kill(Number(pid), 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const again = await mounts.acquire(spec(), '');
    writeFileSync(join(again.root, 'after-restart.txt'), 'y');
    expect(await again.drain('', 10_000)).toEqual({ status: 'synced' });
    expect(readFileSync(join(bucket, 'after-restart.txt'), 'utf8')).toBe('y');
    again.release();
  });

  it('a bucket that does not answer fails the call before it starts, naming it', async () => {
    const unreachable = spec({
      label: 'dead-s3',
      environment: { RCLONE_CONFIG_DEAD_TYPE: 's3', RCLONE_CONFIG_DEAD_PROVIDER: 'Other', RCLONE_CONFIG_DEAD_ENDPOINT: 'http://127.0.0.1:9', RCLONE_CONFIG_DEAD_ACCESS_KEY_ID: 'a', RCLONE_CONFIG_DEAD_SECRET_ACCESS_KEY: 'b' },
      remotePath: 'dead:bucket',
    });
    const failure = await mounts.acquire(unreachable, '').then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(BucketUnavailableError);
    expect((failure as Error).message).toMatch(/^dead-s3: /);
  });

  it('closing unmounts everything and ends every rclone it started', async () => {
    await mounts.close();
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(join(directory, 'state'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(rclonePids()).toEqual([]);
    expect(existsSync(bucket)).toBe(true);
  });
});
