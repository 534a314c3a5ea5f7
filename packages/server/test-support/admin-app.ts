import { expect } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  AdminTokenRepository,
  AuditRepository,
  ConnectorRepository,
  ApiKeyRepository,
  ExecutionRepository,
  ImageRepository,
  OrganizationRepository,
  SandboxConfigRepository,
  StorageAttachmentRepository,
  SessionRepository,
  StorageConnectionRepository,
  UserRepository,
  VolumeRepository,
  WebhookRepository,
  WebSearchProviderRepository,
  type Database,
} from '@airlock/db';
import { DEFAULT_RCLONE_PATH } from '@airlock/storage';
import { Hono } from 'hono';
import { accountOperations } from '../src/admin/account-operations.js';
import { AccountService } from '../src/admin/account-service.js';
import { adminOperations } from '../src/admin/admin-operations.js';
import { auditOperations } from '../src/audit/audit-operations.js';
import { AuditService } from '../src/audit/audit-service.js';
import { adminTokenOperations } from '../src/auth/admin-token-operations.js';
import { AdminTokenService } from '../src/auth/admin-token-service.js';
import { adminGate } from '../src/auth/admin-authentication.js';
import { identityOperations } from '../src/auth/identity-operations.js';
import { IdentityService } from '../src/auth/identity-service.js';
import { SessionService } from '../src/auth/session-service.js';
import { signInOperations } from '../src/auth/sign-in-operations.js';
import { adminDeclarer } from '../src/http/admin-operation.js';
import { AdminService } from '../src/admin/admin-service.js';
import { ApiKeyService } from '../src/auth/api-key-service.js';
import type { AppEnv } from '../src/http/app-context.js';
import { errorResponse } from '../src/http/errors.js';
import { requestId } from '../src/http/middleware.js';
import { serveOperations, type Operation } from '../src/http/operation.js';
import { createJsonLogger } from '../src/shared/logger.js';
import { SecretBox } from '../src/shared/secret-box.js';
import { StorageService } from '../src/storage/storage-service.js';
import { storageOperations } from '../src/storage/storage-operations.js';
import { connectorOperations } from '../src/connectors/connector-operations.js';
import { ConnectorService, type ConnectorTester } from '../src/connectors/connector-service.js';
import { WebhookSecrets } from '../src/webhooks/webhook-secrets.js';
import { webSearchProviderOperations } from '../src/web/web-search-provider-operations.js';
import { WebSearchProviderService } from '../src/web/web-search-provider-service.js';
import { startTestDatabase } from './test-tenant.js';

export const ADMIN_TOKEN = 'adm-test';

/** The answer of a request the API refuses as invalid, with its message. */
export const validationRefusal = (message: string) => ({ status: 400, body: expect.objectContaining({ error: 'validation_error', message }) });

/** An answer of the admin API: its status and its JSON body ({} when it has none). */
export interface AdminAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * The admin API (administration and storage) in-process on an empty PGlite database, bootstrapped: the default
 * organization, sandbox config and key. Keeps every answer's text and every log line. `close()` removes it.
 * `rclone` is the program connection tests run (the pinned rclone by default).
 */
export async function startAdminApp(options: { rclone?: string; connectorTester?: ConnectorTester } = {}): Promise<{
  database: Database;
  admin: AdminService;
  audit: AuditService;
  sessions: SessionService;
  storage: StorageService;
  connectors: ConnectorService;
  webSearchProviders: WebSearchProviderService;
  /** Authenticates API keys; nothing is cached, so each call sees the database. */
  keys: ApiKeyService;
  /** Calls the admin API with the admin token, or with `token`. */
  call(method: string, path: string, json?: unknown, token?: string): Promise<AdminAnswer>;
  request(path: string, init: RequestInit): Promise<Response>;
  answers: string[];
  logLines: string[];
  /** Where the erasure removes volume files from: `<directory>/<organization id>`. */
  volumeDirectory: string;
  /** The operations it serves. */
  operations: Operation[];
  close(): Promise<void>;
}> {
  const testDatabase = await startTestDatabase();
  const { database } = testDatabase;
  const apiKeys = new ApiKeyRepository(database);
  const attachments = new StorageAttachmentRepository(database);
  const connectorRepository = new ConnectorRepository(database);
  const box = new SecretBox([randomBytes(32)]);
  const keys = new ApiKeyService({ keys: apiKeys, region: 'test', cacheSeconds: 0 });
  const admin = new AdminService({
    images: new ImageRepository(database),
    organizations: new OrganizationRepository(database),
    sandboxConfigs: new SandboxConfigRepository(database),
    apiKeys,
    attachments,
    attachedConnectors: async (orgId, sandboxConfigId) =>
      (await connectorRepository.listAttached(orgId, sandboxConfigId)).map((connector) => connector.name),
    keyService: keys,
    webhookSecrets: new WebhookSecrets({ repository: new WebhookRepository(database), box }),
    networkEnabled: true,
  });
  const storage = new StorageService({
    tenants: admin,
    connections: new StorageConnectionRepository(database),
    volumes: new VolumeRepository(database),
    attachments,
    box,
    rclone: options.rclone ?? DEFAULT_RCLONE_PATH,
  });
  const connectors = new ConnectorService({ tenants: admin, connectors: connectorRepository, box, ...(options.connectorTester && { tester: options.connectorTester }) });
  const webSearchProviders = new WebSearchProviderService({ tenants: admin, providers: new WebSearchProviderRepository(database), box });
  await admin.bootstrap(undefined);
  const adminTokens = new AdminTokenService(new AdminTokenRepository(database));
  await adminTokens.bootstrap(ADMIN_TOKEN);
  const answers: string[] = [];
  const logLines: string[] = [];
  const logger = createJsonLogger((line) => logLines.push(line));
  const audit = new AuditService({ repository: new AuditRepository(database), logger });
  const users = new UserRepository(database);
  const sessions = new SessionService({ sessions: new SessionRepository(database), users, times: { idleSeconds: 7200, maxSeconds: 86_400 } });
  const identity = new IdentityService({ users, organizations: new OrganizationRepository(database), sessions });
  const origins = { publicUrl: undefined, corsOrigins: [] };
  const declare = adminDeclarer(adminGate({ adminTokens, sessions, admin, audit, origins, logger }));
  const volumeDirectory = await mkdtemp(join(tmpdir(), 'airlock-volumes-'));
  const accounts = new AccountService({
    database,
    admin,
    connectors,
    storage,
    identity,
    executions: new ExecutionRepository(database),
    audit,
    removeVolumeFiles: (orgId) => rm(join(volumeDirectory, orgId), { recursive: true, force: true }),
    forgetCached: () => keys.forgetCachedPrincipals(),
    logger,
  });
  const app = new Hono<AppEnv>();
  app.use('*', requestId);
  const operations = [
    ...adminOperations(admin, declare),
    ...accountOperations(accounts, declare),
    ...adminTokenOperations(adminTokens, declare),
    ...auditOperations(audit, admin, declare),
    ...identityOperations({ identity, sessions, organizations: admin }, declare),
    ...signInOperations({ sessions, oidc: undefined, adminTokens, audit, origins }),
    ...storageOperations(storage, declare),
    ...connectorOperations(connectors, declare),
    ...webSearchProviderOperations(webSearchProviders, declare),
  ];
  serveOperations(app, operations);
  app.onError((error, context) => errorResponse(context, error, logger));
  const request = async (path: string, init: RequestInit) => app.request(path, init);
  return {
    database,
    admin,
    audit,
    sessions,
    storage,
    connectors,
    webSearchProviders,
    keys,
    request,
    call: async (method, path, json, token = ADMIN_TOKEN) => {
      const response = await request(path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      });
      const text = await response.text();
      answers.push(text);
      return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
    },
    answers,
    logLines,
    volumeDirectory,
    operations,
    close: async () => {
      await testDatabase.close();
      await rm(volumeDirectory, { recursive: true, force: true });
    },
  };
}
