import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonLogger } from '../packages/server/src/index.js';
import { allOrNone } from './support/all-or-none.js';
import { startAirlock, testApiKey, testSandboxUid, type AirlockFixture } from './support/airlock-fixture.js';
import { startServeProcess, waitForExit } from './support/cli-process.js';
import {
  startMariaDbInNamespace,
  startMongoInNamespace,
  startPostgresInNamespace,
  startRedisInNamespace,
  type DatabaseServer,
} from './support/connector-servers.js';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github.js';
import { noProcessesLeft, processesOfUid } from './support/host-inspection.js';
import { until } from './support/wait.js';
import { createNetworkTopology, type NetworkTopology } from './support/network-topology.js';

// Connectors end to end: real servers in the test topology's namespaces (PostgreSQL, MariaDB and the fake GitHub on
// the internet host, Redis and a MongoDB-compatible server on the private host, reached only because a connector
// names them), a sandbox config whose network is blocked, and its calls using standard tools with no secret in code.
let topology: NetworkTopology;
let airlock: AirlockFixture;
let postgres: DatabaseServer;
let mariadb: DatabaseServer;
let redis: DatabaseServer;
let mongo: DatabaseServer;
let github: FakeGitHub;
const API_KEY_SECRET = 'svc-key-5f2b9c1d7e3a';
const logLines: string[] = [];

async function admin(path: string, json: unknown, method = 'POST') {
  return airlock.request<Record<string, unknown>>(path, { method, json, apiKey: airlock.adminToken });
}

async function run(code: string, extra: Record<string, unknown> = {}) {
  const response = await airlock.request<{ stdout: string; stderr: string; exit_code: number; trace_id: string; network?: Array<Record<string, unknown>> }>(
    '/v1/sandbox/execute',
    { method: 'POST', json: { language: 'bash', code, timeout: 60, ...extra } },
  );
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body;
}

/** Every secret of the connectors, as the operator gave them. */
function secrets(): string[] {
  return [postgres.password, mariadb.password, redis.password, mongo.password, github.token, API_KEY_SECRET];
}

beforeAll(async () => {
  topology = await createNetworkTopology();
  const internet = { namespace: topology.namespaces.internet, address: topology.serverAddresses.internet };
  const privateHost = { namespace: topology.namespaces.private, address: topology.serverAddresses.private };
  [postgres, mariadb, redis, mongo] = await allOrNone(
    [
      startPostgresInNamespace({ ...internet, password: 'pg-pass-1f9e3b7c2a' }),
      startMariaDbInNamespace({ ...internet, password: 'maria-pass-4d8a1e6b' }),
      startRedisInNamespace({ ...privateHost, password: 'redis-pass-9c2e7f1a' }),
      startMongoInNamespace({ ...privateHost, password: 'mongo-pass-3b6d9e2f' }),
    ],
    (server) => server.stop(),
  );
  github = await startFakeGitHub({
    namespace: topology.namespaces.internet,
    address: topology.githubAddress,
    tls: topology.issueCertificate(['github.com', 'api.github.com']),
  });
  airlock = await startAirlock({
    environment: { AIRLOCK_NETWORK: 'on', AIRLOCK_NETWORK_SUBNET: '10.216', AIRLOCK_NETWORK_DNS: topology.dns },
    logger: createJsonLogger((line) => logLines.push(line)),
  });
  const connectors = [
    { name: 'warehouse', type: 'postgresql', host: postgres.host, port: postgres.port, database: postgres.database, user: postgres.user, password: postgres.password },
    { name: 'shop', type: 'mysql', host: mariadb.host, port: mariadb.port, database: mariadb.database, user: mariadb.user, password: mariadb.password, tls: false },
    { name: 'cache', type: 'redis', host: redis.host, port: redis.port, password: redis.password },
    { name: 'docs', type: 'mongodb', host: mongo.host, port: mongo.port, database: mongo.database, user: mongo.user, password: mongo.password, auth_source: mongo.database },
    { name: 'code', type: 'github', token: github.token, ca_certificate: topology.caCertificate },
    { name: 'service', type: 'http_api', base_url: `http://${topology.internet}:8080`, env_var: 'SERVICE_API_KEY', api_key: API_KEY_SECRET },
  ];
  for (const connector of connectors) {
    const created = await admin('/admin/v1/connectors', connector);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const attached = await admin('/admin/v1/sandboxes/default/connectors', { connector: connector.name });
    expect(attached.status, JSON.stringify(attached.body)).toBe(200);
  }
}, 300_000);

afterAll(async () => {
  await airlock?.close();
  await Promise.all([postgres, mariadb, redis, mongo, github].map((server) => server?.stop()));
  await topology?.remove();
});

describe('connectors', () => {
  it('let psql and psycopg reach PostgreSQL with no password in code, from a sandbox that reaches nothing else', async () => {
    const result = await run(
      [
        'psql -XAtc "select \'psql:\' || current_user"',
        `python3 -c 'import psycopg; print("psycopg:", psycopg.connect("").execute("select current_database()").fetchone()[0])'`,
        'psql -XAt "service=warehouse" -c "select \'service:\' || 1"',
        // Other servers, on the internet host (port 80; its 8080 is connector "service"'s) and on the private host,
        // answer HTTP; the sandbox reaches neither.
        `curl -fsS -m 5 http://${topology.internet}/ >/dev/null 2>&1 && echo reached-internet || echo blocked-internet`,
        `curl -fsS -m 5 http://${topology.privateAddress}/ >/dev/null 2>&1 && echo reached-private || echo blocked-private`,
        'getent hosts example.com >/dev/null && echo resolved-other || echo no-dns',
      ].join('\n'),
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual([
      `psql:${postgres.user}`,
      `psycopg: ${postgres.database}`,
      'service:1',
      'blocked-internet',
      'blocked-private',
      'no-dns',
    ]);
    const reached = (result.network ?? []).filter((flow) => flow.verdict === 'allowed');
    expect(reached.map((flow) => `${flow.connector} ${flow.address}:${flow.port}`)).toContain(`warehouse ${postgres.host}:${postgres.port}`);
  });

  it('let the MariaDB client, redis-cli and pymongo in, Redis and MongoDB on a private address the operator named', async () => {
    const result = await run(
      [
        'mariadb -N -e "select concat(\'mariadb:\', current_user())"',
        `python3 -c 'import os, pymysql; c = pymysql.connect(read_default_file=os.environ["MYSQL_HOME"] + "/my.cnf"); cur = c.cursor(); cur.execute("select 41 + 1"); print("pymysql:", cur.fetchone()[0])'`,
        'redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" SET greeting hello >/dev/null && echo "redis: $(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" GET greeting)"',
        `python3 -c 'import os, redis; print("redis-py:", redis.Redis.from_url(os.environ["REDIS_URL"], password=os.environ["REDISCLI_AUTH"]).ping())'`,
        `python3 -c 'import os, pymongo; db = pymongo.MongoClient(os.environ["MONGODB_URI"], serverSelectionTimeoutMS=10000).get_default_database(); db.notes.insert_one({"n": 7}); print("pymongo:", db.notes.find_one({"n": 7})["n"])'`,
      ].join('\n'),
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^mariadb:${mariadb.user}@`)),
      'pymysql: 42',
      'redis: hello',
      'redis-py: True',
      'pymongo: 7',
    ]);
  });

  it('clone from github.com with the token, which the git server sees and the thread never keeps', async () => {
    const before = github.requests().length;
    const result = await run(
      [
        `git clone -q ${github.cloneUrl} repo && cat repo/README.md`,
        'git -C repo config --get remote.origin.url',
        `curl -sS --cacert /run/airlock/connectors/code/ca.pem -H "Authorization: token $GH_TOKEN" https://api.github.com/user`,
      ].join('\n'),
      { thread_id: 'connector-thread' },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(github.readme.trim());
    expect(result.stdout).toContain(`${github.cloneUrl}\n`);
    expect(result.stdout).toContain(github.login);
    const requests = github.requests().slice(before);
    expect(requests.some((request) => request.path.includes('git-upload-pack') && request.authorized && request.token === github.token)).toBe(true);
    // The clone is in the thread's home; the token is in no file of it.
    const grep = await run('grep -rl -- "$GH_TOKEN" ~ || echo none', { thread_id: 'connector-thread' });
    expect(grep.stdout.trim()).toBe('none');
  });

  it('write the files with mode 0600 in directories of mode 0700, owned by the sandbox user, in its own /run', async () => {
    const result = await run('stat -c "%a %u %n" /run/airlock/connectors /run/airlock/connectors/warehouse /run/airlock/connectors/warehouse/pgpass /run/airlock/connectors/shop/my.cnf; findmnt -n -o FSTYPE -T /run/airlock/connectors');
    expect(result.stdout.trim().split('\n')).toEqual([
      '700 1000 /run/airlock/connectors',
      '700 1000 /run/airlock/connectors/warehouse',
      '600 1000 /run/airlock/connectors/warehouse/pgpass',
      '600 1000 /run/airlock/connectors/shop/my.cnf',
      'tmpfs',
    ]);
  });

  it('keep every secret out of outputs, records, replays, logs and the thread: printed secrets come back redacted', async () => {
    const result = await run(
      [
        'env',
        "cat /proc/self/environ | tr '\\0' '\\n'",
        'cat /run/airlock/connectors/*/* /run/airlock/connectors/*.conf',
        'printf %s "$SERVICE_API_KEY" | base64',
        'cat /run/airlock/connectors/warehouse/pgpass >&2',
        // What the tools leave in the home (histories, caches) is saved with the thread: the data directory is searched below.
        'psql -XAtc "select 1" >/dev/null; mariadb -e "select 1" >/dev/null; redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" PING >/dev/null',
        `python3 -c 'import os, pymongo; pymongo.MongoClient(os.environ["MONGODB_URI"], serverSelectionTimeoutMS=10000).admin.command("ping")'`,
        `curl -s -H "Authorization: Bearer $SERVICE_API_KEY" http://${topology.internet}:8080/ >/dev/null`,
      ].join('\n'),
      { thread_id: 'secrets-thread' },
    );
    const record = await airlock.request<Record<string, unknown>>(`/v1/executions/${result.trace_id}`);
    const replay = await airlock.request<string>(`/v1/executions/${result.trace_id}/output`);
    for (const text of [JSON.stringify(result), JSON.stringify(record.body), String(replay.body), logLines.join('\n')]) {
      for (const secret of secrets()) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(Buffer.from(secret).toString('base64'));
      }
    }
    expect(result.stdout).toContain('SERVICE_API_KEY=[REDACTED]');
    expect(result.stdout).toContain(`PGPASSFILE=/run/airlock/connectors/warehouse/pgpass`);
    expect(result.stderr).toContain(':[REDACTED]');
  });

  it('hold no secret in the environment where a file can carry it', async () => {
    const result = await run("cat /proc/self/environ | tr '\\0' '\\n' | grep -E '^(PG|MYSQL_)' | sort");
    expect(result.stdout).not.toContain('[REDACTED]');
    expect(result.stdout).toContain('PGPASSFILE=');
    expect(result.stdout).toContain('MYSQL_HOME=/run/airlock/connectors/shop');
  });

  it('refuse env_vars that set a connector variable, and keys that keep only some connectors', async () => {
    const refused = await airlock.request<{ error: string; message: string }>('/v1/sandbox/execute', {
      method: 'POST',
      json: { language: 'bash', code: 'true', env_vars: { PGHOST: 'elsewhere.example' } },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain('PGHOST is set by connector "warehouse"');

    expect((await admin('/admin/v1/sandboxes', { name: 'with-env', env_vars: { PGHOST: 'elsewhere.example' } })).status).toBe(201);
    const clash = await admin('/admin/v1/sandboxes/with-env/connectors', { connector: 'warehouse' });
    expect([clash.status, clash.body.message]).toEqual([400, expect.stringContaining('"warehouse" sets PGHOST, which sandbox config "with-env" sets in its env_vars')]);

    const foreign = await admin('/admin/v1/api-keys', { name: 'too-wide', connectors: ['warehouse', 'missing'] });
    expect(foreign.status).toBe(400);
    const narrowed = await admin('/admin/v1/api-keys', { name: 'pg-only', connectors: ['warehouse'] });
    expect(narrowed.status).toBe(201);
    const response = await airlock.request<{ stdout: string }>('/v1/sandbox/execute', {
      method: 'POST',
      apiKey: narrowed.body.key as string,
      json: { language: 'bash', code: 'ls /run/airlock/connectors; echo "redis:${REDIS_HOST:-none}"; psql -XAtc "select 1"' },
    });
    expect(response.body.stdout.trim().split('\n')).toEqual(['pg_service.conf', 'warehouse', 'redis:none', '1']);
  });

  it("name the connectors, never their secrets, in the MCP tool's description", async () => {
    const response = await airlock.request<string>('/mcp', {
      method: 'POST',
      headers: { accept: 'application/json, text/event-stream' },
      json: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    });
    expect(response.status).toBe(200);
    // A server-sent event carrying the JSON-RPC answer.
    const data = String(response.body).split('\n').find((line) => line.startsWith('data: ')) ?? '{}';
    const answer = JSON.parse(data.slice('data: '.length)) as { result: { tools: Array<{ name: string; description: string }> } };
    const description = answer.result.tools.find((tool) => tool.name === 'sandbox_execute')?.description ?? '';
    for (const name of ['warehouse', 'shop', 'cache', 'docs', 'code', 'service']) expect(description).toContain(`"${name}"`);
    for (const secret of secrets()) expect(description).not.toContain(secret);
  });

  it('test a connector from a sandbox and keep the result; a wrong password fails with the server\'s words', async () => {
    const tested = await admin('/admin/v1/connectors/warehouse/test', undefined);
    expect(tested.status).toBe(200);
    expect(tested.body).toMatchObject({ status: 'ok', message: expect.stringContaining(`connected as ${postgres.user}`) });
    expect((await admin('/admin/v1/connectors/warehouse', undefined, 'GET')).body).toMatchObject({ status: 'ok' });

    const wrong = await admin('/admin/v1/connectors', { name: 'wrong', type: 'redis', host: redis.host, port: redis.port, password: 'not-the-password' });
    expect(wrong.status).toBe(201);
    const failed = await admin('/admin/v1/connectors/wrong/test', undefined);
    expect(failed.body).toMatchObject({ status: 'failed', message: expect.stringMatching(/WRONGPASS|invalid/i) });
    for (const name of ['shop', 'docs', 'code', 'service']) {
      const result = await admin(`/admin/v1/connectors/${name}/test`, undefined);
      expect(result.body, `${name}: ${JSON.stringify(result.body)}`).toMatchObject({ status: 'ok' });
    }
  });

  it('leave no secret on the host: not in the data directory, not in /run, not in a mount of the host', async () => {
    for (const secret of secrets()) {
      const found = spawnSync('grep', ['-rlaF', '--', secret, airlock.dataDirectory, '/run/airlock'], { encoding: 'utf8' });
      expect(found.stdout.trim()).toBe('');
    }
    // The files live in each sandbox's own /run: the host never mounted anything for them.
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain('/run/airlock/connectors');
  });

  it('lose the files with the sandbox when the server is killed mid-call', async () => {
    const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-connectors-crash-'));
    const key = testApiKey();
    const adminToken = `adm-${randomBytes(12).toString('hex')}`;
    const uid = testSandboxUid();
    const environment = {
      AIRLOCK_BOOTSTRAP_API_KEY: key,
      AIRLOCK_ADMIN_TOKEN: adminToken,
      AIRLOCK_SANDBOX_UID: String(uid),
      AIRLOCK_SANDBOX_GID: String(uid),
      AIRLOCK_NETWORK: 'on',
      AIRLOCK_NETWORK_SUBNET: '10.217',
      AIRLOCK_NETWORK_DNS: topology.dns,
    };
    const server = await startServeProcess({ dataDirectory, environment });
    try {
      const call = (path: string, token: string, json: unknown) =>
        fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(json) });
      const connector = { name: 'warehouse', type: 'postgresql', host: postgres.host, port: postgres.port, database: postgres.database, user: postgres.user, password: postgres.password };
      expect((await call('/admin/v1/connectors', adminToken, connector)).status).toBe(201);
      expect((await call('/admin/v1/sandboxes/default/connectors', adminToken, { connector: 'warehouse' })).status).toBe(200);
      const running = call('/v1/sandbox/execute', key, { language: 'bash', code: 'psql -XAtc "select 1" && sleep 600' }).catch((error: Error) => error);
      expect(await until(() => processesOfUid(uid).some((line) => line.includes('sleep')), 20_000)).toBe(true);
      server.child.kill('SIGKILL');
      await waitForExit(server.child);
      expect(await running).toBeInstanceOf(Error);
      // The sandbox dies with the server, and with its last process its /run and the files in it.
      expect(await noProcessesLeft(uid, 5_000)).toEqual([]);
      const found = spawnSync('grep', ['-rlaF', '--', postgres.password, dataDirectory, '/run/airlock'], { encoding: 'utf8' });
      expect(found.stdout.trim()).toBe('');
    } finally {
      server.child.kill('SIGKILL');
      await waitForExit(server.child);
      // The next start on the data directory removes what the killed server left: its homes' mounts, its sandboxes'
      // network namespaces and cgroups.
      const next = await startServeProcess({ dataDirectory, environment });
      next.child.kill('SIGTERM');
      await waitForExit(next.child);
      await rm(dataDirectory, { recursive: true, force: true });
    }
  });
});
