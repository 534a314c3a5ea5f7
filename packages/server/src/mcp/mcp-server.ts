import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import type { ExecutionService } from '../executions/execution-service.js';
import type { FileService } from '../files/file-service.js';
import type { ImageService } from '../images/image-service.js';
import type { Logger } from '../shared/logger.js';
import { networkOf, type Principal } from '../auth/api-key-service.js';
import type { ThreadService } from '../threads/thread-service.js';
import { WebToolRefusal } from '../web/web-gateway.js';
import type { WebTools } from '../web/web-tools.js';
import type { SandboxConnectorFacts } from '@airlock/contracts';
import { inlineText } from './inline-text.js';
import { TOOL_DESCRIPTIONS, WEB_TOOL_DESCRIPTIONS, executeToolDescription } from './tool-descriptions.js';
import { toolOutcome } from './tool-outcome.js';
import {
  ExecuteArguments,
  ExecuteResult,
  FilesDownloadArguments,
  FilesDownloadResult,
  FilesListArguments,
  FilesListResult,
  INLINE_TEXT_MAX_BYTES,
  WebFetchArguments,
  WebFetchResult,
  WebSearchArguments,
  WebSearchResult,
} from './tool-schemas.js';

export interface McpServices {
  executions: ExecutionService;
  /** What the image of the caller's sandbox runs, for the tool's description (undefined for the default image). */
  images: Pick<ImageService, 'facts'>;
  files: FileService;
  threads: ThreadService;
  logger: Logger;
  /** web_fetch and web_search, for keys whose policy allows them; without it there are none. */
  web?: WebTools;
}

/** The one HTTP request an MCP server instance answers. */
export interface McpCall {
  principal: Principal;
  /** performance.now() when the request arrived. */
  acceptedAt: number;
  requestId: string;
  /** Base URL of signed file URLs. */
  origin: string;
  /** The connectors of the caller's calls, named in sandbox_execute's description. */
  connectors: readonly SandboxConnectorFacts[];
}

/** The tools createMcpServer registers for every key; a call of another name is refused before the SDK sees it (json-rpc-gate.ts). */
export const MCP_TOOL_NAMES = ['sandbox_execute', 'files_list', 'files_download'];
/** The tools it registers besides, for a key whose web policy allows them. */
export const MCP_WEB_TOOL_NAMES = ['web_fetch', 'web_search'];

/** The tools a key's MCP server has. */
export function mcpToolNames(services: Pick<McpServices, 'web'>, principal: Principal): string[] {
  return services.web?.policyOf(principal) ? [...MCP_TOOL_NAMES, ...MCP_WEB_TOOL_NAMES] : MCP_TOOL_NAMES;
}

const MCP_SERVER_NAME = 'airlock';
const MCP_SERVER_VERSION = '0.1.0';

/**
 * An MCP server whose tools act for one authenticated request: sandbox_execute, files_list, files_download; and
 * web_fetch and web_search when the key's web policy allows them.
 */
export function createMcpServer(services: McpServices, call: McpCall): McpServer {
  const server = new McpServer({ name: MCP_SERVER_NAME, version: MCP_SERVER_VERSION });
  const { principal } = call;
  const outcome = toolOutcome({ logger: services.logger, requestId: call.requestId });
  const web = services.web?.policyOf(principal) ? services.web : undefined;

  server.registerTool(
    'sandbox_execute',
    {
      title: 'Run code in a sandbox',
      description: executeToolDescription(networkOf(principal), services.images.facts(principal.sandboxConfig.image), call.connectors, web !== undefined),
      inputSchema: ExecuteArguments,
      outputSchema: ExecuteResult,
    },
    (request) => outcome(ExecuteResult, () => services.executions.execute(principal, request, { acceptedAt: call.acceptedAt })),
  );

  server.registerTool(
    'files_list',
    {
      title: "List a thread's files",
      description: TOOL_DESCRIPTIONS.files_list,
      inputSchema: FilesListArguments,
      outputSchema: FilesListResult,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ thread_id, path }) => outcome(FilesListResult, () => services.files.list(principal, { source: 'thread', id: thread_id, path })),
  );

  server.registerTool(
    'files_download',
    {
      title: "Download a thread's file",
      description: TOOL_DESCRIPTIONS.files_download,
      inputSchema: FilesDownloadArguments,
      outputSchema: FilesDownloadResult,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ thread_id, path }) =>
      outcome(FilesDownloadResult, async () => {
        const { entry, content } = await services.threads.readFile(principal.organization.id, thread_id, path);
        const text = await inlineText(content, entry.size, INLINE_TEXT_MAX_BYTES);
        const signed = await services.files.downloadUrl(principal, { source: 'thread', id: thread_id, path }, call.origin);
        return { path: entry.path, size: entry.size, url: signed.url, expires_at: signed.expires_at, content: text };
      }),
  );

  if (web) {
    server.registerTool(
      'web_fetch',
      {
        title: 'Read a web page',
        description: WEB_TOOL_DESCRIPTIONS.web_fetch,
        inputSchema: WebFetchArguments,
        outputSchema: WebFetchResult,
        annotations: { readOnlyHint: true, openWorldHint: true },
      },
      ({ url }) => webOutcome(outcome, WebFetchResult, async () => (await web.fetch(principal, call.requestId, url))!),
    );
    server.registerTool(
      'web_search',
      {
        title: 'Search the web',
        description: WEB_TOOL_DESCRIPTIONS.web_search,
        inputSchema: WebSearchArguments,
        outputSchema: WebSearchResult,
        annotations: { readOnlyHint: true, openWorldHint: true },
      },
      ({ query, count }) => webOutcome(outcome, WebSearchResult, async () => (await web.search(principal, call.requestId, query, count))!),
    );
  }

  // The SDK advertises tools.listChanged; a stateless server never sends that notification.
  server.server.registerCapabilities({ tools: { listChanged: false } });
  return server;
}

/** A web tool's result; its refusal a tool error naming its code and rule, which the model can act on. */
async function webOutcome<Output extends z.ZodObject>(
  outcome: ReturnType<typeof toolOutcome>,
  output: Output,
  work: () => Promise<z.input<Output>>,
): Promise<CallToolResult> {
  let value: z.input<Output>;
  try {
    value = await work();
  } catch (error) {
    if (!(error instanceof WebToolRefusal)) return outcome(output, () => Promise.reject(error));
    return { isError: true, content: [{ type: 'text', text: `${error.code} (${error.rule}): ${error.message}` }] };
  }
  return outcome(output, async () => value);
}
