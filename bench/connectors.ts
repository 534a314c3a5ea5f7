/**
 * Connectors (docs/benchmarks.md, section 14; docs/decisions/0028-connectors.md), in one run on one warm server, against
 * a PostgreSQL server in a network namespace this benchmark makes (test/support):
 *
 *   npx vite-node bench/connectors.ts [--iterations 100]
 *
 * - overhead_ms and client wall time p50 of python `print(1)` with the default sandbox config (`blocked`, no
 *   connector), one with a PostgreSQL connector and one with six connectors (PostgreSQL, MySQL, Redis, MongoDB,
 *   GitHub, an HTTP API; only PostgreSQL answers), interleaved call by call;
 * - `select 1` through psql from a sandbox with the connector, and the same psql command from the host;
 * - a call printing 4 MiB in 64 KiB lines with and without secrets to redact (client wall time, streamed).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageStore } from '@airlock/runtime';
import { findPostgresBinaryDirectory } from '../test/support/postgres-server.js';
import { startPostgresInNamespace } from '../test/support/connector-servers.js';
import { createNetworkTopology } from '../test/support/network-topology.js';
import { benchServerConfig, post, startBenchServer } from './airlock-server.js';
import { percentile } from './percentiles.js';
import { hitRate, interleavedCalls } from './pool-probe.js';
import { PYTHON_REQUEST, progress } from './server-runs.js';
import { formatMs } from './units.js';

const COMMAND = 'npx vite-node bench/connectors.ts';
/** Long enough for the pool to start the call's replacement before the next call. */
const PAUSE_MS = 300;
const PSQL_QUERIES = 50;
const PRINT_CALLS = 10;
const PRINT_PROGRAM = 'import sys\nline = "x" * 65535 + "\\n"\nfor _ in range(64): sys.stdout.write(line)';

async function run(iterations: number): Promise<string> {
  const repository = fileURLToPath(new URL('..', import.meta.url));
  const imagesDirectory = resolve(repository, '.cache/images');
  await new ImageStore({ directory: imagesDirectory }).ensure('default', (line) => progress(`[image] ${line}`));
  const topology = await createNetworkTopology();
  const postgres = await startPostgresInNamespace({ namespace: topology.namespaces.internet, address: topology.serverAddresses.internet });
  const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-bench-'));
  const server = await startBenchServer(
    benchServerConfig({
      dataDirectory,
      imagesDirectory,
      warmPool: true,
      environment: { AIRLOCK_NETWORK: 'on', AIRLOCK_NETWORK_SUBNET: '10.219', AIRLOCK_NETWORK_DNS: topology.dns },
    }),
  );
  const loadAverages = [loadavg()[0]!];
  try {
    const admin = (path: string, body: unknown) => post(server, path, server.adminToken, body);
    const warehouse = { type: 'postgresql', host: postgres.host, port: postgres.port, database: postgres.database, user: postgres.user, password: postgres.password };
    const others = [
      { name: 'shop', type: 'mysql', host: '198.51.100.21', user: 'agent', password: 'mysql-password-1', tls: false },
      { name: 'cache', type: 'redis', host: '198.51.100.22', password: 'redis-password-1' },
      { name: 'docs', type: 'mongodb', host: '198.51.100.23', database: 'app', user: 'agent', password: 'mongo-password-1' },
      { name: 'code', type: 'github', token: 'ghp_benchmarktoken0001' },
      { name: 'service', type: 'http_api', base_url: 'http://198.51.100.24:8080', env_var: 'SERVICE_API_KEY', api_key: 'service-key-0001' },
    ];
    await admin('/admin/v1/connectors', { name: 'warehouse', ...warehouse });
    for (const connector of others) await admin('/admin/v1/connectors', connector);
    await admin('/admin/v1/sandboxes', { name: 'one' });
    await admin('/admin/v1/sandboxes/one/connectors', { connector: 'warehouse' });
    await admin('/admin/v1/sandboxes', { name: 'six' });
    for (const name of ['warehouse', ...others.map((connector) => connector.name)]) await admin('/admin/v1/sandboxes/six/connectors', { connector: name });
    const one = (await admin('/admin/v1/api-keys', { name: 'one', sandbox: 'one' })).key as string;
    const six = (await admin('/admin/v1/api-keys', { name: 'six', sandbox: 'six' })).key as string;
    const call = async (key: string, body: Record<string, unknown> = PYTHON_REQUEST) =>
      (await post(server, '/v1/sandbox/execute', key, body)) as { overhead_ms: number; stdout: string; stdout_truncated: boolean };

    progress(`overhead: ${iterations} interleaved python calls without connectors, with one and with six`);
    const series = { none: server.apiKey, one, six };
    const { overhead, wall, pool } = await interleavedCalls(
      server,
      { none: () => call(server.apiKey), one: () => call(one), six: () => call(six) },
      { iterations, pauseMs: PAUSE_MS },
    );
    loadAverages.push(loadavg()[0]!);

    progress(`psql: ${PSQL_QUERIES} "select 1" from a sandbox through the connector and from the host`);
    const timed = `for i in $(seq ${PSQL_QUERIES}); do s=$(date +%s%N); psql -XAtc "select 1" >/dev/null || exit 1; e=$(date +%s%N); echo $(( (e - s) / 1000 )); done`;
    const inSandbox = (await call(one, { language: 'bash', code: timed })).stdout.trim().split('\n').map((micros) => Number(micros) / 1000);
    const hostPsql = join(findPostgresBinaryDirectory(), 'psql');
    const fromHost = execFileSync('bash', ['-c', timed.replaceAll('psql -XAtc', `${hostPsql} -XAtc`)], {
      env: { ...process.env, PGHOST: postgres.host, PGPORT: String(postgres.port), PGDATABASE: postgres.database, PGUSER: postgres.user, PGPASSWORD: postgres.password },
    })
      .toString()
      .trim()
      .split('\n')
      .map((micros) => Number(micros) / 1000);

    progress(`output: ${PRINT_CALLS} calls printing 4 MiB, without and with secrets to redact`);
    const printed = { none: [] as number[], six: [] as number[] };
    for (let round = 0; round < PRINT_CALLS; round++) {
      for (const name of ['none', 'six'] as const) {
        const started = performance.now();
        await call(series[name], { language: 'python', code: PRINT_PROGRAM });
        printed[name].push(performance.now() - started);
        await sleep(PAUSE_MS);
      }
    }
    loadAverages.push(loadavg()[0]!);

    const p50 = (samples: number[]) => percentile(samples, 50);
    return [
      `Command: \`${COMMAND} --iterations ${iterations}\`; 1-minute load average ${loadAverages.map((value) => value.toFixed(2)).join(', ')} (start, after the calls, at the end).`,
      '',
      '| metric | value |',
      '| --- | --- |',
      `| overhead_ms p50, python \`print(1)\`, no connector (${overhead.none.length} calls) | ${formatMs(p50(overhead.none))} |`,
      `| overhead_ms p50, one PostgreSQL connector (${overhead.one.length} calls) | ${formatMs(p50(overhead.one))} |`,
      `| one connector - none, p50 | ${formatMs(p50(overhead.one) - p50(overhead.none))} |`,
      `| overhead_ms p50, six connectors (${overhead.six.length} calls) | ${formatMs(p50(overhead.six))} |`,
      `| six connectors - none, p50 | ${formatMs(p50(overhead.six) - p50(overhead.none))} |`,
      `| client wall time p50, no connector | ${formatMs(p50(wall.none))} |`,
      `| client wall time p50, one connector (the receipt read included) | ${formatMs(p50(wall.one))} |`,
      `| client wall time p50, six connectors | ${formatMs(p50(wall.six))} |`,
      `| warm pool hits over the three series | ${Math.round(hitRate(pool) * 100)}% |`,
      `| psql \`select 1\` through the connector, from a sandbox, p50 (${inSandbox.length}) | ${formatMs(p50(inSandbox))} |`,
      `| the same psql from the host, p50 | ${formatMs(p50(fromHost))} |`,
      `| sandbox / host | ${(p50(inSandbox) / p50(fromHost)).toFixed(2)}x |`,
      `| a call printing 4 MiB, no secret to redact, client wall p50 (${PRINT_CALLS}) | ${formatMs(p50(printed.none))} |`,
      `| the same with six connectors' secrets redacted, p50 | ${formatMs(p50(printed.six))} |`,
      `| with / without | ${(p50(printed.six) / p50(printed.none)).toFixed(2)}x |`,
    ].join('\n');
  } finally {
    await server.close();
    await postgres.stop();
    await rm(dataDirectory, { recursive: true, force: true });
    await topology.remove();
  }
}

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '100' } } });
process.stdout.write(`${await run(Number(values.iterations))}\n`);
