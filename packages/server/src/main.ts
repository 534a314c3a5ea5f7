import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
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
  type Database,
} from '@airlock/db';
import { LayerCache, SandboxRuntime, type PoolStatistics, type ProgressListener } from '@airlock/runtime';
import { LocalBlobStore, S3BlobStore } from '@airlock/storage';
import type { Config } from './config.js';
import { createApp } from './http/app.js';
import { AdminService } from './services/admin-service.js';
import { ApiKeyService, type CreatedApiKey } from './services/api-key-service.js';
import { ServerMetrics } from './services/metrics.js';
import { LiveExecutions } from './services/execution-log.js';
import { BackgroundExecutions } from './services/background-executions.js';
import { ExecutionService } from './services/execution-service.js';
import { RateLimits } from './services/rate-limits.js';
import type { Logger } from './services/logger.js';
import { randomToken } from './services/secrets.js';
import { ThreadService, type SweepResult } from './services/thread-service.js';
import { FileService } from './services/file-service.js';
import { UrlSigner } from './services/url-signer.js';
import { SecretBox } from './services/secret-box.js';
import { WebhookSecrets } from './services/webhook-secrets.js';
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
  // Traversable but not listable: bubblewrap, running as the sandbox user, must reach the images inside it.
  mkdirSync(config.dataDirectory, { recursive: true, mode: 0o711 });
  chmodSync(config.dataDirectory, 0o711);
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) await step().catch((error) => logger.error('shutdown step failed', { error: String(error) }));
  };
  try {
    // The runtime first: its host checks are quick and fail with the clearest messages.
    const runtime = await SandboxRuntime.start({
      stateDirectory: join(config.dataDirectory, 'run'),
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
    cleanups.push(() => runtime.close());

    if (!config.databaseUrl) mkdirSync(join(config.dataDirectory, 'pglite'), { recursive: true, mode: 0o700 });
    const database: Database = await openDatabase(
      config.databaseUrl ? { url: config.databaseUrl } : { dataDir: join(config.dataDirectory, 'pglite') },
    );
    cleanups.push(() => database.close());
    // Stable per data directory, so a restarted node fails exactly the executions it was running.
    const nodeId = readOrCreateFile(join(config.dataDirectory, 'node-id'), () => `node_${randomToken(9)}`);
    const executions = new ExecutionRepository(database);
    const failed = await executions.failRunning('the server stopped while this execution was running', { nodeId });
    if (failed > 0) logger.warn('marked executions of a previous run as failed', { count: failed });
    const webhookRepository = new WebhookRepository(database);
    // Deliveries this node was attempting when it stopped are retried at once rather than after their claim lapses.
    await webhookRepository.releaseClaims(nodeId);
    const threadRepository = new ThreadRepository(database);
    // A thread held by a killed run keeps its last complete layers; only the lock is released.
    const abandoned = await threadRepository.releaseAbandoned(nodeId);
    if (abandoned > 0) logger.warn('released threads held by a previous run', { count: abandoned });
    const layerCache = new LayerCache(join(config.dataDirectory, 'layers'), {
      uid: config.sandboxUid,
      gid: config.sandboxGid,
    });
    await layerCache.start();
    const blobs = config.s3
      ? new S3BlobStore({ ...config.s3, spoolDirectory: join(config.dataDirectory, 'blob-spool') })
      : new LocalBlobStore(join(config.dataDirectory, 'blobs'));
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
    const sweep = () =>
      threads.sweep().then((result) => {
        if (result.expiredThreads + result.deletedBlobs > 0) logger.info('retention sweep', { ...result });
        return result;
      });
    const sweeper = setInterval(
      () => void sweep().catch((error: unknown) => logger.warn('retention sweep failed', { error: String(error) })),
      config.sweepIntervalSeconds * 1000,
    );
    sweeper.unref();
    cleanups.push(async () => {
      clearInterval(sweeper);
      await threads.idle();
    });
    await runtime.loadImage(DEFAULT_IMAGE, options.onImageProgress);

    const apiKeyRepository = new ApiKeyRepository(database);
    const keyService = new ApiKeyService({ keys: apiKeyRepository, region: config.keyRegion, cacheSeconds: config.authCacheSeconds });
    const adminToken =
      config.adminToken ?? readOrCreateFile(join(config.dataDirectory, 'admin-token'), () => `adm-${randomToken(32)}`);
    const masterKeys =
      config.masterKeys ??
      [Buffer.from(readOrCreateFile(join(config.dataDirectory, 'master-key'), () => randomBytes(32).toString('hex')), 'hex')];
    const webhookSecrets = new WebhookSecrets({ repository: webhookRepository, box: new SecretBox(masterKeys) });
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
    const urlSigningKey =
      config.urlSigningKey ?? readOrCreateFile(join(config.dataDirectory, 'url-signing-key'), () => randomBytes(32).toString('hex'));
    const rateLimits = new RateLimits({
      requestsPerMinute: config.rateLimitPerMinute,
      concurrentExecutionsPerOrganization: config.maxConcurrentExecutionsPerOrganization,
    });
    const metrics = new ServerMetrics({
      poolStatistics: () => runtime.poolStatistics(),
      activeSandboxes: () => runtime.activeSandboxes,
    });
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
      background: new BackgroundExecutions({
        executions: executionService,
        records: executions,
        deliveries: webhookRepository,
        policy: webhookPolicy,
      }),
      rateLimits,
      files: new FileService({ threads, signer: new UrlSigner(Buffer.from(urlSigningKey, 'hex')) }),
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
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    logger.info('airlock listening', {
      url: `http://${host}:${address.port}`,
      cgroupVersion: runtime.cgroupVersion,
      cgroupName: runtime.cgroupName,
    });
    return {
      url: `http://${host}:${address.port}`,
      createdApiKey,
      adminToken,
      poolStatistics: () => runtime.poolStatistics(),
      sweep,
      close: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function listen(fetch: (request: Request) => Response | Promise<Response>, hostname: string, port: number): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port }, () => resolve(server));
    server.once('error', reject);
  });
}

/** A value kept in a file of the data directory (mode 0600), created on first use. */
function readOrCreateFile(path: string, create: () => string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    const value = create();
    writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    return value;
  }
}
