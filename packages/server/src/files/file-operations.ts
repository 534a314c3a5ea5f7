import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
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
import type { Context } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/app-context.js';
import { apiKeyDocument, apiKeyHeaders, commonHeaders, commonRequestHeaders, errors } from '../http/openapi/openapi-components.js';
import { operation, type Operation } from '../http/operation.js';
import { ApiError } from '../shared/api-error.js';
import { SIGNED_FILES_PATH, type FileService } from './file-service.js';

/** A POST of the Files API: its JSON request, its answer and the errors besides those of every API key request. */
function fileOperation<Body>(options: {
  path: string;
  operationId: string;
  summary: string;
  description: string;
  body: z.ZodType<Body>;
  response: z.ZodType;
  codes: ErrorCode[];
  handle: (context: Context<AppEnv>, body: Body) => Promise<Response> | Response;
}): Operation {
  const document = apiKeyDocument({
    operationId: options.operationId,
    tags: ['Files'],
    summary: options.summary,
    description: options.description,
    responses: { 200: { description: 'Done.', headers: apiKeyHeaders, content: { 'application/json': { schema: options.response } } } },
    codes: [ErrorCode.validationError, ...options.codes],
  });
  return operation({ method: 'post', path: options.path, body: options.body, document, handle: (context, { body }) => options.handle(context, body) });
}

const tokenPath = z.object({
  token: z.string().meta({ description: 'The signed part of a URL from `/v1/files/upload_url` or `/v1/files/download_url`.' }),
});

/** Where signed URLs point: the server's public URL when configured, else the origin the request came to. */
export function signedUrlOrigin(context: Context<AppEnv>, publicUrl: string | undefined): string {
  return publicUrl ?? new URL(context.req.url).origin;
}

const binary = { type: 'string', contentMediaType: 'application/octet-stream' } as const;

/** The Files API (API key) and the signed URLs it hands out (no credential but the signature). */
export function fileOperations(files: FileService, publicUrl: string | undefined): Operation[] {
  const origin = (context: Context<AppEnv>) => signedUrlOrigin(context, publicUrl);
  return [
    fileOperation({
      path: '/v1/files/list',
      operationId: 'listFiles',
      summary: 'List the files of a thread or volume',
      description:
        "Every file and directory below `path` (the whole home or volume when absent). A volume's symbolic links are " +
        'listed (not a directory, size 0) and never followed: a path through one is 400.',
      body: FilesListRequest,
      response: FilesListResponse,
      codes: [ErrorCode.notFound, ErrorCode.unavailable],
      handle: async (context, body) => context.json(await files.list(context.get('principal'), body)),
    }),
    fileOperation({
      path: '/v1/files/upload_url',
      operationId: 'fileUploadUrl',
      summary: 'Get a signed URL that uploads one file',
      description:
        `PUT the file's bytes to \`url\` with \`headers\` within 15 minutes; at most ${FILE_MAX_BYTES} bytes. ` +
        'A read-only volume (its attachment or the API key) answers 403; a volume at its quota, or that `content_length` ' +
        'more bytes would take past it (as last measured), answers 413.',
      body: FileUploadUrlRequest,
      response: SignedUrlResponse,
      codes: [ErrorCode.forbidden, ErrorCode.notFound, ErrorCode.payloadTooLarge],
      handle: async (context, body) => context.json(await files.uploadUrl(context.get('principal'), body, origin(context))),
    }),
    fileOperation({
      path: '/v1/files/download_url',
      operationId: 'fileDownloadUrl',
      summary: 'Get a signed URL that downloads one file',
      description: "GET `url` within 15 minutes; no API key needed. A thread's file is presigned by the bucket with the S3 store.",
      body: FileDownloadUrlRequest,
      response: SignedUrlResponse,
      codes: [ErrorCode.notFound, ErrorCode.unavailable],
      handle: async (context, body) => context.json(await files.downloadUrl(context.get('principal'), body, origin(context))),
    }),
    fileOperation({
      path: '/v1/files/delete',
      operationId: 'deleteFile',
      summary: 'Delete a file or directory of a thread or volume',
      description:
        'A directory goes with everything in it. On a thread, recorded as a new layer (a thread running an execution ' +
        "answers 409 `thread_busy`); on a volume, at once (a link is removed, never what it points to; 403 when it's " +
        'read-only for the API key).',
      body: FileDeleteRequest,
      response: FileDeleteResponse,
      codes: [ErrorCode.forbidden, ErrorCode.notFound, ErrorCode.conflict, ErrorCode.threadBusy, ErrorCode.unavailable],
      handle: async (context, body) => {
        await files.delete(context.get('principal'), body);
        return context.json({ deleted: true });
      },
    }),
    ...signedUrlOperations(files),
  ];
}

/** The signed URLs the Files API hands out: no credential but the signature, one method on one file. */
function signedUrlOperations(files: FileService): Operation[] {
  return [
    operation({
      method: 'get',
      path: `${SIGNED_FILES_PATH}/{token}`,
      document: {
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
          ...errors(ErrorCode.validationError, ErrorCode.forbidden, ErrorCode.notFound, ErrorCode.unavailable),
        },
      },
      handle: async (context) => {
        const { content, size, name } = await files.download(context.req.param('token') ?? '');
        return context.body(Readable.toWeb(content) as ReadableStream, 200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(size),
          'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
        });
      },
    }),
    operation({
      method: 'put',
      path: `${SIGNED_FILES_PATH}/{token}`,
      document: {
        operationId: 'uploadSignedFile',
        tags: ['Files'],
        summary: 'Upload a file through a signed URL',
        description:
          'The body becomes the file (streamed, never buffered whole); its size must be the `content_length` the URL ' +
          "was made for. Creates the thread when it does not exist yet; on a volume, the file's missing directories (413 " +
          'when the volume reached its quota since the URL was made).',
        security: [],
        requestParams: { path: tokenPath, header: commonRequestHeaders },
        requestBody: { required: true, content: { 'application/octet-stream': { schema: binary } } },
        responses: {
          204: { description: 'Stored.', headers: commonHeaders },
          ...errors(
            ErrorCode.validationError,
            ErrorCode.forbidden,
            ErrorCode.requestTimeout,
            ErrorCode.threadBusy,
            ErrorCode.payloadTooLarge,
            ErrorCode.unavailable,
          ),
        },
      },
      handle: async (context) => {
        const body = context.req.raw.body;
        const length = context.req.header('content-length');
        const stream = body ? Readable.fromWeb(body as unknown as WebReadableStream) : Readable.from([]);
        if (length !== undefined && !/^\d+$/.test(length)) throw ApiError.validation('Content-Length: must be a number');
        try {
          await files.upload(context.req.param('token') ?? '', stream, length === undefined ? undefined : Number(length));
        } catch (error) {
          // A body that failed with an answer of its own (a stalled upload's 408) is the answer, whatever the store made of it.
          throw stream.errored instanceof ApiError ? stream.errored : error;
        }
        return context.body(null, 204);
      },
    }),
  ];
}
