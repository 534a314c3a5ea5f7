import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockDataDirectory } from './data-directory-lock.js';
import { DatabaseUsageError } from './errors.js';

describe('lockDataDirectory', () => {
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'airlock-lock-'));
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  it('holds <dataDir>.lock with this pid until released, and refuses a second open in this process', async () => {
    const dataDir = join(directory, 'in-process');
    const release = await lockDataDirectory(dataDir);
    expect(await readFile(`${dataDir}.lock`, 'utf8')).toBe(`${process.pid}\n`);
    const [first, second] = await Promise.allSettled([lockDataDirectory(dataDir), lockDataDirectory(dataDir)]);
    expect(first).toMatchObject({ status: 'rejected', reason: expect.any(DatabaseUsageError) });
    expect(second).toMatchObject({ status: 'rejected', reason: expect.any(DatabaseUsageError) });
    await release();
    await release();
    await expect(readFile(`${dataDir}.lock`, 'utf8')).rejects.toThrow();
    await (await lockDataDirectory(dataDir))();
  });

  it('refuses a directory locked by another running process', async () => {
    const dataDir = join(directory, 'other-process');
    const other = spawn('sleep', ['30']);
    try {
      await writeFile(`${dataDir}.lock`, `${other.pid}\n`);
      await expect(lockDataDirectory(dataDir)).rejects.toThrow(`in use by process ${other.pid}`);
    } finally {
      other.kill();
    }
  });

  it('takes over a lock left by a process that has exited, or by an earlier process with this pid', async () => {
    const exited = spawn('true');
    await new Promise((resolve) => exited.once('exit', resolve));
    const dataDir = join(directory, 'stale');
    await writeFile(`${dataDir}.lock`, `${exited.pid}\n`);
    await (await lockDataDirectory(dataDir))();

    await writeFile(`${dataDir}.lock`, `${process.pid}\n`);
    const release = await lockDataDirectory(dataDir);
    expect(await readFile(`${dataDir}.lock`, 'utf8')).toBe(`${process.pid}\n`);
    await release();
  });
});
