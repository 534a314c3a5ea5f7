import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  createReadStream,
  fstatSync,
  fsyncSync,
  openSync,
  promises as fs,
  readSync,
  renameSync,
  writeSync,
  mkdirSync,
  rmSync,
  existsSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { spool, type SpooledContent } from './spool.js';
import {
  BlobNotFoundError,
  BlobStoreUnavailableError,
  assertDigest,
  type BlobStore,
  type StoredBlob,
} from './blob-store.js';

/**
 * Blobs as files in a local directory: `sha256/<first two hex>/<digest>`. A blob is written to `incoming/`, flushed to
 * disk, then renamed into place, so a crash never leaves a partial blob under a digest.
 */
export class LocalBlobStore implements BlobStore {
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
  }

  /** Removes blobs that a process killed while writing them left half-written; call before the first put. */
  async removeIncomplete(): Promise<void> {
    await fs.rm(join(this.#root, 'incoming'), { recursive: true, force: true });
  }

  async putFile(path: string): Promise<StoredBlob> {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    const { size } = fstatSync(fd);
    if (size > SMALL_BLOB_BYTES) return this.put(createReadStream('', { fd, autoClose: true }));
    try {
      const content = Buffer.allocUnsafe(size);
      let offset = 0;
      for (let read = 1; offset < size && read > 0; offset += read) read = readSync(fd, content, offset, size - offset, offset);
      return this.put(content.subarray(0, offset));
    } finally {
      closeSync(fd);
    }
  }

  async put(content: Readable | Buffer): Promise<StoredBlob> {
    if (Buffer.isBuffer(content) && content.length <= SMALL_BLOB_BYTES) return this.#putSmall(content);
    let spooled: SpooledContent | undefined;
    try {
      spooled = await spool(content, join(this.#root, 'incoming'), { flush: true });
      const { digest, size } = spooled;
      const path = this.#path(digest);
      await fs.mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
      await fs.rename(spooled.path, path);
      await syncDirectory(join(path, '..'));
      return { digest, size };
    } catch (error) {
      if (spooled) await fs.rm(spooled.path, { force: true });
      throw unavailable(error);
    }
  }

  /**
   * Small blobs are written with synchronous calls: a handful of system calls of microseconds each, where the
   * asynchronous ones would each cost a thread-pool round trip on the request path.
   */
  #putSmall(content: Buffer): StoredBlob {
    const digest = createHash('sha256').update(content).digest('hex');
    const path = this.#path(digest);
    const directory = join(path, '..');
    const stored = { digest, size: content.length };
    try {
      if (existsSync(path)) return stored;
      mkdirSync(join(this.#root, 'incoming'), { recursive: true, mode: 0o700 });
      mkdirSync(directory, { recursive: true, mode: 0o700 });
      const temporary = join(this.#root, 'incoming', randomBytes(12).toString('hex'));
      const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        for (let offset = 0; offset < content.length; ) offset += writeSync(fd, content, offset);
        fsyncSync(fd);
      } catch (error) {
        closeSync(fd);
        rmSync(temporary, { force: true });
        throw error;
      }
      closeSync(fd);
      renameSync(temporary, path);
      const directoryFd = openSync(directory, constants.O_RDONLY);
      try {
        fsyncSync(directoryFd);
      } finally {
        closeSync(directoryFd);
      }
      return stored;
    } catch (error) {
      throw unavailable(error);
    }
  }

  async has(digest: string): Promise<boolean> {
    try {
      await fs.access(this.#path(digest));
      return true;
    } catch {
      return false;
    }
  }

  async get(digest: string): Promise<Readable> {
    const path = this.#path(digest);
    const handle = await fs.open(path, 'r').catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new BlobNotFoundError(digest) : unavailable(error);
    });
    return handle.createReadStream();
  }

  async read(digest: string): Promise<Buffer> {
    return fs.readFile(this.#path(digest)).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new BlobNotFoundError(digest) : unavailable(error);
    });
  }

  async delete(digest: string): Promise<void> {
    await fs.rm(this.#path(digest), { force: true });
  }

  async *list(): AsyncIterable<StoredBlob & { storedAt: Date }> {
    const base = join(this.#root, 'sha256');
    let prefixes: string[];
    try {
      prefixes = await fs.readdir(base);
    } catch {
      return;
    }
    for (const prefix of prefixes) {
      for (const digest of await fs.readdir(join(base, prefix)).catch(() => [] as string[])) {
        const stat = await fs.stat(join(base, prefix, digest)).catch(() => undefined);
        // ctime: a layer linking the blob sets the file's mtime to its entry's, which may be long past.
        if (stat) yield { digest, size: stat.size, storedAt: stat.ctime };
      }
    }
  }

  localFile(digest: string): string {
    return this.#path(digest);
  }

  close(): void {
    // nothing to release
  }

  #path(digest: string): string {
    assertDigest(digest);
    return join(this.#root, 'sha256', digest.slice(0, 2), digest);
  }
}

/** Makes a rename in `directory` durable. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await fs.open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Blobs up to this size are hashed and written in one piece, synchronously. */
const SMALL_BLOB_BYTES = 1024 * 1024;

function unavailable(error: unknown): Error {
  if (error instanceof BlobNotFoundError || error instanceof TypeError) return error;
  return new BlobStoreUnavailableError(`local blob store: ${(error as Error).message}`, { cause: error });
}
