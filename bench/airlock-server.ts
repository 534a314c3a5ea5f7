import { randomBytes } from 'node:crypto';
import type { PoolStatistics } from '@airlock/runtime';
import { loadConfig, silentLogger, startServer, type Config } from '@airlock/server';

/**
 * Host uid and gid of the benchmarked servers' sandboxes. Not the default (61000), so the processes of this run's
 * sandboxes are told apart from those of any other Airlock server on the machine.
 */
const BENCH_SANDBOX_ID = 63999;

/** A real Airlock server on loopback. */
export interface BenchServer {
  url: string;
  apiKey: string;
  /** Admin token, for `/admin/v1` (the sandbox config's webhook secret). */
  adminToken: string;
  /** Host uid its sandboxes run as. */
  sandboxUid: number;
  /** The owner's one-time console sign-in link. */
  signInLink: string | null;
  /** Warm pool counters; null when the pool is off. */
  poolStatistics(): PoolStatistics | null;
  /** Stops the server. Idempotent. */
  close(): Promise<void>;
}

/**
 * The configuration of a benchmarked server: defaults, loopback, a random port, a known API key and the bench's
 * sandbox uid; webhooks may go to loopback (AIRLOCK_WEBHOOK_ALLOW_LOOPBACK), where the bench's receiver listens.
 * Without `warmPool` the pool is off (AIRLOCK_POOL_MAX_SLOTS=0), so every execution starts a cold sandbox.
 */
export function benchServerConfig(options: {
  dataDirectory: string;
  imagesDirectory: string;
  warmPool: boolean;
  /** More settings, by their environment variables. */
  environment?: Record<string, string>;
}): Config {
  return loadConfig(
    { host: '127.0.0.1', port: 0, dataDirectory: options.dataDirectory },
    {
      AIRLOCK_IMAGES_DIR: options.imagesDirectory,
      AIRLOCK_BOOTSTRAP_API_KEY: `sk-bench-${randomBytes(24).toString('base64url')}`,
      AIRLOCK_SANDBOX_UID: String(BENCH_SANDBOX_ID),
      AIRLOCK_SANDBOX_GID: String(BENCH_SANDBOX_ID),
      // The load runs measure the server, not its rate limits.
      AIRLOCK_RATE_LIMIT_PER_MINUTE: '1000000',
      AIRLOCK_MAX_CONCURRENT_EXECUTIONS: '100000',
      AIRLOCK_WEBHOOK_ALLOW_LOOPBACK: 'true',
      ...(options.warmPool ? {} : { AIRLOCK_POOL_MAX_SLOTS: '0' }),
      ...options.environment,
    },
  );
}

export async function startBenchServer(config: Config): Promise<BenchServer> {
  const server = await startServer({ config, logger: silentLogger });
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    apiKey: config.bootstrapApiKey!,
    adminToken: server.adminToken,
    sandboxUid: config.sandboxUid,
    signInLink: server.signInLink?.url ?? null,
    poolStatistics: () => server.poolStatistics(),
    close: () => (closing ??= server.close()),
  };
}

/** POSTs JSON to the server with a bearer token (an API key or the admin token); rejects unless the answer is 2xx. */
export async function post(server: BenchServer, path: string, token: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${path} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}
