import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { Hono } from 'hono';
import type { ApiKeyService } from '../services/api-key-service.js';
import type { RateLimits } from '../services/rate-limits.js';
import type { AppEnv } from '../http/app-context.js';
import { authenticate } from '../http/middleware.js';
import { JsonRpcErrorCode, httpError, screenMcpRequest } from './json-rpc-gate.js';
import { MCP_TOOL_NAMES, createMcpServer, type McpServices } from './mcp-server.js';

export interface McpRouteOptions extends McpServices {
  apiKeys: ApiKeyService;
  rateLimits: RateLimits;
  /** Base URL of signed file URLs; the request's own origin when unset. */
  publicUrl: string | undefined;
  /** Web origins whose pages may call the server; a request with any other Origin is refused (403). */
  corsOrigins: string[];
}

/**
 * The MCP endpoint, stateless Streamable HTTP: each POST gets its own server and transport, no session id is issued,
 * so any node answers any request. A stateless server has no stream to offer on GET, hence 405 as the SDK's
 * stateless examples answer.
 */
export function mcpRoutes(options: McpRouteOptions): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const allowedOrigins = new Set(options.corsOrigins.map((origin) => new URL(origin).origin));
  // The transport spec: an Origin that is present and not allowed is 403, against DNS rebinding.
  routes.use('/mcp', async (context, next) => {
    const origin = context.req.header('origin');
    if (origin !== undefined && !allowedOrigins.has(origin)) {
      return httpError(403, JsonRpcErrorCode.serverError, `Forbidden: Origin ${JSON.stringify(origin)} is not allowed (AIRLOCK_CORS_ORIGINS)`);
    }
    return next();
  });
  routes.use('/mcp', authenticate(options.apiKeys, options.rateLimits));
  routes.post('/mcp', async (context) => {
    const screened = screenMcpRequest({
      body: await context.req.text(),
      protocolVersion: context.req.header('mcp-protocol-version'),
      toolNames: MCP_TOOL_NAMES,
    });
    if ('answer' in screened) return screened.answer;
    const server = createMcpServer(options, {
      principal: context.get('principal'),
      acceptedAt: context.get('acceptedAt'),
      requestId: context.get('requestId'),
      origin: options.publicUrl ?? new URL(context.req.url).origin,
    });
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    await server.connect(transport);
    return transport.handleRequest(context.req.raw, { parsedBody: screened.parsedBody });
  });
  routes.all('/mcp', () =>
    Response.json(
      { jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this MCP server is stateless; send JSON-RPC with POST /mcp' }, id: null },
      { status: 405, headers: { Allow: 'POST' } },
    ),
  );
  return routes;
}
