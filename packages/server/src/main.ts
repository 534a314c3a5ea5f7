import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import {
  AdminTokenRepository,
  ApiKeyRepository,
  AuditRepository,
  ExecutionRepository,
  INSTANCE_CHAIN,
  ImageRepository,
  NodeRepository,
  OrganizationRepository,
  SandboxConfigRepository,
  StorageAttachmentRepository,
  ConnectorRepository,
  StorageConnectionRepository,
  SessionRepository,
  ThreadRepository,
  UserRepository,
  VolumeRepository,
  WebhookRepository,
  WebSearchProviderRepository,
  grantApplicationRole,
  openDatabase,
  type Database,
} from '@airlock/db';
import { SANDBOX_HOST_SOCKETS, SandboxRuntime, type PoolStatistics, type ProgressListener } from '@airlock/runtime';
import { BucketMounts, type StorageConnection } from '@airlock/storage';
import type { Config, S3Config } from './config.js';
import { prepareDataDirectory, readOrCreateSecrets } from './data-directory.js';
import { ConnectionsPerAddress } from './http/connection-limit.js';
import { consoleDirectory } from './http/console-files.js';
import { listen } from './http/listen.js';
import { runtimeOptions } from './runtime-options.js';
import { startThreadStorage } from './threads/thread-storage.js';
import { recoverPreviousRun } from './recover-previous-run.js';
import { createApp } from './http/app.js';
import { AccountService } from './admin/account-service.js';
import { AdminService } from './admin/admin-service.js';
import { AuditService } from './audit/audit-service.js';
import { AdminTokenService } from './auth/admin-token-service.js';
import { IdentityService } from './auth/identity-service.js';
import { OidcSignIn } from './auth/oidc-sign-in.js';
import { SessionService } from './auth/session-service.js';
import { ApiKeyService, webPolicyOf, type CreatedApiKey } from './auth/api-key-service.js';
import { ServerMetrics } from './shared/metrics.js';
import { LiveExecutions } from './executions/execution-log.js';
import { BackgroundExecutions } from './executions/background-executions.js';
import { ExecutionBrowser } from './executions/execution-browser.js';
import { ExecutionService } from './executions/execution-service.js';
import { RateLimits } from './auth/rate-limits.js';
import type { Logger } from './shared/logger.js';
import { ExecutionRetentionSweep } from './retention/execution-retention.js';
import { RetentionSweeper, type SweepResult } from './retention/retention-sweeper.js';
import { FileService } from './files/file-service.js';
import { UrlSigner } from './files/url-signer.js';
import { VolumeFiles } from './files/volume-files.js';
import { SecretBox } from './shared/secret-box.js';
import { WebhookSecrets } from './webhooks/webhook-secrets.js';
import { UsageService } from './usage/usage-service.js';
import { StorageService } from './storage/storage-service.js';
import { ConnectorService, type ConnectorTester } from './connectors/connector-service.js';
import { WebSearchProviderService } from './web/web-search-provider-service.js';
import { searchProvider } from './web/search-providers.js';
import { ipv4LookupVia } from './web/web-destination.js';
import { FetchCache } from './web/fetch-cache.js';
import { WebFetcher } from './web/web-fetcher.js';
import { WebGateway } from './web/web-gateway.js';
import { WebTools, gatewayPolicy, webAuditEntry } from './web/web-tools.js';
import { ConnectorProbes } from './connectors/connector-probes.js';
import { DEFAULT_IMAGE, ImageService, type ImageRuntime } from './images/image-service.js';
import { StorageForCalls } from './storage/call-storage.js';
import { VolumeStore } from './storage/volume-store.js';
import { VolumeUsage } from './storage/volume-usage.js';
import { WebhookDispatcher, dispatcherTiming } from './webhooks/webhook-dispatcher.js';
import { NodePresence } from './nodes/node-presence.js';
import { NodeSignature, keyFingerprints } from './nodes/node-keys.js';
import { OtherNodes } from './nodes/other-nodes.js';
import { nodeUrl } from './nodes/node-url.js';

export interface RunningServer {
  url: string;
  /** The API key created on first start, if this start created one. */
  createdApiKey: CreatedApiKey | null;
  adminToken: string;
  /** Without an OIDC provider: the bootstrap owner's one-time console sign-in link, new at each start. */
  signInLink: { url: string; expiresAt: Date } | null;
  /** Warm pool counters (null when the pool is off), for metrics and benchmarks. */
  poolStatistics(): PoolStatistics | null;
  /** Runs the retention sweep now, the audit log's included (it also runs every AIRLOCK_SWEEP_INTERVAL_SECONDS). */
  sweep(): Promise<SweepResult>;
  /**
   * Stops: drains first (no new execution, readiness 503, running ones finish within AIRLOCK_DRAIN_SECONDS and are
   * cancelled after it), leaves the nodes table, then closes everything.
   */
  close(): Promise<void>;
}

/** How long measuring one volume's usage may take; a volume that takes longer keeps its last recorded usage. */
const VOLUME_MEASUREMENT_BUDGET_MS = 30_000;
/** The web gateway's socket in the host sockets directory, which every sandbox sees. */
const WEB_SOCKET = 'web.sock';

/** Starts Airlock: database, runtime (building the image if needed), services and the HTTP server. */
export async function startServer(options: {
  config: Config;
  logger: Logger;
  onImageProgress?: ProgressListener;
}): Promise<RunningServer> {
  const { config, logger } = options;
  const layout = prepareDataDirectory(config.dataDirectory);
  const secrets = readOrCreateSecrets(layout);
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) await step().catch((error) => logger.error('shutdown step failed', { error: String(error) }));
  };
  try {
    // The runtime first: its host checks are quick and fail with the clearest messages.
    const runtime = await SandboxRuntime.start(runtimeOptions(config, layout, logger));
    cleanups.push(() => runtime.close());
    if (!config.databaseUrl) mkdirSync(layout.pglite, { recursive: true, mode: 0o700 });
    const ownerDatabase = config.databaseOwnerUrl === undefined ? undefined : await openOwnerDatabase(config.databaseOwnerUrl, config.databaseUrl);
    if (ownerDatabase) cleanups.push(() => ownerDatabase.close());
    const database = await openDatabase(config.databaseUrl ? { url: config.databaseUrl } : { dataDir: layout.pglite });
    cleanups.push(() => database.close());
    const nodeId = config.node.id ?? secrets.nodeId();
    const executions = new ExecutionRepository(database);
    const webhookRepository = new WebhookRepository(database);
    const threadRepository = new ThreadRepository(database);
    await recoverPreviousRun({ nodeId, executions, webhooks: webhookRepository, threads: threadRepository, logger });
    const masterKeys = config.masterKeys ?? [secrets.masterKey()];
    const urlSigningKey = Buffer.from(config.urlSigningKey ?? secrets.urlSigningKey(), 'hex');
    // Listed before it takes any work: the other nodes settle the executions of nodes they do not list.
    const presence = new NodePresence({
      id: nodeId,
      repository: new NodeRepository(database),
      executions,
      threads: threadRepository,
      webhooks: webhookRepository,
      keys: keyFingerprints(masterKeys, urlSigningKey),
      heartbeatSeconds: config.node.heartbeatSeconds,
      logger,
    });
    await presence.join();
    cleanups.push(() => presence.leave());
    const nodeSignature = new NodeSignature(masterKeys[0]!);
    const otherNodes = new OtherNodes({ urlOf: (id) => presence.urlOf(id), signature: nodeSignature, logger });
    const storage = await startThreadStorage({ config, layout, repository: threadRepository, nodeId, logger });
    cleanups.push(() => storage.close());
    const { threads } = storage;
    const box = new SecretBox(masterKeys);
    const imageRepository = new ImageRepository(database);
    const images = new ImageService({
      repository: imageRepository,
      runtime: imageRuntime(runtime),
      box,
      logger,
      uploadDirectory: layout.imageUploads,
      archiveMaxBytes: config.imageArchiveMaxBytes,
    });
    await images.start(options.onImageProgress);
    cleanups.push(() => images.idle());

    const audit = new AuditService({ repository: new AuditRepository(database), ...(ownerDatabase && { owner: new AuditRepository(ownerDatabase) }), logger });
    const webhookSecrets = new WebhookSecrets({ repository: webhookRepository, box });
    const webhookPolicy = { allowLoopback: config.webhooks.allowLoopback };
    const { keyService, admin, adminTokens, storage: storageService, connectors, adminToken, createdApiKey } = await startAdministration({
      database,
      config,
      adminToken: config.adminToken ?? secrets.adminToken(),
      images: imageRepository,
      webhookSecrets,
      box,
      // Connectors are tried from sandboxes whose network reaches only their endpoints.
      ...(config.network !== undefined && { connectorTester: new ConnectorProbes({ runtime, image: DEFAULT_IMAGE }) }),
      startForkTemplate: (image) => {
        runtime.startForkTemplate(image).catch((error: unknown) => logger.warn('fork template not started', { image, error: String(error) }));
      },
    });
    const webSearchProviders = new WebSearchProviderService({ tenants: admin, providers: new WebSearchProviderRepository(database), box });
    const rateLimits = new RateLimits({
      requestsPerMinute: config.rateLimitPerMinute,
      concurrentExecutionsPerOrganization: config.maxConcurrentExecutionsPerOrganization,
      nodes: () => presence.activeNodes,
    });
    const metrics = new ServerMetrics({
      poolStatistics: () => runtime.poolStatistics(),
      activeSandboxes: () => runtime.activeSandboxes,
      nodes: () => ({ active: presence.activeNodes, draining: presence.draining }),
    });
    const dispatcher = new WebhookDispatcher({
      deliveries: webhookRepository,
      secrets: webhookSecrets,
      policy: webhookPolicy,
      nodeId,
      logger,
      ...dispatcherTiming(config.webhooks),
      onAttempt: (outcome) => metrics.recordWebhookAttempt(outcome),
    });
    const connections = new ConnectionsPerAddress(config.clients.maxConnectionsPerAddress);
    const live = new LiveExecutions();
    const webhooks = { deliveries: webhookRepository, onQueued: () => dispatcher.kick() };
    const owner = { uid: config.sandboxUid, gid: config.sandboxGid };
    const buckets = new BucketMounts({ rclone: config.rclonePath, directory: layout.buckets, owner });
    await buckets.start();
    cleanups.push(() => buckets.close());
    const volumes = new VolumeStore({
      directory: layout.volumes,
      owner,
      buckets,
      rclone: config.rclonePath,
      ...(config.s3 && { bucket: volumesBucket(config.s3) }),
    });
    const usage = new VolumeUsage({ volumes, repository: new VolumeRepository(database), logger, budgetMs: VOLUME_MEASUREMENT_BUDGET_MS });
    cleanups.push(() => usage.idle());
    const drainBudgetMs = config.storageSyncSeconds * 1000;
    const callStorage = new StorageForCalls({ storage: storageService, buckets, volumes, usage, drainBudgetMs });
    const webGateway = new WebGateway({
      socketPath: join(runtime.hostSocketsDirectory, WEB_SOCKET),
      sandboxSocketPath: `${SANDBOX_HOST_SOCKETS}/${WEB_SOCKET}`,
      fetcher: new WebFetcher(config.webDns ? { lookup: ipv4LookupVia(config.webDns) } : {}),
      cache: new FetchCache(),
      searchProvider: async (orgId) => {
        const settings = await webSearchProviders.searchProviderSettings(orgId);
        return settings && searchProvider(settings);
      },
      record: async (entry) => void (await audit.record(webAuditEntry(entry))),
    });
    await webGateway.listen();
    cleanups.push(() => webGateway.close());
    const webTools = new WebTools({
      gateway: webGateway,
      policyOf: (principal) => {
        const policy = webPolicyOf(principal);
        return policy && gatewayPolicy(policy);
      },
    });
    const executionService = new ExecutionService({
      runtime,
      executions,
      logger,
      metrics,
      threads,
      live,
      rateLimits,
      nodeId,
      webhooks,
      storage: callStorage,
      connectors,
      web: webTools,
      otherNodes,
    });
    const organizations = new OrganizationRepository(database);
    const users = new UserRepository(database);
    const sessionRepository = new SessionRepository(database);
    const sessions = new SessionService({ sessions: sessionRepository, users, times: config.sessions });
    const organizationId = async (slug: string) => (await organizations.getBySlug(slug))?.id ?? null;
    const oidc = config.oidc && new OidcSignIn({ settings: config.oidc, flows: sessionRepository, users, organizationId });
    const identity = new IdentityService({ users, organizations, sessions });
    const accounts = new AccountService({
      database,
      admin,
      connectors,
      storage: storageService,
      identity,
      executions,
      audit,
      removeVolumeFiles: (orgId, budgetMs) => volumes.removeOrganization(orgId, budgetMs),
      forgetCached: () => keyService.forgetCachedPrincipals(),
      logger,
    });
    const background = new BackgroundExecutions({ executions: executionService, records: executions, deliveries: webhookRepository, policy: webhookPolicy });
    const app = createApp({
      apiKeys: keyService,
      executions: executionService,
      background,
      executionBrowser: new ExecutionBrowser({ executions, deliveries: webhookRepository, background, service: executionService, onWebhookRequeued: () => dispatcher.kick() }),
      rateLimits,
      usage: new UsageService({ database }),
      files: new FileService({
        threads,
        volumes: new VolumeFiles({ storage: storageService, volumes, usage, drainBudgetMs }),
        signer: new UrlSigner(urlSigningKey),
      }),
      threads,
      publicUrl: config.publicUrl,
      corsOrigins: config.corsOrigins,
      bodyTimeoutSeconds: config.clients.bodyTimeoutSeconds,
      connections,
      metrics,
      admin,
      adminTokens,
      audit,
      sessions,
      identity,
      accounts,
      consoleDirectory: consoleDirectory(),
      oidc,
      storage: storageService,
      connectors,
      webSearchProviders,
      web: webTools,
      images,
      logger,
      node: {
        id: nodeId,
        signature: nodeSignature,
        forgetCachedHere: () => {
          keyService.forgetCachedPrincipals();
          storageService.forgetCached();
          connectors.forgetCached();
        },
        announceChange: () => otherNodes.announceChange(presence.otherNodeIds()),
        list: () => presence.list(),
      },
      readiness: [
        { name: 'database', check: async () => (await database.query('SELECT 1 AS ok')).length === 1 },
        { name: 'image', check: async () => runtime.isImageLoaded(DEFAULT_IMAGE) },
        { name: 'accepting', check: async () => !presence.draining },
      ],
    });
    dispatcher.start();
    cleanups.push(() => dispatcher.close());
    const sweeper = new RetentionSweeper({
      threads,
      executions: new ExecutionRetentionSweep({ executions, audit }),
      sessions: sessionRepository,
      audit: {
        service: audit,
        retention: { days: async () => new Map([...(await organizations.auditRetentionDays()), [INSTANCE_CHAIN, config.instanceAuditRetentionDays]]) },
      },
      intervalSeconds: config.sweepIntervalSeconds,
      logger,
    });
    cleanups.push(() => sweeper.close());
    const server = await listen({
      fetch: app.fetch,
      hostname: config.host,
      port: config.port,
      headersTimeoutSeconds: config.clients.headersTimeoutSeconds,
      connections,
    });
    cleanups.push(() => server.close());
    await presence.reachableAt(config.node.url ?? nodeUrl(config.host, server.url));
    logger.info('airlock listening', { url: server.url, nodeId, cgroupVersion: runtime.cgroupVersion, cgroupName: runtime.cgroupName });
    const ownerLink = oidc ? null : await sessions.bootstrapOwnerLink(config.ownerEmail);
    const signInLink = ownerLink && { url: `${config.publicUrl ?? server.url}${ownerLink.path}`, expiresAt: ownerLink.expiresAt };
    const close = async (): Promise<void> => {
      logger.info('draining', { nodeId, graceSeconds: config.node.drainSeconds });
      // New executions are refused from here on; the other nodes and the balancer learn it from the table and readiness.
      const drained = executionService.drain(config.node.drainSeconds * 1000);
      await presence.drain().catch((error) => logger.error('could not mark this node draining', { error: String(error) }));
      await drained;
      await cleanup();
    };
    return { url: server.url, createdApiKey, adminToken, signInLink, poolStatistics: () => runtime.poolStatistics(), sweep: () => sweeper.sweep({ force: true }), close };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** API keys and administration; on the first start, the default organization, sandbox config and key. */
async function startAdministration(options: {
  database: Database;
  config: Config;
  adminToken: string;
  images: ImageRepository;
  webhookSecrets: WebhookSecrets;
  box: SecretBox;
  connectorTester?: ConnectorTester;
  /** Starts the fork template of an image in the background (sandbox configs with `start: fork`). */
  startForkTemplate: (image: string) => void;
}): Promise<{
  keyService: ApiKeyService;
  admin: AdminService;
  adminTokens: AdminTokenService;
  storage: StorageService;
  connectors: ConnectorService;
  adminToken: string;
  createdApiKey: CreatedApiKey | null;
}> {
  const { database, config, adminToken } = options;
  const apiKeys = new ApiKeyRepository(database);
  const attachments = new StorageAttachmentRepository(database);
  const connectorRepository = new ConnectorRepository(database);
  const keyService = new ApiKeyService({ keys: apiKeys, region: config.keyRegion, cacheSeconds: config.authCacheSeconds });
  const sandboxConfigs = new SandboxConfigRepository(database);
  const admin = new AdminService({
    images: options.images,
    organizations: new OrganizationRepository(database),
    sandboxConfigs,
    apiKeys,
    attachments,
    attachedConnectors: async (orgId, sandboxConfigId) => (await connectorRepository.listAttached(orgId, sandboxConfigId)).map((connector) => connector.name),
    keyService,
    webhookSecrets: options.webhookSecrets,
    networkEnabled: config.network !== undefined,
    onForkedImage: options.startForkTemplate,
  });
  for (const image of await sandboxConfigs.forkedImages()) options.startForkTemplate(image);
  const storage = new StorageService({
    tenants: admin,
    connections: new StorageConnectionRepository(database),
    volumes: new VolumeRepository(database),
    attachments,
    box: options.box,
    rclone: config.rclonePath,
    cacheSeconds: config.authCacheSeconds,
  });
  const connectors = new ConnectorService({
    tenants: admin,
    connectors: connectorRepository,
    box: options.box,
    ...(options.connectorTester && { tester: options.connectorTester }),
    cacheSeconds: config.authCacheSeconds,
    networkEnabled: config.network !== undefined,
  });
  const adminTokens = new AdminTokenService(new AdminTokenRepository(database));
  await adminTokens.bootstrap(adminToken);
  return { keyService, admin, adminTokens, storage, connectors, adminToken, createdApiKey: await admin.bootstrap(config.bootstrapApiKey) };
}

/**
 * The schema owner's connection (AIRLOCK_DATABASE_OWNER_URL): it migrates, then grants the role of `applicationUrl`
 * what the server needs; it keeps a small pool for audit retention, which drops partitions.
 */
async function openOwnerDatabase(ownerUrl: string, applicationUrl: string | undefined): Promise<Database> {
  const role = decodeURIComponent(new URL(applicationUrl ?? '').username);
  if (role === '') throw new Error('DATABASE_URL must name its user (postgres://user@host/db) when AIRLOCK_DATABASE_OWNER_URL is set');
  const owner = await openDatabase({ url: ownerUrl, poolSize: 2 });
  try {
    await grantApplicationRole(owner, role);
  } catch (error) {
    await owner.close();
    throw error;
  }
  return owner;
}

/** The runtime's image store and loading, as the image catalog uses them. */
function imageRuntime(runtime: SandboxRuntime): ImageRuntime {
  const { images } = runtime;
  return {
    recipeNames: () => images.recipeNames(),
    onDisk: (name) => images.get(name),
    build: (name, onProgress) => images.build(name, { onProgress }),
    import: (name, source, onProgress) => images.import(name, source, { onProgress }),
    load: (name) => runtime.loadImage(name),
    remove: (name) => runtime.removeImage(name),
    cleanup: () => images.cleanup(),
  };
}

/** The server's own S3-compatible bucket as the storage connection volumes are mounted from. */
function volumesBucket(s3: S3Config): { connection: StorageConnection; prefix: string } {
  return {
    connection: {
      provider: 's3',
      bucket: s3.bucket,
      ...(s3.endpoint !== undefined && { endpoint: s3.endpoint }),
      region: s3.region,
      path_style: s3.forcePathStyle ?? false,
      ...(s3.credentials ? { access_key_id: s3.credentials.accessKeyId, secret_access_key: s3.credentials.secretAccessKey } : { env_auth: true as const }),
    },
    prefix: s3.prefix,
  };
}
