import { chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { rcloneRemote, rcloneRemotePath, remotePurge, remoteSize, type BucketMountLease, type BucketMounts, type StorageConnection } from '@airlock/storage';
import { measureDirectory } from './directory-usage.js';

/** The sandbox user on the host. */
export interface SandboxOwner {
  uid: number;
  gid: number;
}

/** A volume's files on this host, for one use. */
export interface VolumeAccess {
  /** The volume's directory. */
  root: string;
  /** Who what the host makes in it must belong to; none on a bucket mount, where everything shows as the sandbox user's. */
  owner: SandboxOwner | undefined;
  /** The bucket mount it is reached through (release it when done); none for a directory of this node. */
  lease: BucketMountLease | undefined;
}

export interface VolumeStoreOptions {
  /** The local backend's volumes: `<directory>/<organization id>/<volume id>`. */
  directory: string;
  owner: SandboxOwner;
  buckets: BucketMounts;
  /** The rclone program, for measuring volumes on the S3-compatible backend. */
  rclone: string;
  /**
   * With the S3-compatible backend (AIRLOCK_S3_*): its bucket, where volumes live below `<prefix>volumes/<organization
   * id>/<volume id>`, mounted like a connection's; without it, volumes are directories of this node.
   */
  bucket?: { connection: StorageConnection; prefix: string };
}

/**
 * Where managed volumes are on this host (docs/decisions/0022-storage-mounts.md), for the calls that bind them at
 * /data/<mount> and for the Files API.
 */
export class VolumeStore {
  readonly #options: VolumeStoreOptions;

  constructor(options: VolumeStoreOptions) {
    this.#options = options;
  }

  /**
   * A volume's directory: on the local backend a directory of the data directory, made on first use and owned by the
   * sandbox user; on the S3-compatible backend the server bucket's rclone mount, with each directory down to `path`
   * listed afresh (BucketUnavailableError when the bucket does not answer).
   */
  async open(organizationId: string, volumeId: string, use: { label: string; path: string; readOnly: boolean }): Promise<VolumeAccess> {
    const { bucket, buckets, owner } = this.#options;
    if (!bucket) return { root: await this.#directory(organizationId, volumeId), owner, lease: undefined };
    const remote = rcloneRemote('bucket', bucket.connection);
    const lease = await buckets.acquire(
      {
        label: use.label,
        environment: remote.environment,
        remotePath: rcloneRemotePath(remote, this.#prefix(organizationId, volumeId)),
        readOnly: use.readOnly,
        syncMode: 'write_back',
      },
      use.path,
    );
    return { root: lease.root, owner: undefined, lease };
  }

  /**
   * The bytes a volume holds: on the local backend its regular files' apparent sizes (no link followed, a hard-linked
   * file once); on the S3-compatible backend the sizes of the objects below its prefix (`rclone size`, not through the
   * mount). Rejects past `budgetMs`.
   */
  async measure(organizationId: string, volumeId: string, budgetMs: number): Promise<number> {
    const { bucket, directory, rclone } = this.#options;
    if (!bucket) return measureDirectory(join(directory, organizationId, volumeId), budgetMs);
    const remote = rcloneRemote('bucket', bucket.connection);
    return remoteSize({ rclone, remote, prefix: this.#prefix(organizationId, volumeId), timeoutMs: budgetMs });
  }

  /** Deletes every file of an organization's volumes: its directory here, or its objects in the server's bucket. */
  async removeOrganization(organizationId: string, budgetMs: number): Promise<void> {
    const { bucket, directory, rclone } = this.#options;
    if (!bucket) return rm(join(directory, organizationId), { recursive: true, force: true });
    const remote = rcloneRemote('bucket', bucket.connection);
    await remotePurge({ rclone, remote, prefix: `${bucket.prefix}volumes/${organizationId}`, timeoutMs: budgetMs });
  }

  #prefix(organizationId: string, volumeId: string): string {
    return `${this.#options.bucket?.prefix ?? ''}volumes/${organizationId}/${volumeId}`;
  }

  async #directory(organizationId: string, volumeId: string): Promise<string> {
    const { directory, owner } = this.#options;
    const root = join(directory, organizationId, volumeId);
    await mkdir(join(directory, organizationId), { recursive: true, mode: 0o711 });
    const made = await mkdir(root, { mode: 0o755 }).then(() => true, (error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return false;
      throw error;
    });
    if (made) await chown(root, owner.uid, owner.gid);
    return root;
  }
}
