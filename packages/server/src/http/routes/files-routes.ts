import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import {
  FileDeleteRequest,
  FileDownloadUrlRequest,
  FileUploadUrlRequest,
  FilesListRequest,
} from '@airlock/contracts';
import { Hono } from 'hono';
import type { z } from 'zod';
import { ApiError } from '../../services/api-error.js';
import { SIGNED_FILES_PATH, type FileService } from '../../services/file-service.js';
import type { AppEnv } from '../app-context.js';
import { validationError } from '../errors.js';
import { readJson } from '../middleware.js';

async function parse<T>(schema: z.ZodType<T>, request: Request): Promise<T> {
  const parsed = schema.safeParse(await readJson(request));
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

/** The Files API (authenticated by API key, under /v1). */
export function fileRoutes(files: FileService, publicUrl: string | undefined): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const origin = (url: string) => publicUrl ?? new URL(url).origin;
  routes.post('/v1/files/list', async (context) =>
    context.json(await files.list(context.get('principal'), await parse(FilesListRequest, context.req.raw))),
  );
  routes.post('/v1/files/download_url', async (context) => {
    const request = await parse(FileDownloadUrlRequest, context.req.raw);
    return context.json(await files.downloadUrl(context.get('principal'), request, origin(context.req.url)));
  });
  routes.post('/v1/files/upload_url', async (context) => {
    const request = await parse(FileUploadUrlRequest, context.req.raw);
    return context.json(files.uploadUrl(context.get('principal'), request, origin(context.req.url)));
  });
  routes.post('/v1/files/delete', async (context) => {
    await files.delete(context.get('principal'), await parse(FileDeleteRequest, context.req.raw));
    return context.json({ deleted: true });
  });
  return routes;
}

/** The signed file URLs: no API key, the signature in the path authorizes exactly one method on one file. */
export function signedFileRoutes(files: FileService): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get(`${SIGNED_FILES_PATH}/:token`, async (context) => {
    const { content, size, name } = await files.download(context.req.param('token'));
    return context.body(Readable.toWeb(content) as ReadableStream, 200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(size),
      'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
    });
  });
  routes.put(`${SIGNED_FILES_PATH}/:token`, async (context) => {
    const body = context.req.raw.body;
    const length = context.req.header('content-length');
    const stream = body ? Readable.fromWeb(body as unknown as WebReadableStream) : Readable.from([]);
    if (length !== undefined && !/^\d+$/.test(length)) throw ApiError.validation('Content-Length: must be a number');
    await files.upload(context.req.param('token'), stream, length === undefined ? undefined : Number(length));
    return context.body(null, 204);
  });
  return routes;
}
