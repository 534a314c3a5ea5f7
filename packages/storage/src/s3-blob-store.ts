import { constants, createReadStream, promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { spool, type SpooledContent } from './spool.js';
import {
  BlobNotFoundError,
  BlobStoreUnavailableError,
  assertDigest,
  type BlobStore,
  type StoredBlob,
} from './blob-store.js';

export interface S3BlobStoreOptions {
  bucket: string;
  /** Key prefix of every blob, e.g. "airlock/"; blobs are `<prefix>sha256/<digest>`. */
  prefix?: string;
  /** S3-compatible endpoint (MinIO, R2, ...); AWS when unset. */
  endpoint?: string;
  region?: string;
  /** Path-style addressing, which most S3-compatible servers need. */
  forcePathStyle?: boolean;
  /** Static credentials; the AWS default chain (environment, profile, instance role) when unset. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Local directory where content is hashed before upload: the key is its digest, known only at the end. */
  spoolDirectory: string;
}

/** Blobs in an S3-compatible bucket, one object per digest. */
export class S3BlobStore implements BlobStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #spool: string;

  constructor(options: S3BlobStoreOptions) {
    this.#client = new S3Client({
      endpoint: options.endpoint,
      region: options.region ?? 'us-east-1',
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      credentials: options.credentials,
      // An outage answers the caller within seconds instead of retrying for long.
      maxAttempts: 2,
      // Plain payloads: S3-compatible servers do not all accept the streaming checksum trailers sent by default.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 2000, requestTimeout: 30_000 },
    });
    this.#bucket = options.bucket;
    this.#prefix = options.prefix ?? '';
    this.#spool = options.spoolDirectory;
  }

  /** Removes spool files a killed process left behind. */
  async removeIncomplete(): Promise<void> {
    await fs.rm(this.#spool, { recursive: true, force: true });
  }

  async put(content: Readable | Buffer): Promise<StoredBlob> {
    let spooled: SpooledContent | undefined;
    try {
      spooled = await spool(content, this.#spool, { flush: false });
      const { digest, size } = spooled;
      if (!(await this.has(digest))) {
        await this.#client.send(
          new PutObjectCommand({
            Bucket: this.#bucket,
            Key: this.#key(digest),
            Body: createReadStream(spooled.path),
            ContentLength: size,
          }),
        );
      }
      return { digest, size };
    } catch (error) {
      throw unavailable(error);
    } finally {
      if (spooled) await fs.rm(spooled.path, { force: true });
    }
  }

  async putFile(path: string): Promise<StoredBlob> {
    const handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    return this.put(handle.createReadStream());
  }

  async has(digest: string): Promise<boolean> {
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(digest) }));
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw unavailable(error);
    }
  }

  async get(digest: string): Promise<Readable> {
    try {
      const object = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(digest) }));
      return object.Body as Readable;
    } catch (error) {
      if (isMissing(error)) throw new BlobNotFoundError(digest);
      throw unavailable(error);
    }
  }

  async read(digest: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of await this.get(digest)) chunks.push(chunk as Buffer);
    } catch (error) {
      throw unavailable(error);
    }
    return Buffer.concat(chunks);
  }

  async delete(digest: string): Promise<void> {
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key(digest) }));
    } catch (error) {
      if (!isMissing(error)) throw unavailable(error);
    }
  }

  async *list(): AsyncIterable<StoredBlob & { storedAt: Date }> {
    const prefix = `${this.#prefix}sha256/`;
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.#client.send(
          new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: prefix, ContinuationToken: token }),
        );
      } catch (error) {
        throw unavailable(error);
      }
      for (const object of page.Contents ?? []) {
        const digest = object.Key?.slice(prefix.length) ?? '';
        if (/^[0-9a-f]{64}$/.test(digest)) {
          yield { digest, size: object.Size ?? 0, storedAt: object.LastModified ?? new Date(0) };
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async presignedDownload(digest: string, options: { expiresSeconds: number; fileName: string }): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.#bucket,
      Key: this.#key(digest),
      ResponseContentDisposition: `attachment; filename*=UTF-8''${encodeURIComponent(options.fileName)}`,
      ResponseContentType: 'application/octet-stream',
    });
    return getSignedUrl(this.#client, command, { expiresIn: options.expiresSeconds });
  }

  close(): void {
    this.#client.destroy();
  }

  #key(digest: string): string {
    assertDigest(digest);
    return `${this.#prefix}sha256/${digest}`;
  }
}

function isMissing(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.name === 'NotFound' || error.name === 'NoSuchKey' || error.$metadata?.httpStatusCode === 404)
  );
}

function unavailable(error: unknown): Error {
  if (error instanceof BlobNotFoundError || error instanceof TypeError || error instanceof BlobStoreUnavailableError) {
    return error;
  }
  return new BlobStoreUnavailableError(`S3 blob store: ${(error as Error).message || (error as Error).name}`, {
    cause: error,
  });
}
