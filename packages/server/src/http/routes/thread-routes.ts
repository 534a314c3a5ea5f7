import { Readable } from 'node:stream';
import { THREAD_ID_PATTERN, ThreadForkRequest, type ThreadForkResponse } from '@airlock/contracts';
import { Hono } from 'hono';
import { ApiError } from '../../services/api-error.js';
import type { ThreadService } from '../../services/thread-service.js';
import type { AppEnv } from '../app-context.js';
import { validationError } from '../errors.js';
import { readJson } from '../middleware.js';

function threadIdParameter(value: string): string {
  if (!THREAD_ID_PATTERN.test(value)) throw ApiError.validation('thread_id: must match ^[A-Za-z0-9_-]{1,128}$');
  return value;
}

/** Airlock extensions for threads: fork one into a new thread, export a home as tar.gz. */
export function threadRoutes(threads: ThreadService): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.post('/v1/threads/:threadId/fork', async (context) => {
    const source = threadIdParameter(context.req.param('threadId'));
    const parsed = ThreadForkRequest.safeParse(await readJson(context.req.raw));
    if (!parsed.success) throw validationError(parsed.error);
    await threads.fork(context.get('principal'), source, parsed.data.thread_id);
    const forked: ThreadForkResponse = { thread_id: parsed.data.thread_id, forked_from: source };
    return context.json(forked, 201);
  });
  routes.get('/v1/threads/:threadId/export', async (context) => {
    const threadId = threadIdParameter(context.req.param('threadId'));
    const archive = await threads.export(context.get('principal'), threadId);
    return context.body(Readable.toWeb(archive) as ReadableStream, 200, {
      'Content-Type': 'application/gzip',
      'Content-Disposition': `attachment; filename="${threadId}.tar.gz"`,
    });
  });
  return routes;
}
