import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../packages/db/src/index.js';
import type { S3Connection } from '../packages/storage/src/index.js';
import { testApiKey, testSandboxUid } from './support/airlock-fixture.js';
import { startServeProcess, waitForExit } from './support/cli-process.js';
import { processesOfUid } from './support/host-inspection.js';
import { startNginxBalancer, type NginxBalancer } from './support/nginx-balancer.js';
import { startPostgres, type PostgresServer } from './support/postgres-server.js';
import { startStorageEmulator, type StorageEmulator } from './support/storage-emulators.js';
import { until } from './support/wait.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

// Three `airlock serve` nodes sharing one PostgreSQL and one S3-compatible store, behind nginx (round robin): what one
// node does, any other continues; what only the node running an execution can do (cancel it, stream its output) is
// asked of it by the node the client reached; a killed node's work is settled by the others, a stopped one drains.

interface Node {
  id: string;
  url: string;
  child: ChildProcess;
  dataDirectory: string;
  stderr: () => string;
}

const HEARTBEAT_SECONDS = 1;
const RATE_LIMIT_PER_MINUTE = 300;
const key = testApiKey();
const adminToken = `admin-${randomBytes(16).toString('hex')}`;
const uid = testSandboxUid();

let postgres: PostgresServer;
let s3: StorageEmulator;
let receiver: WebhookReceiver;
let balancer: NginxBalancer;
let database: Database;
const nodes = new Map<string, Node>();

function environment(): Record<string, string> {
  const connection = s3.connection as S3Connection & { access_key_id: string; secret_access_key: string };
  return {
    DATABASE_URL: postgres.url,
    AIRLOCK_S3_BUCKET: connection.bucket,
    AIRLOCK_S3_ENDPOINT: connection.endpoint!,
    AIRLOCK_S3_FORCE_PATH_STYLE: 'true',
    AIRLOCK_S3_PREFIX: 'airlock/',
    AIRLOCK_S3_ACCESS_KEY_ID: connection.access_key_id,
    AIRLOCK_S3_SECRET_ACCESS_KEY: connection.secret_access_key,
    // The keys every node of a deployment shares.
    AIRLOCK_MASTER_KEY: sharedKeys.master,
    AIRLOCK_URL_SIGNING_KEY: sharedKeys.urlSigning,
    AIRLOCK_ADMIN_TOKEN: adminToken,
    AIRLOCK_BOOTSTRAP_API_KEY: key,
    AIRLOCK_SANDBOX_UID: String(uid),
    AIRLOCK_SANDBOX_GID: String(uid),
    AIRLOCK_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS),
    AIRLOCK_DRAIN_SECONDS: '20',
    AIRLOCK_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT_PER_MINUTE),
    AIRLOCK_WEBHOOK_ALLOW_LOOPBACK: 'true',
    AIRLOCK_WEBHOOK_RETRY_SECONDS: '1',
  };
}
const sharedKeys = { master: randomBytes(32).toString('hex'), urlSigning: randomBytes(32).toString('hex') };

/** Starts a node, on a new data directory or on the one a killed node left (a restart). */
async function startNode(id: string, restartOn?: string): Promise<Node> {
  const dataDirectory = restartOn ?? (await mkdtemp(join(tmpdir(), `airlock-${id}-`)));
  const started = await startServeProcess({ dataDirectory, environment: { ...environment(), AIRLOCK_NODE_ID: id } });
  const node = { id, url: started.url, child: started.child, dataDirectory, stderr: started.stderr };
  nodes.set(id, node);
  return node;
}

function node(id: string): Node {
  const found = nodes.get(id);
  if (!found) throw new Error(`no node ${id}`);
  return found;
}

async function call<T = Record<string, unknown>>(
  base: string,
  path: string,
  init: { method?: string; json?: unknown; headers?: Record<string, string>; token?: string } = {},
): Promise<{ status: number; node: string | null; body: T }> {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
    headers: {
      authorization: `Bearer ${init.token ?? key}`,
      ...(init.json === undefined ? {} : { 'content-type': 'application/json' }),
      ...init.headers,
    },
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
  });
  const text = await response.text();
  return { status: response.status, node: response.headers.get('x-airlock-node'), body: (text ? JSON.parse(text) : null) as T };
}

const execute = (base: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  call<{ trace_id: string; status: string; stdout: string; stderr: string; error: string | null }>(base, '/v1/sandbox/execute', { json: { language: 'bash', ...body }, headers });

/** An NDJSON response's events as they arrive; `next()` waits for the next one (null at the end). */
function events(response: Response): { next: () => Promise<Record<string, unknown> | null>; cancel: () => Promise<void> } {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  return {
    async next() {
      for (;;) {
        const newline = buffered.indexOf('\n');
        if (newline >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          const event = JSON.parse(line) as Record<string, unknown>;
          if (event.type !== 'keepalive') return event;
          continue;
        }
        const { done, value } = await reader.read();
        if (done) return null;
        buffered += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}

/** Whether a sandbox runs `sleep` (the processes of the sandbox uid are listed as `<pid> <name> state=...`). */
const sleeping = (): boolean => processesOfUid(uid).some((line) => line.split(' ')[1] === 'sleep');

async function listedNodes(): Promise<Array<{ id: string; url: string | null; draining: boolean }>> {
  return database.query('SELECT id, url, draining FROM nodes ORDER BY id');
}

beforeAll(async () => {
  [postgres, s3, receiver] = await Promise.all([startPostgres(), startStorageEmulator('s3'), startWebhookReceiver()]);
  // The first node migrates the database and registers the bootstrap key; the others join it.
  await startNode('node-a');
  await Promise.all([startNode('node-b'), startNode('node-c')]);
  balancer = await startNginxBalancer([...nodes.values()].map((entry) => new URL(entry.url).host));
  database = await openDatabase({ url: postgres.url });
}, 240_000);

afterAll(async () => {
  await database?.close();
  await balancer?.close();
  for (const entry of nodes.values()) {
    if (entry.child.exitCode === null && entry.child.signalCode === null) {
      entry.child.kill('SIGTERM');
      await waitForExit(entry.child);
    }
    await rm(entry.dataDirectory, { recursive: true, force: true });
  }
  await receiver?.close();
  await s3?.remove();
  await postgres?.stop();
});

describe('three nodes behind a load balancer', () => {
  it('each node is listed with where the others reach it, and the balancer spreads calls over all three', async () => {
    expect(await listedNodes()).toEqual(
      ['node-a', 'node-b', 'node-c'].map((id) => ({ id, url: node(id).url, draining: false })),
    );
    const listed = await call<{ nodes: Array<{ id: string; url: string | null; draining: boolean; this_node: boolean }> }>(node('node-b').url, '/admin/v1/nodes', { token: adminToken });
    // Oldest first: node-b and node-c started together, in either order.
    const byId = [...listed.body.nodes].sort((left, right) => left.id.localeCompare(right.id));
    expect(byId.map(({ id, url, draining, this_node }) => ({ id, url, draining, this_node }))).toEqual(
      ['node-a', 'node-b', 'node-c'].map((id) => ({ id, url: node(id).url, draining: false, this_node: id === 'node-b' })),
    );
    // Each node counts the others at its next beat.
    const nodeMetrics = async (id: string) => (await (await fetch(`${node(id).url}/metrics`)).text()).split('\n').filter((line) => line.startsWith('airlock_node'));
    expect(await until(async () => (await nodeMetrics('node-a')).includes('airlock_nodes_active 3'), 5_000)).toBe(true);
    expect(await nodeMetrics('node-a')).toEqual(['airlock_nodes_active 3', 'airlock_node_draining 0']);
    const answeredBy = new Set<string | null>();
    for (let i = 0; i < 6; i += 1) answeredBy.add((await call(balancer.url, '/readyz')).node);
    expect([...answeredBy].sort()).toEqual(['node-a', 'node-b', 'node-c']);
  });

  it("a thread's calls land on different nodes and each sees the home the previous one left", async () => {
    const counted: Array<{ stdout: string; node: string | null }> = [];
    for (let i = 0; i < 4; i += 1) {
      const result = await execute(balancer.url, { thread_id: 'shared-home', code: 'n=$(cat count 2>/dev/null || echo 0); echo $((n + 1)) | tee count' });
      expect(result.status).toBe(200);
      counted.push({ stdout: result.body.stdout, node: result.node });
    }
    expect(counted.map((entry) => entry.stdout)).toEqual(['1\n', '2\n', '3\n', '4\n']);
    expect(new Set(counted.map((entry) => entry.node)).size).toBe(3);
  });

  it('concurrent calls on one thread through different nodes: exactly one runs, the others get 409', async () => {
    const results = await Promise.all(
      ['node-a', 'node-b', 'node-c'].map((id) => execute(node(id).url, { thread_id: 'contended', code: 'sleep 2; echo ran' })),
    );
    expect(results.map((result) => result.status).sort()).toEqual([200, 409, 409]);
    expect(results.find((result) => result.status === 200)?.body.stdout).toBe('ran\n');
    expect(results.filter((result) => result.status === 409).map((result) => result.body.error)).toEqual(['thread_busy', 'thread_busy']);
  });

  it('the output of a run on one node is followed live from another, and a cancel sent to a third stops it', async () => {
    const started = await fetch(`${node('node-a').url}/v1/sandbox/execute`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/x-ndjson' },
      body: JSON.stringify({ language: 'bash', code: 'echo first; sleep 60; echo never' }),
    });
    const stream = events(started);
    const status = await stream.next();
    const traceId = status?.trace_id as string;
    expect(traceId).toMatch(/^trc_/);
    expect(await stream.next()).toMatchObject({ type: 'output', data: 'first\n' });

    // node-c does not run it: it relays node-a's live events, from the start.
    const followed = events(
      await fetch(`${node('node-c').url}/v1/executions/${traceId}/output`, { headers: { authorization: `Bearer ${key}` } }),
    );
    expect(await followed.next()).toMatchObject({ type: 'status', status: 'running', seq: 0 });
    expect(await followed.next()).toMatchObject({ type: 'output', data: 'first\n', seq: 1 });

    const cancelled = await call<{ trace_id: string; status: string }>(node('node-b').url, `/v1/executions/${traceId}/cancel`, { method: 'POST' });
    expect(cancelled).toMatchObject({ status: 200, node: 'node-b', body: { trace_id: traceId, status: 'cancelled' } });
    expect(await stream.next()).toMatchObject({ type: 'result', status: 'cancelled' });
    expect(await followed.next()).toMatchObject({ type: 'result', status: 'cancelled' });
    expect(await followed.next()).toBeNull();
    const record = await call<{ status: string; stdout: string }>(node('node-c').url, `/v1/executions/${traceId}`);
    expect(record.body).toMatchObject({ status: 'cancelled', stdout: 'first\n' });
  });

  it('calls between nodes need the deployment key: a forged or missing signature is refused', async () => {
    const path = '/internal/v1/executions/trc_00000000000000000000/cancel?organization_id=org_x';
    const missing = await call(node('node-a').url, path, { method: 'POST' });
    expect(missing.status).toBe(401);
    const forged = await call(node('node-a').url, path, { method: 'POST', headers: { 'x-airlock-node-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}` } });
    expect(forged).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
  });

  it('webhook executions accepted by every node are delivered', async () => {
    const before = receiver.received.length;
    const accepted = [];
    for (let i = 0; i < 3; i += 1) {
      accepted.push(await execute(balancer.url, { code: `echo hook-${i}`, webhook_url: receiver.url }, { prefer: 'respond-async' }));
    }
    expect(accepted.map((result) => result.status)).toEqual([202, 202, 202]);
    expect(new Set(accepted.map((result) => result.node)).size).toBe(3);
    const delivered = (await receiver.waitFor(before + 3)).slice(before).map((request) => JSON.parse(request.body) as { stdout: string });
    expect(delivered.map((payload) => payload.stdout).sort()).toEqual(['hook-0\n', 'hook-1\n', 'hook-2\n']);
  });

  it('a volume and a bucket of its own written through one node are read through the others', async () => {
    const admin = (path: string, json: unknown) => call<{ id: string }>(balancer.url, path, { json, token: adminToken });
    expect((await admin('/admin/v1/volumes', { name: 'Shared', slug: 'shared' })).status).toBe(201);
    expect((await admin('/admin/v1/sandboxes/default/attachments', { volume: 'shared' })).status).toBe(201);
    // The deployment's bucket, below a prefix of its own, as a customer's bucket (BYOB) mounted at /data/bucket.
    const bucket = await admin('/admin/v1/storage-connections', { name: 'own bucket', mount_name: 'bucket', ...s3.connection, prefix: 'customer' });
    expect(bucket.status).toBe(201);
    expect((await admin('/admin/v1/sandboxes/default/attachments', { connection: bucket.body.id })).status).toBe(201);
    const written = await execute(node('node-a').url, { code: 'echo "from node-a" > /data/shared/note.txt; echo "in the bucket" > /data/bucket/note.txt' });
    expect(written.body).toMatchObject({ status: 'success', stderr: '' });
    expect((await s3.get('customer/note.txt'))?.toString()).toBe('in the bucket\n');
    for (const id of ['node-b', 'node-c']) {
      const read = await execute(node(id).url, { code: 'cat /data/shared/note.txt /data/bucket/note.txt' });
      expect(read.body).toMatchObject({ stderr: '', stdout: 'from node-a\nin the bucket\n' });
    }
  });

  it("the rate limit holds across nodes: each node takes its third of a key's allowance", async () => {
    const created = await call<{ key: string }>(balancer.url, '/admin/v1/api-keys', { json: { name: 'rated', sandbox: 'default' }, token: adminToken });
    const rated = created.body.key;
    const answers = [];
    const started = performance.now();
    for (let i = 0; i < RATE_LIMIT_PER_MINUTE + 60; i += 1) answers.push(await call(balancer.url, '/v1/executions/trc_00000000000000000000', { token: rated }));
    const seconds = (performance.now() - started) / 1000;
    const accepted = answers.filter((answer) => answer.status === 404).length;
    // The three buckets together refill at the allowance per minute while the requests are sent (one more per node for
    // the rounding of a bucket's fractional tokens).
    expect(accepted).toBeGreaterThanOrEqual(RATE_LIMIT_PER_MINUTE);
    expect(accepted).toBeLessThanOrEqual(RATE_LIMIT_PER_MINUTE + Math.ceil((seconds * RATE_LIMIT_PER_MINUTE) / 60) + 3);
    expect(new Set(answers.filter((answer) => answer.status === 429).map((answer) => answer.node)).size).toBe(3);
  });
});

describe('a node that stops', () => {
  it('killed mid-run: another node fails its execution, frees its thread and delivers its webhook', async () => {
    const before = receiver.received.length;
    await execute(balancer.url, { thread_id: 'survivor', code: 'echo kept > state' });
    const accepted = await execute(node('node-c').url, { thread_id: 'survivor', code: 'echo lost > state; sleep 120', webhook_url: receiver.url }, { prefer: 'respond-async' });
    expect(accepted.status).toBe(202);
    expect(await until(() => sleeping(), 10_000)).toBe(true);
    node('node-c').child.kill('SIGKILL');
    await waitForExit(node('node-c').child);

    const failedAt = Date.now();
    expect(
      await until(async () => (await call<{ status: string }>(balancer.url, `/v1/executions/${accepted.body.trace_id}`)).body.status === 'failed', 15_000),
    ).toBe(true);
    // Three missed beats, then the next beat of a live node.
    expect(Date.now() - failedAt).toBeLessThan((4 * HEARTBEAT_SECONDS + 3) * 1000);
    const record = await call<{ error: string; error_message: string }>(balancer.url, `/v1/executions/${accepted.body.trace_id}`);
    expect(record.body.error_message).toMatch(/the server node running this execution stopped/);
    expect((await listedNodes()).map((entry) => entry.id)).toEqual(['node-a', 'node-b']);

    const after = await execute(balancer.url, { thread_id: 'survivor', code: 'cat state' });
    expect(after.body).toMatchObject({ status: 'success', stdout: 'kept\n' });
    const [delivered] = (await receiver.waitFor(before + 1)).slice(before).map((request) => JSON.parse(request.body) as { trace_id: string; status: string });
    expect(delivered).toMatchObject({ trace_id: accepted.body.trace_id, status: 'failed' });
    expect(await until(() => !sleeping(), 5_000)).toBe(true);

    // Started again on its data directory, it detaches what the killed process left and joins the others.
    const restarted = await startNode('node-c', node('node-c').dataDirectory);
    expect((await listedNodes()).map((entry) => entry.id)).toEqual(['node-a', 'node-b', 'node-c']);
    expect((await execute(restarted.url, { thread_id: 'survivor', code: 'cat state' })).body).toMatchObject({ status: 'success', stdout: 'kept\n' });
  });

  it('SIGTERM drains a node: not ready, no new call, its running call finishes, then it leaves', async () => {
    const b = node('node-b');
    const running = execute(b.url, { code: 'sleep 3; echo finished' });
    expect(await until(() => sleeping(), 10_000)).toBe(true);
    b.child.kill('SIGTERM');
    expect(await until(async () => (await call(b.url, '/readyz')).status === 503, 5_000)).toBe(true);
    expect((await call<{ checks: Record<string, boolean> }>(b.url, '/readyz')).body.checks).toMatchObject({ accepting: false });
    expect(await listedNodes()).toContainEqual({ id: 'node-b', url: b.url, draining: true });
    expect(await (await fetch(`${b.url}/metrics`)).text()).toMatch(/^airlock_node_draining 1$/m);
    const refused = await execute(b.url, { code: 'echo new' });
    expect(refused).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    // Through the balancer, a client that retries a 503 as told has its call run by the other node.
    let elsewhere = await execute(balancer.url, { code: 'echo elsewhere' });
    if (elsewhere.status === 503) elsewhere = await execute(balancer.url, { code: 'echo elsewhere' });
    expect(elsewhere).toMatchObject({ status: 200, node: 'node-a', body: { stdout: 'elsewhere\n' } });

    expect(await running).toMatchObject({ status: 200, body: { status: 'success', stdout: 'finished\n' } });
    expect(await waitForExit(b.child)).toBe(0);
    expect((await listedNodes()).map((entry) => entry.id)).toEqual(['node-a', 'node-c']);
    expect((await execute(balancer.url, { code: 'echo last' })).body).toMatchObject({ status: 'success', stdout: 'last\n' });
  });
});
