import { randomBytes } from 'node:crypto';
import { constants, promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ErrorCode, type FileEntry } from '@airlock/contracts';
import { ApiError } from '../shared/api-error.js';
import type { SandboxOwner } from '../storage/volume-store.js';

/**
 * A volume's files, handled from the host while sandboxes may be changing them: no symbolic link is ever followed.
 * Each directory is opened with O_NOFOLLOW and the next name is looked up inside that open directory
 * (`/proc/self/fd/<fd>/<name>`: the kernel starts from the directory the descriptor holds, whatever its path names
 * by then), which is what openat(2) gives C. A link planted anywhere on a path, or swapped in while a request walks
 * it, is refused; a file is opened with O_NOFOLLOW too.
 */

/** A path in a volume: `base` (the API key's prefix, never named in answers), then `path` as the request spelled it. */
export interface VolumeLocation {
  /** The volume's directory on the host. */
  root: string;
  base: readonly string[];
  path: readonly string[];
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;
const DIRECTORY = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
/** Uploads are written under this name in their directory, then renamed over the file. */
export const UPLOAD_PREFIX = '.airlock-upload-';

/** `name` inside the open directory `directory`. */
const inside = (directory: FileHandle, name: string) => `/proc/self/fd/${directory.fd}/${name}`;
const errorCode = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

/** Every file and directory below the location's directory, sorted by path; `[]` for the key's directory not made yet. */
export async function listTree(location: VolumeLocation): Promise<FileEntry[]> {
  const directory = await walk(location, location.path.length, 'read');
  if (!directory) {
    if (location.path.length === 0) return [];
    throw ApiError.notFound(`no directory ${location.path.join('/')}`);
  }
  const entries: FileEntry[] = [];
  try {
    await collect(directory, location.path.join('/'), entries);
  } finally {
    await directory.close();
  }
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** A regular file's content, streamed from the descriptor it was opened with; 404 for anything else. */
export async function readVolumeFile(location: VolumeLocation): Promise<{ content: Readable; size: number }> {
  const shown = location.path.join('/');
  const parent = await walk(location, location.path.length - 1, 'read');
  if (!parent) throw ApiError.notFound(`no file ${shown}`);
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO a sandbox made opens at once (and is refused below) instead of waiting for a writer.
    handle = await fs.open(inside(parent, lastSegment(location)), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    if (errorCode(error) === 'ELOOP') throw linkRefusal(shown);
    if (['ENOENT', 'ENXIO', 'ENODEV'].includes(errorCode(error) ?? '')) throw ApiError.notFound(`no file ${shown}`);
    throw storageError(error, shown);
  } finally {
    await parent.close();
  }
  const stats = await handle.stat();
  if (!stats.isFile()) {
    await handle.close();
    throw ApiError.notFound(`no file ${shown}${stats.isDirectory() ? ' (it is a directory)' : ''}`);
  }
  if (stats.size === 0) {
    await handle.close();
    return { content: Readable.from([]), size: 0 };
  }
  // Exactly the bytes the file had when opened, even if it grows meanwhile.
  return { content: handle.createReadStream({ start: 0, end: stats.size - 1 }), size: stats.size };
}

/**
 * Writes `content` (exactly `length` bytes) as the file: into a new file of the target directory, renamed over the
 * file once complete, so readers see the old content or the new one. Missing directories are made; they and the file
 * are given to `owner` (none on a bucket mount, which shows everything as the sandbox user's).
 */
export async function writeVolumeFile(
  location: VolumeLocation,
  options: { content: Readable; length: number; owner: SandboxOwner | undefined },
): Promise<void> {
  const { content, length, owner } = options;
  const shown = location.path.join('/');
  const parent = (await walk(location, location.path.length - 1, { owner })) as FileHandle;
  try {
    const name = lastSegment(location);
    const existing = await fs.lstat(inside(parent, name)).catch((error: unknown) => {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw storageError(error, shown);
    });
    if (existing?.isSymbolicLink()) throw linkRefusal(shown);
    if (existing?.isDirectory()) throw ApiError.validation(`path: ${shown} is a directory`);
    const temporary = `${UPLOAD_PREFIX}${randomBytes(8).toString('hex')}`;
    const handle = await fs.open(inside(parent, temporary), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644).catch((error: unknown) => {
      throw storageError(error, shown);
    });
    let received = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        callback(received > length ? ApiError.validation(`body: more than ${length} bytes, the upload URL was made for ${length}`) : null, chunk);
      },
    });
    try {
      if (owner) await handle.chown(owner.uid, owner.gid);
      await pipeline(content, counter, handle.createWriteStream());
      if (received !== length) throw ApiError.validation(`body: ${received} bytes received, the upload URL was made for ${length}`);
      await fs.rename(inside(parent, temporary), inside(parent, name));
    } catch (error) {
      await handle.close().catch(() => undefined);
      await fs.unlink(inside(parent, temporary)).catch(() => undefined);
      if (['EISDIR', 'ENOTEMPTY', 'EEXIST'].includes(errorCode(error) ?? '')) throw ApiError.validation(`path: ${shown} is a directory`);
      throw storageError(error, shown);
    }
  } finally {
    await parent.close();
  }
}

/**
 * Deletes a file, a link (never what it points to) or a directory with everything in it; 404 when there is none.
 * Directories are emptied through their own descriptors, so a link swapped in meanwhile is removed, not followed.
 */
export async function removeVolumePath(location: VolumeLocation): Promise<void> {
  const shown = location.path.join('/');
  const parent = await walk(location, location.path.length - 1, 'read');
  if (!parent) throw ApiError.notFound(`no file or directory ${shown}`);
  try {
    await removeEntry(parent, lastSegment(location), shown);
  } finally {
    await parent.close();
  }
}

/**
 * The open directory `depth` segments of `path` down (below the base); undefined when one is missing and `mode` is
 * 'read'. Otherwise missing directories are made, for the owner when there is one.
 */
async function walk(location: VolumeLocation, depth: number, mode: 'read' | { owner: SandboxOwner | undefined }): Promise<FileHandle | undefined> {
  const segments = [...location.base, ...location.path.slice(0, depth)];
  let directory = await fs.open(location.root, DIRECTORY);
  for (const [index, segment] of segments.entries()) {
    let child: FileHandle | undefined;
    try {
      child = await openDirectory(directory, segment, mode === 'read' ? undefined : mode);
    } catch (error) {
      const described = describe(location, index + 1);
      throw await directoryRefusal(error, directory, segment, described, mode === 'read');
    } finally {
      await directory.close();
    }
    if (!child) return undefined;
    directory = child;
  }
  return directory;
}

/** The directory `name` inside `directory`; when missing, made (for its owner) if `making`, else undefined. */
async function openDirectory(
  directory: FileHandle,
  name: string,
  making: { owner: SandboxOwner | undefined } | undefined,
): Promise<FileHandle | undefined> {
  try {
    return await fs.open(inside(directory, name), DIRECTORY);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
    if (!making) return undefined;
  }
  const { owner } = making;
  const made = await fs.mkdir(inside(directory, name), { mode: 0o755 }).then(
    () => true,
    (error: unknown) => {
      if (errorCode(error) === 'EEXIST') return false;
      throw error;
    },
  );
  const child = await fs.open(inside(directory, name), DIRECTORY);
  if (made && owner) {
    await child.chown(owner.uid, owner.gid).catch(async (error: unknown) => {
      await child.close();
      throw error;
    });
  }
  return child;
}

/** Why a segment could not be walked through: a link (400), not a directory (404 reading, 400 writing), or storage. */
async function directoryRefusal(error: unknown, directory: FileHandle, name: string, described: string, reading: boolean): Promise<unknown> {
  if (error instanceof ApiError) return error;
  if (errorCode(error) === 'ENOTDIR' || errorCode(error) === 'ELOOP') {
    const stats: Stats | undefined = await fs.lstat(inside(directory, name)).catch(() => undefined);
    if (stats?.isSymbolicLink()) return linkRefusal(described);
    return reading ? ApiError.notFound(`no directory ${described}`) : ApiError.validation(`path: ${described} is not a directory`);
  }
  return storageError(error, described);
}

/** Appends the entries below `directory` (at `prefix`), depth first, without following links. */
async function collect(directory: FileHandle, prefix: string, entries: FileEntry[]): Promise<void> {
  for (const name of await fs.readdir(`/proc/self/fd/${directory.fd}`)) {
    const stats = await fs.lstat(inside(directory, name)).catch(() => undefined);
    if (!stats) continue; // removed meanwhile
    const path = prefix === '' ? name : `${prefix}/${name}`;
    entries.push({
      name,
      path,
      size: stats.isFile() ? stats.size : 0,
      modified: stats.mtime.toISOString(),
      is_directory: stats.isDirectory(),
    });
    if (!stats.isDirectory()) continue;
    const child = await fs.open(inside(directory, name), DIRECTORY).catch(() => undefined);
    if (!child) continue; // removed or replaced meanwhile
    try {
      await collect(child, path, entries);
    } finally {
      await child.close();
    }
  }
}

/** Removes `name` from `directory`: unlinked, or emptied and removed when a directory. */
async function removeEntry(directory: FileHandle, name: string, shown: string): Promise<void> {
  try {
    await fs.unlink(inside(directory, name));
    return;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') throw ApiError.notFound(`no file or directory ${shown}`);
    if (errorCode(error) !== 'EISDIR') throw storageError(error, shown);
  }
  // A sandbox writing into the directory meanwhile can refill it; a few rounds, then the caller is told.
  for (let round = 0; round < 3; round++) {
    let child: FileHandle;
    try {
      child = await fs.open(inside(directory, name), DIRECTORY);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return;
      // Replaced by a file or a link meanwhile: that goes instead.
      if (errorCode(error) === 'ENOTDIR' || errorCode(error) === 'ELOOP') return removeEntry(directory, name, shown);
      throw storageError(error, shown);
    }
    try {
      for (const entry of await fs.readdir(`/proc/self/fd/${child.fd}`)) {
        await removeEntry(child, entry, shown).catch((error: unknown) => {
          if (!(error instanceof ApiError && error.code === ErrorCode.notFound)) throw error;
        });
      }
    } finally {
      await child.close();
    }
    try {
      await fs.rmdir(inside(directory, name));
      return;
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return;
      if (errorCode(error) !== 'ENOTEMPTY') throw storageError(error, shown);
    }
  }
  throw new ApiError(ErrorCode.conflict, `${shown} kept getting new entries while it was deleted (an execution writes into it); try again`);
}

function lastSegment(location: VolumeLocation): string {
  const name = location.path.at(-1);
  if (name === undefined) throw new Error('a file operation needs a path below the volume');
  return name;
}

/** How an answer names the first `depth` segments of base and path: the key's prefix is never spelled out. */
function describe(location: VolumeLocation, depth: number): string {
  if (depth <= location.base.length) return "this API key's directory of the volume";
  return location.path.slice(0, depth - location.base.length).join('/');
}

function linkRefusal(shown: string): ApiError {
  return ApiError.validation(`path: ${shown} is a symbolic link; the Files API never follows links in a volume (delete it, or use its target's path)`);
}

/** A file system failure as the API tells it: full disk 503, a name too long 400, anything else as it is. */
function storageError(error: unknown, shown: string): unknown {
  if (error instanceof ApiError) return error;
  switch (errorCode(error)) {
    case 'ENOSPC':
    case 'EDQUOT':
      return ApiError.unavailable(`${shown}: no space left on this node's volume storage`, 60);
    case 'ENAMETOOLONG':
      return ApiError.validation(`path: ${shown} has a segment longer than 255 bytes`);
    default:
      return error;
  }
}
