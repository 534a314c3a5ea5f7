import { ErrorCode, ExecutionCancelResponse, ExecutionEvent } from '@airlock/contracts';
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/app-context.js';
import { commonHeaders, commonRequestHeaders, errors, NODE_SIGNATURE } from '../http/openapi/openapi-components.js';
import { operation, type Operation } from '../http/operation.js';
import { ApiError } from '../shared/api-error.js';
import { followLog } from '../executions/execute-stream.js';
import type { ExecutionService } from '../executions/execution-service.js';
import { NODE_SIGNATURE_HEADER, type NodeSignature } from './node-keys.js';

const params = z.object({ traceId: z.string().meta({ description: 'An execution running on this node.' }) });
const organization = { organization_id: z.string().meta({ description: 'The organization of the execution.' }) };
const security = [{ [NODE_SIGNATURE]: [] }];

/** Only calls signed by a node of this deployment (see NodeSignature). */
function signedByNode(signature: NodeSignature): MiddlewareHandler<AppEnv> {
  return async (context, next) => {
    const url = new URL(context.req.url);
    if (!signature.verify(context.req.header(NODE_SIGNATURE_HEADER), context.req.method, `${url.pathname}${url.search}`)) {
      throw ApiError.unauthorized('only another server node of this deployment may call this, with a valid X-Airlock-Node-Signature');
    }
    await next();
  };
}

const notHere = (traceId: string) => ApiError.notFound(`execution ${traceId} does not run on this node`);

/**
 * What a node does for another: forget its cached lookups after a change made there; on the executions it runs,
 * cancel one, relay its live events (the node that got the client's request has authenticated it and checked the
 * execution's organization).
 */
export function nodeOperations(node: { executions: ExecutionService; signature: NodeSignature; forgetCachedHere: () => void }): Operation[] {
  const { executions } = node;
  const middleware = [signedByNode(node.signature)];
  return [
    operation({
      method: 'post',
      path: '/internal/v1/caches/forget',
      middleware,
      document: {
        operationId: 'nodeForgetCaches',
        tags: ['Nodes'],
        summary: 'Forget cached keys, attachments and connectors after a change made on another node',
        security,
        requestParams: { header: commonRequestHeaders },
        responses: { 204: { description: 'Forgotten.', headers: commonHeaders }, ...errors(ErrorCode.unauthorized) },
      },
      handle: (context) => {
        node.forgetCachedHere();
        return context.body(null, 204);
      },
    }),
    operation({
      method: 'post',
      path: '/internal/v1/executions/{traceId}/cancel',
      params,
      query: z.object(organization),
      middleware,
      document: {
        operationId: 'nodeCancelExecution',
        tags: ['Nodes'],
        summary: 'Cancel an execution running on this node',
        security,
        requestParams: { header: commonRequestHeaders },
        responses: {
          200: { description: 'As `POST /v1/executions/{traceId}/cancel`.', headers: commonHeaders, content: { 'application/json': { schema: ExecutionCancelResponse } } },
          ...errors(ErrorCode.unauthorized, ErrorCode.validationError, ErrorCode.notFound),
        },
      },
      handle: async (context, input) => {
        const cancelled = await executions.cancelHere(input.query.organization_id, input.params.traceId);
        if (!cancelled) throw notHere(input.params.traceId);
        return context.json(cancelled);
      },
    }),
    operation({
      method: 'get',
      path: '/internal/v1/executions/{traceId}/output',
      params,
      query: z.object({
        ...organization,
        after_seq: z.coerce.number().int().default(-1).meta({ description: 'Only events with a larger `seq`.' }),
      }),
      middleware,
      document: {
        operationId: 'nodeExecutionOutput',
        tags: ['Nodes'],
        summary: "Follow the live events of an execution running on this node",
        security,
        requestParams: { header: commonRequestHeaders },
        responses: {
          200: { description: 'NDJSON events, as `GET /v1/executions/{traceId}/output`.', headers: commonHeaders, content: { 'application/x-ndjson': { schema: ExecutionEvent } } },
          ...errors(ErrorCode.unauthorized, ErrorCode.validationError, ErrorCode.notFound),
        },
      },
      handle: (_context, input) => {
        const log = executions.liveLog(input.query.organization_id, input.params.traceId);
        if (!log) throw notHere(input.params.traceId);
        return followLog(log, input.query.after_seq);
      },
    }),
  ];
}
