import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlobStoreUnavailableError } from './blob-store.js';
import { LocalBlobStore } from './local-blob-store.js';

// A system test beside its code: it mounts a small tmpfs, so it needs root (vitest.config.ts HOST_TESTS).
const root = mkdtempSync(join(tmpdir(), 'airlock-blobs-full-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('local blob store on a full disk', () => {
  it('is a clear error and keeps what was stored before', async () => {
    const small = join(root, 'small');
    execFileSync('mkdir', ['-p', small]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small]);
    try {
      const full = new LocalBlobStore(small);
      const kept = await full.put(Buffer.from('kept'));
      await expect(full.put(Buffer.alloc(512 * 1024, 7))).rejects.toThrow(BlobStoreUnavailableError);
      expect((await full.read(kept.digest)).toString()).toBe('kept');
      expect(readdirSync(join(small, 'incoming'))).toEqual([]);
      const listed = [];
      for await (const blob of full.list()) listed.push(blob.digest);
      expect(listed).toEqual([kept.digest]);
    } finally {
      execFileSync('umount', [small]);
    }
  });
});
