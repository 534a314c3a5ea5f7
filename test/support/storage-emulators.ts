import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_RCLONE_PATH,
  rcloneRemote,
  rcloneRemotePath,
  type RcloneRemote,
  type StorageConnection,
  type StorageProvider,
} from '../../packages/storage/src/index.js';
import { until } from './wait.js';
import { freePort } from './free-port.js';

/**
 * S3, GCS and Azure emulators for the storage tests, on loopback, and for the connector tests, in a test network
 * namespace (EmulatorPlacement), each with one empty bucket (or container) and the connection to it. Installed by
 * `scripts/setup.sh --test`:
 * - S3: `rclone serve s3` of the pinned rclone over a directory. s3rver (the blob store tests' S3) fails rclone's
 *   ListObjectsV2 listings past their first page: it makes continuation tokens with DES, which Node 20's OpenSSL 3
 *   does not have (a 500 on every page after the first).
 * - GCS: fake-gcs-server, built from the Go module proxy into .cache/tools.
 * - Azure: Azurite's blob service, a devDependency, with its telemetry off.
 */

/** The rclone the server runs: the pinned build of scripts/setup.sh, or AIRLOCK_RCLONE's. */
export const TEST_RCLONE = process.env.AIRLOCK_RCLONE ?? DEFAULT_RCLONE_PATH;

const repository = fileURLToPath(new URL('../..', import.meta.url));
/** Where scripts/setup.sh --test builds it; the version is pinned there too. */
const FAKE_GCS_SERVER = join(repository, '.cache/tools/fake-gcs-server-1.56.1/fake-gcs-server');
const AZURITE_BLOB = join(repository, 'node_modules/azurite/dist/src/blob/main.js');
/** Azurite's well-known development account (its documentation publishes the key). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const S3_ACCESS_KEY_ID = 'AIRLOCKTEST';
const S3_SECRET_ACCESS_KEY = 'airlock-test-secret';
const BUCKET = 'airlock-test';

/** Where an emulator listens instead of this host's loopback: an address of a test network namespace. */
export interface EmulatorPlacement {
  /** A namespace of the test topology (network-topology.ts), such as `topology.namespaces.internet`. */
  namespace: string;
  /** An address of that namespace, such as `topology.serverAddresses.internet`; this host reaches it through its link. */
  address: string;
  port: number;
}

export interface StorageEmulator {
  provider: StorageProvider;
  /** The emulator's address, `http://127.0.0.1:<port>`, or `http://<address>:<port>` of its placement. */
  url: string;
  /** The emulator's bucket (or container), created empty, as a storage connection. */
  connection: StorageConnection;
  /** That connection as the rclone remote `<provider>_emulator:`. */
  remote: RcloneRemote;
  /** Stores an object at `key` (a path inside the bucket), straight into the emulator. */
  put(key: string, content: string | Buffer): Promise<void>;
  /** The object at `key`, or null when there is none. */
  get(key: string): Promise<Buffer | null>;
  /** The keys of the objects below `prefix` (all of them by default), sorted. */
  list(prefix?: string): Promise<string[]>;
  /** Stops the emulator (an outage); its objects stay. */
  stop(): Promise<void>;
  /** Serves again after stop(), on the same port, with the same objects. */
  start(): Promise<void>;
  /** Stops the emulator and deletes its directory; safe to call more than once. */
  remove(): Promise<void>;
}

/** Runs the pinned rclone with a remote's environment (and nothing else of this process's but PATH and HOME). */
export function runRclone(remote: RcloneRemote, args: string[], input?: Buffer): Promise<Buffer> {
  return runCommand(TEST_RCLONE, args, { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...remote.environment }, input);
}

/**
 * Starts an emulator with a fresh directory and a bucket, on a free port of this host's loopback, or at `placement`
 * in a test network namespace (started through `ip netns exec`, as root); remove() it when done.
 */
export async function startStorageEmulator(provider: StorageProvider, placement?: EmulatorPlacement): Promise<StorageEmulator> {
  const directory = await mkdtemp(join(tmpdir(), `airlock-${provider}-emulator-`));
  await mkdir(join(directory, 'data'));
  const server = EMULATORS[provider](directory);
  const address = placement?.address ?? '127.0.0.1';
  let child: ChildProcess | undefined;
  let port = placement?.port ?? 0;
  let removed = false;
  const launch = (command: string, args: string[]): ChildProcess =>
    placement
      ? spawn('ip', ['netns', 'exec', placement.namespace, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });

  async function start(): Promise<void> {
    if (child || removed) return;
    const started = await server.start({ address, port, launch });
    child = started.child;
    port = started.port;
  }
  async function stop(): Promise<void> {
    const running = child;
    child = undefined;
    if (running) await stopProcess(running);
  }

  try {
    await start();
    const url = `http://${address}:${port}`;
    const connection = server.connection(url);
    const remote = rcloneRemote(`${provider}_emulator`, connection);
    await server.createBucket(url, remote);
    const path = (key: string) => rcloneRemotePath(remote, key);
    return {
      provider,
      url,
      connection,
      remote,
      async put(key, content) {
        await runRclone(remote, ['rcat', path(key)], Buffer.from(content));
      },
      async get(key) {
        // `cat` of a missing key prints nothing and succeeds: on an object store every prefix is a directory.
        const listed = await runRclone(remote, ['lsf', '--files-only', '--max-depth', '1', path(key)]).catch(() => null);
        if (listed?.toString() !== `${basename(key)}\n`) return null;
        return runRclone(remote, ['cat', path(key)]);
      },
      async list(prefix = '') {
        const listed = (await runRclone(remote, ['lsf', '--recursive', '--files-only', path(prefix)])).toString();
        const base = prefix.replace(/^\/+|\/+$/g, '');
        return listed
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => (base === '' ? line : `${base}/${line}`))
          .sort();
      },
      stop,
      start,
      async remove() {
        removed = true;
        await stop();
        await rm(directory, { recursive: true, force: true });
      },
    };
  } catch (error) {
    removed = true;
    await stop();
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}

/** Where a process is to listen (any free port when `port` is 0), and how to start it there. */
interface Listener {
  address: string;
  port: number;
  launch(command: string, args: string[]): ChildProcess;
}

interface EmulatorServer {
  /** Starts the process and answers once it serves. */
  start(listener: Listener): Promise<{ child: ChildProcess; port: number }>;
  connection(url: string): StorageConnection;
  createBucket(url: string, remote: RcloneRemote): Promise<void>;
}

const EMULATORS: Record<StorageProvider, (directory: string) => EmulatorServer> = {
  s3: (directory) => ({
    async start({ address, port, launch }) {
      // A bucket is a directory of the served one.
      const child = launch(TEST_RCLONE, [
        'serve', 's3', '--config', '/dev/null', '--addr', `${address}:${port}`,
        '--auth-key', `${S3_ACCESS_KEY_ID},${S3_SECRET_ACCESS_KEY}`, join(directory, 'data'),
      ]);
      const line = await outputLine(child, new RegExp(`Starting s3 server on \\[http://${escapeRegExp(address)}:(\\d+)/`));
      return { child, port: Number(line[1]) };
    },
    connection: (url) => ({
      provider: 's3',
      bucket: BUCKET,
      endpoint: url,
      region: 'us-east-1',
      path_style: true,
      access_key_id: S3_ACCESS_KEY_ID,
      secret_access_key: S3_SECRET_ACCESS_KEY,
    }),
    async createBucket() {
      await mkdir(join(directory, 'data', BUCKET), { recursive: true });
    },
  }),

  gcs: (directory) => ({
    async start({ address, port, launch }) {
      if (!existsSync(FAKE_GCS_SERVER)) throw new Error(`${FAKE_GCS_SERVER} is missing; run: bash scripts/setup.sh --test`);
      const chosen = port === 0 ? await freePort() : port;
      // It logs the port it was given, not the one it got, so the port is chosen here.
      const child = launch(FAKE_GCS_SERVER, [
        '-scheme', 'http', '-host', address, '-port', String(chosen), '-public-host', `${address}:${chosen}`,
        '-backend', 'filesystem', '-filesystem-root', join(directory, 'data'), '-log-level', 'warn',
      ]);
      const output = collectOutput(child);
      const serving = await until(async () => {
        if (child.exitCode !== null) return true;
        const response = await fetch(`http://${address}:${chosen}/storage/v1/b`).catch(() => null);
        return response?.ok === true;
      }, 10_000);
      if (!serving || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error(`fake-gcs-server did not serve on port ${chosen}: ${output()}`);
      }
      return { child, port: chosen };
    },
    // No credentials: fake-gcs-server authenticates nothing; its JSON API is below /storage/v1/.
    connection: (url) => ({ provider: 'gcs', bucket: BUCKET, endpoint: `${url}/storage/v1/`, anonymous: true }),
    async createBucket(url) {
      // Through its API: rclone makes GCS buckets only with a project number, which anonymous access has not.
      const response = await fetch(`${url}/storage/v1/b?project=airlock-test`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: BUCKET }),
      });
      if (!response.ok) throw new Error(`fake-gcs-server refused the bucket: ${response.status} ${await response.text()}`);
    },
  }),

  azure: (directory) => ({
    async start({ address, port, launch }) {
      if (!existsSync(AZURITE_BLOB)) throw new Error(`${AZURITE_BLOB} is missing; run: npm install`);
      const child = launch(process.execPath, [
        AZURITE_BLOB, '--blobHost', address, '--blobPort', String(port), '--location', join(directory, 'data'),
        '--disableTelemetry', '--skipApiVersionCheck',
      ]);
      const line = await outputLine(child, new RegExp(`successfully listens on http://${escapeRegExp(address)}:(\\d+)`));
      return { child, port: Number(line[1]) };
    },
    connection: (url) => ({ provider: 'azure', container: BUCKET, account: AZURITE_ACCOUNT, key: AZURITE_KEY, endpoint: `${url}/${AZURITE_ACCOUNT}` }),
    async createBucket(_url, remote) {
      // The remote skips checking and creating containers (no_check_container), so mkdir alone would do nothing.
      await runRclone(remote, ['mkdir', '--azureblob-no-check-container=false', rcloneRemotePath(remote)]);
    },
  }),
};

function runCommand(command: string, args: string[], environment: NodeJS.ProcessEnv, input?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: environment, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(stdout));
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${Buffer.concat(stderr).toString().trim()}`));
    });
    child.stdin.end(input);
  });
}

/** Everything the process printed so far, as a function. */
function collectOutput(child: ChildProcess): () => string {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return () => output.trim();
}

/** The first line of the process's output matching `pattern`; fails if it exits or stays silent for 15 s. */
async function outputLine(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  const output = collectOutput(child);
  let match: RegExpExecArray | null = null;
  await until(() => (match = pattern.exec(output())) !== null || child.exitCode !== null, 15_000);
  if (match) return match;
  child.kill('SIGKILL');
  throw new Error(`${child.spawnfile} did not start: ${output() || `exit ${child.exitCode}`}`);
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

