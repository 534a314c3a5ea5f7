import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  constants,
  copyFileSync,
  existsSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  promises as fs,
  renameSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fsExtras } from './fs-extras.js';
import { assertLayerPath, LayerManifestError, type LayerManifest } from './layer-manifest.js';

/** Where layers come from: the manifest and the file contents, by digest (the blob store). */
export interface LayerSource {
  manifest(layerDigest: string): Promise<LayerManifest>;
  blob(digest: string): Promise<Readable>;
  /**
   * The blob as a file on this machine that is never written again, when the store keeps blobs as local files: a
   * layer's file is then a hard link to it, so its bytes are stored once on the node.
   */
  localFile?(digest: string): string;
}

/**
 * Entries a layer is written with between two turns of the event loop. Its file system calls are synchronous:
 * microseconds each on a local disk, where an asynchronous call costs a thread-pool round trip, and a thread call's
 * save waits for them; the turns keep a large layer from holding the event loop.
 */
const ENTRIES_PER_TURN = 64;
/** A file the layer cannot link to its blob is copied from it with one synchronous call up to this size. */
const SMALL_FILE_BYTES = 64 * 1024;

/**
 * Home layers materialized as directories on this node, ready to be overlay lower layers. A layer never changes, so
 * it is materialized once per node and kept: restoring a thread costs only the layers this node has not seen.
 * Directory names are the first 16 hex digits of the layer digest, short enough for a long overlay lowerdir option.
 */
export class LayerCache {
  readonly #root: string;
  readonly #owner: { uid: number; gid: number };
  readonly #pending = new Map<string, Promise<string>>();
  /** Layer directories known to be complete on this node: a restore of them asks the file system nothing. */
  readonly #present = new Set<string>();

  constructor(root: string, owner: { uid: number; gid: number }) {
    this.#root = root;
    this.#owner = owner;
  }

  async start(): Promise<void> {
    await fs.mkdir(this.#root, { recursive: true, mode: 0o700 });
    // Unfinished materializations of an earlier run.
    for (const name of await fs.readdir(this.#root)) {
      if (name.startsWith('.tmp-')) await fs.rm(join(this.#root, name), { recursive: true, force: true });
    }
  }

  /** The directory of a layer this node has complete; undefined when it has not (yet). */
  present(layerDigest: string): string | undefined {
    const directory = this.#directoryOf(layerDigest);
    return this.#present.has(directory) ? directory : undefined;
  }

  /** The directory of a layer, materializing it first if this node does not have it. */
  ensure(layerDigest: string, source: LayerSource): Promise<string> {
    const directory = this.#directoryOf(layerDigest);
    if (this.#present.has(directory)) return Promise.resolve(directory);
    let pending = this.#pending.get(directory);
    if (!pending) {
      pending = this.#materialize(layerDigest, directory, source)
        .then((materialized) => {
          this.#present.add(materialized);
          return materialized;
        })
        .finally(() => this.#pending.delete(directory));
      this.#pending.set(directory, pending);
    }
    return pending;
  }

  #directoryOf(layerDigest: string): string {
    return join(this.#root, layerDigest.slice(0, 16));
  }

  async #materialize(layerDigest: string, directory: string, source: LayerSource): Promise<string> {
    if (existsSync(directory)) return directory;
    const staging = join(this.#root, `.tmp-${randomBytes(8).toString('hex')}`);
    try {
      mkdirSync(staging, { mode: 0o755 });
      await writeLayer(staging, await source.manifest(layerDigest), source, this.#owner);
      renameSync(staging, directory);
    } catch (error) {
      await fs.rm(staging, { recursive: true, force: true });
      if ((error as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (error as NodeJS.ErrnoException).code === 'EEXIST') {
        return directory; // another materialization of the same layer won
      }
      throw error;
    }
    return directory;
  }

  /** Removes the layers this node keeps that are none of `keep` and were materialized at or before `cutoff` (ms). */
  async prune(keep: Set<string>, cutoff: number): Promise<void> {
    const wanted = new Set([...keep].map((digest) => digest.slice(0, 16)));
    for (const name of await fs.readdir(this.#root)) {
      if (name.startsWith('.') || wanted.has(name) || this.#pending.has(join(this.#root, name))) continue;
      const directory = join(this.#root, name);
      const stats = await fs.stat(directory).catch(() => undefined);
      if (stats && stats.ctimeMs <= cutoff) {
        this.#present.delete(directory);
        await fs.rm(directory, { recursive: true, force: true });
      }
    }
  }
}

/**
 * Writes a manifest's entries below `root`. Every entry's parent must be the root or a directory written earlier
 * from the same manifest, so no entry can be written through a symlink, whatever the manifest says.
 */
async function writeLayer(
  root: string,
  manifest: LayerManifest,
  source: LayerSource,
  owner: { uid: number; gid: number },
): Promise<void> {
  const extras = fsExtras();
  const directories = new Set<string>(['']);
  const directoryTimes: Array<[string, number]> = [];
  for (const [index, entry] of manifest.entries.entries()) {
    if (index > 0 && index % ENTRIES_PER_TURN === 0) await nextTurn();
    assertLayerPath(entry.path);
    const parent = entry.path.includes('/') ? entry.path.slice(0, entry.path.lastIndexOf('/')) : '';
    if (!directories.has(parent)) {
      throw new LayerManifestError(`layer entry ${JSON.stringify(entry.path)} is not inside a directory of the layer`);
    }
    const path = join(root, entry.path);
    switch (entry.type) {
      case 'directory':
        mkdirSync(path, { mode: 0o700 });
        chmodSync(path, entry.mode);
        chownSync(path, owner.uid, owner.gid);
        if (entry.opaque) extras.setOpaque(path);
        directories.add(entry.path);
        directoryTimes.push([path, entry.mtimeMs]);
        break;
      case 'file': {
        const blobFile = source.localFile?.(entry.digest);
        if (blobFile !== undefined && linkBlob(blobFile, path, entry, owner)) break;
        if (blobFile === undefined || entry.size > SMALL_FILE_BYTES || !copySmallFile(blobFile, path)) {
          const handle = await fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
          await pipeline(await source.blob(entry.digest), handle.createWriteStream());
        }
        setAttributes(path, entry, owner);
        break;
      }
      case 'symlink':
        symlinkSync(entry.target, path);
        lchownSync(path, owner.uid, owner.gid);
        lutimesSync(path, entry.mtimeMs / 1000, entry.mtimeMs / 1000);
        break;
      case 'whiteout':
        extras.makeWhiteout(path);
        break;
    }
  }
  // Directory times last: writing inside a directory changes its time.
  for (const [path, mtimeMs] of directoryTimes.reverse()) utimesSync(path, mtimeMs / 1000, mtimeMs / 1000);
}

function setAttributes(path: string, entry: LayerFileEntry, owner: { uid: number; gid: number }): void {
  chownSync(path, owner.uid, owner.gid);
  chmodSync(path, entry.mode);
  utimesSync(path, entry.mtimeMs / 1000, entry.mtimeMs / 1000);
}

/**
 * Makes `path` a hard link to the blob's file. Owner, mode and times belong to the inode, so they are shared with
 * every other link: the first layer to link a blob sets them; a later layer keeps the link only when they already
 * are what its entry says. Returns false (and leaves nothing at `path`) when the file must be a copy instead: the
 * attributes differ, the blob is on another file system, or it is missing.
 */
function linkBlob(blobFile: string, path: string, entry: LayerFileEntry, owner: { uid: number; gid: number }): boolean {
  try {
    linkSync(blobFile, path);
  } catch (error) {
    if (LINK_UNSUPPORTED.has((error as NodeJS.ErrnoException).code ?? '')) return false;
    throw error;
  }
  const stats = lstatSync(path);
  // Two names (the blob's and this one) mean no other layer uses the inode: its attributes are this entry's to set.
  if (stats.nlink === 2) {
    setAttributes(path, entry, owner);
    return true;
  }
  const same =
    stats.uid === owner.uid &&
    stats.gid === owner.gid &&
    (stats.mode & 0o7777) === entry.mode &&
    Math.trunc(stats.mtimeMs) === Math.trunc(entry.mtimeMs);
  if (!same) unlinkSync(path);
  return same;
}

/** Copies a small blob file to `path`, which must not exist yet; false when the blob has no file here. */
function copySmallFile(blobFile: string, path: string): boolean {
  try {
    copyFileSync(blobFile, path, constants.COPYFILE_EXCL);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(path)) return false;
    throw error;
  }
}

/** Errors of link(2) after which a copy works: another file system, no such blob file, too many links, not allowed. */
const LINK_UNSUPPORTED = new Set(['EXDEV', 'ENOENT', 'EMLINK', 'EPERM']);

type LayerFileEntry = Extract<LayerManifest['entries'][number], { type: 'file' }>;
