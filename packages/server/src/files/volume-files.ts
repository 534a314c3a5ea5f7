import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { ErrorCode, type FileEntry } from '@airlock/contracts';
import { BucketUnavailableError, scopeMount } from '@airlock/storage';
import { ApiError } from '../shared/api-error.js';
import type { StorageService } from '../storage/storage-service.js';
import type { VolumeAccess, VolumeStore } from '../storage/volume-store.js';
import { describeExcess, type VolumeUsage } from '../storage/volume-usage.js';
import { isOperatorAccess, type FileAccess } from './file-access.js';
import type { VolumeQuotaClaims } from './url-signer.js';
import { listTree, readVolumeFile, removeVolumePath, writeVolumeFile, type VolumeLocation } from './volume-tree.js';

/** A volume as a request sees it: the volume, the directory it sees inside it ("" for its root), and whether it may write. */
export interface VolumeScope {
  orgId: string;
  volumeId: string;
  base: string;
  readOnly: boolean;
  quota: VolumeQuotaClaims;
}

export interface VolumeFilesOptions {
  storage: Pick<StorageService, 'mountsOf' | 'getVolume'>;
  volumes: VolumeStore;
  /** Uploads are checked against volumes' quotas; volumes are measured after uploads and deletes. */
  usage: VolumeUsage;
  /** How long an upload or delete waits for the bucket (S3-compatible backend) before it answers anyway. */
  drainBudgetMs: number;
}

/**
 * The Files API for managed volumes (`source: "volume"`, `id` the slug), each seen through a {@link VolumeScope}: for
 * an API key, as its sandboxes see it at /data/<mount> (its sandbox config must attach it, 404 otherwise as for another
 * organization's; the key's prefix confines the paths, and a read-only attachment or key refuses uploads and deletes,
 * 403); for an organization's operators, the whole volume.
 */
export class VolumeFiles {
  readonly #options: VolumeFilesOptions;

  constructor(options: VolumeFilesOptions) {
    this.#options = options;
  }

  /**
   * The volume with this slug as the access sees it (404 when it sees none): for an API key, as its sandboxes see it,
   * through the attachment at /data/<slug> when its config attaches it twice, else the first by mount name; for an
   * organization's operators, the whole volume, writable.
   */
  async scope(access: FileAccess, slug: string, mode: 'read' | 'write'): Promise<VolumeScope> {
    if (isOperatorAccess(access)) {
      const volume = await this.#options.storage.getVolume(slug, access.organization.slug);
      return {
        orgId: access.organization.id,
        volumeId: volume.id,
        base: '',
        readOnly: false,
        quota: { slug, quotaBytes: volume.quota_bytes, usedBytes: volume.used_bytes },
      };
    }
    const principal = access;
    const mounts = (await this.#options.storage.mountsOf(principal)).flatMap((mount) =>
      mount.kind === 'volume' && mount.volumeSlug === slug ? [mount] : [],
    );
    const mount = mounts.find((candidate) => candidate.mountName === slug) ?? mounts[0];
    if (!mount) {
      throw ApiError.notFound(
        `no volume "${slug}" is attached to sandbox config "${principal.sandboxConfig.name}" for this API key; ` +
          'attach it with POST /admin/v1/sandboxes/{name}/attachments',
      );
    }
    if (mode === 'write' && mount.readOnly) {
      throw ApiError.forbidden(
        `volume "${slug}" is read-only for this API key (/data/${mount.mountName}); uploads and deletes need a writable attachment and key`,
      );
    }
    const scoped = scopeMount({ connectionPrefix: '', keyPrefix: mount.keyPrefix });
    if (!scoped.ok) throw ApiError.validation(`/data/${mount.mountName}: ${scoped.problem}`);
    return {
      orgId: principal.organization.id,
      volumeId: mount.volumeId,
      base: scoped.value.path,
      readOnly: mount.readOnly,
      quota: { slug, quotaBytes: mount.quotaBytes, usedBytes: mount.usedBytes },
    };
  }

  /** 413 when `length` more bytes would take the volume past its quota, or it is at its quota already. */
  checkQuota(scope: VolumeScope, length: number): void {
    const excess = this.#options.usage.excess({ volumeId: scope.volumeId, ...scope.quota }, length);
    if (!excess) return;
    throw new ApiError(
      ErrorCode.payloadTooLarge,
      `${describeExcess(scope.quota.slug, excess)}; ${length} more bytes do not fit. Delete files (POST /v1/files/delete) or raise ` +
        'quota_bytes (PATCH /admin/v1/volumes/{slug})',
    );
  }

  async list(scope: VolumeScope, path: string | undefined): Promise<FileEntry[]> {
    const { location, access } = await this.#open(scope, path ?? '', 'directory');
    try {
      return await listTree(location);
    } finally {
      access.lease?.release();
    }
  }

  /** The file's content and size (404 unless a regular file), streamed. */
  async read(scope: VolumeScope, path: string): Promise<{ content: Readable; size: number }> {
    const { location, access } = await this.#open(scope, path, 'file');
    try {
      const file = await readVolumeFile(location);
      // The bucket mount stays in use while the content streams.
      if (access.lease) void finished(file.content).catch(() => undefined).finally(() => access.lease?.release());
      return file;
    } catch (error) {
      access.lease?.release();
      throw error;
    }
  }

  /** Writes exactly `length` bytes of `content` as the file, making its directories; in the bucket when it resolves. */
  async write(scope: VolumeScope, path: string, content: Readable, length: number): Promise<void> {
    this.checkQuota(scope, length);
    const { location, access } = await this.#open(scope, path, 'file');
    try {
      await writeVolumeFile(location, { content, length, owner: access.owner });
      await this.#drain(access, location);
    } finally {
      access.lease?.release();
      this.#options.usage.measureSoon(scope.orgId, scope.volumeId);
    }
  }

  /** Deletes a file, a link or a directory with everything in it. */
  async delete(scope: VolumeScope, path: string): Promise<void> {
    const { location, access } = await this.#open(scope, path, 'file');
    try {
      await removeVolumePath(location);
      await this.#drain(access, location);
    } finally {
      access.lease?.release();
      this.#options.usage.measureSoon(scope.orgId, scope.volumeId);
    }
  }

  /** The volume's files on this host for one operation on `path`, which names a directory or a file. */
  async #open(scope: VolumeScope, path: string, kind: 'directory' | 'file'): Promise<{ location: VolumeLocation; access: VolumeAccess }> {
    const base = segments(scope.base);
    const relative = segments(path);
    const directory = [...base, ...(kind === 'file' ? relative.slice(0, -1) : relative)].join('/');
    try {
      const access = await this.#options.volumes.open(scope.orgId, scope.volumeId, { label: `volume ${scope.volumeId}`, path: directory, readOnly: scope.readOnly });
      return { location: { root: access.root, base, path: relative }, access };
    } catch (error) {
      if (error instanceof BucketUnavailableError) throw ApiError.unavailable(`${error.message}; nothing was read or changed`);
      throw error;
    }
  }

  /** On a bucket mount: waits until what the operation changed is uploaded; 503 when the upload fails. */
  async #drain(access: VolumeAccess, location: VolumeLocation): Promise<void> {
    if (!access.lease) return;
    const sync = await access.lease.drain([...location.base, ...location.path].join('/'), this.#options.drainBudgetMs);
    if (sync.status === 'failed') throw ApiError.unavailable(`${location.path.join('/')} is not in the bucket yet: ${sync.reason}`);
  }
}

const segments = (path: string): string[] => (path === '' ? [] : path.split('/'));
