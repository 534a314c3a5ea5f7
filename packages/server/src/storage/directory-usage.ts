import { constants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** A measurement that ran past its deadline. */
export class MeasurementTimeoutError extends Error {
  constructor(root: string, budgetMs: number) {
    super(`measuring ${root} took more than ${budgetMs} ms`);
    this.name = 'MeasurementTimeoutError';
  }
}

const DIRECTORY = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/** Entries whose disappearance while the walk runs is expected (a sandbox deleting files). */
const GONE = new Set(['ENOENT', 'ENOTDIR', 'ELOOP']);

/**
 * The bytes a directory tree holds: the apparent sizes (`st_size`) of its regular files, each counted once however
 * many hard links name it. No symbolic link is followed: entries are examined with lstat, and each directory is
 * opened with O_NOFOLLOW and read through its descriptor (`/proc/self/fd/<fd>`), so a link swapped in while the walk
 * runs is not crossed. Links, FIFOs, sockets and devices count 0; a missing root is 0. Rejects with
 * MeasurementTimeoutError past `budgetMs`.
 */
export async function measureDirectory(root: string, budgetMs: number): Promise<number> {
  const deadline = Date.now() + budgetMs;
  const seen = new Set<string>();
  let bytes = 0;

  const visit = async (directory: FileHandle): Promise<void> => {
    const path = `/proc/self/fd/${directory.fd}`;
    const names = await fs.readdir(path).catch(ignoreGone([]));
    for (const name of names) {
      if (Date.now() > deadline) throw new MeasurementTimeoutError(root, budgetMs);
      const stats = await fs.lstat(`${path}/${name}`).catch(ignoreGone(undefined));
      if (!stats) continue;
      if (stats.isFile()) {
        if (stats.nlink > 1) {
          const identity = `${stats.dev}:${stats.ino}`;
          if (seen.has(identity)) continue;
          seen.add(identity);
        }
        bytes += stats.size;
      } else if (stats.isDirectory()) {
        const child = await fs.open(`${path}/${name}`, DIRECTORY).catch(ignoreGone(undefined));
        if (!child) continue;
        try {
          await visit(child);
        } finally {
          await child.close();
        }
      }
    }
  };

  const top = await fs.open(root, DIRECTORY).catch(ignoreGone(undefined));
  if (!top) return 0;
  try {
    await visit(top);
  } finally {
    await top.close();
  }
  return bytes;
}

function ignoreGone<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if (GONE.has((error as NodeJS.ErrnoException).code ?? '')) return fallback;
    throw error;
  };
}
