import { nodeOperations } from '../nodes/node-operations.js';
import { nodeAdminOperations } from '../nodes/node-admin-operations.js';
import type { ServerNode } from '@airlock/db';
import type { NodeSignature } from '../nodes/node-keys.js';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { adminOperations } from '../admin/admin-operations.js';
import { executionAdminOperations } from '../executions/execution-admin-operations.js';
import type { ExecutionBrowser } from '../executions/execution-browser.js';
import { executionOperations } from '../executions/execution-operations.js';
import { fileOperations } from '../files/file-operations.js';
import { fileAdminOperations } from '../files/file-admin-operations.js';
import { usageOperations } from '../usage/usage-operations.js';
import type { UsageService } from '../usage/usage-service.js';
import type { WebTools } from '../web/web-tools.js';
import { mcpOperations } from '../mcp/mcp-operations.js';
import { ApiError } from '../shared/api-error.js';
import { accountOperations } from '../admin/account-operations.js';
import type { AccountService } from '../admin/account-service.js';
import type { AdminService } from '../admin/admin-service.js';
import { auditOperations } from '../audit/audit-operations.js';
import type { AuditService } from '../audit/audit-service.js';
import { adminGate } from '../auth/admin-authentication.js';
import { adminTokenOperations } from '../auth/admin-token-operations.js';
import type { AdminTokenService } from '../auth/admin-token-service.js';
import { identityOperations } from '../auth/identity-operations.js';
import type { IdentityService } from '../auth/identity-service.js';
import type { OidcSignIn } from '../auth/oidc-sign-in.js';
import type { SessionService } from '../auth/session-service.js';
import { signInOperations } from '../auth/sign-in-operations.js';
import type { ApiKeyService } from '../auth/api-key-service.js';
import type { BackgroundExecutions } from '../executions/background-executions.js';
import type { ExecutionService } from '../executions/execution-service.js';
import { SIGNED_FILES_PATH, type FileService } from '../files/file-service.js';
import type { RateLimits } from '../auth/rate-limits.js';
import { storageOperations } from '../storage/storage-operations.js';
import { connectorOperations } from '../connectors/connector-operations.js';
import type { ConnectorService } from '../connectors/connector-service.js';
import { IMAGE_ARCHIVE_PATH, imageOperations } from '../images/image-operations.js';
import type { ImageService } from '../images/image-service.js';
import type { StorageService } from '../storage/storage-service.js';
import type { ThreadService } from '../threads/thread-service.js';
import { webSearchProviderOperations } from '../web/web-search-provider-operations.js';
import type { WebSearchProviderService } from '../web/web-search-provider-service.js';
import type { Logger } from '../shared/logger.js';
import type { ServerMetrics } from '../shared/metrics.js';
import { threadOperations } from '../threads/thread-operations.js';
import type { AppEnv } from './app-context.js';
import { errorResponse } from './errors.js';
import { bodyDeadline } from './body-deadline.js';
import { wholeBody } from './whole-body.js';
import { refuseExcessConnections, type ConnectionsPerAddress } from './connection-limit.js';
import { adminDeclarer } from './admin-operation.js';
import { consoleEntryOperation, serveConsole } from './console-files.js';
import { authenticate, requestId, withHeaders } from './middleware.js';
import { createOpenApiDocument, type OpenApiDocument } from './openapi/openapi-document.js';
import { openApiPaths, serveOperations, type Operation } from './operation.js';
import { serviceOperations, type ReadinessCheck } from './service-operations.js';

export interface AppServices {
  apiKeys: ApiKeyService;
  executions: ExecutionService;
  background: BackgroundExecutions;
  executionBrowser: ExecutionBrowser;
  admin: AdminService;
  adminTokens: AdminTokenService;
  audit: AuditService;
  sessions: SessionService;
  identity: IdentityService;
  accounts: AccountService;
  /** Absent when no OIDC provider is configured. */
  oidc: OidcSignIn | undefined;
  storage: StorageService;
  connectors: ConnectorService;
  webSearchProviders: WebSearchProviderService;
  /** The web tools of keys, for MCP's web_fetch and web_search. */
  web: WebTools;
  images: ImageService;
  readiness: ReadinessCheck[];
  metrics: ServerMetrics;
  files: FileService;
  usage: UsageService;
  rateLimits: RateLimits;
  threads: ThreadService;
  /** Base URL of signed file URLs; the request's own origin when unset. */
  publicUrl: string | undefined;
  /** Web origins allowed to call the API from a browser; none when empty. */
  corsOrigins: string[];
  /** How long a JSON body may take in full once read, and a signed upload may send nothing. */
  bodyTimeoutSeconds: number;
  /** Open connections per client address; requests on those over the cap are refused. */
  connections: ConnectionsPerAddress;
  logger: Logger;
  /** The console's built files; null when it was not built. */
  consoleDirectory: string | null;
  /**
   * This server as a node of a deployment: its id (in the X-Airlock-Node header), the key of calls between nodes, and
   * the caches of administered lookups, forgotten here when another node announces a change and announced to the
   * others after a change made here.
   */
  node?: {
    id: string;
    signature: NodeSignature;
    forgetCachedHere: () => void;
    announceChange: () => Promise<void>;
    /** The nodes sharing the database, as the nodes table lists them now. */
    list: () => Promise<ServerNode[]>;
  };
}

export function createApp(services: AppServices): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requestId);
  const { node } = services;
  if (node) {
    app.use('*', (context, next) => withHeaders(context, { 'X-Airlock-Node': node.id }, next));
  }
  if (services.corsOrigins.length > 0) {
    // Before authentication: a preflight carries no credentials.
    app.use(
      '*',
      cors({
        origin: services.corsOrigins.map((origin) => new URL(origin).origin),
        allowMethods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
        allowHeaders: ['Authorization', 'Content-Type', 'Accept', 'Prefer', 'X-Request-Id', 'Mcp-Protocol-Version'],
        exposeHeaders: ['X-Request-Id', 'X-Airlock-Node', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'],
        maxAge: 600,
      }),
    );
  }
  app.use('*', refuseExcessConnections(services.connections));
  // Uploads through signed URLs (up to FILE_MAX_BYTES) and image archives stream and are cut only when they stall;
  // every other body is capped and must arrive in full within the body timeout.
  const streamedBody = bodyDeadline({ seconds: services.bodyTimeoutSeconds });
  const readBody = wholeBody({ seconds: services.bodyTimeoutSeconds });
  app.use('*', async (context, next) =>
    context.req.path.startsWith(`${SIGNED_FILES_PATH}/`) || IMAGE_ARCHIVE_PATH.test(context.req.path)
      ? streamedBody(context, next)
      : readBody(context, next),
  );
  app.use('/v1/*', authenticate(services.apiKeys, services.rateLimits));
  let document: OpenApiDocument | undefined;
  const origins = { publicUrl: services.publicUrl, corsOrigins: services.corsOrigins };
  const declareAdmin = adminDeclarer(adminGate({ ...services, origins, ...(node && { changed: node.announceChange }) }));
  const operations: Operation[] = [
    ...executionOperations(services.executions, services.background),
    ...executionAdminOperations(services.executionBrowser, services.admin, declareAdmin),
    ...threadOperations(services.threads),
    ...fileOperations(services.files, services.publicUrl),
    ...fileAdminOperations(services.files, services.admin, services.publicUrl, declareAdmin),
    ...usageOperations(services.usage, services.admin, declareAdmin),
    ...mcpOperations(services),
    ...adminOperations(services.admin, declareAdmin),
    ...accountOperations(services.accounts, declareAdmin),
    ...adminTokenOperations(services.adminTokens, declareAdmin),
    ...identityOperations({ identity: services.identity, sessions: services.sessions, organizations: services.admin }, declareAdmin),
    ...signInOperations({ ...services, origins }),
    consoleEntryOperation,
    ...auditOperations(services.audit, services.admin, declareAdmin),
    ...storageOperations(services.storage, declareAdmin),
    ...connectorOperations(services.connectors, declareAdmin),
    ...webSearchProviderOperations(services.webSearchProviders, declareAdmin),
    ...imageOperations(services.images, declareAdmin),
    ...(node ? nodeOperations({ executions: services.executions, ...node }) : []),
    ...(node ? nodeAdminOperations({ thisNode: node.id, list: node.list }, declareAdmin) : []),
    ...serviceOperations({
      readiness: services.readiness,
      metrics: services.metrics,
      document: () => (document ??= createOpenApiDocument(openApiPaths(operations))),
    }),
  ];
  serveOperations(app, operations);
  serveConsole(app, services.consoleDirectory);
  app.notFound((context) => {
    const allowed = allowedMethods(app, context.req.path);
    if (allowed.length > 0) throw ApiError.methodNotAllowed(context.req.method, context.req.path, allowed);
    throw ApiError.notFound('no such endpoint');
  });
  app.onError((error, context) => errorResponse(context, error, services.logger));
  return app;
}

/** The methods the app's routes answer for `path` (HEAD where GET is), for a 405's Allow header. */
function allowedMethods(app: Hono<AppEnv>, path: string): string[] {
  const methods = new Set<string>();
  for (const route of app.routes) {
    if (route.method === 'ALL' || !routePattern(route.path).test(path)) continue;
    methods.add(route.method);
    if (route.method === 'GET') methods.add('HEAD');
  }
  return [...methods].sort();
}

/** A Hono route path (`/v1/executions/:traceId`, `/console/*`) as a regular expression over request paths. */
function routePattern(routePath: string): RegExp {
  const source = routePath
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}
