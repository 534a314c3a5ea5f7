import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { appendFile, chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { systemUserIds } from './namespace-server.js';
import { freePort } from './free-port.js';

const runFile = promisify(execFile);

export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:PORT/airlock_test`, a database created for this server. */
  url: string;
  /** Stops the server and deletes its directory. Safe to call more than once. */
  stop(): Promise<void>;
}

const DEBIAN_POSTGRES_ROOT = '/usr/lib/postgresql';
const DATABASE_NAME = 'airlock_test';
const START_ATTEMPTS = 3;

/** The bin directory of the newest PostgreSQL installed from Debian packages. */
export function findPostgresBinaryDirectory(): string {
  const versions = existsSync(DEBIAN_POSTGRES_ROOT)
    ? readdirSync(DEBIAN_POSTGRES_ROOT)
        .filter((entry) => existsSync(join(DEBIAN_POSTGRES_ROOT, entry, 'bin', 'initdb')))
        .sort((left, right) => Number(right) - Number(left))
    : [];
  const newest = versions[0];
  if (newest === undefined) throw new Error('PostgreSQL server not installed: apt-get install -y postgresql');
  return join(DEBIAN_POSTGRES_ROOT, newest, 'bin');
}

/** initdb and postgres refuse to run as root, so as root they run as the `postgres` system user. */
function commandAsServerUser(executable: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', executable, ...args]] : [executable, args];
}

async function run(executable: string, args: string[]): Promise<void> {
  const [command, commandArgs] = commandAsServerUser(executable, args);
  await runFile(command, commandArgs, { timeout: 120_000 });
}

async function createTestDatabase(port: number): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${DATABASE_NAME}`);
  } finally {
    await client.end();
  }
}

/**
 * Starts a throwaway PostgreSQL cluster from Debian's server binaries: a temporary directory, 127.0.0.1 on a free
 * port, its socket inside that directory, fsync off. The server is also stopped when the process exits.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const binaryDirectory = findPostgresBinaryDirectory();
  const rootDirectory = await mkdtemp(join(tmpdir(), 'airlock-postgres-'));
  const dataDirectory = join(rootDirectory, 'data');
  const socketDirectory = join(rootDirectory, 'socket');
  const logFile = join(rootDirectory, 'server.log');
  const pgCtl = join(binaryDirectory, 'pg_ctl');
  let running = false;

  const stopSynchronously = (): void => {
    if (running) {
      const [command, args] = commandAsServerUser(pgCtl, ['stop', '-D', dataDirectory, '-m', 'immediate', '-w']);
      spawnSync(command, args, { stdio: 'ignore' });
      running = false;
    }
    rmSync(rootDirectory, { recursive: true, force: true });
  };
  process.once('exit', stopSynchronously);

  const stop = async (): Promise<void> => {
    process.removeListener('exit', stopSynchronously);
    if (running) {
      running = false;
      await run(pgCtl, ['stop', '-D', dataDirectory, '-m', 'immediate', '-w']).catch(() => undefined);
    }
    await rm(rootDirectory, { recursive: true, force: true });
  };

  try {
    await mkdir(socketDirectory);
    if (process.getuid?.() === 0) {
      const { uid, gid } = systemUserIds('postgres');
      await chown(rootDirectory, uid, gid);
      await chown(socketDirectory, uid, gid);
    }
    await run(join(binaryDirectory, 'initdb'), [
      '-D', dataDirectory, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync',
    ]);
    let port = 0;
    for (let attempt = 1; !running; attempt += 1) {
      port = await freePort();
      await appendFile(
        join(dataDirectory, 'postgresql.conf'),
        [
          `port = ${port}`,
          `listen_addresses = '127.0.0.1'`,
          `unix_socket_directories = '${socketDirectory}'`,
          'fsync = off',
          'synchronous_commit = off',
          'full_page_writes = off',
          '',
        ].join('\n'),
      );
      try {
        // -w waits until the server accepts connections.
        await run(pgCtl, ['start', '-D', dataDirectory, '-l', logFile, '-w', '-t', '60']);
        running = true;
      } catch (error) {
        if (attempt >= START_ATTEMPTS) {
          const log = await readFile(logFile, 'utf8').catch(() => '');
          throw new Error(`PostgreSQL did not start: ${String(error)}\n${log.slice(-2000)}`);
        }
      }
    }
    await createTestDatabase(port);
    return { url: `postgres://postgres@127.0.0.1:${port}/${DATABASE_NAME}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
