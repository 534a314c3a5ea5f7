import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, silentLogger, startServer } from '@airlock/server';

/** A real Airlock server on loopback with a throwaway data directory. */
export interface BenchServer {
  url: string;
  apiKey: string;
  /** Stops the server and removes its data directory. Idempotent. */
  close(): Promise<void>;
}

export async function startBenchServer(options: { imagesDirectory: string }): Promise<BenchServer> {
  const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-bench-'));
  const apiKey = `sk-bench-${randomBytes(24).toString('base64url')}`;
  const removeDataDirectory = (): Promise<void> => rm(dataDirectory, { recursive: true, force: true });
  try {
    const config = loadConfig(
      { host: '127.0.0.1', port: 0, dataDirectory },
      { AIRLOCK_IMAGES_DIR: options.imagesDirectory, AIRLOCK_BOOTSTRAP_API_KEY: apiKey },
    );
    const server = await startServer({ config, logger: silentLogger });
    let closing: Promise<void> | undefined;
    return {
      url: server.url,
      apiKey,
      close: () => (closing ??= server.close().finally(removeDataDirectory)),
    };
  } catch (error) {
    await removeDataDirectory();
    throw error;
  }
}
