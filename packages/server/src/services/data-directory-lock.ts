import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirectoryInUseError extends Error {
  override readonly name = 'DataDirectoryInUseError';
}

/**
 * One server per data directory: the embedded database and the runtime state are single-process. A lock left by a
 * process that is gone is taken over.
 */
export function acquireDataDirectoryLock(dataDirectory: string): () => void {
  const path = join(dataDirectory, 'airlock.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8') === String(process.pid)) unlinkSync(path);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(path, 'utf8'));
      if (owner > 0 && owner !== process.pid && isRunning(owner)) {
        throw new DataDirectoryInUseError(
          `data directory ${dataDirectory} is in use by process ${owner}; stop it or pass another --data-dir`,
        );
      }
      unlinkSync(path);
    }
  }
  throw new DataDirectoryInUseError(`could not lock data directory ${dataDirectory}`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
