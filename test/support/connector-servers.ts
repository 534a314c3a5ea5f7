import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { asUser, makeServerDirectory, startNamespaceServer, systemUserIds, type NamespaceServer } from './namespace-server.js';
import { findPostgresBinaryDirectory } from './postgres-server.js';

/**
 * Database servers for the connector tests, each started in a test network namespace (network-topology.ts: pass
 * `topology.namespaces.internet` with `topology.serverAddresses.internet`, or the private pair) from the Debian
 * packages or tools `scripts/setup.sh --test` installs, with password authentication required: a client without the
 * password, or with a wrong one, is refused. Each server owns a temporary directory; stop() stops it and deletes that.
 */
export interface DatabaseServer {
  /** The address it listens on (in its namespace; this host reaches it through the topology's links). */
  host: string;
  port: number;
  user: string;
  password: string;
  /** The database `user` owns; Redis has none. */
  database?: string;
  /** Stops the server and deletes its files. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface DatabaseServerOptions {
  /** The network namespace to run in, such as `topology.namespaces.internet`. */
  namespace: string;
  /** An address of that namespace to listen on, such as `topology.serverAddresses.internet`. */
  address: string;
  /** The server's usual port by default. */
  port?: number;
  /** `airlock` by default (Redis: always `default`, the user `requirepass` sets the password of). */
  user?: string;
  /** Random by default. */
  password?: string;
  /** `airlock_test` by default; Redis has none. */
  database?: string;
}

const runFile = promisify(execFile);
const repository = fileURLToPath(new URL('../..', import.meta.url));
/** Where scripts/setup.sh --test builds it; the version is pinned there too. */
const FERRETDB = join(repository, '.cache/tools/ferretdb-1.24.2/ferretdb');

interface Credentials {
  user: string;
  password: string;
  database: string;
}

/** The options' credentials with their defaults; names are checked to be plain identifiers, so SQL can name them. */
function credentials(options: DatabaseServerOptions): Credentials {
  const chosen = {
    user: options.user ?? 'airlock',
    password: options.password ?? randomBytes(12).toString('hex'),
    database: options.database ?? 'airlock_test',
  };
  for (const name of [chosen.user, chosen.database]) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`"${name}": user and database names must match [a-z_][a-z0-9_]*`);
  }
  return chosen;
}

/** A SQL string literal of `value` (MariaDB's escapes: backslash and quote). */
function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Runs `initdb`, `mariadb-install-db`... to completion, its output in the error when it fails. */
async function run(command: string, args: string[]): Promise<void> {
  try {
    await runFile(command, args, { timeout: 60_000 });
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} failed: ${failure.message}\n${failure.stdout ?? ''}${failure.stderr ?? ''}`.trim());
  }
}

/** Runs `start` with a new server directory owned by `user`, and deletes the directory if `start` fails. */
async function withServerDirectory<T>(prefix: string, user: string, start: (directory: string) => Promise<T>): Promise<T> {
  const directory = await makeServerDirectory(prefix, user);
  try {
    return await start(directory);
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}

/** Runs `configure` against a started server; stops the server if it fails. */
async function configured(server: NamespaceServer, configure: () => Promise<void>): Promise<void> {
  try {
    await configure();
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/**
 * PostgreSQL (Debian's server, the newest installed) as the `postgres` user: TCP clients authenticate with
 * scram-sha-256; `user` owns `database`. Its Unix socket, in its directory, trusts local clients (the set-up uses it).
 * Stops with a fast shutdown.
 */
export async function startPostgresInNamespace(options: DatabaseServerOptions): Promise<DatabaseServer> {
  const binaryDirectory = findPostgresBinaryDirectory();
  const { user, password, database } = credentials(options);
  const port = options.port ?? 5432;
  return withServerDirectory('airlock-postgres-ns-', 'postgres', async (directory) => {
    const data = join(directory, 'data');
    const initdb = ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '--encoding=UTF8', '--locale=C', '--no-sync'];
    await run(...asUser('postgres', join(binaryDirectory, 'initdb'), initdb));
    await appendFile(join(data, 'pg_hba.conf'), 'host all all 0.0.0.0/0 scram-sha-256\n');
    const settings = {
      listen_addresses: options.address,
      port: String(port),
      unix_socket_directories: directory,
      password_encryption: 'scram-sha-256',
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
    };
    const server = await startNamespaceServer({
      name: 'PostgreSQL',
      namespace: options.namespace,
      address: options.address,
      port,
      user: 'postgres',
      command: join(binaryDirectory, 'postgres'),
      args: ['-D', data, ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])],
      directory,
      stopSignal: 'SIGINT',
    });
    await configured(server, async () => {
      const client = await connectWhenReady(() => new pg.Client({ host: directory, port, user: 'postgres', database: 'postgres' }));
      try {
        await client.query(`CREATE ROLE ${user} LOGIN PASSWORD ${client.escapeLiteral(password)}`);
        await client.query(`CREATE DATABASE ${database} OWNER ${user}`);
      } finally {
        await client.end();
      }
    });
    return { host: options.address, port, user, password, database, stop: server.stop };
  });
}

/**
 * A connected client of `makeClient`: PostgreSQL listens before it takes connections, answering 57P03 ("the database
 * system is starting up") meanwhile, and opens its TCP port before it makes its Unix socket (ENOENT until then), so
 * both are tried again, for 20 s at most.
 */
async function connectWhenReady(makeClient: () => pg.Client): Promise<pg.Client> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const client = makeClient();
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (!['57P03', 'ENOENT'].includes((error as { code?: string }).code ?? '') || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * MariaDB (Debian's `mariadb-server`) as the `mysql` user: `user`@`%` with a password, granted everything on
 * `database`. Its root is reachable only through its Unix socket, in its directory, by this host's root.
 */
export async function startMariaDbInNamespace(options: DatabaseServerOptions): Promise<DatabaseServer> {
  const { user, password, database } = credentials(options);
  const port = options.port ?? 3306;
  return withServerDirectory('airlock-mariadb-ns-', 'mysql', async (directory) => {
    const data = join(directory, 'data');
    const socket = join(directory, 'mysqld.sock');
    const small = ['--innodb-log-file-size=8M', '--innodb-buffer-pool-size=16M'];
    await run('mariadb-install-db', [
      '--no-defaults', `--datadir=${data}`, '--user=mysql', '--auth-root-authentication-method=socket', '--skip-test-db', ...small,
    ]);
    const server = await startNamespaceServer({
      name: 'MariaDB',
      namespace: options.namespace,
      address: options.address,
      port,
      user: 'mysql',
      command: '/usr/sbin/mariadbd',
      args: [
        '--no-defaults', `--datadir=${data}`, `--bind-address=${options.address}`, `--port=${port}`, `--socket=${socket}`,
        `--pid-file=${join(directory, 'mysqld.pid')}`, '--skip-log-bin', '--skip-name-resolve', ...small,
      ],
      directory,
    });
    await configured(server, async () => {
      const statements = [
        `CREATE DATABASE ${database}`,
        `CREATE USER ${sqlString(user)}@'%' IDENTIFIED BY ${sqlString(password)}`,
        `GRANT ALL ON ${database}.* TO ${sqlString(user)}@'%'`,
      ];
      await run('mariadb', ['--no-defaults', `--socket=${socket}`, '--user=root', '--execute', statements.join('; ')]);
    });
    return { host: options.address, port, user, password, database, stop: server.stop };
  });
}

/**
 * Redis (Debian's `redis-server`) as the `redis` user: `requirepass` (the `default` user's password; `user` is
 * ignored), no persistence.
 */
export async function startRedisInNamespace(options: DatabaseServerOptions): Promise<DatabaseServer> {
  const password = credentials(options).password;
  const port = options.port ?? 6379;
  return withServerDirectory('airlock-redis-ns-', 'redis', async (directory) => {
    // A file rather than arguments, so the password is not on the command line.
    const configuration = join(directory, 'redis.conf');
    const lines = [
      `bind ${options.address}`,
      `port ${port}`,
      `requirepass "${password.replace(/["\\]/g, '\\$&')}"`,
      'save ""',
      'appendonly no',
      `dir ${directory}`,
      'daemonize no',
      'logfile ""',
    ];
    await writeFile(configuration, `${lines.join('\n')}\n`, { mode: 0o600 });
    const { uid, gid } = systemUserIds('redis');
    await chown(configuration, uid, gid);
    const server = await startNamespaceServer({
      name: 'Redis',
      namespace: options.namespace,
      address: options.address,
      port,
      user: 'redis',
      command: '/usr/bin/redis-server',
      args: [configuration],
      directory,
    });
    return { host: options.address, port, user: 'default', password, stop: server.stop };
  });
}

/**
 * A MongoDB wire-compatible server: FerretDB 1.24 (Apache 2.0, built from the Go module proxy by scripts/setup.sh
 * --test) on its SQLite backend, as `nobody`, with its SCRAM authentication (SCRAM-SHA-256 and SCRAM-SHA-1; every
 * command but the handshake needs it): `user` is created in `database` at start, so it authenticates there
 * (`mongodb://user:password@host:port/database`). Telemetry off. It is not MongoDB: see FerretDB's list of differences.
 */
export async function startMongoInNamespace(options: DatabaseServerOptions): Promise<DatabaseServer> {
  if (!existsSync(FERRETDB)) throw new Error(`${FERRETDB} is missing; run: bash scripts/setup.sh --test`);
  const { user, password, database } = credentials(options);
  const port = options.port ?? 27017;
  return withServerDirectory('airlock-mongo-ns-', 'nobody', async (directory) => {
    const { uid, gid } = systemUserIds('nobody');
    for (const name of ['data', 'state']) {
      await mkdir(join(directory, name));
      await chown(join(directory, name), uid, gid);
    }
    const server = await startNamespaceServer({
      name: 'FerretDB',
      namespace: options.namespace,
      address: options.address,
      port,
      user: 'nobody',
      command: FERRETDB,
      args: [
        '--handler=sqlite', `--sqlite-url=file:${join(directory, 'data')}/`, `--state-dir=${join(directory, 'state')}`,
        `--listen-addr=${options.address}:${port}`, '--debug-addr=-', '--telemetry=disable', '--log-level=warn',
        '--test-enable-new-auth', `--setup-database=${database}`, `--setup-username=${user}`,
      ],
      // The environment rather than an argument, so the password is not on the command line.
      environment: { FERRETDB_SETUP_PASSWORD: password },
      directory,
    });
    return { host: options.address, port, user, password, database, stop: server.stop };
  });
}
