import { ErrorCode } from '@airlock/contracts';
import type { ThreadRepository } from '@airlock/db';
import {
  decodeManifest,
  encodeManifest,
  mergeLayers,
  openLayerFile,
  scanLayer,
  type LayerCache,
  type LayerSource,
} from '@airlock/runtime';
import { LRUCache } from 'lru-cache';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';
import type { ThreadRetention } from '@airlock/db';
import type { LayerEntry, LayerManifest } from '@airlock/runtime';
import type { BlobStore } from '@airlock/storage';
import { ApiError } from '../shared/api-error.js';
import type { Principal } from '../auth/api-key-service.js';
import type { Logger } from '../shared/logger.js';

export interface ThreadServiceOptions {
  threads: ThreadRepository;
  blobs: BlobStore;
  layerCache: LayerCache;
  nodeId: string;
  logger: Logger;
  /**
   * A blob or cached layer no thread references is removed only once it is this old: a save in progress has stored
   * its blobs before its layer is recorded, and a running call may still have an old layer mounted.
   */
  garbageGraceMs: number;
}

export interface ThreadSweepResult {
  expiredThreads: number;
  deletedBlobs: number;
}

/** A thread held by one execution: its home's layers on this node, and how to save the call's changes. */
export interface ThreadLease {
  readonly thread: { orgId: string; threadId: string };
  /** Materialized layer directories, topmost first, for the sandbox's home overlay. */
  lowerDirectories: string[];
  /**
   * Stores the changes (the overlay's upper directory, once the sandbox has ended) as a new layer, in the blob store
   * and on this node, and returns its digest; null when nothing changed. The thread stays held: completing the
   * execution releases it with the layer appended (ExecutionRepository.complete). When this throws, nothing refers
   * to what was stored and the thread is at its last complete state.
   */
  save(changes: string): Promise<string | null>;
  /** Called once the execution has completed and released the thread; starts compaction of a long layer chain. */
  completed(layer: string | null): void;
  /** Releases the thread unchanged, for a call that did not run. */
  release(): Promise<void>;
}

/**
 * A thread with more layers than this is compacted in the background: its layers merged into one. Saves stay
 * proportional to the changed bytes; compaction keeps restores (one overlay layer per thread layer) short and the
 * overlay mount options within their page-size limit.
 */
const COMPACT_ABOVE_LAYERS = 8;
/** Threads whose layers this node remembers from its last call of them. */
const REMEMBERED_THREADS = 10_000;

/** Persistent homes: the per-thread lock, restoring layers on this node, saving each call's changes as a layer. */
export class ThreadService {
  readonly #options: ThreadServiceOptions;
  readonly #source: LayerSource;
  readonly #compacting = new Map<string, Promise<void>>();
  /** Each thread's layers (digests, oldest first) as this node's last call of it left them. */
  readonly #lastLayers = new LRUCache<string, readonly string[]>({ max: REMEMBERED_THREADS });

  constructor(options: ThreadServiceOptions) {
    this.#options = options;
    const { blobs } = options;
    this.#source = {
      manifest: async (digest) => decodeManifest(await blobs.read(digest)),
      blob: (digest) => blobs.get(digest),
      ...(blobs.localFile && { localFile: (digest: string) => blobs.localFile!(digest) }),
    };
  }

  /**
   * The directories of the layers the thread had when this node's last call of it ended, if they are all on this
   * node: what its next call here most likely restores (while begin() finds out), or undefined.
   */
  expectedLowerDirectories(orgId: string, threadId: string): readonly string[] | undefined {
    const layers = this.#lastLayers.get(threadKey(orgId, threadId));
    if (layers === undefined) return undefined;
    const directories: string[] = [];
    for (const digest of [...layers].reverse()) {
      const directory = this.#options.layerCache.present(digest);
      if (directory === undefined) return undefined;
      directories.push(directory);
    }
    return directories;
  }

  /** Takes the thread for `traceId` (409 thread_busy if another execution holds it) and restores its layers. */
  async begin(principal: Principal, threadId: string, traceId: string): Promise<ThreadLease> {
    const { threads, layerCache, nodeId } = this.#options;
    const orgId = principal.organization.id;
    const layers = await threads.acquire({
      orgId,
      threadId,
      traceId,
      nodeId,
      retention: principal.sandboxConfig.threadRetention,
    });
    if (layers === null) {
      throw new ApiError(
        ErrorCode.threadBusy,
        `thread ${threadId} is running another execution; one execution per thread at a time, retry when it ends`,
      );
    }
    const remembered = threadKey(orgId, threadId);
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      await threads.release({ orgId, threadId, traceId });
      released = true;
      this.#lastLayers.set(remembered, layers);
    };
    let lowerDirectories: string[];
    try {
      lowerDirectories = await Promise.all([...layers].reverse().map((digest) => layerCache.ensure(digest, this.#source)));
    } catch (error) {
      await release();
      this.#options.logger.error('thread layers could not be restored', { threadId, error: String(error) });
      throw ApiError.unavailable(`the home of thread ${threadId} could not be restored from storage; try again shortly`);
    }
    return {
      thread: { orgId, threadId },
      lowerDirectories,
      release,
      save: async (changes) => {
        const manifest = await scanLayer(changes, async (path) => (await this.#options.blobs.putFile(path)).digest);
        if (manifest.entries.length === 0) return null;
        const layer = await this.#options.blobs.put(encodeManifest(manifest));
        // Materialized before the save counts, so the thread's next call on this node can restore it; from the
        // changes themselves, which are still on this node.
        const files = new Map(manifest.entries.flatMap((entry) => (entry.type === 'file' ? [[entry.digest, entry.path]] : [])));
        await layerCache.ensure(layer.digest, {
          ...this.#source,
          manifest: async () => manifest,
          blob: (digest) => openLayerFile(join(changes, files.get(digest) ?? '')),
        });
        return layer.digest;
      },
      completed: (layer) => {
        this.#lastLayers.set(remembered, layer === null ? layers : [...layers, layer]);
        if (layer !== null && layers.length + 1 > COMPACT_ABOVE_LAYERS) this.#scheduleCompaction(orgId, threadId);
      },
    };
  }

  /** The retention of the organization's thread; null when it has no thread with this id. */
  async retention(orgId: string, threadId: string): Promise<ThreadRetention | null> {
    return (await this.#options.threads.get(orgId, threadId))?.retention ?? null;
  }

  /** The thread's home as the next call will see it; empty for a thread that does not exist. */
  async view(orgId: string, threadId: string): Promise<LayerManifest> {
    const thread = await this.#options.threads.get(orgId, threadId);
    if (!thread) return { version: 1, entries: [] };
    try {
      return mergeLayers(await Promise.all(thread.layers.map((digest) => this.#source.manifest(digest))));
    } catch (error) {
      throw storageError(error, `the home of thread ${threadId} could not be read from storage`);
    }
  }

  /** A regular file of the thread's home and its content; 404 when there is none at `path`. */
  async readFile(orgId: string, threadId: string, path: string): Promise<{ entry: LayerEntry & { type: 'file' }; content: Readable }> {
    const entry = (await this.view(orgId, threadId)).entries.find((candidate) => candidate.path === path);
    if (entry?.type !== 'file') throw ApiError.notFound(`no file ${path} in thread ${threadId}`);
    try {
      return { entry, content: await this.#options.blobs.get(entry.digest) };
    } catch (error) {
      throw storageError(error, `file ${path} of thread ${threadId} could not be read from storage`);
    }
  }

  /**
   * A URL to download the file straight from the blob store, when the store signs URLs (S3): the content the file
   * has now. Undefined for stores that do not; 404 when there is no file at `path`.
   */
  async presignedDownload(orgId: string, threadId: string, path: string, expiresSeconds: number): Promise<string | undefined> {
    const { blobs } = this.#options;
    if (!blobs.presignedDownload) return undefined;
    const entry = (await this.view(orgId, threadId)).entries.find((candidate) => candidate.path === path);
    if (entry?.type !== 'file') throw ApiError.notFound(`no file ${path} in thread ${threadId}`);
    return blobs.presignedDownload(entry.digest, { expiresSeconds, fileName: path.slice(path.lastIndexOf('/') + 1) });
  }

  /**
   * Writes a file into the thread's home, creating the thread and the file's directories as needed: the content
   * goes to the blob store, then a layer with the file is appended while the thread is held (409 if it is busy).
   */
  async writeFile(options: {
    orgId: string;
    threadId: string;
    path: string;
    content: Readable;
    contentLength: number;
    retention: ThreadRetention;
  }): Promise<void> {
    const { orgId, threadId, path } = options;
    let stored;
    try {
      stored = await this.#options.blobs.put(options.content);
    } catch (error) {
      throw storageError(error, `the upload of ${path} could not be stored`);
    }
    if (stored.size !== options.contentLength) {
      throw ApiError.validation(`body: ${stored.size} bytes received, the upload URL was made for ${options.contentLength}`);
    }
    const now = Date.now();
    await this.#appendLayer(orgId, threadId, options.retention, (view) => {
      const segments = path.split('/');
      const entries: LayerEntry[] = [];
      for (let depth = 1; depth < segments.length; depth++) {
        const directory = segments.slice(0, depth).join('/');
        const existing = view.get(directory);
        if (existing && existing.type !== 'directory') {
          throw ApiError.validation(`path: ${directory} is not a directory in thread ${threadId}`);
        }
        entries.push({ path: directory, type: 'directory', mode: existing?.mode ?? 0o755, mtimeMs: existing?.mtimeMs ?? now });
      }
      const existing = view.get(path);
      if (existing?.type === 'directory') throw ApiError.validation(`path: ${path} is a directory in thread ${threadId}`);
      entries.push({ path, type: 'file', mode: 0o644, mtimeMs: now, size: stored.size, digest: stored.digest });
      return entries;
    });
  }

  /** Deletes a file or directory (with everything in it) from the thread's home; 404 when there is none. */
  async deleteFile(orgId: string, threadId: string, path: string, retention: ThreadRetention): Promise<void> {
    await this.#appendLayer(orgId, threadId, retention, (view) => {
      if (!view.has(path)) throw ApiError.notFound(`no file ${path} in thread ${threadId}`);
      return [{ path, type: 'whiteout' }];
    });
  }

  /** Holds the thread while a layer made from its current view is stored and appended. */
  async #appendLayer(
    orgId: string,
    threadId: string,
    retention: ThreadRetention,
    makeEntries: (view: Map<string, LayerEntry>) => LayerEntry[],
  ): Promise<void> {
    const { threads, blobs, nodeId } = this.#options;
    const traceId = `fop_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
    const layers = await threads.acquire({ orgId, threadId, traceId, nodeId, retention });
    if (layers === null) {
      throw new ApiError(ErrorCode.threadBusy, `thread ${threadId} is running an execution; retry when it ends`);
    }
    let layer: string | undefined;
    try {
      const view = new Map((await this.view(orgId, threadId)).entries.map((entry) => [entry.path, entry]));
      const manifest: LayerManifest = { version: 1, entries: makeEntries(view) };
      try {
        layer = (await blobs.put(encodeManifest(manifest))).digest;
      } catch (error) {
        throw storageError(error, `thread ${threadId} could not be updated in storage`);
      }
    } finally {
      await threads.release({ orgId, threadId, traceId, layer });
      this.#lastLayers.delete(threadKey(orgId, threadId));
    }
  }

  /** A new thread starting from `source`'s current home; layers are shared, nothing is copied. */
  async fork(principal: Principal, source: string, target: string): Promise<void> {
    const outcome = await this.#options.threads.fork({
      orgId: principal.organization.id,
      source,
      target,
      retention: principal.sandboxConfig.threadRetention,
    });
    if (outcome === 'no_source') throw ApiError.notFound(`no thread ${source}`);
    if (outcome === 'target_exists') throw new ApiError(ErrorCode.conflict, `thread ${target} already exists`);
  }

  /** The thread's home as a gzipped tar archive, streamed: directories, files and symlinks with modes and times. */
  async export(principal: Principal, threadId: string): Promise<Readable> {
    const orgId = principal.organization.id;
    if (!(await this.#options.threads.get(orgId, threadId))) throw ApiError.notFound(`no thread ${threadId}`);
    const view = await this.view(orgId, threadId);
    const archive = pack();
    const blobs = this.#options.blobs;
    void (async () => {
      for (const entry of view.entries) {
        const header = { name: entry.path, mtime: new Date('mtimeMs' in entry ? entry.mtimeMs : 0) };
        if (entry.type === 'directory') {
          archive.entry({ ...header, name: `${entry.path}/`, type: 'directory', mode: entry.mode });
        } else if (entry.type === 'symlink') {
          archive.entry({ ...header, type: 'symlink', linkname: entry.target });
        } else if (entry.type === 'file') {
          const content = await blobs.get(entry.digest);
          await pipeline(content, archive.entry({ ...header, type: 'file', mode: entry.mode, size: entry.size }));
        }
      }
      archive.finalize();
    })().catch((error: unknown) => archive.destroy(error as Error));
    const gzip = createGzip();
    pipeline(archive, gzip).catch(() => undefined); // an error destroys both; the reader sees it
    return gzip;
  }

  /**
   * Deletes threads past their retention, then the blobs and the layers cached on this node that no thread uses any
   * more (past the grace period).
   */
  async sweep(): Promise<ThreadSweepResult> {
    const { threads, blobs, layerCache, garbageGraceMs } = this.#options;
    const expiredThreads = await threads.deleteExpired();
    const layers = await threads.referencedLayers();
    const referenced = new Set(layers);
    for (const layer of layers) {
      for (const entry of (await this.#source.manifest(layer)).entries) {
        if (entry.type === 'file') referenced.add(entry.digest);
      }
    }
    const cutoff = Date.now() - garbageGraceMs;
    let deletedBlobs = 0;
    for await (const blob of blobs.list()) {
      if (!referenced.has(blob.digest) && blob.storedAt.getTime() <= cutoff) {
        await blobs.delete(blob.digest);
        deletedBlobs++;
      }
    }
    await layerCache.prune(layers, cutoff);
    return { expiredThreads, deletedBlobs };
  }

  /** Resolves when the background compactions started so far have ended. */
  async idle(): Promise<void> {
    await Promise.all(this.#compacting.values());
  }

  #scheduleCompaction(orgId: string, threadId: string): void {
    const key = threadKey(orgId, threadId);
    if (this.#compacting.has(key)) return;
    const running = this.#compact(orgId, threadId)
      .catch((error: unknown) => this.#options.logger.warn('thread compaction failed', { threadId, error: String(error) }))
      .finally(() => this.#compacting.delete(key));
    this.#compacting.set(key, running);
  }

  /** Merges a thread's layers into one; layers saved meanwhile stay on top of it. */
  async #compact(orgId: string, threadId: string): Promise<void> {
    const { threads, blobs, layerCache } = this.#options;
    const thread = await threads.get(orgId, threadId);
    if (!thread || thread.layers.length <= 1) return;
    const manifests = await Promise.all(thread.layers.map((digest) => this.#source.manifest(digest)));
    const merged = mergeLayers(manifests);
    const layer = await blobs.put(encodeManifest(merged));
    await layerCache.ensure(layer.digest, this.#source);
    await threads.replacePrefix(orgId, threadId, thread.layers, layer.digest);
    this.#lastLayers.delete(threadKey(orgId, threadId));
  }
}

/** A thread's key in this node's maps: thread ids are unique within an organization. */
function threadKey(orgId: string, threadId: string): string {
  return `${orgId}/${threadId}`;
}

function storageError(error: unknown, message: string): unknown {
  if (error instanceof ApiError) return error;
  return ApiError.unavailable(`${message}; try again shortly`);
}
