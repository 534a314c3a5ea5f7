/**
 * Slow clients: the latency of python `print(1)` calls with and without a slowloris load, in one run on one warm
 * server with the default client limits (docs/benchmarks.md, section 10; docs/decisions/0017-slow-clients.md).
 *
 *   npx vite-node bench/slowloris.ts [--connections 200] [--seconds 35] [--rounds 2]
 *
 * Each round measures `seconds` of calls without the load, then `seconds` with it, so whatever else the machine does
 * falls on both alike; 35 s lets the body timeout (30 s) cut the first stalled bodies within each loaded stretch.
 * The stalled connections come from loopback aliases (127.0.0.10, .11, ...), at most 50 per address, so the
 * per-address cap (128) refuses none of them and the timeouts alone must keep the server answering; the measured
 * calls come from 127.0.0.1. Half the stalled connections send part of their headers and then a header line every
 * 5 s; the other half send a whole execute request's headers (with the API key) and 1% of a 1 MiB body, then
 * nothing. A connection the server closes is opened again at once, so the load stays at its size.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageStore } from '@airlock/runtime';
import { benchServerConfig, startBenchServer, type BenchServer } from './airlock-server.js';
import { execute, isSuccess } from './http-load.js';
import { percentile } from './percentiles.js';
import { SEQUENTIAL_PAUSE_MS } from './pool-probe.js';
import { PYTHON_REQUEST, progress } from './server-runs.js';
import { formatMs } from './units.js';

const COMMAND = 'npx vite-node bench/slowloris.ts';
const CONNECTIONS_PER_ADDRESS = 50;
const HEADER_TRICKLE_MS = 5_000;
const BODY_BYTES = 2 ** 20;
const WARMUP_CALLS = 20;

type Kind = 'headers' | 'body';

/** What the stalled connections saw: for each kind, how long each lasted and what, if anything, it was answered. */
interface LoadTally {
  opened: number;
  lifetimesMs: Record<Kind, number[]>;
  answers: Record<string, number>;
}

/** Keeps `connections` stalled connections open against `server` until `stop` is called. */
function startSlowloris(server: BenchServer, connections: number): { stop(): LoadTally } {
  const url = new URL(server.url);
  const tally: LoadTally = { opened: 0, lifetimesMs: { headers: [], body: [] }, answers: {} };
  const sockets = new Set<Socket>();
  let stopped = false;
  const headersHead = `POST /v1/sandbox/execute HTTP/1.1\r\nHost: ${url.host}\r\n`;
  const bodyHead =
    `POST /v1/sandbox/execute HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${server.apiKey}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${BODY_BYTES}\r\n\r\n{"code": "${'#'.repeat(BODY_BYTES / 100)}`;

  const open = (kind: Kind, localAddress: string): void => {
    if (stopped) return;
    const socket = connect({ host: url.hostname, port: Number(url.port), localAddress });
    sockets.add(socket);
    tally.opened++;
    const openedAt = performance.now();
    let answer = 'closed without an answer';
    let trickle: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      socket.write(kind === 'headers' ? headersHead : bodyHead);
      if (kind === 'headers') trickle = setInterval(() => socket.write(`X-Slow-${Date.now()}: 1\r\n`), HEADER_TRICKLE_MS);
    });
    socket.setEncoding('latin1').on('data', (text: string) => {
      answer = text.startsWith('HTTP/1.1 ') ? `HTTP ${text.slice(9, 12)}` : answer;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(trickle);
      sockets.delete(socket);
      if (stopped) return;
      tally.lifetimesMs[kind].push(performance.now() - openedAt);
      tally.answers[`${kind}: ${answer}`] = (tally.answers[`${kind}: ${answer}`] ?? 0) + 1;
      open(kind, localAddress);
    });
  };

  for (let index = 0; index < connections; index++) {
    open(index % 2 === 0 ? 'headers' : 'body', `127.0.0.${10 + Math.floor(index / CONNECTIONS_PER_ADDRESS)}`);
  }
  return {
    stop() {
      stopped = true;
      for (const socket of sockets) socket.destroy();
      return tally;
    },
  };
}

function mergeTallies(tallies: LoadTally[]): LoadTally {
  const merged: LoadTally = { opened: 0, lifetimesMs: { headers: [], body: [] }, answers: {} };
  for (const tally of tallies) {
    merged.opened += tally.opened;
    for (const kind of ['headers', 'body'] as const) merged.lifetimesMs[kind].push(...tally.lifetimesMs[kind]);
    for (const [answer, count] of Object.entries(tally.answers)) merged.answers[answer] = (merged.answers[answer] ?? 0) + count;
  }
  return merged;
}

/** Sequential `print(1)` calls from 127.0.0.1 for `seconds`; every one must succeed. */
async function measureCalls(server: BenchServer, seconds: number): Promise<number[]> {
  const wallMs: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  while (performance.now() < deadline) {
    const sample = await execute(server, PYTHON_REQUEST);
    if (!isSuccess(sample)) throw new Error(`a measured call failed (HTTP ${sample.httpStatus}): ${sample.error}`);
    wallMs.push(sample.wallMs);
    await sleep(SEQUENTIAL_PAUSE_MS);
  }
  return wallMs;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const row = (name: string, samples: number[]) =>
  `| ${name} | ${samples.length} | ${formatMs(percentile(samples, 50))} | ${formatMs(percentile(samples, 95))} | ${formatMs(Math.max(...samples))} |`;

async function run(options: { connections: number; seconds: number; rounds: number }): Promise<string> {
  const repository = fileURLToPath(new URL('..', import.meta.url));
  const imagesDirectory = resolve(repository, '.cache/images');
  await new ImageStore({ directory: imagesDirectory }).ensure('default', (line) => progress(`[image] ${line}`));
  const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-bench-'));
  const config = benchServerConfig({ dataDirectory, imagesDirectory, warmPool: true });
  const server = await startBenchServer(config);
  try {
    for (let call = 0; call < WARMUP_CALLS; call++) await execute(server, PYTHON_REQUEST);
    const quiet: number[] = [];
    const loaded: number[] = [];
    const tallies: LoadTally[] = [];
    const loadAverages = [loadavg()[0]!];
    for (let round = 1; round <= options.rounds; round++) {
      progress(`round ${round}: print(1) calls for ${options.seconds} s without load`);
      quiet.push(...(await measureCalls(server, options.seconds)));
      progress(`round ${round}: print(1) calls for ${options.seconds} s with ${options.connections} stalled connections`);
      const load = startSlowloris(server, options.connections);
      await sleep(1000);
      loaded.push(...(await measureCalls(server, options.seconds)));
      tallies.push(load.stop());
      loadAverages.push(loadavg()[0]!);
    }
    const tally = mergeTallies(tallies);
    const lifetimes = (kind: Kind) =>
      tally.lifetimesMs[kind].length === 0
        ? 'none closed'
        : `${seconds(percentile(tally.lifetimesMs[kind], 50))} p50, ${seconds(Math.max(...tally.lifetimesMs[kind]))} max`;
    const answers = Object.entries(tally.answers)
      .sort()
      .map(([answer, count]) => `${answer} ×${count}`)
      .join('; ');
    const { headersTimeoutSeconds, bodyTimeoutSeconds, maxConnectionsPerAddress } = config.clients;
    return [
      `Command: \`${COMMAND} --connections ${options.connections} --seconds ${options.seconds} --rounds ${options.rounds}\`; ` +
        `limits: headers ${headersTimeoutSeconds} s, body ${bodyTimeoutSeconds} s, ${maxConnectionsPerAddress} connections per address; ` +
        `1-minute load average ${loadAverages.map((average) => average.toFixed(2)).join(', ')} (at the start and after each round).`,
      '',
      '| python `print(1)`, sequential, warm pool | calls | p50 | p95 | max |',
      '| --- | --- | --- | --- | --- |',
      row('without load', quiet),
      row(`with ${options.connections} stalled connections`, loaded),
      '',
      `- Stalled connections opened during the loaded stretches: ${tally.opened} (${options.connections} at a time). ` +
        `How long they lasted: slow headers ${lifetimes('headers')}; slow body ${lifetimes('body')}. ` +
        `What they were answered: ${answers || 'nothing closed yet'}.`,
    ].join('\n');
  } finally {
    await server.close();
    await rm(dataDirectory, { recursive: true, force: true });
  }
}

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '35' },
    rounds: { type: 'string', default: '2' },
  },
});
try {
  if (process.getuid?.() !== 0) throw new Error('run the benchmark as root: the server runs sandboxes in cgroups as another user');
  const options = { connections: Number(values.connections), seconds: Number(values.seconds), rounds: Number(values.rounds) };
  process.stdout.write(`${await run(options)}\n`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
