import {
  ErrorCode,
  FILE_MAX_BYTES,
  FileDeleteRequest,
  FileDeleteResponse,
  FileDownloadUrlRequest,
  FileUploadUrlRequest,
  FilesListRequest,
  FilesListResponse,
  SignedUrlResponse,
} from '@airlock/contracts';
import { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiPathsObject } from 'zod-openapi';
import { SIGNED_FILES_PATH } from '../../services/file-service.js';
import { API_KEY_ERRORS, apiKeyHeaders, apiKeySecurity, commonHeaders, commonRequestHeaders, errors } from './openapi-components.js';

function fileOperation(options: {
  operationId: string;
  summary: string;
  description: string;
  request: z.ZodType;
  response: z.ZodType;
  codes: ErrorCode[];
}): { post: ZodOpenApiOperationObject } {
  return {
    post: {
      operationId: options.operationId,
      tags: ['Files'],
      summary: options.summary,
      description: options.description,
      security: apiKeySecurity,
      requestParams: { header: commonRequestHeaders },
      requestBody: { required: true, content: { 'application/json': { schema: options.request } } },
      responses: {
        200: { description: 'Done.', headers: apiKeyHeaders, content: { 'application/json': { schema: options.response } } },
        ...errors(...API_KEY_ERRORS, ErrorCode.validationError, ...options.codes),
      },
    },
  };
}

const tokenPath = z.object({
  token: z.string().meta({ description: 'The signed part of a URL from `/v1/files/upload_url` or `/v1/files/download_url`.' }),
});

const binary = { type: 'string', contentMediaType: 'application/octet-stream' } as const;

/** The Files API (API key) and the signed URLs it hands out (no credential but the signature). */
export const filePaths: ZodOpenApiPathsObject = {
  '/v1/files/list': fileOperation({
    operationId: 'listFiles',
    summary: "List a thread's files",
    description: 'Every file and directory below `path` (the whole home when absent).',
    request: FilesListRequest,
    response: FilesListResponse,
    codes: [ErrorCode.notFound, ErrorCode.unavailable],
  }),
  '/v1/files/upload_url': fileOperation({
    operationId: 'fileUploadUrl',
    summary: 'Get a signed URL that uploads one file',
    description: `PUT the file's bytes to \`url\` with \`headers\` within 15 minutes; at most ${FILE_MAX_BYTES} bytes.`,
    request: FileUploadUrlRequest,
    response: SignedUrlResponse,
    codes: [],
  }),
  '/v1/files/download_url': fileOperation({
    operationId: 'fileDownloadUrl',
    summary: 'Get a signed URL that downloads one file',
    description: 'GET `url` within 15 minutes; no API key needed. Presigned by the bucket with the S3 store.',
    request: FileDownloadUrlRequest,
    response: SignedUrlResponse,
    codes: [ErrorCode.notFound, ErrorCode.unavailable],
  }),
  '/v1/files/delete': fileOperation({
    operationId: 'deleteFile',
    summary: 'Delete a file or directory of a thread',
    description: 'Recorded as a new layer of the thread; a thread running an execution answers 409 `thread_busy`.',
    request: FileDeleteRequest,
    response: FileDeleteResponse,
    codes: [ErrorCode.notFound, ErrorCode.threadBusy, ErrorCode.unavailable],
  }),
  [`${SIGNED_FILES_PATH}/{token}`]: {
    get: {
      operationId: 'downloadSignedFile',
      tags: ['Files'],
      summary: 'Download a file through a signed URL',
      security: [],
      requestParams: { path: tokenPath, header: commonRequestHeaders },
      responses: {
        200: {
          description: "The file's bytes, streamed.",
          headers: commonHeaders.extend({
            'Content-Disposition': z.string().meta({ description: '`attachment` with the file name' }),
          }),
          content: { 'application/octet-stream': { schema: binary } },
        },
        ...errors(ErrorCode.forbidden, ErrorCode.notFound, ErrorCode.unavailable),
      },
    },
    put: {
      operationId: 'uploadSignedFile',
      tags: ['Files'],
      summary: 'Upload a file through a signed URL',
      description:
        'The body becomes the file (streamed, never buffered whole); its size must be the `content_length` the URL ' +
        'was made for. Creates the thread when it does not exist yet.',
      security: [],
      requestParams: { path: tokenPath, header: commonRequestHeaders },
      requestBody: { required: true, content: { 'application/octet-stream': { schema: binary } } },
      responses: {
        204: { description: 'Stored.', headers: commonHeaders },
        ...errors(ErrorCode.validationError, ErrorCode.forbidden, ErrorCode.threadBusy, ErrorCode.unavailable),
      },
    },
  },
};
