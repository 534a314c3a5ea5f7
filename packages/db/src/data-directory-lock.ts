import { LockHeldError, tryLock, type ReleaseLock } from '@airlock/process-lock';
import { DatabaseUsageError } from './errors.js';

export type { ReleaseLock };

/**
 * PGlite does not stop two processes from opening one data directory, which corrupts it. This takes the lock file
 * `<dataDir>.lock` holding the owner's pid (@airlock/process-lock); a lock left by a process that no longer runs is
 * taken over.
 */
export async function lockDataDirectory(dataDir: string): Promise<ReleaseLock> {
  const lockFile = `${dataDir}.lock`;
  try {
    return await tryLock(lockFile);
  } catch (error) {
    if (!(error instanceof LockHeldError)) throw error;
    if (error.ownerPid === process.pid) {
      throw new DatabaseUsageError(`the database in ${dataDir} is already open in this process; close it before opening it again`);
    }
    throw new DatabaseUsageError(
      `the database in ${dataDir} is in use by process ${error.ownerPid}; stop that process or use another data directory ` +
        `(if no such process is running Airlock, delete ${lockFile})`,
    );
  }
}
