import {
  ErrorCode,
  FILE_MAX_BYTES,
  FileDeleteRequest,
  FileDeleteResponse,
  FileDownloadUrlRequest,
  FileUploadUrlRequest,
  FilesListRequest,
  FilesListResponse,
  OrganizationQuery,
  SignedUrlResponse,
} from '@airlock/contracts';
import type { z } from 'zod';
import type { AdminRole } from '../auth/admin-principal.js';
import type { AdminAudit, DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import type { FileAccess } from './file-access.js';
import { signedUrlOrigin } from './file-operations.js';
import type { FileService } from './file-service.js';

const SCOPE =
  "Any volume of the organization, whole (from its own root, whatever the API keys' prefixes) and writable, and " +
  'the threads it has (404 for a thread id never used); `path` as in the API key endpoint.';

/** What a call acts on: the source, its id and the path, as its audit entry names them (never a signed URL). */
type FileTarget = { source: string; id: string; path?: string | undefined };

/** Files of an organization's volumes and threads for its operators, through the same signed URLs as the API's. */
export function fileAdminOperations(
  files: FileService,
  organizations: { organization(slug?: string): Promise<{ id: string; slug: string }> },
  publicUrl: string | undefined,
  declare: DeclareAdminOperation,
): Operation[] {
  /** A POST of `/admin/v1/files/<name>` with `?organization=`: the call's target audited, then `run` with the operators' access. */
  const fileOperation = <Body extends FileTarget>(options: {
    name: string;
    operationId: string;
    audit: AdminAudit;
    role: AdminRole;
    summary: string;
    description: string;
    body: z.ZodType<Body>;
    response: z.ZodType;
    codes: ErrorCode[];
    run: (access: FileAccess, body: Body, origin: string) => Promise<unknown>;
  }): Operation => {
    const { name, run, ...declaration } = options;
    return declare({
      ...declaration,
      method: 'post',
      path: `/admin/v1/files/${name}`,
      description: `${options.description} ${SCOPE}`,
      query: OrganizationQuery,
      codes: [ErrorCode.payloadTooLarge, ...options.codes],
      handle: async (context, { query, body, audit }) => {
        audit.describe({ targetId: `${body.source}:${body.id}`, extra: { source: body.source, id: body.id, path: body.path ?? null } });
        const organization = await organizations.organization(query.organization);
        const access: FileAccess = { kind: 'operators', organization: { id: organization.id, slug: organization.slug } };
        return context.json(await run(access, body, signedUrlOrigin(context, publicUrl)));
      },
    });
  };
  return [
    fileOperation({
      name: 'list',
      operationId: 'adminListFiles',
      audit: { action: 'file.list', target: 'file' },
      role: 'viewer',
      summary: "List the files of an organization's thread or volume",
      description: 'Every file and directory below `path` (the whole home or volume when absent).',
      body: FilesListRequest,
      response: FilesListResponse,
      codes: [ErrorCode.unavailable],
      run: (access, body) => files.list(access, body),
    }),
    fileOperation({
      name: 'upload_url',
      operationId: 'adminFileUploadUrl',
      audit: { action: 'file.upload_url', target: 'file', always: true },
      role: 'admin',
      summary: "Get a signed URL that uploads one file into an organization's thread or volume",
      description:
        `PUT the file's bytes to \`url\` with \`headers\` within 15 minutes; at most ${FILE_MAX_BYTES} bytes. A volume at ` +
        'its quota, or that `content_length` more bytes would take past it, answers 413; a thread keeps its retention.',
      body: FileUploadUrlRequest,
      response: SignedUrlResponse,
      codes: [],
      run: (access, body, origin) => files.uploadUrl(access, body, origin),
    }),
    fileOperation({
      name: 'download_url',
      operationId: 'adminFileDownloadUrl',
      audit: { action: 'file.download_url', target: 'file', always: true },
      role: 'viewer',
      summary: "Get a signed URL that downloads one file of an organization's thread or volume",
      description: 'GET `url` within 15 minutes; no credential needed.',
      body: FileDownloadUrlRequest,
      response: SignedUrlResponse,
      codes: [ErrorCode.unavailable],
      run: (access, body, origin) => files.downloadUrl(access, body, origin),
    }),
    fileOperation({
      name: 'delete',
      operationId: 'adminDeleteFile',
      audit: { action: 'file.delete', target: 'file' },
      role: 'admin',
      summary: "Delete a file or directory of an organization's thread or volume",
      description:
        'A directory goes with everything in it. On a thread, recorded as a new layer (a thread running an execution ' +
        'answers 409 `thread_busy`); on a volume, at once (a link is removed, never what it points to).',
      body: FileDeleteRequest,
      response: FileDeleteResponse,
      codes: [ErrorCode.conflict, ErrorCode.threadBusy, ErrorCode.unavailable],
      run: async (access, body) => {
        await files.delete(access, body);
        return { deleted: true };
      },
    }),
  ];
}
