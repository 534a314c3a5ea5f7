import { promises as fs, type Stats } from 'node:fs';
import { join } from 'node:path';
import { fsExtras } from '../home/fs-extras.js';

/** Something of an unpacked image that was made harmless, by its path inside the image. */
export interface Neutralised {
  path: string;
  what: 'block device removed' | 'character device removed' | 'FIFO removed' | 'socket removed' | 'setuid bit cleared' | 'setgid bit cleared' | 'file capabilities dropped';
}

export interface NeutraliseResult {
  neutralised: Neutralised[];
  /** Apparent size of the regular files, each hard-linked file once. */
  sizeBytes: number;
}

/**
 * Walks an unpacked image's root file system without following a symbolic link (every entry lstat'ed, directories
 * read by the names found) and makes what an image could carry against the host harmless: device nodes, FIFOs and
 * sockets are removed, setuid and setgid bits of files cleared and file capabilities dropped. Every entry ends up
 * owned by root, so no host user owns (and could change) a file sandboxes run. The root must not change meanwhile
 * (a staging directory only the importing process reaches).
 */
export async function neutraliseRootfs(rootfs: string): Promise<NeutraliseResult> {
  const extras = fsExtras();
  const neutralised: Neutralised[] = [];
  const counted = new Set<string>();
  let sizeBytes = 0;
  const directories: Array<{ hostPath: string; imagePath: string }> = [{ hostPath: rootfs, imagePath: '' }];
  await makeRootOwned(rootfs, await fs.lstat(rootfs));
  for (let directory = directories.pop(); directory; directory = directories.pop()) {
    for (const name of await fs.readdir(directory.hostPath)) {
      const hostPath = join(directory.hostPath, name);
      const imagePath = `${directory.imagePath}/${name}`;
      const stats = await fs.lstat(hostPath);
      const special = specialFile(stats);
      if (special) {
        await fs.unlink(hostPath);
        neutralised.push({ path: imagePath, what: special });
        continue;
      }
      if (stats.isFile()) {
        // chown would clear these bits too, but only when the owner changes; root's files keep them.
        if (stats.mode & 0o6000) {
          await fs.chmod(hostPath, stats.mode & 0o1777);
          if (stats.mode & 0o4000) neutralised.push({ path: imagePath, what: 'setuid bit cleared' });
          if (stats.mode & 0o2000) neutralised.push({ path: imagePath, what: 'setgid bit cleared' });
        }
        if (extras.dropCapabilities(hostPath)) neutralised.push({ path: imagePath, what: 'file capabilities dropped' });
        const inode = `${stats.dev}:${stats.ino}`;
        if (stats.nlink === 1 || !counted.has(inode)) sizeBytes += stats.size;
        if (stats.nlink > 1) counted.add(inode);
      } else if (stats.isDirectory()) {
        directories.push({ hostPath, imagePath });
      }
      await makeRootOwned(hostPath, stats);
    }
  }
  return { neutralised, sizeBytes };
}

/** Summary lines for progress: the first `limit` entries, then how many more there were. */
export function describeNeutralised(neutralised: readonly Neutralised[], limit = 50): string[] {
  const lines = neutralised.slice(0, limit).map((entry) => `neutralised ${entry.path}: ${entry.what}`);
  if (neutralised.length > limit) lines.push(`neutralised ${neutralised.length - limit} more entries`);
  return lines;
}

function specialFile(stats: Stats): Neutralised['what'] | null {
  if (stats.isBlockDevice()) return 'block device removed';
  if (stats.isCharacterDevice()) return 'character device removed';
  if (stats.isFIFO()) return 'FIFO removed';
  if (stats.isSocket()) return 'socket removed';
  return null;
}

async function makeRootOwned(path: string, stats: Stats): Promise<void> {
  if (stats.uid !== 0 || stats.gid !== 0) await fs.lchown(path, 0, 0);
}
