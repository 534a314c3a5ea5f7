export {
  BlobNotFoundError,
  BlobStoreUnavailableError,
  assertDigest,
  type BlobStore,
  type StoredBlob,
} from './blob-store.js';
export { LocalBlobStore } from './local-blob-store.js';
