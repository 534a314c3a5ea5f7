import { open, readFile, unlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DatabaseUsageError } from './errors.js';

/** Lock files held by this process, so opening one data directory twice in a process is refused too. */
const heldLockFiles = new Set<string>();

/** Releases a data directory lock; safe to call more than once. */
export type ReleaseLock = () => Promise<void>;

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLockOwner(lockFile: string): Promise<number | undefined> {
  const content = await readFile(lockFile, 'utf8').catch(() => '');
  const pid = Number.parseInt(content, 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

async function createLockFile(dataDir: string, lockFile: string): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      const owner = await readLockOwner(lockFile);
      if (owner !== undefined && owner !== process.pid && isProcessAlive(owner)) {
        throw new DatabaseUsageError(
          `the database in ${dataDir} is in use by process ${owner}; stop that process or use another data directory ` +
            `(if no such process is running Airlock, delete ${lockFile})`,
        );
      }
      await unlink(lockFile).catch(() => undefined);
    }
  }
}

/**
 * PGlite does not stop two processes from opening one data directory, which corrupts it. This takes the lock file
 * `<dataDir>.lock` holding the owner's pid. A lock left by a process that no longer runs, or by an earlier process
 * with this process's pid (a restarted container), is taken over.
 */
export async function lockDataDirectory(dataDir: string): Promise<ReleaseLock> {
  const lockFile = `${resolve(dataDir)}.lock`;
  if (heldLockFiles.has(lockFile)) {
    throw new DatabaseUsageError(
      `the database in ${dataDir} is already open in this process; close it before opening it again`,
    );
  }
  heldLockFiles.add(lockFile);
  try {
    await createLockFile(dataDir, lockFile);
  } catch (error) {
    heldLockFiles.delete(lockFile);
    throw error;
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    heldLockFiles.delete(lockFile);
    await unlink(lockFile).catch(() => undefined);
  };
}
