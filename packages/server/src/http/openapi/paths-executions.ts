import {
  ErrorCode,
  ExecuteAcceptedResponse,
  ExecuteRequest,
  ExecuteResponse,
  ExecutionCancelResponse,
  ExecutionEvent,
  ExecutionRecordResponse,
  ThreadForkRequest,
  ThreadForkResponse,
  ThreadId,
  WebhookDeliveryResponse,
  WebhookPayload,
} from '@airlock/contracts';
import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { API_KEY_ERRORS, apiKeyHeaders, apiKeySecurity, commonRequestHeaders, errors } from './openapi-components.js';

const traceIdPath = z.object({
  traceId: z.string().meta({ description: 'The execution: the `trace_id` of its answer or first stream event.', example: 'trc_0123456789abcdef0123456789abcdef' }),
});
const threadIdPath = z.object({ threadId: ThreadId.meta({ description: 'The thread: the `thread_id` its executions used.' }) });

const NDJSON = 'application/x-ndjson';

const streamDescription =
  'Newline-delimited JSON, one `ExecutionEvent` per line: a `status` event with the `trace_id` first, then `output` ' +
  'chunks in the order produced (and `keepalive`s while the code is silent), and last a `result` with the same ' +
  'fields as the inline answer. Every event has an increasing `seq`.';

const webhookCallback = {
  '{$request.body#/webhook_url}': {
    post: {
      summary: 'The finished execution, POSTed to webhook_url',
      description:
        'Signed per Standard Webhooks with the sandbox config\'s secret (`GET /admin/v1/sandboxes/{name}/webhook-secret`): ' +
        '`webhook-signature` is `v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`. Redirects ' +
        'are not followed; anything but a 2xx answer is retried with exponential backoff, then the delivery is ' +
        '`failed` (see `GET /v1/executions/{trace_id}/webhook`).',
      requestParams: {
        header: z.object({
          'webhook-id': z.string().meta({ description: 'The same on every attempt of one delivery, to drop duplicates.' }),
          'webhook-timestamp': z.string().regex(/^[0-9]+$/).meta({ description: 'Unix seconds of this attempt.' }),
          'webhook-signature': z.string().meta({ description: '`v1,<base64 signature>`' }),
        }),
      },
      requestBody: { required: true, content: { 'application/json': { schema: WebhookPayload } } },
      responses: {
        '2XX': { description: 'Delivered.' },
        default: { description: 'Not delivered; the attempt is retried later.' },
      },
    },
  },
};

/** Where a `trace_id` in an answer leads. */
const traceLinks = Object.fromEntries(
  ['getExecution', 'getExecutionOutput', 'cancelExecution', 'getExecutionWebhook'].map((operationId) => [
    operationId,
    { operationId, parameters: { traceId: '$response.body#/trace_id' } },
  ]),
);

/** The execute endpoint, the executions API and the thread extensions. */
export const executionPaths: ZodOpenApiPathsObject = {
  '/v1/sandbox/execute': {
    post: {
      operationId: 'execute',
      tags: ['Executions'],
      summary: 'Run code in a fresh sandbox',
      description:
        'One call, one new isolated sandbox. The delivery follows the request headers:\n\n' +
        '- `Accept: application/json` (default): 200 with the result once the code has finished. A non-zero exit ' +
        'is still 200, with `success: false`.\n' +
        `- \`Accept: ${NDJSON}\`: 200 streaming the execution's events while it runs. A client that disconnects ` +
        'stops receiving; the execution goes on and can be read back with `GET /v1/executions/{trace_id}/output`.\n' +
        '- `Prefer: respond-async` with `webhook_url`: 202 at once; the result is POSTed to `webhook_url` when ' +
        'the execution finishes (see the callback).',
      security: apiKeySecurity,
      requestParams: {
        header: commonRequestHeaders.extend({
          Prefer: z
            .string()
            .optional()
            .meta({ description: '`respond-async` (RFC 7240) answers 202 at once and delivers the result to `webhook_url`.' }),
        }),
      },
      requestBody: { required: true, content: { 'application/json': { schema: ExecuteRequest } } },
      responses: {
        200: {
          description: `The finished execution (JSON), or its events as it runs (\`${NDJSON}\`): ${streamDescription}`,
          headers: apiKeyHeaders,
          content: {
            'application/json': { schema: ExecuteResponse },
            [NDJSON]: { schema: ExecutionEvent },
          },
          links: traceLinks,
        },
        202: {
          description: 'Accepted for webhook delivery (`Prefer: respond-async`); the code is running.',
          headers: apiKeyHeaders,
          content: { 'application/json': { schema: ExecuteAcceptedResponse } },
          links: traceLinks,
        },
        ...errors(...API_KEY_ERRORS, ErrorCode.validationError, ErrorCode.threadBusy, ErrorCode.unavailable),
      },
      callbacks: { executionFinished: webhookCallback },
    },
  },
  '/v1/executions/{traceId}': {
    get: {
      operationId: 'getExecution',
      tags: ['Executions'],
      summary: 'Read a recorded execution',
      description: 'Output and outcome fields are null while it runs.',
      security: apiKeySecurity,
      requestParams: { path: traceIdPath, header: commonRequestHeaders },
      responses: {
        200: { description: 'The execution.', headers: apiKeyHeaders, content: { 'application/json': { schema: ExecutionRecordResponse } } },
        ...errors(...API_KEY_ERRORS, ErrorCode.notFound),
      },
    },
  },
  '/v1/executions/{traceId}/output': {
    get: {
      operationId: 'getExecutionOutput',
      tags: ['Executions'],
      summary: "Replay an execution's events",
      description:
        'The NDJSON events from the start (or after `seq` = `after_seq`), then live ones while the execution runs; ' +
        'the stream ends with the `result` event.',
      security: apiKeySecurity,
      requestParams: {
        path: traceIdPath,
        query: z.object({
          after_seq: z.number().int().optional().meta({ description: 'Only events with a larger `seq`; default -1 (all).' }),
        }),
        header: commonRequestHeaders,
      },
      responses: {
        200: { description: streamDescription, headers: apiKeyHeaders, content: { [NDJSON]: { schema: ExecutionEvent } } },
        ...errors(...API_KEY_ERRORS, ErrorCode.validationError, ErrorCode.notFound),
      },
    },
  },
  '/v1/executions/{traceId}/cancel': {
    post: {
      operationId: 'cancelExecution',
      tags: ['Executions'],
      summary: 'Kill a running execution',
      description: 'Airlock extension. Its status becomes `cancelled`. 409 `conflict` when it has already finished.',
      security: apiKeySecurity,
      requestParams: { path: traceIdPath, header: commonRequestHeaders },
      responses: {
        200: { description: 'Cancelled.', headers: apiKeyHeaders, content: { 'application/json': { schema: ExecutionCancelResponse } } },
        ...errors(...API_KEY_ERRORS, ErrorCode.notFound, ErrorCode.conflict),
      },
    },
  },
  '/v1/executions/{traceId}/webhook': {
    get: {
      operationId: 'getExecutionWebhook',
      tags: ['Executions'],
      summary: "Read an execution's webhook delivery",
      description: 'Airlock extension: the delivery state and every attempt. 404 for an execution without `webhook_url`.',
      security: apiKeySecurity,
      requestParams: { path: traceIdPath, header: commonRequestHeaders },
      responses: {
        200: { description: 'The delivery.', headers: apiKeyHeaders, content: { 'application/json': { schema: WebhookDeliveryResponse } } },
        ...errors(...API_KEY_ERRORS, ErrorCode.notFound),
      },
    },
  },
  '/v1/threads/{threadId}/fork': {
    post: {
      operationId: 'forkThread',
      tags: ['Threads'],
      summary: 'Start a new thread from this one',
      description: "Airlock extension. The new thread starts with this thread's home; nothing is copied (layers are shared).",
      security: apiKeySecurity,
      requestParams: { path: threadIdPath, header: commonRequestHeaders },
      requestBody: { required: true, content: { 'application/json': { schema: ThreadForkRequest } } },
      responses: {
        201: { description: 'Forked.', headers: apiKeyHeaders, content: { 'application/json': { schema: ThreadForkResponse } } },
        ...errors(...API_KEY_ERRORS, ErrorCode.validationError, ErrorCode.notFound, ErrorCode.conflict, ErrorCode.unavailable),
      },
    },
  },
  '/v1/threads/{threadId}/export': {
    get: {
      operationId: 'exportThread',
      tags: ['Threads'],
      summary: "Download a thread's home as .tar.gz",
      description: 'Airlock extension. Streamed as it is made.',
      security: apiKeySecurity,
      requestParams: { path: threadIdPath, header: commonRequestHeaders },
      responses: {
        200: {
          description: 'The home directory as a gzip-compressed tar archive.',
          headers: apiKeyHeaders,
          content: { 'application/gzip': { schema: { type: 'string', contentMediaType: 'application/gzip' } } },
        },
        ...errors(...API_KEY_ERRORS, ErrorCode.validationError, ErrorCode.notFound, ErrorCode.unavailable),
      },
    },
  },
};
