export {
  BlobNotFoundError,
  BlobStoreUnavailableError,
  assertDigest,
  type BlobStore,
  type StoredBlob,
} from './blob-store.js';
export { pathContains, resolveSubPaths, scopeMount, type MountLevels, type ScopedMount } from './path-scope.js';
export {
  BucketMounts,
  BucketUnavailableError,
  type BucketMountLease,
  type BucketMountSpec,
  type BucketMountsOptions,
  type StorageSync,
} from './bucket-mounts.js';
export { testConnection, type ConnectionTestOptions, type ConnectionTestResult } from './connection-check.js';
export { remotePurge } from './remote-purge.js';
export { remoteSize } from './remote-size.js';
export { LocalBlobStore } from './local-blob-store.js';
export { S3BlobStore, type S3BlobStoreOptions } from './s3-blob-store.js';
export { DEFAULT_RCLONE_PATH, RCLONE_VERSION } from './rclone-binary.js';
export {
  rcloneRemote,
  rcloneRemotePath,
  type AzureConnection,
  type AzureCredentials,
  type GcsConnection,
  type GcsCredentials,
  type GcsHmacKey,
  type RcloneRemote,
  type S3Connection,
  type S3Credentials,
  type StorageConnection,
  type StorageProvider,
} from './rclone-remote.js';
