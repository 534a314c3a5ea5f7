import type {
  FileDeleteRequest,
  FileDownloadUrlRequest,
  FilesListRequest,
  FilesListResponse,
  FileUploadUrlRequest,
  SignedUrlResponse,
} from '@airlock/contracts';
import { camelize } from './camel-case.js';
import { AirlockConfigurationError } from './errors.js';
import { releasedWhenRead } from './response-body.js';
import type { CallOptions, RequestBody, Transport } from './transport.js';
import type { FileEntry, SignedUrl } from './types.js';

/** What `files.upload` takes: text (sent as UTF-8), bytes, a Blob or File, or a stream of bytes. */
export type UploadData = string | Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array>;

export interface UploadUrlOptions extends CallOptions {
  /** The exact size of the file, in bytes; the URL accepts only that many. */
  contentLength: number;
  /** @default application/octet-stream */
  contentType?: string;
}

export interface UploadOptions extends CallOptions {
  /** @default the Blob's type, else application/octet-stream */
  contentType?: string;
  /** The size in bytes; required for a ReadableStream, whose length is known only once it has been read. */
  contentLength?: number;
}

/**
 * The files of a thread's home (`/home/sandbox`), between executions. Paths are relative to the home. Transfers go
 * through signed, expiring URLs (to the Airlock server, or straight to the bucket with an S3 store); the API key is
 * never sent to them.
 */
export class FilesApi {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** Every file and directory below `path` (the whole home without it). */
  async list(threadId: string, path?: string, options: CallOptions = {}): Promise<FileEntry[]> {
    const body: FilesListRequest = { source: 'thread', id: threadId, path };
    const listed = await this.#transport.json<FilesListResponse>({ method: 'POST', path: '/v1/files/list', json: body, retry: 'idempotent', ...options });
    return listed.files.map(camelize);
  }

  /** A URL that accepts one PUT of exactly `contentLength` bytes to `path`. */
  async uploadUrl(threadId: string, path: string, options: UploadUrlOptions): Promise<SignedUrl> {
    const { contentLength, contentType, ...call } = options;
    const body: FileUploadUrlRequest = { source: 'thread', id: threadId, path, content_length: contentLength, content_type: contentType };
    return this.#signedUrl('/v1/files/upload_url', body, call);
  }

  /** A URL that answers one file's content to GET. */
  async downloadUrl(threadId: string, path: string, options: CallOptions = {}): Promise<SignedUrl> {
    const body: FileDownloadUrlRequest = { source: 'thread', id: threadId, path };
    return this.#signedUrl('/v1/files/download_url', body, options);
  }

  /** Writes `data` to `path` in the home (replacing a file there); parent directories are made. */
  async upload(threadId: string, path: string, data: UploadData, options: UploadOptions = {}): Promise<void> {
    const { contentType, contentLength, ...call } = options;
    const content = uploadContent(data, contentLength);
    const signed = await this.uploadUrl(threadId, path, {
      ...call,
      contentLength: content.length,
      contentType: contentType ?? content.type ?? 'application/octet-stream',
    });
    const opened = await this.#transport.open({
      method: signed.method,
      url: signed.url,
      headers: headerRecord(signed.headers),
      body: content.body,
      retry: content.body instanceof ReadableStream ? 'never' : 'idempotent',
      ...call,
    });
    opened.attempt.dispose();
    await opened.response.body?.cancel();
  }

  /** The file's content as a fetch Response (read it with `.text()`, `.arrayBuffer()`, `.blob()` or `.body`). */
  async download(threadId: string, path: string, options: CallOptions = {}): Promise<Response> {
    const signed = await this.downloadUrl(threadId, path, options);
    const opened = await this.#transport.open({
      method: signed.method,
      url: signed.url,
      headers: headerRecord(signed.headers),
      retry: 'idempotent',
      ...options,
    });
    return releasedWhenRead(opened);
  }

  /** Removes a file from the home; the next execution on the thread no longer sees it. */
  async delete(threadId: string, path: string, options: CallOptions = {}): Promise<void> {
    const body: FileDeleteRequest = { source: 'thread', id: threadId, path };
    await this.#transport.json({ method: 'POST', path: '/v1/files/delete', json: body, retry: 'refusals', ...options });
  }

  async #signedUrl(path: string, body: object, options: CallOptions): Promise<SignedUrl> {
    return camelize(await this.#transport.json<SignedUrlResponse>({ method: 'POST', path, json: body, retry: 'idempotent', ...options }));
  }
}

function headerRecord(headers: SignedUrl['headers']): Record<string, string> {
  return Object.fromEntries(headers.map((header) => [header.name, header.value]));
}

/** The body to PUT, its length and its type when the data says. */
function uploadContent(data: UploadData, contentLength: number | undefined): { body: RequestBody; length: number; type?: string } {
  if (typeof data === 'string') {
    const bytes = new TextEncoder().encode(data);
    return { body: bytes, length: bytes.byteLength, type: 'text/plain; charset=utf-8' };
  }
  if (data instanceof Uint8Array) return { body: data, length: data.byteLength };
  if (data instanceof ArrayBuffer) return { body: new Uint8Array(data), length: data.byteLength };
  if (data instanceof Blob) return { body: data, length: data.size, ...(data.type ? { type: data.type } : {}) };
  if (contentLength === undefined || !Number.isInteger(contentLength) || contentLength < 0) {
    throw new AirlockConfigurationError(
      'files.upload of a ReadableStream needs its size: pass { contentLength } (bytes), or pass a Blob or Uint8Array',
    );
  }
  return { body: data, length: contentLength };
}
