import { fork, type ChildProcess } from 'node:child_process';
import { access, mkdir, mkdtemp, rename, rm, rmdir } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The host script at the package root, beside src/ and dist/, so the same URL works from sources and from the build. */
const HOST_SCRIPT = fileURLToPath(new URL('../pglite-host.mjs', import.meta.url));

/** Long enough for initdb of a new data directory, or for opening one, on a slow, busy machine. */
const START_TIMEOUT_MS = 60_000;
/** How long the host may take to close PGlite after being told to stop before it is killed. */
const STOP_TIMEOUT_MS = 15_000;
/** Characters of the host's recent output kept for error messages. */
const OUTPUT_TAIL_CHARS = 4_000;

/** node-postgres connects to `<host>/.s.PGSQL.<port>`; the host listens there with the default port. */
const SOCKET_FILE_NAME = '.s.PGSQL.5432';

/** A running pglite-host.mjs process serving one data directory. */
export interface PgliteHost {
  /** A PostgreSQL URL reaching the host over its unix socket. */
  readonly url: string;
  /** Why the host is gone when it exited without stop() being called; undefined while it runs. */
  readonly failure: string | undefined;
  /** Asks the host to close PGlite and exit, kills it if it does not, and removes its socket directory. */
  stop(): Promise<void>;
}

type HostMessage = { ready: true } | { error: string };

function describeExit(child: ChildProcess): string {
  return child.signalCode !== null ? `was killed by ${child.signalCode}` : `exited with code ${child.exitCode}`;
}

function withOutput(message: string, output: string): string {
  const recent = output.trim();
  return recent === '' ? message : `${message}; its output:\n${recent}`;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Resolves when the host reports ready; rejects when it reports an error, exits first, or takes too long. */
function waitForReady(child: ChildProcess, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    let reported: string | undefined;
    const finish = (failure?: string): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('close', onClose);
      child.off('error', onError);
      if (failure === undefined) resolve();
      else reject(new Error(withOutput(failure, output())));
    };
    // After an error report the host exits; waiting for 'close' collects everything it wrote.
    const onMessage = (message: HostMessage): void => {
      if ('error' in message) reported = message.error;
      else finish();
    };
    const onClose = (): void =>
      finish(reported === undefined ? `it ${describeExit(child)} before it was ready` : `it reported: ${reported}`);
    const onError = (error: Error): void => finish(`it could not be started: ${error.message}`);
    const timer = setTimeout(() => finish(`it was not ready after ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    child.on('message', onMessage);
    child.once('close', onClose);
    child.once('error', onError);
  });
}

/**
 * V8 flags of the process that runs initdb. With Liftoff, V8's baseline WASM compiler, alone, V8 does not also
 * compile PGlite's hot functions with TurboFan: that process peaks about 110 MiB lower and finishes as fast. The
 * serving process keeps both tiers, as queries that sort or aggregate take about 1.5x as long on Liftoff alone.
 */
const INITIALIZE_EXEC_ARGV = ['--liftoff-only'];

/** Forks pglite-host.mjs with `args`, keeping the tail of what it writes for error messages. */
function forkHost(args: string[], execArgv: string[] = []): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = fork(HOST_SCRIPT, args, { execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const keepTail = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);
  // A failed kill or disconnect is reported here; the exit status is what counts.
  child.on('error', (error) => keepTail(Buffer.from(`${error.message}\n`)));
  return { child, output: () => output };
}

/** Resolves when the host exits with code 0; rejects when it fails, cannot be started, or takes too long. */
function waitForSuccess(child: ChildProcess, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = (failure?: string): void => {
      clearTimeout(timer);
      child.off('close', onClose);
      child.off('error', onError);
      if (failure === undefined) resolve();
      else reject(new Error(withOutput(failure, output())));
    };
    const onClose = (): void => finish(child.exitCode === 0 ? undefined : `it ${describeExit(child)}`);
    const onError = (error: Error): void => finish(`it could not be started: ${error.message}`);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(`it had not finished after ${START_TIMEOUT_MS / 1000} s`);
    }, START_TIMEOUT_MS);
    child.once('close', onClose);
    child.once('error', onError);
  });
}

/**
 * Runs initdb for `dataDir` in a process of its own (see pglite-host.mjs) unless the directory holds a database. It
 * runs in a staging directory renamed into place when complete, so an initdb stopped half-way leaves nothing that
 * the next start would take for a database.
 */
async function initializeDataDirectory(dataDir: string): Promise<void> {
  const hasDatabase = await access(join(dataDir, 'PG_VERSION')).then(() => true, () => false);
  if (hasDatabase) return;
  const staging = `${dataDir}.initializing`;
  await rm(staging, { recursive: true, force: true });
  // Private like a PostgreSQL data directory; it takes the place of `dataDir` with this mode.
  await mkdir(staging, { mode: 0o700 });
  const { child, output } = forkHost(['initialize', staging], INITIALIZE_EXEC_ARGV);
  try {
    await waitForSuccess(child, output);
    // Over an empty directory, or none: a directory with files but no database is an error to look at.
    await rmdir(dataDir).catch(() => undefined);
    await rename(staging, dataDir);
  } catch (error) {
    throw new Error(`the embedded PGlite database in ${dataDir} could not be created: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Creates the data directory if it is new, then starts pglite-host.mjs on `dataDir` with its socket in a new private
 * directory and waits until it accepts connections. The host exits when this process does, because its IPC channel
 * closes.
 */
export async function startPgliteHost(dataDir: string): Promise<PgliteHost> {
  await initializeDataDirectory(dataDir);
  // mkdtemp creates the directory with mode 0700: only this user can reach the socket.
  const socketDirectory = await mkdtemp(join(tmpdir(), 'airlock-db-'));
  const { child, output } = forkHost(['serve', dataDir, join(socketDirectory, SOCKET_FILE_NAME)]);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.connected) child.disconnect();
      if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
        child.kill('SIGKILL');
        await waitForExit(child, STOP_TIMEOUT_MS);
      }
      await rm(socketDirectory, { recursive: true, force: true });
    })();
    return stopping;
  };

  try {
    await waitForReady(child, output);
  } catch (error) {
    await stop();
    throw new Error(`the embedded PGlite database in ${dataDir} did not start: ${(error as Error).message}`, {
      cause: error,
    });
  }
  // Neither the process nor its IPC channel keeps this process's event loop alive.
  child.unref();
  child.channel?.unref();
  (child.stdout as Socket | null)?.unref();
  (child.stderr as Socket | null)?.unref();

  const url = `postgresql://postgres@/postgres?host=${encodeURIComponent(socketDirectory)}&sslmode=disable`;
  return {
    url,
    get failure() {
      if (stopping !== undefined || !hasExited(child)) return undefined;
      return withOutput(`the embedded PGlite database process ${describeExit(child)}`, output());
    },
    stop,
  };
}
