import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startMariaDbInNamespace,
  startMongoInNamespace,
  startPostgresInNamespace,
  startRedisInNamespace,
  type DatabaseServer,
} from './support/connector-servers.js';
import { startFakeGitHub } from './support/fake-github.js';
import { acceptsConnections, createNetworkTopology, type NetworkTopology } from './support/network-topology.js';

// The connector tests' servers (test/support/connector-servers.ts, fake-github.ts) in the test topology's namespaces,
// tried from this host through the topology's links, or from inside the internet host's namespace, whose names resolve
// through the test DNS server only: each takes its password and refuses a wrong one or none.
let topology: NetworkTopology;
let directory: string;

beforeAll(async () => {
  topology = await createNetworkTopology();
  directory = await mkdtemp(join(tmpdir(), 'airlock-connector-servers-'));
});

afterAll(async () => {
  await topology?.remove();
  if (directory) await rm(directory, { recursive: true, force: true });
});

/** Runs a client to its end: its exit code and its output (stdout then stderr), with `environment` and PATH alone. */
function attempt(command: string, args: string[], environment: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...environment }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output: `${stdout}${stderr}`.trim() });
    });
  });
}

/** The user of the process listening on `port` in `namespace`. */
async function listenerUser(namespace: string, port: number): Promise<string> {
  const listening = await attempt('ip', ['netns', 'exec', namespace, 'ss', '-Htlnp', `sport = :${port}`]);
  const pid = /pid=(\d+)/.exec(listening.output)?.[1];
  if (pid === undefined) throw new Error(`nothing listens on ${port} in ${namespace}: ${listening.output}`);
  return (await attempt('ps', ['-o', 'user=', '-p', pid])).output;
}

/**
 * Runs `use` against a started server after checking it runs as `user`, and stops it, checking that its port is closed
 * and its files are gone then.
 */
async function using(start: Promise<DatabaseServer>, user: string, use: (server: DatabaseServer) => Promise<void>): Promise<void> {
  const server = await start;
  const files = serverDirectories();
  try {
    expect(await listenerUser(namespaceOf(server), server.port)).toBe(user);
    await use(server);
  } finally {
    await server.stop();
  }
  expect(await acceptsConnections(server.host, server.port)).toBe(false);
  expect(files.length).toBe(1);
  expect(serverDirectories()).toEqual([]);
}

const namespaceOf = (server: DatabaseServer) =>
  server.host === topology.serverAddresses.private ? topology.namespaces.private : topology.namespaces.internet;

/** The servers' directories in the temporary directory. */
function serverDirectories(): string[] {
  return readdirSync(tmpdir()).filter((name) => /^airlock-\w+-ns-/.test(name));
}

describe('connector servers', () => {
  it('PostgreSQL on the private host: psql with the password, not with a wrong one or none', async () => {
    const address = topology.serverAddresses.private;
    await using(startPostgresInNamespace({ namespace: topology.namespaces.private, address }), 'postgres', async (server) => {
      expect(server).toMatchObject({ host: address, port: 5432, user: 'airlock', database: 'airlock_test' });
      const psql = (password?: string) =>
        attempt('psql', ['-w', '-h', server.host, '-p', String(server.port), '-U', server.user, '-d', server.database!, '-Atc', 'select current_user, current_database()'], {
          ...(password === undefined ? {} : { PGPASSWORD: password }),
          PGCONNECT_TIMEOUT: '5',
        });
      expect(await psql(server.password)).toEqual({ code: 0, output: 'airlock|airlock_test' });
      expect((await psql('wrong')).output).toContain('password authentication failed for user "airlock"');
      expect((await psql()).output).toContain('no password supplied');
    });
  });

  it('MariaDB: the client with the password, not with a wrong one', async () => {
    const address = topology.serverAddresses.internet;
    await using(startMariaDbInNamespace({ namespace: topology.namespaces.internet, address, password: "it's \\ quoted" }), 'mysql', async (server) => {
      expect(server).toMatchObject({ host: address, port: 3306, user: 'airlock', database: 'airlock_test' });
      const client = (password: string) =>
        attempt('mariadb', ['--no-defaults', '-h', server.host, '-P', String(server.port), '-u', server.user, server.database!, '-N', '-e', 'select current_user(), database()'], {
          MYSQL_PWD: password,
        });
      expect(await client(server.password)).toEqual({ code: 0, output: 'airlock@%\tairlock_test' });
      const refused = await client('wrong');
      expect(refused.code).not.toBe(0);
      expect(refused.output).toContain("Access denied for user 'airlock'");
    });
  });

  it('Redis: redis-cli with REDISCLI_AUTH, not with a wrong password or none', async () => {
    const address = topology.serverAddresses.internet;
    await using(startRedisInNamespace({ namespace: topology.namespaces.internet, address }), 'redis', async (server) => {
      expect(server).toMatchObject({ host: address, port: 6379, user: 'default' });
      const cli = (environment: Record<string, string>, ...command: string[]) =>
        attempt('redis-cli', ['-h', server.host, '-p', String(server.port), ...command], environment);
      expect(await cli({ REDISCLI_AUTH: server.password }, 'SET', 'greeting', 'hello')).toEqual({ code: 0, output: 'OK' });
      expect((await cli({ REDISCLI_AUTH: server.password }, 'GET', 'greeting')).output).toBe('hello');
      expect((await cli({ REDISCLI_AUTH: 'wrong' }, 'PING')).output).toMatch(/WRONGPASS|invalid username-password/);
      expect((await cli({}, 'PING')).output).toContain('NOAUTH Authentication required');
    });
  });

  it('a MongoDB wire-compatible server (FerretDB): pymongo with SCRAM, not with a wrong password or none', async () => {
    const address = topology.serverAddresses.internet;
    await using(startMongoInNamespace({ namespace: topology.namespaces.internet, address }), 'nobody', async (server) => {
      expect(server).toMatchObject({ host: address, port: 27017, user: 'airlock', database: 'airlock_test' });
      const script = [
        'import sys, pymongo',
        'client = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)',
        'try:',
        '    client.airlock_test.things.insert_one({"n": 1})',
        '    print("count", client.airlock_test.things.count_documents({}))',
        'except pymongo.errors.OperationFailure as error:',
        '    print("refused", error.code)',
      ].join('\n');
      const mongo = (credentials: string, mechanism = '') =>
        attempt('/usr/bin/python3', ['-c', script, `mongodb://${credentials}${server.host}:${server.port}/${server.database}${mechanism}`]);
      const credentials = `${server.user}:${server.password}@`;
      expect(await mongo(credentials, '?authMechanism=SCRAM-SHA-256')).toEqual({ code: 0, output: 'count 1' });
      expect(await mongo(credentials)).toEqual({ code: 0, output: 'count 2' });
      expect(await mongo(`${server.user}:wrong@`)).toEqual({ code: 0, output: 'refused 18' }); // AuthenticationFailed
      expect(await mongo('')).toEqual({ code: 0, output: 'refused 13' }); // Unauthorized
    });
  });

  it('the fake GitHub: github.com resolves to it; a clone with the token works and is recorded, without it fails; the API takes the token', async () => {
    const caFile = join(directory, 'ca.pem');
    await writeFile(caFile, topology.caCertificate);
    const github = await startFakeGitHub({
      namespace: topology.namespaces.internet,
      address: topology.githubAddress,
      tls: topology.issueCertificate(['github.com', 'api.github.com']),
    });
    try {
      // From inside the internet host's namespace: names resolve through the test DNS server alone.
      const inside = (command: string, ...args: string[]) =>
        attempt('ip', ['netns', 'exec', topology.namespaces.internet, command, ...args], {
          HOME: directory,
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_CONFIG_GLOBAL: '/dev/null',
          GIT_TERMINAL_PROMPT: '0',
          GIT_SSL_CAINFO: caFile,
        });
      expect((await inside('getent', 'hosts', 'github.com')).output).toMatch(new RegExp(`^${topology.githubAddress.replace(/\./g, '\\.')}\\s+github\\.com$`));
      expect((await inside('getent', 'hosts', 'example.com')).code).toBe(2); // not found: no other resolver

      const cloned = join(directory, 'hello');
      const clone = await inside('git', 'clone', '--quiet', `https://x-access-token:${github.token}@github.com/${github.repository}.git`, cloned);
      expect(clone).toEqual({ code: 0, output: '' });
      expect(readFileSync(join(cloned, 'README.md'), 'utf8')).toBe(github.readme);
      expect((await attempt('git', ['-C', cloned, 'rev-parse', 'HEAD'])).output).toBe(github.commit);
      const carried = github.requests().filter((request) => request.path.startsWith(`/${github.repository}.git/git-upload-pack`));
      expect(carried.length).toBeGreaterThan(0);
      for (const request of carried) {
        expect(request).toMatchObject({ method: 'POST', host: 'github.com', scheme: 'basic', username: 'x-access-token', token: github.token, authorized: true });
      }

      const before = github.requests().length;
      const anonymous = await inside('git', 'clone', '--quiet', github.cloneUrl, join(directory, 'anonymous'));
      expect(anonymous.code).not.toBe(0);
      expect(anonymous.output).toContain('could not read Username');
      const wrong = await inside('git', 'clone', '--quiet', `https://x-access-token:wrong@github.com/${github.repository}.git`, join(directory, 'wrong'));
      expect(wrong.output).toContain('Authentication failed');
      expect(existsSync(join(directory, 'wrong'))).toBe(false);
      const refused = github.requests().slice(before);
      expect(refused.map((request) => [request.path, request.token, request.authorized])).toEqual([
        [`/${github.repository}.git/info/refs?service=git-upload-pack`, null, false],
        [`/${github.repository}.git/info/refs?service=git-upload-pack`, null, false],
        [`/${github.repository}.git/info/refs?service=git-upload-pack`, 'wrong', false],
      ]);

      const user = (authorization: string) =>
        inside('curl', '-sS', '--cacert', caFile, '-w', ' %{http_code}', ...(authorization ? ['-H', `Authorization: ${authorization}`] : []), 'https://api.github.com/user');
      expect((await user(`token ${github.token}`)).output).toBe(`{"login":"${github.login}"} 200`);
      expect((await user(`Bearer ${github.token}`)).output).toBe(`{"login":"${github.login}"} 200`);
      expect((await user('token wrong')).output).toBe('{"message":"Bad credentials"} 401');
      expect((await user('')).output).toBe('{"message":"Requires authentication"} 401');
    } finally {
      await github.stop();
    }
    expect(await acceptsConnections(github.address, github.port)).toBe(false);
  });

  it('a server that cannot start fails with its output, and leaves no process or file', async () => {
    const unassigned = '198.51.100.99';
    await expect(startRedisInNamespace({ namespace: topology.namespaces.internet, address: unassigned })).rejects.toThrow(
      /Redis in airlock-test-\w+-internet exited \(1\) at 198\.51\.100\.99:6379:[^]*Cannot assign requested address/,
    );
    expect(serverDirectories()).toEqual([]);
    const left = (await attempt('ip', ['netns', 'pids', topology.namespaces.internet])).output.split('\n');
    expect(left.map((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim())).not.toContain('redis-server');
  });
});
