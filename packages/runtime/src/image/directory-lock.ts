import { promises as fs } from 'node:fs';
import { join } from 'node:path';

/**
 * An inter-process lock: a directory created atomically, holding the owner's pid. A lock whose owner is no longer
 * running is taken over.
 */
export async function acquireDirectoryLock(path: string, onWait: () => void): Promise<() => Promise<void>> {
  let warned = false;
  for (;;) {
    try {
      await fs.mkdir(path);
      await fs.writeFile(join(path, 'pid'), String(process.pid));
      return () => fs.rm(path, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number(await fs.readFile(join(path, 'pid'), 'utf8').catch(() => ''));
    if (owner > 0 && !isRunning(owner)) {
      await fs.rm(path, { recursive: true, force: true });
      continue;
    }
    if (!warned) {
      warned = true;
      onWait();
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
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
