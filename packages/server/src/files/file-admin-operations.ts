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
import type { AuditNote } from '../audit/audit-note.js';
import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import type { FileAccess } from './file-access.js';
import { signedUrlOrigin } from './file-operations.js';
import type { FileService } from './file-service.js';

const SCOPE =
  "Any volume of the organization, whole (from its own root, whatever the API keys' prefixes) and writable, and " +
  'the threads it has (404 for a thread id never used); `path` as in the API key endpoint.';

/** Names what a call acts on in its audit entry: the source, its id and the path; never a signed URL. */
function noteTarget(audit: AuditNote, body: { source: string; id: string; path?: string | undefined }): void {
  audit.describe({ targetId: `${body.source}:${body.id}`, extra: { source: body.source, id: body.id, path: body.path ?? null } });
}

/** Files of an organization's volumes and threads for its operators, through the same signed URLs as the API's. */
export function fileAdminOperations(
  files: FileService,
  organizations: { organization(slug?: string): Promise<{ id: string; slug: string }> },
  publicUrl: string | undefined,
  declare: DeclareAdminOperation,
): Operation[] {
  const access = async (slug: string | undefined): Promise<FileAccess> => {
    const { id, slug: organizationSlug } = await organizations.organization(slug);
    return { kind: 'operators', organization: { id, slug: organizationSlug } };
  };
  return [
    declare({
      method: 'post',
      path: '/admin/v1/files/list',
      operationId: 'adminListFiles',
      audit: { action: 'file.list', target: 'file' },
      role: 'viewer',
      summary: "List the files of an organization's thread or volume",
      description: `Every file and directory below \`path\` (the whole home or volume when absent). ${SCOPE}`,
      query: OrganizationQuery,
      body: FilesListRequest,
      response: FilesListResponse,
      codes: [ErrorCode.payloadTooLarge, ErrorCode.unavailable],
      handle: async (context, { query, body, audit }) => {
        noteTarget(audit, body);
        return context.json(await files.list(await access(query.organization), body));
      },
    }),
    declare({
      method: 'post',
      path: '/admin/v1/files/upload_url',
      operationId: 'adminFileUploadUrl',
      audit: { action: 'file.upload_url', target: 'file', always: true },
      role: 'admin',
      summary: "Get a signed URL that uploads one file into an organization's thread or volume",
      description:
        `PUT the file's bytes to \`url\` with \`headers\` within 15 minutes; at most ${FILE_MAX_BYTES} bytes. ${SCOPE} ` +
        'A volume at its quota, or that `content_length` more bytes would take past it, answers 413; a thread keeps its retention.',
      query: OrganizationQuery,
      body: FileUploadUrlRequest,
      response: SignedUrlResponse,
      codes: [ErrorCode.payloadTooLarge],
      handle: async (context, { query, body, audit }) => {
        noteTarget(audit, body);
        return context.json(await files.uploadUrl(await access(query.organization), body, signedUrlOrigin(context, publicUrl)));
      },
    }),
    declare({
      method: 'post',
      path: '/admin/v1/files/download_url',
      operationId: 'adminFileDownloadUrl',
      audit: { action: 'file.download_url', target: 'file', always: true },
      role: 'viewer',
      summary: "Get a signed URL that downloads one file of an organization's thread or volume",
      description: `GET \`url\` within 15 minutes; no credential needed. ${SCOPE}`,
      query: OrganizationQuery,
      body: FileDownloadUrlRequest,
      response: SignedUrlResponse,
      codes: [ErrorCode.payloadTooLarge, ErrorCode.unavailable],
      handle: async (context, { query, body, audit }) => {
        noteTarget(audit, body);
        return context.json(await files.downloadUrl(await access(query.organization), body, signedUrlOrigin(context, publicUrl)));
      },
    }),
    declare({
      method: 'post',
      path: '/admin/v1/files/delete',
      operationId: 'adminDeleteFile',
      audit: { action: 'file.delete', target: 'file' },
      role: 'admin',
      summary: "Delete a file or directory of an organization's thread or volume",
      description:
        `A directory goes with everything in it. ${SCOPE} On a thread, recorded as a new layer (a thread running an ` +
        'execution answers 409 `thread_busy`); on a volume, at once (a link is removed, never what it points to).',
      query: OrganizationQuery,
      body: FileDeleteRequest,
      response: FileDeleteResponse,
      codes: [ErrorCode.payloadTooLarge, ErrorCode.conflict, ErrorCode.threadBusy, ErrorCode.unavailable],
      handle: async (context, { query, body, audit }) => {
        noteTarget(audit, body);
        await files.delete(await access(query.organization), body);
        return context.json({ deleted: true });
      },
    }),
  ];
}
