import { closeSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PipeFactory } from '../packages/runtime/src/sandbox/pipe-factory.js';

const TMPFS_MAGIC = 0x01021994;
// A directory on the repository's file system (a disk in CI), where a pipe directory gets a tmpfs of its own.
mkdirSync(join(process.cwd(), '.cache'), { recursive: true });
const parent = mkdtempSync(join(process.cwd(), '.cache', 'pipe-factory-'));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

const mountsAt = (path: string): number =>
  readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((line) => line.split(' ')[1] === path).length;

describe('pipe factory', () => {
  it('makes its pipes in a tmpfs of its own, emptied of what an earlier run left, and removes it on close', async () => {
    const directory = join(parent, 'pipes');
    mkdirSync(directory);
    writeFileSync(join(directory, 'p0'), 'left by an earlier run');
    const disk = statfsSync(parent).type !== TMPFS_MAGIC;
    const pipes = await PipeFactory.create({ directory, ownerUid: 61000, ownerGid: 61000 });
    expect(statfsSync(directory).type).toBe(TMPFS_MAGIC);
    expect(mountsAt(directory)).toBe(disk ? 1 : 0);
    expect(existsSync(join(directory, 'p0'))).toBe(false);
    expect(statSync(directory).mode & 0o777).toBe(0o700);

    const pipe = await pipes.sandboxWrites();
    expect(statSync(pipe.path).isFIFO()).toBe(true);
    expect(statSync(pipe.path)).toMatchObject({ uid: 61000, gid: 61000 });
    pipes.unlink(pipe);
    closeSync(pipe.hostFd);

    await pipes.close();
    expect(existsSync(directory)).toBe(false);
    expect(mountsAt(directory)).toBe(0);
  });

  it('takes over the tmpfs a run that ended without closing left, without mounting another', async () => {
    const directory = join(parent, 'fork-pipes');
    const crashed = await PipeFactory.create({ directory, ownerUid: 61000, ownerGid: 61000, mode: 0o711 });
    await crashed.sandboxWrites();
    const before = mountsAt(directory);

    const pipes = await PipeFactory.create({ directory, ownerUid: 61000, ownerGid: 61000, mode: 0o711 });
    expect(mountsAt(directory)).toBe(before);
    expect(statfsSync(directory).type).toBe(TMPFS_MAGIC);
    expect(statSync(directory).mode & 0o777).toBe(0o711);
    const pipe = await pipes.sandboxReads();
    expect(statSync(pipe.path)).toMatchObject({ uid: 61000, gid: 61000 });
    expect(statSync(pipe.path).mode & 0o777).toBe(0o600);
    closeSync(pipe.hostFd);
    await pipes.close();
    expect(existsSync(directory)).toBe(false);
    expect(mountsAt(directory)).toBe(0);
  });
});
