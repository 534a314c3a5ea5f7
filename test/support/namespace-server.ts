import { execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptsConnections } from './network-topology.js';
import { until } from './wait.js';

/**
 * A server process in a test network namespace (network-topology.ts), for the servers of connector-servers.ts and
 * fake-github.ts: started through `ip netns exec`, as an unprivileged system user when one is given, with a clean
 * environment, and owning a temporary directory.
 */
export interface NamespaceServer {
  /** What the process printed so far (stdout and stderr). */
  output(): string;
  /** Stops the process (its stop signal, SIGKILL after 10 s) and deletes its directory. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface NamespaceServerOptions {
  /** What it is, for error messages: "PostgreSQL". */
  name: string;
  namespace: string;
  /** The address and port it listens on; started means this host can connect there. */
  address: string;
  port: number;
  /** A system user to run as (setpriv, which execs: the child process is the server itself); root when absent. */
  user?: string;
  command: string;
  args: string[];
  /** Its environment besides PATH and LANG. */
  environment?: Record<string, string>;
  /** Deleted by stop(), or when this process exits. */
  directory: string;
  /** How to stop it; SIGTERM by default. */
  stopSignal?: NodeJS.Signals;
}

/** The uid and gid of a system user, such as `postgres` (installed with its server's Debian package). */
export function systemUserIds(user: string): { uid: number; gid: number } {
  const id = (flag: string) => {
    try {
      return Number(execFileSync('id', [flag, user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    } catch {
      throw new Error(`the system user ${user} is missing; bash scripts/setup.sh --test installs the server that creates it`);
    }
  };
  return { uid: id('-u'), gid: id('-g') };
}

/** A new temporary directory owned by `user` (root when absent), for a server's files. */
export async function makeServerDirectory(prefix: string, user?: string): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), prefix));
  if (user !== undefined) {
    const { uid, gid } = systemUserIds(user);
    await chown(directory, uid, gid);
  }
  return directory;
}

/** The command line that runs `command` as `user`: setpriv changes the ids and execs. */
export function asUser(user: string | undefined, command: string, args: string[]): [string, string[]] {
  if (user === undefined) return [command, args];
  const { uid, gid } = systemUserIds(user);
  return ['setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', command, ...args]];
}

/**
 * Starts a server in a namespace and resolves once this host can connect to its address and port (20 s at most). On
 * failure it is killed, its directory deleted, and the error carries its output. Until stop(), it is also killed (and
 * its directory deleted) when this process exits; the topology's remove() kills whatever is left in its namespaces.
 */
export async function startNamespaceServer(options: NamespaceServerOptions): Promise<NamespaceServer> {
  const [command, args] = asUser(options.user, options.command, options.args);
  const child = spawn('ip', ['netns', 'exec', options.namespace, command, ...args], {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', ...options.environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;

  const killAtExit = (): void => {
    if (running()) child.kill('SIGKILL');
    rmSync(options.directory, { recursive: true, force: true });
  };
  process.once('exit', killAtExit);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      process.removeListener('exit', killAtExit);
      if (running()) {
        child.kill(options.stopSignal ?? 'SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(options.directory, { recursive: true, force: true });
    })());

  child.once('error', (error) => (output += `\n${error.message}`));
  const listening = await until(async () => !running() || (await acceptsConnections(options.address, options.port)), 20_000);
  if (!listening || !running()) {
    await stop();
    const ending = running() ? 'did not listen within 20 s' : `exited (${child.exitCode ?? child.signalCode})`;
    throw new Error(`${options.name} in ${options.namespace} ${ending} at ${options.address}:${options.port}:\n${output.trim().slice(-3000)}`);
  }
  return { output: () => output, stop };
}
