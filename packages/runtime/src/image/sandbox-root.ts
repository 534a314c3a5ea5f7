import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { SANDBOX_HOME, SANDBOX_UID_INSIDE } from '../sandbox/sandbox-types.js';
import { resolveInImage } from './image-paths.js';

/**
 * Where bubblewrap mounts the sandbox's zones (bubblewrap-driver.ts), and /etc, which holds the files below. The root
 * is bound read-only before the zones, so each must already be a directory of the image, reached through no symbolic
 * link: bubblewrap would follow an image's link to wherever it points.
 */
const DIRECTORIES = ['/proc', '/dev', '/dev/shm', '/tmp', SANDBOX_HOME, '/data', '/run', '/etc'];
/** Files the sandbox sees as the recipe images write them; /etc/resolv.conf is also the mount point of a slot's. */
const FILES: Record<string, string> = {
  '/etc/hosts': '127.0.0.1 localhost\n::1 localhost ip6-localhost\n127.0.1.1 sandbox\n',
  '/etc/hostname': 'sandbox\n',
  '/etc/resolv.conf': '',
};
/** Baponi clients (its SDK's examples and deepagents backend) address the home as /home/baponi. */
const BAPONI_HOME = '/home/baponi';
const USER_NAME = 'sandbox';
/** /etc/passwd and /etc/group are read whole; larger is not an account database. */
const MAX_ACCOUNT_FILE_BYTES = 1 << 20;

/**
 * Makes an unpacked image usable as a sandbox's read-only root: the mount points exist as directories the sandbox
 * user can traverse, the user `sandbox` (uid and gid 1000) is in /etc/passwd and /etc/group (taking the place of an
 * account the image had with that name or id), and /etc/hosts, /etc/hostname, /etc/resolv.conf and /home/baponi are
 * as in a recipe image. Nothing is written through a link the image planted: a link or file where a directory is
 * needed is replaced by the directory, and files are replaced, never written in place. Returns what was replaced,
 * for progress.
 */
export async function prepareSandboxRoot(rootfs: string): Promise<string[]> {
  const notes: string[] = [];
  await fs.chmod(rootfs, 0o755);
  for (const path of DIRECTORIES) await ensureDirectory(rootfs, path, notes);
  for (const [path, content] of Object.entries(FILES)) await replaceFile(rootfs, path, content, notes);
  const shell = (await isExecutable(rootfs, '/bin/bash')) ? '/bin/bash' : '/bin/sh';
  await replaceAccount(rootfs, '/etc/passwd', `${USER_NAME}:x:${SANDBOX_UID_INSIDE}:${SANDBOX_UID_INSIDE}::${SANDBOX_HOME}:${shell}`, 'root:x:0:0:root:/root:/bin/sh', notes);
  await replaceAccount(rootfs, '/etc/group', `${USER_NAME}:x:${SANDBOX_UID_INSIDE}:`, 'root:x:0:', notes);
  if ((await fs.readlink(join(rootfs, BAPONI_HOME)).catch(() => null)) !== 'sandbox') {
    await removeEntry(rootfs, BAPONI_HOME, notes);
    await fs.symlink('sandbox', join(rootfs, BAPONI_HOME));
  }
  return notes;
}

/** Makes every directory of `path` a real directory that others may traverse, replacing whatever else is there. */
async function ensureDirectory(rootfs: string, path: string, notes: string[]): Promise<void> {
  let current = rootfs;
  let imagePath = '';
  for (const segment of path.split('/').filter(Boolean)) {
    current = join(current, segment);
    imagePath = `${imagePath}/${segment}`;
    const stats = await fs.lstat(current).catch(() => null);
    if (stats?.isDirectory()) {
      if ((stats.mode & 0o001) === 0) {
        await fs.chmod(current, (stats.mode & 0o7777) | 0o005);
        notes.push(`${imagePath}: made readable and traversable by the sandbox user`);
      }
      continue;
    }
    if (stats) await removeEntry(rootfs, imagePath, notes);
    await fs.mkdir(current, { mode: 0o755 });
  }
}

/** Writes a file of the image afresh: whatever was at its path goes first. */
async function replaceFile(rootfs: string, path: string, content: string, notes: string[]): Promise<void> {
  await removeEntry(rootfs, path, notes);
  await writeNewFile(join(rootfs, path), content);
}

/** Creates a file exclusively (never through a link), mode 0644. */
async function writeNewFile(hostPath: string, content: string): Promise<void> {
  const file = await fs.open(hostPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    await file.writeFile(content);
  } finally {
    await file.close();
  }
}

/**
 * Rewrites an account database (/etc/passwd or /etc/group, `name:x:id:...` lines) with `entry` in place of any line
 * of the same name or id, read only if it is a regular file; an image without one (or with something else at its path)
 * gets `rootEntry` and `entry`.
 */
async function replaceAccount(rootfs: string, path: string, entry: string, rootEntry: string, notes: string[]): Promise<void> {
  const existing = await readRegularFile(join(rootfs, path));
  if (existing === null) await removeEntry(rootfs, path, notes);
  const lines = existing === null ? [rootEntry] : existing.split('\n').filter((line) => line !== '');
  const kept = lines.filter((line) => {
    const [name, , id] = line.split(':');
    const clashes = name === USER_NAME || id === String(SANDBOX_UID_INSIDE);
    if (clashes && line !== entry) notes.push(`${path}: "${name}" (id ${id}) replaced by ${USER_NAME} (${SANDBOX_UID_INSIDE})`);
    return !clashes;
  });
  // Written beside it and renamed over it: rename replaces a link itself, never what it points to.
  const replacement = join(rootfs, `${path}.airlock-new`);
  await fs.rm(replacement, { recursive: true, force: true });
  await writeNewFile(replacement, `${[...kept, entry].join('\n')}\n`);
  await fs.rename(replacement, join(rootfs, path));
}

/** A regular file's text, not following a link; null for anything else or nothing. */
async function readRegularFile(path: string): Promise<string | null> {
  let file: fs.FileHandle;
  try {
    file = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const stats = await file.stat();
    if (!stats.isFile() || stats.size > MAX_ACCOUNT_FILE_BYTES) return null;
    return await file.readFile('utf8');
  } finally {
    await file.close();
  }
}

/** Removes whatever is at `path` (a directory with everything in it), telling what it replaced. */
async function removeEntry(rootfs: string, path: string, notes: string[]): Promise<void> {
  const hostPath = join(rootfs, path);
  const stats = await fs.lstat(hostPath).catch(() => null);
  if (!stats) return;
  const what = stats.isSymbolicLink() ? `a symbolic link to ${await fs.readlink(hostPath)}` : stats.isDirectory() ? 'a directory' : stats.isFile() ? null : 'a special file';
  if (what) notes.push(`${path}: replaced ${what}`);
  await fs.rm(hostPath, { recursive: true, force: true });
}

async function isExecutable(rootfs: string, path: string): Promise<boolean> {
  const entry = await resolveInImage(rootfs, path);
  return entry !== null && entry.stats.isFile() && (entry.stats.mode & 0o111) !== 0;
}
