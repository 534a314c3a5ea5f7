import { HealthResponse, ReadinessResponse } from '@airlock/contracts';
import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { MCP_PROTOCOL_VERSIONS } from '../../mcp/json-rpc-gate.js';
import { DOCS_PATH, OPENAPI_PATH, SCALAR_BUNDLE_PATH } from './docs-assets.js';
import { API_KEY_ERRORS, apiKeyHeaders, apiKeySecurity, commonHeaders, commonRequestHeaders, errors } from './openapi-components.js';

const text = (contentType: string) => ({ [contentType]: { schema: { type: 'string' } } }) as const;

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

const mcpNotAllowed = {
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
};

/** Health, metrics, this document and its docs page, and the MCP endpoint. */
export const servicePaths: ZodOpenApiPathsObject = {
  '/healthz': {
    get: {
      operationId: 'health',
      tags: ['Service'],
      summary: 'Liveness: the process is up',
      security: [],
      requestParams: { header: commonRequestHeaders },
      responses: { 200: { description: 'Up.', headers: commonHeaders, content: { 'application/json': { schema: HealthResponse } } } },
    },
  },
  '/readyz': {
    get: {
      operationId: 'readiness',
      tags: ['Service'],
      summary: 'Readiness: database, images and pools ready',
      security: [],
      requestParams: { header: commonRequestHeaders },
      responses: {
        200: { description: 'Ready.', headers: commonHeaders, content: { 'application/json': { schema: ReadinessResponse } } },
        503: { description: 'A dependency is not ready.', headers: commonHeaders, content: { 'application/json': { schema: ReadinessResponse } } },
      },
    },
  },
  '/metrics': {
    get: {
      operationId: 'metrics',
      tags: ['Service'],
      summary: 'Prometheus metrics',
      description: 'Executions, overhead, warm pool and process metrics; no tenant data.',
      security: [],
      requestParams: { header: commonRequestHeaders },
      responses: { 200: { description: 'The Prometheus text format.', headers: commonHeaders, content: text('text/plain') } },
    },
  },
  [OPENAPI_PATH]: {
    get: {
      operationId: 'openapi',
      tags: ['Service'],
      summary: 'This OpenAPI document',
      security: [],
      requestParams: { header: commonRequestHeaders },
      responses: {
        200: { description: 'OpenAPI 3.1.', headers: commonHeaders, content: { 'application/json': { schema: { type: 'object' } } } },
      },
    },
  },
  [DOCS_PATH]: {
    get: {
      operationId: 'docs',
      tags: ['Service'],
      summary: 'The API reference for people',
      security: [],
      requestParams: { header: commonRequestHeaders },
      responses: { 200: { description: 'An HTML page rendering this document.', headers: commonHeaders, content: text('text/html') } },
    },
  },
  [SCALAR_BUNDLE_PATH]: {
    get: {
      operationId: 'docsScript',
      tags: ['Service'],
      summary: 'The script of the docs page',
      security: [],
      requestParams: { header: commonRequestHeaders },
      responses: { 200: { description: 'JavaScript.', headers: commonHeaders, content: text('text/javascript') } },
    },
  },
  '/mcp': {
    post: {
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
    },
    get: { operationId: 'mcpStream', ...mcpNotAllowed },
    delete: { operationId: 'mcpEndSession', ...mcpNotAllowed },
  },
};
