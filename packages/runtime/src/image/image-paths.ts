import { promises as fs, type Stats } from 'node:fs';
import { join } from 'node:path';

/** More links than this on one path is a loop, as for the kernel (MAXSYMLINKS). */
const MAX_LINKS = 40;

/** A path inside an image, found on the host. */
export interface ImageEntry {
  /** The entry's path on the host, below the image's root; never a symbolic link. */
  hostPath: string;
  /** Its absolute path inside the image, every link resolved. */
  imagePath: string;
  stats: Stats;
}

/**
 * Looks `path` up inside the image whose root file system is `rootfs`, as a process with that root would: every
 * symbolic link on the way, the last one included, is resolved inside the image (an absolute target from its root,
 * `..` never above it), so no link leads to the host. Null when a component is missing, is not a directory where
 * one is needed, or the links loop. The image must not change meanwhile (it is a staging directory no one else
 * writes to).
 */
export async function resolveInImage(rootfs: string, path: string): Promise<ImageEntry | null> {
  const pending = segments(path);
  const resolved: string[] = [];
  let links = 0;
  let stats = await fs.lstat(rootfs);
  while (pending.length > 0) {
    const segment = pending.shift()!;
    if (segment === '..') {
      resolved.pop();
      stats = await fs.lstat(join(rootfs, ...resolved));
      continue;
    }
    if (!stats.isDirectory()) return null;
    const candidate = join(rootfs, ...resolved, segment);
    try {
      stats = await fs.lstat(candidate);
    } catch {
      return null;
    }
    if (stats.isSymbolicLink()) {
      if (++links > MAX_LINKS) return null;
      const target = await fs.readlink(candidate);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...segments(target));
      stats = await fs.lstat(join(rootfs, ...resolved));
      continue;
    }
    resolved.push(segment);
  }
  return { hostPath: join(rootfs, ...resolved), imagePath: `/${resolved.join('/')}`, stats };
}

/** The names of a path, without empty ones and `.`. */
function segments(path: string): string[] {
  return path.split('/').filter((segment) => segment !== '' && segment !== '.');
}
