import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { Hono } from 'hono';
import type { ApiKeyService } from '../services/api-key-service.js';
import type { RateLimits } from '../services/rate-limits.js';
import type { AppEnv } from '../http/app-context.js';
import { authenticate } from '../http/middleware.js';
import { createMcpServer, type McpServices } from './mcp-server.js';

export interface McpRouteOptions extends McpServices {
  apiKeys: ApiKeyService;
  rateLimits: RateLimits;
  /** Base URL of signed file URLs; the request's own origin when unset. */
  publicUrl: string | undefined;
}

/**
 * The MCP endpoint, stateless Streamable HTTP: each POST gets its own server and transport, no session id is issued,
 * so any node answers any request. A stateless server has no stream to offer on GET, hence 405 as the SDK's
 * stateless examples answer.
 */
export function mcpRoutes(options: McpRouteOptions): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.use('/mcp', authenticate(options.apiKeys, options.rateLimits));
  routes.post('/mcp', async (context) => {
    const server = createMcpServer(options, {
      principal: context.get('principal'),
      acceptedAt: context.get('acceptedAt'),
      requestId: context.get('requestId'),
      origin: options.publicUrl ?? new URL(context.req.url).origin,
    });
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    await server.connect(transport);
    return transport.handleRequest(context.req.raw);
  });
  routes.all('/mcp', () =>
    Response.json(
      { jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this MCP server is stateless; send JSON-RPC with POST /mcp' }, id: null },
      { status: 405, headers: { Allow: 'POST' } },
    ),
  );
  return routes;
}
