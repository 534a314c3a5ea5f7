import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ErrorCode, ImageListResponse, ImagePath, ImageSummary, ImportImageRequest } from '@airlock/contracts';
import type { DeclareAdminOperation } from '../http/admin-operation.js';
import type { Operation } from '../http/operation.js';
import { ApiError } from '../shared/api-error.js';
import type { ImageService } from './image-service.js';

/** The archive upload's path: its body is streamed (cut when it stalls), not capped like other bodies. */
export const IMAGE_ARCHIVE_PATH = /^\/admin\/v1\/images\/[^/]+\/archive$/;

const IN_BACKGROUND =
  'Answers 202 at once with the image `pending`; the work goes on in the background, its last lines in `progress` ' +
  '(GET the image to follow it) and in the server log, and ends `ready` (sandboxes get the new version from then on; ' +
  'the previous one, if any, is removed) or `failed` with `error` (a previous version keeps running).';

/** The runtime image catalog: list, read, import (registry or archive), rebuild, remove. */
export function imageOperations(images: ImageService, declare: DeclareAdminOperation): Operation[] {
  return [
    declare({
      method: 'get',
      path: '/admin/v1/images',
      operationId: 'adminListImages',
      audit: { action: 'image.list', target: 'image' },
      summary: 'List the runtime images sandbox configs may name',
      description: "The installation's catalog, shared by every organization: recipe images Airlock builds and imported OCI images.",
      response: ImageListResponse,
      codes: [],
      handle: async (context) => context.json({ images: await images.list() }),
    }),
    declare({
      method: 'get',
      path: '/admin/v1/images/{name}',
      operationId: 'adminGetImage',
      audit: { action: 'image.read', target: 'image' },
      summary: 'Read a runtime image: status, progress, languages, packages, the sandbox configs using it',
      params: ImagePath,
      response: ImageSummary,
      codes: [],
      handle: async (context, { params }) => context.json(await images.get(params.name)),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/images',
      operationId: 'adminImportImage',
      audit: { action: 'image.import', target: 'image' },
      summary: 'Import an OCI image from a registry',
      description:
        'Pulls `reference` (the host architecture of a multi-architecture image; a foreign single-architecture image is ' +
        'refused), unpacks its layers without letting any entry reach outside the image (device nodes, setuid and ' +
        'setgid bits and file capabilities are dropped), prepares it as a sandbox root and discovers its architecture, ' +
        'C library and which of python, node and bash it has, with their versions, by running them in a sandbox. ' +
        'Importing a name again pulls a new version. ' +
        IN_BACKGROUND,
      body: ImportImageRequest,
      status: 202,
      response: ImageSummary,
      codes: [ErrorCode.payloadTooLarge, ErrorCode.conflict],
      handle: async (context, { body }) => context.json(await images.importFromRegistry(body), 202),
    }),
    declare({
      method: 'post',
      path: '/admin/v1/images/{name}/archive',
      operationId: 'adminImportImageArchive',
      audit: { action: 'image.import_archive', target: 'image' },
      summary: 'Import an OCI image from an uploaded OCI layout or `docker save` archive',
      description:
        'The body is the archive as a tar (`application/x-tar` or `application/octet-stream`), streamed to disk, never ' +
        'held in memory. Unpacked and ' +
        'discovered as a registry import is. ' +
        IN_BACKGROUND,
      params: ImagePath,
      rawBody: {
        'application/x-tar': { schema: { type: 'string', format: 'binary' } },
        'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
      },
      status: 202,
      response: ImageSummary,
      codes: [ErrorCode.payloadTooLarge, ErrorCode.conflict, ErrorCode.requestTimeout],
      handle: async (context, { params }) => {
        const length = context.req.header('content-length');
        if (length !== undefined && !/^\d+$/.test(length)) throw ApiError.validation('Content-Length: must be a number');
        const body = context.req.raw.body;
        const stream = body ? Readable.fromWeb(body as unknown as WebReadableStream) : Readable.from([]);
        return context.json(await images.importArchive(params.name, stream, length === undefined ? undefined : Number(length)), 202);
      },
    }),
    declare({
      method: 'post',
      path: '/admin/v1/images/{name}/build',
      operationId: 'adminBuildImage',
      audit: { action: 'image.build', target: 'image' },
      summary: 'Build a recipe image again (or for the first time on this server)',
      description: IN_BACKGROUND,
      params: ImagePath,
      status: 202,
      response: ImageSummary,
      codes: [ErrorCode.conflict],
      handle: async (context, { params }) => context.json(await images.build(params.name), 202),
    }),
    declare({
      method: 'delete',
      path: '/admin/v1/images/{name}',
      operationId: 'adminRemoveImage',
      audit: { action: 'image.remove', target: 'image' },
      summary: 'Remove a runtime image from the catalog and the disk',
      description:
        'Refused (409, naming them) while sandbox configs name the image, while it is built or imported, and for the ' +
        'default image. Its warm sandboxes are destroyed; sandboxes running on it finish.',
      params: ImagePath,
      status: 204,
      codes: [ErrorCode.conflict],
      handle: async (context, { params }) => {
        await images.remove(params.name);
        return context.body(null, 204);
      },
    }),
  ];
}
