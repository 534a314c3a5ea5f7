/**
 * Several server nodes on one PostgreSQL and one S3-compatible store behind nginx (docs/benchmarks.md, section 18;
 * docs/decisions/0032-server-nodes.md):
 *
 *   npm run build && npx vite-node bench/multi-node.ts [--seconds 20] [--samples 40] [--images-dir .cache/images]
 *
 * - Throughput: python `print(1)` calls at concurrency 8 through the balancer with 1, 2 and 3 nodes (each an
 *   `airlock serve` process). The nodes share this machine's cores, so the ratio shows what coordination costs
 *   (heartbeats, the shared database, one warm pool per node), not scaling.
 * - Threads: a call on a thread whose previous call ran on the same node, against one whose previous call ran on
 *   another node (which fetches the thread's newest layer from the bucket), interleaved; p50 each, with a call
 *   without a thread as the baseline. Each call changes one small file of a home holding a 1 MB file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startNginxBalancer, type NginxBalancer } from '../test/support/nginx-balancer.js';
import { startPostgres, type PostgresServer } from '../test/support/postgres-server.js';
import { startStorageEmulator, type StorageEmulator } from '../test/support/storage-emulators.js';
import { percentile } from './percentiles.js';
import { formatMs, formatRatio } from './units.js';

const COMMAND = 'npx vite-node bench/multi-node.ts';
const CLI = resolve('packages/cli/dist/main.js');
const CONCURRENCY = 8;
const SANDBOX_ID = 63998;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    samples: { type: 'string', default: '40' },
    'images-dir': { type: 'string', default: '.cache/images' },
  },
});
const seconds = Number(values.seconds);
const samples = Number(values.samples);
const key = `sk-local-${randomBytes(32).toString('base64url')}`;

interface Node {
  url: string;
  child: ChildProcess;
  directory: string;
}

const cleanups: Array<() => Promise<unknown>> = [];

async function startNode(environment: Record<string, string>, id: string): Promise<Node> {
  const directory = await mkdtemp(join(tmpdir(), `airlock-bench-${id}-`));
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', directory], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...environment, AIRLOCK_NODE_ID: id },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Airlock is running at (http:\/\/\S+)/.exec(output);
      if (match?.[1]) resolveUrl(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`node ${id} exited with ${code}:\n${errors}`)));
  });
  const node = { url, child, directory };
  cleanups.push(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(directory, { recursive: true, force: true });
  });
  return node;
}

async function execute(base: string, body: Record<string, unknown>): Promise<{ ms: number; node: string | null; ok: boolean }> {
  const started = performance.now();
  const response = await fetch(`${base}/v1/sandbox/execute`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as { status?: string };
  return { ms: performance.now() - started, node: response.headers.get('x-airlock-node'), ok: response.status === 200 && answer.status === 'success' };
}

/** Calls per second at CONCURRENCY for `seconds`, and how many failed. */
async function throughput(base: string): Promise<{ perSecond: number; failed: number }> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        const result = await execute(base, { language: 'python', code: 'print(1)' });
        if (result.ok) done += 1;
        else failed += 1;
      }
    }),
  );
  return { perSecond: done / ((performance.now() - started) / 1000), failed };
}

async function main(): Promise<void> {
  const [postgres, s3]: [PostgresServer, StorageEmulator] = await Promise.all([startPostgres(), startStorageEmulator('s3')]);
  cleanups.push(() => postgres.stop(), () => s3.remove());
  const connection = s3.connection as { bucket: string; endpoint?: string; access_key_id: string; secret_access_key: string };
  const environment = {
    AIRLOCK_IMAGES_DIR: resolve(values['images-dir']),
    AIRLOCK_NETWORK: 'off',
    DATABASE_URL: postgres.url,
    AIRLOCK_S3_BUCKET: connection.bucket,
    AIRLOCK_S3_ENDPOINT: connection.endpoint ?? '',
    AIRLOCK_S3_FORCE_PATH_STYLE: 'true',
    AIRLOCK_S3_ACCESS_KEY_ID: connection.access_key_id,
    AIRLOCK_S3_SECRET_ACCESS_KEY: connection.secret_access_key,
    AIRLOCK_MASTER_KEY: randomBytes(32).toString('hex'),
    AIRLOCK_URL_SIGNING_KEY: randomBytes(32).toString('hex'),
    AIRLOCK_BOOTSTRAP_API_KEY: key,
    AIRLOCK_SANDBOX_UID: String(SANDBOX_ID),
    AIRLOCK_SANDBOX_GID: String(SANDBOX_ID),
    AIRLOCK_RATE_LIMIT_PER_MINUTE: '1000000',
    AIRLOCK_MAX_CONCURRENT_EXECUTIONS: '1000',
  };
  const nodes: Node[] = [await startNode(environment, 'node-1')];
  const rates: Array<{ nodes: number; perSecond: number; failed: number }> = [];
  for (let count = 1; count <= 3; count += 1) {
    while (nodes.length < count) nodes.push(await startNode(environment, `node-${nodes.length + 1}`));
    const balancer: NginxBalancer = await startNginxBalancer(nodes.map((node) => new URL(node.url).host));
    await throughput(balancer.url).then(() => undefined, () => undefined); // warm-up: pools fill, connections open
    process.stderr.write(`throughput with ${count} node(s)...\n`);
    rates.push({ nodes: count, ...(await throughput(balancer.url)) });
    await balancer.close();
  }

  // Threads: the previous call on the same node, or on another one, interleaved.
  const [first, second] = nodes as [Node, Node];
  const sameNode: number[] = [];
  const otherNode: number[] = [];
  const plain: number[] = [];
  const change = 'import os\nif not os.path.exists("big"): open("big", "wb").write(os.urandom(1 << 20))\nopen("n", "w").write(str(os.getpid()))';
  for (let i = 0; i < samples; i += 1) {
    const thread = `bench-${i}`;
    await execute(first.url, { language: 'python', thread_id: thread, code: change });
    sameNode.push((await execute(first.url, { language: 'python', thread_id: thread, code: change })).ms);
    otherNode.push((await execute(second.url, { language: 'python', thread_id: thread, code: change })).ms);
    plain.push((await execute(first.url, { language: 'python', code: change })).ms);
  }
  const p50 = (values: number[]) => percentile(values, 50);
  const base = rates[0]!.perSecond;
  const lines = [
    `## 18. Several nodes (${COMMAND} --seconds ${seconds} --samples ${samples})`,
    '',
    `python \`print(1)\` at concurrency ${CONCURRENCY} through nginx for ${seconds} s, after a warm-up of the same length:`,
    '',
    '| nodes | calls/s | vs 1 node | failed |',
    '|---|---|---|---|',
    ...rates.map((rate) => `| ${rate.nodes} | ${rate.perSecond.toFixed(1)} | ${formatRatio(rate.perSecond / base)} | ${rate.failed} |`),
    '',
    `A thread call (1 MB home, one small file changed), ${samples} threads, interleaved, end to end:`,
    '',
    '| call | p50 | added vs no thread |',
    '|---|---|---|',
    `| no thread (baseline) | ${formatMs(p50(plain))} | |`,
    `| previous call on the same node | ${formatMs(p50(sameNode))} | ${formatMs(p50(sameNode) - p50(plain))} |`,
    `| previous call on another node | ${formatMs(p50(otherNode))} | ${formatMs(p50(otherNode) - p50(plain))} |`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  });
