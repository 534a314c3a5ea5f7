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
import type { ThreadService } from '../threads/thread-service.js';
import { isOperatorAccess, type FileAccess } from './file-access.js';
import type { FileUrlClaims, UrlSigner } from './url-signer.js';
import type { VolumeFiles } from './volume-files.js';

/** How long a signed file URL stays valid. */
const URL_LIFETIME_SECONDS = 15 * 60;

/** The path, below the server's URL, that serves signed file URLs. */
export const SIGNED_FILES_PATH = '/files/signed';

/** Claims of a signed URL without those #signed adds. */
type UrlTarget = DistributiveOmit<FileUrlClaims, 'method' | 'expiresAt'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The Files API for threads and managed volumes: listing, signed upload and download URLs, deletion. */
export class FileService {
  readonly #threads: ThreadService;
  readonly #volumes: VolumeFiles;
  readonly #signer: UrlSigner;

  constructor(options: { threads: ThreadService; volumes: VolumeFiles; signer: UrlSigner }) {
    this.#threads = options.threads;
    this.#volumes = options.volumes;
    this.#signer = options.signer;
  }

  async list(access: FileAccess, request: FilesListRequest): Promise<{ files: FileEntry[] }> {
    if (request.source === 'volume') {
      return { files: await this.#volumes.list(await this.#volumes.scope(access, request.id, 'read'), request.path) };
    }
    const { orgId } = await this.#thread(access, request.id);
    const view = await this.#threads.view(orgId, request.id);
    const prefix = request.path === undefined ? '' : `${request.path}/`;
    if (request.path !== undefined && view.entries.find((entry) => entry.path === request.path)?.type !== 'directory') {
      throw ApiError.notFound(`no directory ${request.path} in thread ${request.id}`);
    }
    return {
      files: view.entries.filter((entry) => entry.path.startsWith(prefix) && entry.type !== 'whiteout').map(toFileEntry),
    };
  }

  /** Presigned by the blob store when it can (S3), else a URL Airlock signs and serves. */
  async downloadUrl(access: FileAccess, request: FileDownloadUrlRequest, origin: string): Promise<SignedUrlResponse> {
    if (request.source === 'volume') {
      const scope = await this.#volumes.scope(access, request.id, 'read');
      // Refused now rather than when fetched: no file (404) or a link on the way (400).
      (await this.#volumes.read(scope, request.path)).content.destroy();
      return this.#signed(origin, 'GET', [], { ...scope, path: request.path });
    }
    const { orgId } = await this.#thread(access, request.id);
    const presigned = await this.#threads.presignedDownload(orgId, request.id, request.path, URL_LIFETIME_SECONDS);
    if (presigned) {
      return {
        url: presigned,
        method: 'GET',
        headers: [],
        expires_at: new Date(Date.now() + URL_LIFETIME_SECONDS * 1000).toISOString(),
      };
    }
    return this.#signed(origin, 'GET', [], { orgId, threadId: request.id, path: request.path });
  }

  async uploadUrl(access: FileAccess, request: FileUploadUrlRequest, origin: string): Promise<SignedUrlResponse> {
    const headers = [{ name: 'Content-Type', value: request.content_type ?? 'application/octet-stream' }];
    const common = { path: request.path, contentLength: request.content_length };
    if (request.source === 'volume') {
      const scope = await this.#volumes.scope(access, request.id, 'write');
      this.#volumes.checkQuota(scope, request.content_length);
      return this.#signed(origin, 'PUT', headers, { ...common, ...scope });
    }
    const { orgId, retention } = await this.#thread(access, request.id);
    return this.#signed(origin, 'PUT', headers, { ...common, orgId, threadId: request.id, retention });
  }

  async delete(access: FileAccess, request: FileDeleteRequest): Promise<void> {
    if (request.source === 'volume') return this.#volumes.delete(await this.#volumes.scope(access, request.id, 'write'), request.path);
    const { orgId, retention } = await this.#thread(access, request.id);
    await this.#threads.deleteFile(orgId, request.id, request.path, retention);
  }

  /** GET of a signed URL: the file's content. */
  async download(token: string): Promise<{ content: Readable; size: number; name: string }> {
    const claims = this.#signer.verify(token, 'GET');
    const name = claims.path.slice(claims.path.lastIndexOf('/') + 1);
    if ('volumeId' in claims) return { ...(await this.#volumes.read(claims, claims.path)), name };
    const { entry, content } = await this.#threads.readFile(claims.orgId, claims.threadId, claims.path);
    return { content, size: entry.size, name };
  }

  /** PUT of a signed URL: the body becomes the file. */
  async upload(token: string, body: Readable, declaredLength: number | undefined): Promise<void> {
    const claims = this.#signer.verify(token, 'PUT');
    if (declaredLength !== undefined && declaredLength !== claims.contentLength) {
      throw ApiError.validation(`Content-Length: ${declaredLength}, the upload URL was made for ${claims.contentLength}`);
    }
    if ('volumeId' in claims) return this.#volumes.write(claims, claims.path, body, claims.contentLength ?? 0);
    await this.#threads.writeFile({
      orgId: claims.orgId,
      threadId: claims.threadId,
      path: claims.path,
      content: body,
      contentLength: claims.contentLength ?? 0,
      retention: (claims.retention ?? 'forever') as ThreadRetention,
    });
  }

  /**
   * The thread as the access reaches it, and the retention a change to it records: an API key reaches any thread id of
   * its organization (a change creates the thread, with its sandbox config's retention); an organization's operators
   * reach the threads that exist (404 otherwise), each keeping its retention.
   */
  async #thread(access: FileAccess, threadId: string): Promise<{ orgId: string; retention: ThreadRetention }> {
    if (!isOperatorAccess(access)) return { orgId: access.organization.id, retention: access.sandboxConfig.threadRetention };
    const { organization } = access;
    const retention = await this.#threads.retention(organization.id, threadId);
    if (retention === null) {
      throw ApiError.notFound(`no thread ${threadId} in organization "${organization.slug}"; a thread starts with an execution that names its thread_id`);
    }
    return { orgId: organization.id, retention };
  }

  #signed(origin: string, method: 'GET' | 'PUT', headers: SignedUrlResponse['headers'], target: UrlTarget): SignedUrlResponse {
    const expiresAt = Math.floor(Date.now() / 1000) + URL_LIFETIME_SECONDS;
    const token = this.#signer.sign({ method, expiresAt, ...target });
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
