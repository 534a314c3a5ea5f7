import { randomBytes } from 'node:crypto';
import { loadConfig, silentLogger, startServer, type Config } from '@airlock/server';

/** A real Airlock server on loopback. */
export interface BenchServer {
  url: string;
  apiKey: string;
  /** Stops the server. Idempotent. */
  close(): Promise<void>;
}

/** The configuration of the benchmarked server: defaults, loopback, a random port and a known API key. */
export function benchServerConfig(options: { dataDirectory: string; imagesDirectory: string }): Config {
  return loadConfig(
    { host: '127.0.0.1', port: 0, dataDirectory: options.dataDirectory },
    {
      AIRLOCK_IMAGES_DIR: options.imagesDirectory,
      AIRLOCK_BOOTSTRAP_API_KEY: `sk-bench-${randomBytes(24).toString('base64url')}`,
    },
  );
}

export async function startBenchServer(config: Config): Promise<BenchServer> {
  const server = await startServer({ config, logger: silentLogger });
  let closing: Promise<void> | undefined;
  return { url: server.url, apiKey: config.bootstrapApiKey!, close: () => (closing ??= server.close()) };
}
