import {
  ErrorCode,
  ExecuteAcceptedResponse,
  ExecuteRequest,
  ExecuteResponse,
  ExecutionCancelResponse,
  ExecutionEvent,
  ExecutionRecordResponse,
  TRACE_ID_PATTERN,
  WebhookDeliveryResponse,
  WebhookPayload,
} from '@airlock/contracts';
import { IdempotencyKeyTakenError, type DeliveryMode, type Execution } from '@airlock/db';
import type { Context } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/app-context.js';
import { API_KEY_ERRORS, apiKeyDocument, apiKeyHeaders, apiKeySecurity, commonRequestHeaders, errors } from '../http/openapi/openapi-components.js';
import { operation, type Operation } from '../http/operation.js';
import { ApiError } from '../shared/api-error.js';
import type { BackgroundExecutions } from './background-executions.js';
import type { ExecutionService } from './execution-service.js';
import { readIdempotency } from './idempotency.js';
import { replayExecution, streamExecution } from './execute-stream.js';

const traceIdPath = z.object({
  traceId: z.string().meta({ description: 'The execution: the `trace_id` of its answer or first stream event.', example: 'trc_0123456789abcdef0123456789abcdef' }),
});

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

const executeAnswerHeaders = apiKeyHeaders.extend({
  'Idempotent-Replayed': z
    .literal('true')
    .optional()
    .meta({ description: 'The answer of an earlier execution with the same Idempotency-Key; nothing was run.' }),
});

/** Where a `trace_id` in an answer leads. */
const traceLinks = Object.fromEntries(
  ['getExecution', 'getExecutionOutput', 'cancelExecution', 'getExecutionWebhook'].map((operationId) => [
    operationId,
    { operationId, parameters: { traceId: '$response.body#/trace_id' } },
  ]),
);

/** The execute endpoint and the executions API. */
export function executionOperations(executions: ExecutionService, background: BackgroundExecutions): Operation[] {
  return [
    executeOperation(executions, background),
    operation({
      method: 'get',
      path: '/v1/executions/{traceId}',
      document: apiKeyDocument({
        operationId: 'getExecution',
        tags: ['Executions'],
        summary: 'Read a recorded execution',
        description: 'Output and outcome fields are null while it runs.',
        requestParams: { path: traceIdPath },
        responses: {
          200: { description: 'The execution.', headers: apiKeyHeaders, content: { 'application/json': { schema: ExecutionRecordResponse } } },
        },
        codes: [ErrorCode.notFound],
      }),
      handle: async (context) => context.json(await executions.get(context.get('principal').organization.id, traceIdParameter(context))),
    }),
    operation({
      method: 'get',
      path: '/v1/executions/{traceId}/output',
      document: {
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
      handle: async (context) => {
        const afterSeq = Number(context.req.query('after_seq') ?? -1);
        if (!Number.isInteger(afterSeq)) throw ApiError.validation('after_seq: must be a whole number');
        return replayExecution(executions, context.get('principal').organization.id, traceIdParameter(context), afterSeq);
      },
    }),
    operation({
      method: 'post',
      path: '/v1/executions/{traceId}/cancel',
      document: apiKeyDocument({
        operationId: 'cancelExecution',
        tags: ['Executions'],
        summary: 'Kill a running execution',
        description:
          'Airlock extension. Kills the execution and answers once it has ended (`cancelled`), or `cancelling` if stopping ' +
          'takes more than 5 seconds. A finished execution answers 200 with the status it finished with, never 409.',
        requestParams: { path: traceIdPath },
        responses: {
          200: { description: 'Cancelled.', headers: apiKeyHeaders, content: { 'application/json': { schema: ExecutionCancelResponse } } },
        },
        codes: [ErrorCode.notFound, ErrorCode.conflict],
      }),
      handle: async (context) => context.json(await executions.cancel(context.get('principal').organization.id, traceIdParameter(context))),
    }),
    operation({
      method: 'get',
      path: '/v1/executions/{traceId}/webhook',
      document: apiKeyDocument({
        operationId: 'getExecutionWebhook',
        tags: ['Executions'],
        summary: "Read an execution's webhook delivery",
        description: 'Airlock extension: the delivery state and every attempt. 404 for an execution without `webhook_url`.',
        requestParams: { path: traceIdPath },
        responses: {
          200: { description: 'The delivery.', headers: apiKeyHeaders, content: { 'application/json': { schema: WebhookDeliveryResponse } } },
        },
        codes: [ErrorCode.notFound],
      }),
      handle: async (context) => context.json(await background.delivery(context.get('principal').organization.id, traceIdParameter(context))),
    }),
  ];
}

/** The route's trace id; one no execution can have (malformed, NUL bytes) is not found without a lookup. */
function traceIdParameter(context: Context<AppEnv>): string {
  const traceId = context.req.param('traceId') ?? '';
  if (!TRACE_ID_PATTERN.test(traceId)) throw ApiError.notFound(`no execution ${JSON.stringify(traceId)} in this organization`);
  return traceId;
}

/** Whether a `Prefer` header (RFC 7240) asks for `respond-async`. */
function prefersAsync(header: string | undefined): boolean {
  return (header ?? '').split(',').some((preference) => preference.split(';')[0]?.trim().toLowerCase() === 'respond-async');
}

/** POST /v1/sandbox/execute: one call, one sandbox; answered inline, streamed or in the background by the headers. */
function executeOperation(executions: ExecutionService, background: BackgroundExecutions): Operation {
  return operation({
    method: 'post',
    path: '/v1/sandbox/execute',
    body: ExecuteRequest,
    document: {
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
          'Idempotency-Key': z
            .string()
            .regex(/^[\x21-\x7e]{1,255}$/)
            .optional()
            .meta({
              description:
                'Makes a retry safe: a request with a key used in the last 24 hours runs nothing and gets the earlier ' +
                "execution's answer (waiting for it if it still runs), marked `Idempotent-Replayed: true`; the same key " +
                'with another body or API key is refused (422). The earlier answer may be a failure such as ' +
                '`server_stopped`: send a new key to run the code again.',
            }),
        }),
      },
      responses: {
        200: {
          description: `The finished execution (JSON), or its events as it runs (\`${NDJSON}\`): ${streamDescription}`,
          headers: executeAnswerHeaders,
          content: {
            'application/json': { schema: ExecuteResponse },
            [NDJSON]: { schema: ExecutionEvent },
          },
          links: traceLinks,
        },
        202: {
          description: 'Accepted for webhook delivery (`Prefer: respond-async`); the code is running.',
          headers: executeAnswerHeaders,
          content: { 'application/json': { schema: ExecuteAcceptedResponse } },
          links: traceLinks,
        },
        ...errors(
          ...API_KEY_ERRORS,
          ErrorCode.validationError,
          ErrorCode.conflict,
          ErrorCode.threadBusy,
          ErrorCode.idempotencyKeyReused,
          ErrorCode.unavailable,
        ),
      },
      callbacks: { executionFinished: webhookCallback },
    },
    handle: async (context, { body }) => {
      const principal = context.get('principal');
      const mode: DeliveryMode = prefersAsync(context.req.header('prefer'))
        ? 'webhook'
        : (context.req.header('accept') ?? '').includes(NDJSON)
          ? 'streaming'
          : 'inline';
      const idempotency = readIdempotency(context.req.header('idempotency-key'), principal, body);
      const options = { acceptedAt: context.get('acceptedAt'), idempotency };
      const replayEarlier = async (): Promise<Response | undefined> => {
        const earlier = idempotency && (await executions.earlierAttempt(principal, idempotency));
        return earlier ? answerAgain(context, executions, earlier, mode) : undefined;
      };
      const replayed = await replayEarlier();
      if (replayed) return replayed;
      try {
        if (mode === 'webhook') return context.json(await background.start(principal, body, options), 202);
        if (mode === 'streaming') return await streamExecution(executions, principal, body, options);
        return context.json(await executions.execute(principal, body, options));
      } catch (error) {
        // A concurrent request with the same key took it first.
        if (error instanceof IdempotencyKeyTakenError) return (await replayEarlier()) ?? Promise.reject(error);
        throw error;
      }
    },
  });
}

/**
 * The answer to a retry of an execution with the same Idempotency-Key: the earlier execution's, in the delivery mode
 * asked now, marked `Idempotent-Replayed: true`; its code is not run again and no second webhook is sent.
 */
async function answerAgain(context: Context<AppEnv>, executions: ExecutionService, earlier: Execution, mode: DeliveryMode): Promise<Response> {
  const principal = context.get('principal');
  const response =
    mode === 'webhook'
      ? context.json({ trace_id: earlier.traceId, status: earlier.status }, 202)
      : mode === 'streaming'
        ? await replayExecution(executions, principal.organization.id, earlier.traceId, -1)
        : context.json(await executions.result(principal.organization.id, earlier.traceId));
  const headers = new Headers(response.headers);
  headers.set('Idempotent-Replayed', 'true');
  return new Response(response.body, { status: response.status, headers });
}
