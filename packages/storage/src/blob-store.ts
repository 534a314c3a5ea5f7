import type { Readable } from 'node:stream';

/** A stored blob: its SHA-256 digest (64 lowercase hex characters) and size in bytes. */
export interface StoredBlob {
  digest: string;
  size: number;
}

/**
 * Content-addressed blob storage: thread layers and the files in them. Every blob is stored under the SHA-256 of its
 * content, so identical files are stored once across layers and threads, and a blob never changes once written.
 */
export interface BlobStore {
  /** Stores the content (hashed while it streams) and returns its digest; storing existing content is a no-op. */
  put(content: Readable | Buffer): Promise<StoredBlob>;
  /** Stores the content of the file at `path`, refusing a symlink in its place. */
  putFile(path: string): Promise<StoredBlob>;
  /** Whether a blob exists. */
  has(digest: string): Promise<boolean>;
  /** The blob's content; rejects with BlobNotFoundError when it does not exist. */
  get(digest: string): Promise<Readable>;
  /** The whole blob in memory, for small blobs such as layer manifests. */
  read(digest: string): Promise<Buffer>;
  /** Removes a blob; removing a missing blob is a no-op. */
  delete(digest: string): Promise<void>;
  /**
   * The blob's file, when the store keeps blobs as files on this machine (the local directory store). The file is
   * never written again; its name is removed when the blob is deleted. Others may hard-link it.
   */
  localFile?(digest: string): string;
  /** Every stored blob with when it was last written or linked, for garbage collection. */
  list(): AsyncIterable<StoredBlob & { storedAt: Date }>;
  /** Removes what a process killed in the middle of a put left behind; call before the first put. */
  removeIncomplete(): Promise<void>;
  /** Releases connections; the store is not used afterwards. */
  close(): void;
  /**
   * A URL the client downloads the blob from directly, when the store can sign one (S3); `fileName` is the name the
   * download is saved under.
   */
  presignedDownload?(digest: string, options: { expiresSeconds: number; fileName: string }): Promise<string>;
}

export class BlobNotFoundError extends Error {
  override readonly name = 'BlobNotFoundError';
  constructor(readonly digest: string) {
    super(`blob ${digest} does not exist`);
  }
}

/** The store cannot be reached or refused the operation (a full disk, an S3 outage). */
export class BlobStoreUnavailableError extends Error {
  override readonly name = 'BlobStoreUnavailableError';
}

const DIGEST_PATTERN = /^[0-9a-f]{64}$/;

export function assertDigest(digest: string): void {
  if (!DIGEST_PATTERN.test(digest)) throw new TypeError(`not a SHA-256 digest: ${JSON.stringify(digest)}`);
}
