import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { ZodOpenApiOperationObject } from 'zod-openapi';
import type { AppEnv } from '../http/app-context.js';
import { authenticate } from '../http/middleware.js';
import { requestBody } from '../http/whole-body.js';
import { API_KEY_ERRORS, apiKeyHeaders, apiKeySecurity, commonHeaders, commonRequestHeaders, errors } from '../http/openapi/openapi-components.js';
import { operation, type Operation } from '../http/operation.js';
import type { ApiKeyService } from '../auth/api-key-service.js';
import type { RateLimits } from '../auth/rate-limits.js';
import { JsonRpcErrorCode, MCP_PROTOCOL_VERSIONS, httpError, screenMcpRequest } from './json-rpc-gate.js';
import { createMcpServer, mcpToolNames, type McpServices } from './mcp-server.js';
import type { ConnectorService } from '../connectors/connector-service.js';

export interface McpRouteOptions extends McpServices {
  apiKeys: ApiKeyService;
  rateLimits: RateLimits;
  /** Base URL of signed file URLs; the request's own origin when unset. */
  publicUrl: string | undefined;
  /** Web origins whose pages may call the server; a request with any other Origin is refused (403). */
  corsOrigins: string[];
  /** The connectors of a caller's calls, for sandbox_execute's description; none without it. */
  connectors?: Pick<ConnectorService, 'factsForCall'>;
}

/** A JSON-RPC 2.0 message (MCP's framing); the methods and their params are MCP's, see the protocol. */
const JsonRpcMessage = z
  .looseObject({
    jsonrpc: z.literal('2.0'),
    id: z.union([z.string(), z.number().int(), z.null()]).optional(),
    method: z.string().optional(),
    params: z.record(z.string(), z.unknown()).optional(),
    result: z.record(z.string(), z.unknown()).optional(),
    error: z.looseObject({ code: z.number().int(), message: z.string(), data: z.unknown().optional() }).optional(),
  })
  .meta({ id: 'JsonRpcMessage' });

/** POST /mcp in the OpenAPI document: JSON-RPC in, JSON or server-sent events out, and the transport's errors. */
const MCP_DOCUMENT: ZodOpenApiOperationObject = {
  operationId: 'mcp',
  tags: ['MCP'],
  summary: 'MCP over Streamable HTTP (stateless)',
  description:
    'JSON-RPC 2.0, MCP protocol 2025-11-25. No session id is issued and `initialize` is optional; every request ' +
    'carries the API key. Send `Accept: application/json, text/event-stream`. Tools: `sandbox_execute`, ' +
    '`files_list`, `files_download`.',
  security: apiKeySecurity,
  requestParams: {
    header: commonRequestHeaders.extend({
      Accept: z.string().meta({
        description: 'Must list both `application/json` and `text/event-stream` (406 otherwise).',
        example: 'application/json, text/event-stream',
      }),
      'MCP-Protocol-Version': z
        .enum(MCP_PROTOCOL_VERSIONS as [string, ...string[]])
        .optional()
        .meta({ description: 'The negotiated revision; without it 2025-03-26 is assumed. Others are refused (400).' }),
      Origin: z.string().optional().meta({ description: 'A browser page\'s origin; must be one of AIRLOCK_CORS_ORIGINS (403 otherwise).' }),
    }),
  },
  requestBody: { required: true, content: { 'application/json': { schema: JsonRpcMessage } } },
  responses: {
    200: {
      description: 'The JSON-RPC answer, as JSON or as a server-sent event stream.',
      headers: apiKeyHeaders,
      content: { 'application/json': { schema: JsonRpcMessage }, 'text/event-stream': { schema: { type: 'string' } } },
    },
    202: { description: 'A notification or response was accepted; nothing to answer.', headers: apiKeyHeaders },
    400: {
      description: 'Not a JSON-RPC message this server takes, a batch under a revision without them, or an unsupported MCP-Protocol-Version (a JSON-RPC error).',
      headers: apiKeyHeaders,
      content: { 'application/json': { schema: JsonRpcMessage } },
    },
    403: {
      description: 'An Origin that is not allowed (a JSON-RPC error).',
      headers: commonHeaders,
      content: { 'application/json': { schema: JsonRpcMessage } },
    },
    406: {
      description: 'The Accept header lacks application/json or text/event-stream (a JSON-RPC error).',
      headers: apiKeyHeaders,
      content: { 'application/json': { schema: JsonRpcMessage } },
    },
    415: {
      description: 'The body is not application/json (a JSON-RPC error).',
      headers: apiKeyHeaders,
      content: { 'application/json': { schema: JsonRpcMessage } },
    },
    ...errors(...API_KEY_ERRORS),
  },
};

/**
 * The MCP endpoint, stateless Streamable HTTP: each POST gets its own server and transport, no session id is issued,
 * so any node answers any request. A stateless server has no stream to offer on GET and no session to end on
 * DELETE, hence 405 as the SDK's stateless examples answer.
 */
export function mcpOperations(options: McpRouteOptions): Operation[] {
  const allowedOrigins = new Set(options.corsOrigins.map((origin) => new URL(origin).origin));
  // The transport spec: an Origin that is present and not allowed is 403, against DNS rebinding.
  const checkOrigin: MiddlewareHandler<AppEnv> = async (context, next) => {
    const origin = context.req.header('origin');
    if (origin !== undefined && !allowedOrigins.has(origin)) {
      return httpError(403, JsonRpcErrorCode.serverError, `Forbidden: Origin ${JSON.stringify(origin)} is not allowed (AIRLOCK_CORS_ORIGINS)`);
    }
    return next();
  };
  const middleware = [checkOrigin, authenticate(options.apiKeys, options.rateLimits)];
  const notAllowed = (method: 'get' | 'delete', operationId: string) =>
    operation({
      method,
      path: '/mcp',
      middleware,
      document: {
        operationId,
        tags: ['MCP'],
        summary: 'Not served: this MCP server is stateless',
        security: apiKeySecurity,
        requestParams: { header: commonRequestHeaders },
        responses: {
          405: {
            description: 'No stream or session to offer; send JSON-RPC with POST.',
            headers: commonHeaders.extend({ Allow: z.literal('POST') }),
            content: { 'application/json': { schema: JsonRpcMessage } },
          },
          ...errors(...API_KEY_ERRORS),
        },
      },
      handle: () =>
        Response.json(
          { jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this MCP server is stateless; send JSON-RPC with POST /mcp' }, id: null },
          { status: 405, headers: { Allow: 'POST' } },
        ),
    });
  return [
    operation({
      method: 'post',
      path: '/mcp',
      middleware,
      document: MCP_DOCUMENT,
      handle: async (context) => {
        const principal = context.get('principal');
        const screened = screenMcpRequest({
          body: new TextDecoder().decode(await requestBody(context)),
          protocolVersion: context.req.header('mcp-protocol-version'),
          toolNames: mcpToolNames(options, principal),
        });
        if ('answer' in screened) return screened.answer;
        const server = createMcpServer(options, {
          principal,
          connectors: (await options.connectors?.factsForCall(principal)) ?? [],
          acceptedAt: context.get('acceptedAt'),
          requestId: context.get('requestId'),
          origin: options.publicUrl ?? new URL(context.req.url).origin,
        });
        const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
        await server.connect(transport);
        return transport.handleRequest(context.req.raw, { parsedBody: screened.parsedBody });
      },
    }),
    notAllowed('get', 'mcpStream'),
    notAllowed('delete', 'mcpEndSession'),
  ];
}
