import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockHeldError, tryLock, waitForLock } from './process-lock.js';

describe('process locks', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'airlock-process-lock-'));
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  it('holds the file with this pid until released; a second take in this process is refused', async () => {
    const path = join(directory, 'own.lock');
    const release = await tryLock(path);
    expect(await readFile(path, 'utf8')).toBe(`${process.pid}\n`);
    await expect(tryLock(path)).rejects.toMatchObject({ name: 'LockHeldError', ownerPid: process.pid });
    await release();
    await release();
    await expect(readFile(path, 'utf8')).rejects.toThrow();
    await (await tryLock(path))();
  });

  it("refuses a live process's lock and takes over a dead one's", async () => {
    const path = join(directory, 'other.lock');
    const other = spawn('sleep', ['30']);
    try {
      await writeFile(path, `${other.pid}\n`);
      const refused = await tryLock(path).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(LockHeldError);
      expect((refused as LockHeldError).ownerPid).toBe(other.pid);
    } finally {
      other.kill('SIGKILL');
      await new Promise((resolve) => other.once('exit', resolve));
    }
    await (await tryLock(path))();
  });

  it('waitForLock waits for the holder, telling once that it waits', async () => {
    const path = join(directory, 'wait.lock');
    const release = await tryLock(path);
    let told = 0;
    const waiting = waitForLock(join(directory, 'wait.lock'), () => told++);
    setTimeout(() => void release(), 200);
    await expect(tryLock(path)).rejects.toBeInstanceOf(LockHeldError);
    await (await waiting)();
    expect(told).toBe(1);
  });
});
