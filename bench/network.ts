/**
 * Sandboxes with network (docs/benchmarks.md, section 11; docs/decisions/0020-sandbox-network.md), in one run on one
 * warm server, against an "internet" host in a network namespace this benchmark makes (test/support):
 *
 *   npx vite-node bench/network.ts [--iterations 100]
 *
 * - overhead_ms and client wall time p50 of python `print(1)` with an `unrestricted` sandbox config, an `allowlist`
 *   one and the default `blocked` one, interleaved call by call;
 * - a plain HTTP GET (a new TCP connection each, by address) from inside a sandbox and from the host, by the same
 *   python program; an HTTPS GET by name from an `unrestricted` sandbox and from an `allowlist` one (through the
 *   allowlist proxy);
 * - how fast slots' networks are wired (namespace, veth, addresses, shaping, resolver), one after another.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageStore } from '@airlock/runtime';
import { SandboxNetworks } from '../packages/runtime/src/network/sandbox-networks.js';
import { createNetworkTopology } from '../test/support/network-topology.js';
import { benchServerConfig, post, startBenchServer } from './airlock-server.js';
import { percentile } from './percentiles.js';
import { hitRate, interleavedCalls } from './pool-probe.js';
import { PYTHON_REQUEST, progress } from './server-runs.js';
import { formatMs } from './units.js';

const COMMAND = 'npx vite-node bench/network.ts';
const GETS_PER_CALL = 50;
const WIRED_SLOTS = 30;
/** Long enough for the pool to wire and start the call's replacement before the next call. */
const PAUSE_MS = 300;

/** MemAvailable of /proc/meminfo. */
async function availableMemoryKiB(): Promise<number> {
  return Number(/^MemAvailable:\s+(\d+) kB/m.exec(await readFile('/proc/meminfo', 'utf8'))?.[1]);
}

const SANDBOX_GETS = (host: string) =>
  [
    'import socket, time',
    'times = []',
    `for _ in range(${GETS_PER_CALL}):`,
    '    started = time.monotonic()',
    `    with socket.create_connection(("${host}", 8080)) as connection:`,
    '        connection.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")',
    '        while connection.recv(65536): pass',
    '    times.append((time.monotonic() - started) * 1000)',
    'print(" ".join("%.3f" % t for t in times))',
  ].join('\n');

/** GETs of https://web.test.example/ on a new connection each, verified with the test CA. */
const SANDBOX_HTTPS_GETS = (caCertificate: string) =>
  [
    'import socket, ssl, time',
    `open("/tmp/ca.pem", "w").write(${JSON.stringify(caCertificate)})`,
    'context = ssl.create_default_context(cafile="/tmp/ca.pem")',
    'times = []',
    `for _ in range(${GETS_PER_CALL}):`,
    '    started = time.monotonic()',
    '    with context.wrap_socket(socket.create_connection(("web.test.example", 443)), server_hostname="web.test.example") as connection:',
    '        connection.sendall(b"GET / HTTP/1.0\\r\\nHost: web.test.example\\r\\n\\r\\n")',
    '        while connection.recv(65536): pass',
    '    times.append((time.monotonic() - started) * 1000)',
    'print(" ".join("%.3f" % t for t in times))',
  ].join('\n');

async function run(iterations: number): Promise<string> {
  const repository = fileURLToPath(new URL('..', import.meta.url));
  const imagesDirectory = resolve(repository, '.cache/images');
  await new ImageStore({ directory: imagesDirectory }).ensure('default', (line) => progress(`[image] ${line}`));
  const topology = await createNetworkTopology();
  const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-bench-'));
  const config = benchServerConfig({
    dataDirectory,
    imagesDirectory,
    warmPool: true,
    environment: { AIRLOCK_NETWORK_SUBNET: '10.217', AIRLOCK_NETWORK_DNS: topology.dns },
  });
  const server = await startBenchServer(config);
  const loadAverages = [loadavg()[0]!];
  try {
    await post(server, '/admin/v1/sandboxes', server.adminToken, { name: 'online', network: 'unrestricted' });
    const online = (await post(server, '/admin/v1/api-keys', server.adminToken, { name: 'online', sandbox: 'online' })).key as string;
    await post(server, '/admin/v1/sandboxes', server.adminToken, { name: 'listed', network: 'allowlist', network_allow: ['web.test.example'] });
    const listed = (await post(server, '/admin/v1/api-keys', server.adminToken, { name: 'listed', sandbox: 'listed' })).key as string;
    const call = async (key: string, code = PYTHON_REQUEST.code) =>
      (await post(server, '/v1/sandbox/execute', key, { language: 'python', code })) as { overhead_ms: number; stdout: string };

    progress(`overhead: ${iterations} interleaved python calls per network mode`);
    const { overhead, wall, pool } = await interleavedCalls(
      server,
      { blocked: () => call(server.apiKey), unrestricted: () => call(online), allowlist: () => call(listed) },
      { iterations, pauseMs: PAUSE_MS },
    );
    loadAverages.push(loadavg()[0]!);

    progress(`HTTP GET: ${GETS_PER_CALL} from a sandbox and from the host`);
    const inSandbox = (await call(online, SANDBOX_GETS(topology.internet))).stdout.trim().split(' ').map(Number);
    // The same python program on the host, so both sides use the same client.
    const fromHost = execFileSync('python3', ['-c', SANDBOX_GETS(topology.internet)]).toString().trim().split(' ').map(Number);
    progress(`HTTPS GET: ${GETS_PER_CALL} from an unrestricted sandbox and from an allowlist one`);
    const httpsDirect = (await call(online, SANDBOX_HTTPS_GETS(topology.caCertificate))).stdout.trim().split(' ').map(Number);
    const httpsProxied = (await call(listed, SANDBOX_HTTPS_GETS(topology.caCertificate))).stdout.trim().split(' ').map(Number);

    progress(`wiring: ${WIRED_SLOTS} slot networks one after another`);
    const networks = new SandboxNetworks({
      tag: 'be5c',
      subnet: '10.218',
      megabitsPerSecond: (cpus) => 200 * cpus,
      dnsUpstream: [topology.dns],
      stateDirectory: dataDirectory,
    });
    await networks.start();
    await (await networks.wire(1, 'unrestricted')).release(); // the host's table and forwarding, once
    const availableBefore = await availableMemoryKiB();
    const wiringStarted = performance.now();
    const slots = [];
    for (let slot = 0; slot < WIRED_SLOTS; slot++) slots.push(await networks.wire(1, 'unrestricted'));
    const wiringMs = performance.now() - wiringStarted;
    await sleep(1000);
    const perSlotKiB = (availableBefore - (await availableMemoryKiB())) / WIRED_SLOTS;
    for (const slot of slots) await slot.release();
    await networks.close();
    loadAverages.push(loadavg()[0]!);

    const p50 = (samples: number[]) => percentile(samples, 50);
    return [
      `Command: \`${COMMAND} --iterations ${iterations}\`; 1-minute load average ${loadAverages.map((value) => value.toFixed(2)).join(', ')} (start, after the calls, at the end).`,
      '',
      '| metric | value |',
      '| --- | --- |',
      `| overhead_ms p50, python \`print(1)\`, \`blocked\` (${overhead.blocked.length} calls) | ${formatMs(p50(overhead.blocked))} |`,
      `| overhead_ms p50, python \`print(1)\`, \`unrestricted\` (${overhead.unrestricted.length} calls) | ${formatMs(p50(overhead.unrestricted))} |`,
      `| unrestricted - blocked, p50 | ${formatMs(p50(overhead.unrestricted) - p50(overhead.blocked))} |`,
      `| overhead_ms p50, python \`print(1)\`, \`allowlist\` of one name (${overhead.allowlist.length} calls) | ${formatMs(p50(overhead.allowlist))} |`,
      `| allowlist - blocked, p50 | ${formatMs(p50(overhead.allowlist) - p50(overhead.blocked))} |`,
      `| client wall time p50, \`blocked\` | ${formatMs(p50(wall.blocked))} |`,
      `| client wall time p50, \`unrestricted\` (the receipt read included) | ${formatMs(p50(wall.unrestricted))} |`,
      `| client wall time p50, \`allowlist\` | ${formatMs(p50(wall.allowlist))} |`,
      `| warm pool hits over the three series | ${Math.round(hitRate(pool) * 100)}% |`,
      `| HTTP GET on a new connection, from a sandbox, p50 | ${formatMs(p50(inSandbox))} |`,
      `| the same GET from the host, p50 | ${formatMs(p50(fromHost))} |`,
      `| sandbox / host | ${(p50(inSandbox) / p50(fromHost)).toFixed(2)}x |`,
      `| HTTPS GET by name on a new connection, \`unrestricted\` sandbox, p50 | ${formatMs(p50(httpsDirect))} |`,
      `| the same GET from an \`allowlist\` sandbox (through the proxy), p50 | ${formatMs(p50(httpsProxied))} |`,
      `| allowlist / unrestricted | ${(p50(httpsProxied) / p50(httpsDirect)).toFixed(2)}x |`,
      `| slot networks wired one after another | ${(WIRED_SLOTS / (wiringMs / 1000)).toFixed(1)}/s (${formatMs(wiringMs / WIRED_SLOTS)} each) |`,
      `| host memory per wired slot network (MemAvailable, ${WIRED_SLOTS} slots) | ${Math.round(perSlotKiB)} KiB |`,
    ].join('\n');
  } finally {
    await server.close();
    await rm(dataDirectory, { recursive: true, force: true });
    await topology.remove();
  }
}

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '100' } } });
process.stdout.write(`${await run(Number(values.iterations))}\n`);
