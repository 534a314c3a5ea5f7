import { constants, lstatSync, promises as fs, readdirSync, readlinkSync, type Stats } from 'node:fs';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { fsExtras } from './fs-extras.js';
import { compareLayerPaths, LayerManifestError, type LayerEntry, type LayerManifest } from './layer-manifest.js';

export interface ScanLimits {
  /** Most entries a layer may have. */
  maxEntries: number;
}

/**
 * Reads an overlay upper directory into a layer manifest, storing each regular file through `storeFile` (which gets
 * the file's absolute path and answers its content digest).
 *
 * Call it only once every process of the sandbox has ended: then nothing can change the tree while it is read, and a
 * symlink is recorded as a symlink, never followed (entries are examined with lstat and only real directories are
 * descended into). Sockets, pipes and devices other than whiteouts are left out.
 */
export async function scanLayer(
  upperDirectory: string,
  storeFile: (path: string, stats: Stats) => Promise<string>,
  limits: ScanLimits = { maxEntries: 200_000 },
): Promise<LayerManifest> {
  const extras = fsExtras();
  const entries: LayerEntry[] = [];
  // The upper directory is a tmpfs: synchronous calls answer in microseconds, without thread-pool round trips.
  const visit = async (relative: string): Promise<void> => {
    const names = readdirSync(join(upperDirectory, relative));
    for (const name of names) {
      const path = relative === '' ? name : `${relative}/${name}`;
      const absolute = join(upperDirectory, path);
      const stats = lstatSync(absolute);
      if (entries.length >= limits.maxEntries) {
        throw new LayerManifestError(`the home changed more than ${limits.maxEntries} entries in one call`);
      }
      const mtimeMs = Math.trunc(stats.mtimeMs);
      const mode = stats.mode & 0o1777; // no setuid or setgid bits in a home
      if (stats.isDirectory()) {
        entries.push(
          extras.isOpaque(absolute) ? { path, type: 'directory', mode, mtimeMs, opaque: true } : { path, type: 'directory', mode, mtimeMs },
        );
        await visit(path);
      } else if (stats.isFile()) {
        entries.push({ path, type: 'file', mode, mtimeMs, size: stats.size, digest: await storeFile(absolute, stats) });
      } else if (stats.isSymbolicLink()) {
        entries.push({ path, type: 'symlink', target: readlinkSync(absolute), mtimeMs });
      } else if (stats.isCharacterDevice() && stats.rdev === 0) {
        entries.push({ path, type: 'whiteout' });
      }
    }
  };
  await visit('');
  entries.sort((a, b) => compareLayerPaths(a.path, b.path));
  return { version: 1, entries };
}

/** Opens a file of a scanned layer for reading, refusing a symlink in its place. */
export async function openLayerFile(path: string): Promise<Readable> {
  const handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  return handle.createReadStream();
}
