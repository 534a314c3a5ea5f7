import { Readable } from 'node:stream';
import { ErrorCode, THREAD_ID_PATTERN, ThreadForkRequest, ThreadForkResponse, ThreadId } from '@airlock/contracts';
import { z } from 'zod';
import { apiKeyDocument, apiKeyHeaders } from '../http/openapi/openapi-components.js';
import { operation, type Operation } from '../http/operation.js';
import { ApiError } from '../shared/api-error.js';
import type { ThreadService } from './thread-service.js';

const threadIdPath = z.object({ threadId: ThreadId.meta({ description: 'The thread: the `thread_id` its executions used.' }) });

function threadIdParameter(value: string): string {
  if (!THREAD_ID_PATTERN.test(value)) throw ApiError.validation('thread_id: must match ^[A-Za-z0-9_-]{1,128}$');
  return value;
}

/** Airlock extensions for threads: fork one into a new thread, export a home as tar.gz. */
export function threadOperations(threads: ThreadService): Operation[] {
  return [
    operation({
      method: 'post',
      path: '/v1/threads/{threadId}/fork',
      body: ThreadForkRequest,
      document: apiKeyDocument({
        operationId: 'forkThread',
        tags: ['Threads'],
        summary: 'Start a new thread from this one',
        description: "Airlock extension. The new thread starts with this thread's home; nothing is copied (layers are shared).",
        requestParams: { path: threadIdPath },
        responses: {
          201: { description: 'Forked.', headers: apiKeyHeaders, content: { 'application/json': { schema: ThreadForkResponse } } },
        },
        codes: [ErrorCode.validationError, ErrorCode.notFound, ErrorCode.conflict, ErrorCode.unavailable],
      }),
      handle: async (context, { body }) => {
        const source = threadIdParameter(context.req.param('threadId') ?? '');
        await threads.fork(context.get('principal'), source, body.thread_id);
        const forked: ThreadForkResponse = { thread_id: body.thread_id, forked_from: source };
        return context.json(forked, 201);
      },
    }),
    operation({
      method: 'get',
      path: '/v1/threads/{threadId}/export',
      document: apiKeyDocument({
        operationId: 'exportThread',
        tags: ['Threads'],
        summary: "Download a thread's home as .tar.gz",
        description: 'Airlock extension. Streamed as it is made.',
        requestParams: { path: threadIdPath },
        responses: {
          200: {
            description: 'The home directory as a gzip-compressed tar archive.',
            headers: apiKeyHeaders,
            content: { 'application/gzip': { schema: { type: 'string', contentMediaType: 'application/gzip' } } },
          },
        },
        codes: [ErrorCode.validationError, ErrorCode.notFound, ErrorCode.unavailable],
      }),
      handle: async (context) => {
        const threadId = threadIdParameter(context.req.param('threadId') ?? '');
        const archive = await threads.export(context.get('principal'), threadId);
        return context.body(Readable.toWeb(archive) as ReadableStream, 200, {
          'Content-Type': 'application/gzip',
          'Content-Disposition': `attachment; filename="${threadId}.tar.gz"`,
        });
      },
    }),
  ];
}
