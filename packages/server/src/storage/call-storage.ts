import { ErrorCode, type StorageSync as StorageSyncResponse } from '@airlock/contracts';
import type { StorageAttachment } from '@airlock/runtime';
import {
  BucketUnavailableError,
  rcloneRemote,
  rcloneRemotePath,
  resolveSubPaths,
  scopeMount,
  type BucketMountLease,
  type BucketMounts,
  type StorageSync,
} from '@airlock/storage';
import type { Principal } from '../auth/api-key-service.js';
import { ApiError } from '../shared/api-error.js';
import type { StorageService } from './storage-service.js';
import type { EffectiveMount } from './effective-mounts.js';
import type { VolumeStore } from './volume-store.js';
import { describeExcess, type VolumeUsage } from './volume-usage.js';

export interface CallStorageOptions {
  storage: Pick<StorageService, 'mountsOf' | 'openConnection'>;
  buckets: BucketMounts;
  /** Managed volumes: directories of this node, or the S3-compatible backend's bucket mounted. */
  volumes: VolumeStore;
  /** Volumes' quotas are checked against it, and writable volumes measured after each call. */
  usage: VolumeUsage;
  /** How long a call waits for its uploads before it answers `pending`. */
  drainBudgetMs: number;
}

/** One mount of a call, resolved: what the sandbox sees, and the bucket mount it comes from (none for a volume of this node). */
interface ResolvedMount {
  attachment: StorageAttachment;
  lease: BucketMountLease | undefined;
  /** A volume the call may write: measured once the call is over. */
  writableVolume: { organizationId: string; volumeId: string } | undefined;
}

/**
 * The storage of calls (docs/decisions/0022-storage-mounts.md): a call's mounts are its sandbox config's
 * attachments as its API key and its `sub_paths` narrow them; volumes come from the VolumeStore, connections are
 * rclone mounts. `open` resolves them before the sandbox is taken (a bad path is a 400, a bucket that does not
 * answer a 503 naming it, before any code runs).
 */
export class StorageForCalls {
  readonly #options: CallStorageOptions;

  constructor(options: CallStorageOptions) {
    this.#options = options;
  }

  async open(principal: Principal, subPaths: readonly string[]): Promise<CallStorage> {
    const mounts = await this.#options.storage.mountsOf(principal);
    const narrowed = resolveSubPaths(subPaths, new Set(mounts.map((mount) => mount.mountName)));
    if (!narrowed.ok) throw ApiError.validation(narrowed.problem);
    const resolved: ResolvedMount[] = [];
    try {
      for (const mount of mounts) resolved.push(await this.#resolve(principal, mount, narrowed.value.get(mount.mountName)));
    } catch (error) {
      for (const { lease } of resolved) lease?.release();
      throw error;
    }
    return new CallStorage(resolved, this.#options);
  }

  async #resolve(principal: Principal, mount: EffectiveMount, subPath: string[] | undefined): Promise<ResolvedMount> {
    const scoped = scopeMount({ connectionPrefix: mount.connectionPrefix, keyPrefix: mount.keyPrefix, subPath });
    if (!scoped.ok) throw ApiError.validation(`/data/${mount.mountName}: ${scoped.problem}`);
    const attachment = { name: mount.mountName, path: scoped.value.path, readOnly: mount.readOnly };
    const organizationId = principal.organization.id;
    const label = `/data/${mount.mountName}`;
    if (mount.kind === 'volume') {
      const excess = mount.readOnly ? undefined : this.#options.usage.excess({ ...mount, slug: mount.volumeSlug });
      if (excess) {
        throw new ApiError(
          ErrorCode.conflict,
          `${label}: ${describeExcess(mount.volumeSlug, excess)}; no code ran. Delete files (POST /v1/files/delete with source "volume"), ` +
            'raise quota_bytes (PATCH /admin/v1/volumes/{slug}), or attach it read-only',
        );
      }
      const writableVolume = mount.readOnly ? undefined : { organizationId, volumeId: mount.volumeId };
      const { root, lease } = await beforeAnyCode(this.#options.volumes.open(organizationId, mount.volumeId, { label, path: attachment.path, readOnly: mount.readOnly }));
      return { attachment: { ...attachment, root }, lease, writableVolume };
    }
    const connection = await this.#options.storage.openConnection(organizationId, mount.connectionId);
    if (!connection) throw ApiError.unavailable(`${label}: its storage connection was deleted; try again`);
    const remote = rcloneRemote('bucket', connection);
    const lease = await beforeAnyCode(
      this.#options.buckets.acquire(
        { label, environment: remote.environment, remotePath: rcloneRemotePath(remote, mount.connectionPrefix), readOnly: mount.readOnly, syncMode: mount.syncMode },
        attachment.path,
      ),
    );
    return { attachment: { ...attachment, root: lease.root }, lease, writableVolume: undefined };
  }
}

/** The storage of one call, from its resolution to its drain. */
export class CallStorage {
  readonly #mounts: ResolvedMount[];
  readonly #drainBudgetMs: number;
  readonly #usage: VolumeUsage;

  constructor(mounts: ResolvedMount[], options: Pick<CallStorageOptions, 'drainBudgetMs' | 'usage'>) {
    this.#mounts = mounts;
    this.#drainBudgetMs = options.drainBudgetMs;
    this.#usage = options.usage;
  }

  get attachments(): StorageAttachment[] {
    return this.#mounts.map((mount) => mount.attachment);
  }

  get isEmpty(): boolean {
    return this.#mounts.length === 0;
  }

  /**
   * Once the sandbox's processes are gone: waits until what the call wrote to writable buckets is uploaded (volumes
   * are written in place), within the budget; then measures the writable volumes in the background. Null for a call
   * without storage.
   */
  async drain(): Promise<StorageSyncResponse | null> {
    if (this.isEmpty) return null;
    const outcomes = await Promise.all(
      this.#mounts.map(async ({ attachment, lease, writableVolume }) => {
        const sync: StorageSync = lease && !attachment.readOnly ? await lease.drain(attachment.path, this.#drainBudgetMs) : { status: 'synced' };
        if (writableVolume) this.#usage.measureSoon(writableVolume.organizationId, writableVolume.volumeId);
        return { name: attachment.name, base: attachment.path, sync };
      }),
    );
    const files = (status: StorageSync['status']) =>
      outcomes.flatMap(({ name, base, sync }) =>
        sync.status === status && 'files' in sync ? sync.files.map((file) => `/data/${name}/${relativeTo(base, file)}`) : [],
      );
    const failed = outcomes.filter(({ sync }) => sync.status === 'failed');
    if (failed.length > 0) {
      return {
        status: 'failed',
        files: [...files('failed'), ...files('pending')],
        reason: failed.map(({ sync }) => (sync as { reason: string }).reason).join('; '),
      };
    }
    const pending = files('pending');
    if (pending.length > 0) {
      return { status: 'pending', files: pending, reason: `still uploading after ${this.#drainBudgetMs} ms; they will land without the call` };
    }
    return { status: 'synced', files: [], reason: null };
  }

  release(): void {
    for (const { lease } of this.#mounts) lease?.release();
  }
}

/** A queue item's name (relative to the bucket mount's root) as seen below the call's directory. */
function relativeTo(base: string, file: string): string {
  return base === '' ? file : file.slice(base.length + 1);
}

/** A bucket that does not answer, as the call's answer: 503 naming the mount, before any code runs. */
async function beforeAnyCode<T>(mounting: Promise<T>): Promise<T> {
  try {
    return await mounting;
  } catch (error) {
    if (error instanceof BucketUnavailableError) throw ApiError.unavailable(`${error.message}; no code ran`);
    throw error;
  }
}
