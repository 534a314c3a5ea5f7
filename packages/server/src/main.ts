import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { serve, type ServerType } from '@hono/node-server';
import { LIMITS } from '@airlock/contracts';
import {
  ApiKeyRepository,
  ExecutionRepository,
  OrganizationRepository,
  SandboxConfigRepository,
  ThreadRepository,
  WebhookRepository,
  openDatabase,
} from '@airlock/db';
import { LayerCache, SandboxRuntime, type PoolStatistics, type ProgressListener } from '@airlock/runtime';
import { LocalBlobStore, S3BlobStore } from '@airlock/storage';
import type { Config } from './config.js';
import { prepareDataDirectory, readOrCreateSecrets, type DataDirectoryLayout } from './data-directory.js';
import { recoverPreviousRun } from './recover-previous-run.js';
import { RetentionSweeper } from './threads/retention-sweeper.js';
import { createApp } from './http/app.js';
import { AdminService } from './admin/admin-service.js';
import { ApiKeyService, type CreatedApiKey } from './auth/api-key-service.js';
import { ServerMetrics } from './shared/metrics.js';
import { LiveExecutions } from './executions/execution-log.js';
import { BackgroundExecutions } from './executions/background-executions.js';
import { ExecutionService } from './executions/execution-service.js';
import { RateLimits } from './auth/rate-limits.js';
import type { Logger } from './shared/logger.js';
import { ThreadService, type SweepResult } from './threads/thread-service.js';
import { FileService } from './files/file-service.js';
import { UrlSigner } from './files/url-signer.js';
import { SecretBox } from './shared/secret-box.js';
import { WebhookSecrets } from './webhooks/webhook-secrets.js';
import { WebhookDispatcher } from './webhooks/webhook-dispatcher.js';

export interface RunningServer {
  url: string;
  /** The API key created on first start, if this start created one. */
  createdApiKey: CreatedApiKey | null;
  adminToken: string;
  /** Warm pool counters (null when the pool is off), for metrics and benchmarks. */
  poolStatistics(): PoolStatistics | null;
  /** Runs the retention sweep now (it also runs every AIRLOCK_SWEEP_INTERVAL_SECONDS). */
  sweep(): Promise<SweepResult>;
  close(): Promise<void>;
}

const DEFAULT_IMAGE = 'default';

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
    const runtime = await startRuntime(config, layout, logger);
    cleanups.push(() => runtime.close());
    if (!config.databaseUrl) mkdirSync(layout.pglite, { recursive: true, mode: 0o700 });
    const database = await openDatabase(config.databaseUrl ? { url: config.databaseUrl } : { dataDir: layout.pglite });
    cleanups.push(() => database.close());
    const nodeId = secrets.nodeId();
    const executions = new ExecutionRepository(database);
    const webhookRepository = new WebhookRepository(database);
    const threadRepository = new ThreadRepository(database);
    await recoverPreviousRun({ nodeId, executions, webhooks: webhookRepository, threads: threadRepository, logger });
    const layerCache = new LayerCache(layout.layers, { uid: config.sandboxUid, gid: config.sandboxGid });
    await layerCache.start();
    const blobs = config.s3 ? new S3BlobStore({ ...config.s3, spoolDirectory: layout.blobSpool }) : new LocalBlobStore(layout.blobs);
    cleanups.push(async () => blobs.close());
    await blobs.removeIncomplete();
    const threads = new ThreadService({
      threads: threadRepository,
      blobs,
      layerCache,
      nodeId,
      logger,
      garbageGraceMs: config.garbageGraceSeconds * 1000,
    });
    const sweeper = new RetentionSweeper({ threads, intervalSeconds: config.sweepIntervalSeconds, logger });
    cleanups.push(() => sweeper.close());
    await runtime.loadImage(DEFAULT_IMAGE, options.onImageProgress);

    const apiKeyRepository = new ApiKeyRepository(database);
    const keyService = new ApiKeyService({ keys: apiKeyRepository, region: config.keyRegion, cacheSeconds: config.authCacheSeconds });
    const adminToken = config.adminToken ?? secrets.adminToken();
    const webhookSecrets = new WebhookSecrets({ repository: webhookRepository, box: new SecretBox(config.masterKeys ?? [secrets.masterKey()]) });
    const webhookPolicy = { allowLoopback: config.webhooks.allowLoopback };
    const admin = new AdminService({
      imageNames: runtime.images.recipeNames(),
      organizations: new OrganizationRepository(database),
      sandboxConfigs: new SandboxConfigRepository(database),
      apiKeys: apiKeyRepository,
      keyService,
      webhookSecrets,
      adminToken,
    });
    const createdApiKey = await admin.bootstrap(config.bootstrapApiKey);
    const rateLimits = new RateLimits({
      requestsPerMinute: config.rateLimitPerMinute,
      concurrentExecutionsPerOrganization: config.maxConcurrentExecutionsPerOrganization,
    });
    const metrics = new ServerMetrics({ poolStatistics: () => runtime.poolStatistics(), activeSandboxes: () => runtime.activeSandboxes });
    const dispatcher = new WebhookDispatcher({
      deliveries: webhookRepository,
      secrets: webhookSecrets,
      policy: webhookPolicy,
      nodeId,
      logger,
      maxAttempts: config.webhooks.maxAttempts,
      retryBaseMs: config.webhooks.retryBaseSeconds * 1000,
      attemptTimeoutMs: config.webhooks.attemptTimeoutSeconds * 1000,
      pollMs: Math.min(2000, config.webhooks.retryBaseSeconds * 1000),
      onAttempt: (outcome) => metrics.recordWebhookAttempt(outcome),
    });
    const executionService = new ExecutionService({
      runtime,
      executions,
      logger,
      metrics,
      threads,
      live: new LiveExecutions(),
      rateLimits,
      nodeId,
      webhooks: { deliveries: webhookRepository, onQueued: () => dispatcher.kick() },
    });
    const app = createApp({
      apiKeys: keyService,
      executions: executionService,
      background: new BackgroundExecutions({ executions: executionService, records: executions, deliveries: webhookRepository, policy: webhookPolicy }),
      rateLimits,
      files: new FileService({ threads, signer: new UrlSigner(Buffer.from(config.urlSigningKey ?? secrets.urlSigningKey(), 'hex')) }),
      threads,
      publicUrl: config.publicUrl,
      corsOrigins: config.corsOrigins,
      metrics,
      admin,
      logger,
      readiness: [
        { name: 'database', check: async () => (await database.query('SELECT 1 AS ok')).length === 1 },
        { name: 'image', check: async () => runtime.isImageLoaded(DEFAULT_IMAGE) },
      ],
    });
    dispatcher.start();
    cleanups.push(() => dispatcher.close());
    const server = await listen(app.fetch, config.host, config.port);
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const address = server.address() as AddressInfo;
    const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    logger.info('airlock listening', { url, cgroupVersion: runtime.cgroupVersion, cgroupName: runtime.cgroupName });
    return { url, createdApiKey, adminToken, poolStatistics: () => runtime.poolStatistics(), sweep: () => sweeper.sweep(), close: cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function startRuntime(config: Config, layout: DataDirectoryLayout, logger: Logger): Promise<SandboxRuntime> {
  return SandboxRuntime.start({
    stateDirectory: layout.run,
    imagesDirectory: config.imagesDirectory,
    sandboxUid: config.sandboxUid,
    sandboxGid: config.sandboxGid,
    bwrapPath: config.bwrapPath,
    outputLimitBytes: LIMITS.outputMaxBytes,
    imageMirror: config.imageMirror,
    pool: {
      maxSlots: config.poolMaxSlots,
      maxSlotsPerKey: config.poolMaxSlotsPerKey,
      maxConcurrentRefills: availableParallelism(),
      idleMs: config.poolIdleSeconds * 1000,
    },
    onPoolError: (error) => logger.error('warm pool refill failed', { error: String(error) }),
  });
}

function listen(fetch: (request: Request) => Response | Promise<Response>, hostname: string, port: number): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port }, () => resolve(server));
    server.once('error', reject);
  });
}
