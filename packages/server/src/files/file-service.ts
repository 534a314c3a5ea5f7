import type { Readable } from 'node:stream';
import type {
  FileDeleteRequest,
  FileDownloadUrlRequest,
  FileEntry,
  FileUploadUrlRequest,
  FilesListRequest,
  SignedUrlResponse,
} from '@airlock/contracts';
import type { ThreadRetention } from '@airlock/db';
import type { LayerEntry } from '@airlock/runtime';
import { ApiError } from '../shared/api-error.js';
import type { Principal } from '../auth/api-key-service.js';
import type { ThreadService } from '../threads/thread-service.js';
import type { UrlSigner } from './url-signer.js';

/** How long a signed file URL stays valid. */
const URL_LIFETIME_SECONDS = 15 * 60;

/** The path, below the server's URL, that serves signed file URLs. */
export const SIGNED_FILES_PATH = '/files/signed';

/** The Files API for threads: listing, signed upload and download URLs, deletion. */
export class FileService {
  readonly #threads: ThreadService;
  readonly #signer: UrlSigner;

  constructor(options: { threads: ThreadService; signer: UrlSigner }) {
    this.#threads = options.threads;
    this.#signer = options.signer;
  }

  async list(principal: Principal, request: FilesListRequest): Promise<{ files: FileEntry[] }> {
    const view = await this.#threads.view(principal.organization.id, request.id);
    const prefix = request.path === undefined ? '' : `${request.path}/`;
    if (request.path !== undefined && view.entries.find((entry) => entry.path === request.path)?.type !== 'directory') {
      throw ApiError.notFound(`no directory ${request.path} in thread ${request.id}`);
    }
    return {
      files: view.entries.filter((entry) => entry.path.startsWith(prefix) && entry.type !== 'whiteout').map(toFileEntry),
    };
  }

  /** Presigned by the blob store when it can (S3), else a URL Airlock signs and serves. */
  async downloadUrl(principal: Principal, request: FileDownloadUrlRequest, origin: string): Promise<SignedUrlResponse> {
    const presigned = await this.#threads.presignedDownload(principal.organization.id, request.id, request.path, URL_LIFETIME_SECONDS);
    if (presigned) {
      return {
        url: presigned,
        method: 'GET',
        headers: [],
        expires_at: new Date(Date.now() + URL_LIFETIME_SECONDS * 1000).toISOString(),
      };
    }
    return this.#signed(origin, 'GET', [], {
      orgId: principal.organization.id,
      threadId: request.id,
      path: request.path,
    });
  }

  uploadUrl(principal: Principal, request: FileUploadUrlRequest, origin: string): SignedUrlResponse {
    return this.#signed(origin, 'PUT', [{ name: 'Content-Type', value: request.content_type ?? 'application/octet-stream' }], {
      orgId: principal.organization.id,
      threadId: request.id,
      path: request.path,
      contentLength: request.content_length,
      retention: principal.sandboxConfig.threadRetention,
    });
  }

  async delete(principal: Principal, request: FileDeleteRequest): Promise<void> {
    await this.#threads.deleteFile(principal.organization.id, request.id, request.path, principal.sandboxConfig.threadRetention);
  }

  /** GET of a signed URL: the file's content. */
  async download(token: string): Promise<{ content: Readable; size: number; name: string }> {
    const claims = this.#signer.verify(token, 'GET');
    const { entry, content } = await this.#threads.readFile(claims.orgId, claims.threadId, claims.path);
    return { content, size: entry.size, name: entry.path.slice(entry.path.lastIndexOf('/') + 1) };
  }

  /** PUT of a signed URL: the body becomes the file. */
  async upload(token: string, body: Readable, declaredLength: number | undefined): Promise<void> {
    const claims = this.#signer.verify(token, 'PUT');
    if (declaredLength !== undefined && declaredLength !== claims.contentLength) {
      throw ApiError.validation(`Content-Length: ${declaredLength}, the upload URL was made for ${claims.contentLength}`);
    }
    await this.#threads.writeFile({
      orgId: claims.orgId,
      threadId: claims.threadId,
      path: claims.path,
      content: body,
      contentLength: claims.contentLength ?? 0,
      retention: (claims.retention ?? 'forever') as ThreadRetention,
    });
  }

  #signed(
    origin: string,
    method: 'GET' | 'PUT',
    headers: SignedUrlResponse['headers'],
    claims: { orgId: string; threadId: string; path: string; contentLength?: number; retention?: string },
  ): SignedUrlResponse {
    const expiresAt = Math.floor(Date.now() / 1000) + URL_LIFETIME_SECONDS;
    const token = this.#signer.sign({ method, expiresAt, ...claims });
    return {
      url: `${origin}${SIGNED_FILES_PATH}/${token}`,
      method,
      headers,
      expires_at: new Date(expiresAt * 1000).toISOString(),
    };
  }
}

function toFileEntry(entry: LayerEntry): FileEntry {
  const isDirectory = entry.type === 'directory';
  return {
    name: entry.path.slice(entry.path.lastIndexOf('/') + 1),
    path: entry.path,
    size: entry.type === 'file' ? entry.size : 0,
    modified: new Date('mtimeMs' in entry ? entry.mtimeMs : 0).toISOString(),
    is_directory: isDirectory,
  };
}
