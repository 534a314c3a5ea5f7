import { open, readFile, unlink } from 'node:fs/promises';
import { resolve } from 'node:path';

/** Releases a lock; safe to call more than once. */
export type ReleaseLock = () => Promise<void>;

export class LockHeldError extends Error {
  override readonly name = 'LockHeldError';
  constructor(
    readonly path: string,
    readonly ownerPid: number,
  ) {
    super(`${path} is held by process ${ownerPid}`);
  }
}

/** Lock files this process holds: a second take of one of them in this process is refused too. */
const held = new Set<string>();

/**
 * Takes an inter-process lock: a file created exclusively, holding the owner's pid. A lock whose owner no longer
 * runs, or that an earlier process with this pid left (a restarted container), is taken over; a lock held by a live
 * process, this one included, throws LockHeldError.
 */
export async function tryLock(path: string): Promise<ReleaseLock> {
  const file = resolve(path);
  if (held.has(file)) throw new LockHeldError(path, process.pid);
  held.add(file);
  try {
    await createLockFile(file, path);
  } catch (error) {
    held.delete(file);
    throw error;
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    held.delete(file);
    await unlink(file).catch(() => undefined);
  };
}

async function createLockFile(file: string, path: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
    }
    const owner = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
    if (owner > 0 && owner !== process.pid && isRunning(owner)) throw new LockHeldError(path, owner);
    await unlink(file).catch(() => undefined);
  }
}

/** Waits for a lock held by another process, calling `onWait` once if it has to wait. */
export async function waitForLock(path: string, onWait: () => void): Promise<ReleaseLock> {
  let warned = false;
  for (;;) {
    try {
      return await tryLock(path);
    } catch (error) {
      if (!(error instanceof LockHeldError)) throw error;
      if (!warned) {
        warned = true;
        onWait();
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
