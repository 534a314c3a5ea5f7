import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { ExecuteResponse } from '../../packages/contracts/src/index.js';
import type { SandboxStart } from '../../packages/runtime/src/index.js';
import { loadConfig, silentLogger, startServer, type Logger, type RunningServer } from '../../packages/server/src/index.js';

export interface HttpResult<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export type ExecuteResult = ExecuteResponse;

/** A real Airlock server on loopback with its own data directory; `close()` removes everything it made. */
export interface AirlockFixture {
  url: string;
  apiKey: string;
  adminToken: string;
  dataDirectory: string;
  /** Host uid of this server's sandboxes; unique per fixture so parallel test files can count their own processes. */
  sandboxUid: number;
  server: RunningServer;
  request<T = Record<string, unknown>>(path: string, init?: RequestInit & { json?: unknown; apiKey?: string | null }): Promise<HttpResult<T>>;
  /** POST /v1/sandbox/execute, expecting 200. */
  execute(body: Record<string, unknown>): Promise<ExecuteResult>;
  /** An admin API call with the admin token (POST by default), expecting a 2xx answer; its body. */
  admin(path: string, json: unknown, method?: string): Promise<Record<string, unknown>>;
  /** Stops the server; also removes the data directory unless started with keepDataDirectory. Idempotent. */
  close(): Promise<void>;
  removeDataDirectory(): Promise<void>;
}

/** A host uid for one test server's sandboxes, distinct from other servers running at the same time. */
export function testSandboxUid(): number {
  return 62_000 + randomBytes(2).readUInt16BE() % 3000;
}

export function testApiKey(): string {
  return `sk-test-${randomBytes(24).toString('base64url')}`;
}

export async function startAirlock(
  options: {
    environment?: Record<string, string>;
    keepDataDirectory?: boolean;
    /** Start on an earlier fixture's data directory (kept with keepDataDirectory), as a restarted server. */
    dataDirectory?: string;
    /** Where the server logs; nowhere by default. */
    logger?: Logger;
    /** The port to listen on (one the test reserved, e.g. for a redirect URL registered before start); a free one by default. */
    port?: number;
    /** How the default sandbox config's interpreters start (its `start` setting); `fresh` by default. */
    start?: SandboxStart;
  } = {},
): Promise<AirlockFixture> {
  const dataDirectory = options.dataDirectory ?? (await mkdtemp(join(tmpdir(), 'airlock-test-')));
  const apiKey = options.environment?.AIRLOCK_BOOTSTRAP_API_KEY ?? testApiKey();
  const sandboxUid = testSandboxUid();
  const config = loadConfig(
    { host: '127.0.0.1', port: options.port ?? 0, dataDirectory },
    {
      AIRLOCK_IMAGES_DIR: inject('imagesDirectory'),
      // Sandboxes reach no network unless a test turns it on and points it at its own test hosts.
      AIRLOCK_NETWORK: 'off',
      AIRLOCK_BOOTSTRAP_API_KEY: apiKey,
      AIRLOCK_SANDBOX_UID: String(sandboxUid),
      AIRLOCK_SANDBOX_GID: String(sandboxUid),
      // Closing a test server cancels what still runs at once instead of letting it finish.
      AIRLOCK_DRAIN_SECONDS: '0',
      ...options.environment,
    },
  );
  let server: RunningServer;
  try {
    server = await startServer({ config, logger: options.logger ?? silentLogger });
  } catch (error) {
    if (!options.dataDirectory) await rm(dataDirectory, { recursive: true, force: true });
    throw error;
  }
  let closed = false;
  const request: AirlockFixture['request'] = async (path, init = {}) => {
    const { json, apiKey: keyOverride, ...rest } = init;
    const headers = new Headers(rest.headers);
    const key = keyOverride === undefined ? apiKey : keyOverride;
    if (key !== null && !headers.has('authorization')) headers.set('authorization', `Bearer ${key}`);
    if (json !== undefined) headers.set('content-type', 'application/json');
    const response = await fetch(`${server.url}${path}`, {
      ...rest,
      headers,
      body: json !== undefined ? JSON.stringify(json) : rest.body,
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON; keep the text
    }
    return { status: response.status, headers: response.headers, body: body as never };
  };
  const fixture: AirlockFixture = {
    url: server.url,
    apiKey,
    adminToken: server.adminToken,
    dataDirectory,
    sandboxUid,
    server,
    request,
    async execute(body) {
      const response = await request<ExecuteResult>('/v1/sandbox/execute', { method: 'POST', json: body });
      if (response.status !== 200) {
        throw new Error(`execute answered ${response.status}: ${JSON.stringify(response.body)}`);
      }
      return response.body;
    },
    async admin(path, json, method = 'POST') {
      const response = await request<Record<string, unknown>>(path, { method, json, apiKey: server.adminToken });
      if (response.status >= 300) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
      return response.body;
    },
    async close() {
      if (!closed) {
        closed = true;
        await server.close();
      }
      if (!options.keepDataDirectory) await rm(dataDirectory, { recursive: true, force: true });
    },
    async removeDataDirectory() {
      await rm(dataDirectory, { recursive: true, force: true });
    },
  };
  if (options.start !== undefined) {
    try {
      await fixture.admin('/admin/v1/sandboxes/default', { start: options.start }, 'PATCH');
    } catch (error) {
      await fixture.close();
      throw error;
    }
  }
  return fixture;
}
