/**
 * The fork tier against fresh interpreters, in one run (docs/benchmarks.md, section 19;
 * docs/decisions/0033-fork-tier.md):
 *
 *   npm run build && npx vite-node bench/fork-tier.ts [--seconds 20] [--iterations 100] [--images-dir .cache/images]
 *     [--preload none|<modules>]
 *
 * The raw cold `bwrap python3 -c 'print(1)'` first, then two servers one after the other, each with the default warm
 * pool: one whose default sandbox config starts python fresh, one whose config forks it (`start: fork`). On each:
 * sequential python `print(1)` and `import pandas` (client wall time, and the server's duration_ms), the CPU floor
 * (`chroot python3 -I -S -c pass` in one loop per core) right before its throughput at concurrency 8, so each ratio
 * is against a floor measured next to it on a machine whose speed drifts, server CPU per call, and on the fork
 * server the PSS of its idle ready forks.
 */
import { availableParallelism } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ImageStore } from '@airlock/runtime';
import { benchServerConfig, startBenchServer } from './airlock-server.js';
import { coldBaselines, measureRate, measureSequential } from './baselines.js';
import { execute, runConcurrent, runSequential } from './http-load.js';
import { percentile } from './percentiles.js';
import { pauseUntilWarm } from './pool-probe.js';
import { formatMiB, formatMs, formatRate, formatRatio } from './units.js';

const COMMAND = 'npx vite-node bench/fork-tier.ts';
const CONCURRENCY = 8;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    iterations: { type: 'string', default: '100' },
    'images-dir': { type: 'string', default: '.cache/images' },
    /** AIRLOCK_FORK_PRELOAD of the fork server; the server's default (the data stack) when absent. */
    preload: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const iterations = Number(values.iterations);
const imagesDirectory = resolve(values['images-dir']);

interface Series {
  printP50: number;
  printDurationP50: number;
  pandasP50: number;
  pandasDurationP50: number;
  perSecond: number;
  /** The CPU floor measured right before the throughput run, calls per second. */
  floorPerSecond: number;
  failed: number;
  cpuPerCallSequential: number;
  cpuPerCallConcurrent: number;
  latencyP50: number;
}

async function measureServer(start: 'fresh' | 'fork', floor: () => Promise<number>): Promise<{ series: Series; memory?: ForkMemory }> {
  const directory = await mkdtemp(join(tmpdir(), `airlock-bench-${start}-`));
  const environment: Record<string, string> = values.preload === undefined ? {} : { AIRLOCK_FORK_PRELOAD: values.preload };
  const server = await startBenchServer(benchServerConfig({ dataDirectory: directory, imagesDirectory, warmPool: true, environment }));
  try {
    const response = await fetch(`${server.url}/admin/v1/sandboxes/default`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ start }),
    });
    if (response.status !== 200) throw new Error(`PATCH default sandbox answered ${response.status}: ${await response.text()}`);
    const between = (): Promise<void> => pauseUntilWarm(server, 'python');
    const cpuBefore = process.cpuUsage();
    const print = await runSequential(server, { language: 'python', code: 'print(1)' }, { warmup: 5, iterations, between });
    const cpuSequential = process.cpuUsage(cpuBefore);
    const pandas = await runSequential(server, { language: 'python', code: 'import pandas' }, { warmup: 3, iterations: Math.min(iterations, 30), between });
    const floorPerSecond = await floor();
    const concurrentBefore = process.cpuUsage();
    const load = await runConcurrent(server, { language: 'python', code: 'print(1)' }, { concurrency: CONCURRENCY, seconds });
    const cpuConcurrent = process.cpuUsage(concurrentBefore);
    const succeeded = load.samples.filter((sample) => sample.response?.status === 'success');
    for (const sample of load.samples.filter((entry) => entry.response?.status !== 'success').slice(0, 3)) {
      process.stderr.write(`${start}: a call under load failed (HTTP ${sample.httpStatus}): ${sample.error ?? JSON.stringify(sample.response)}\n`);
    }
    const cpuMs = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / 1000;
    const series: Series = {
      printP50: percentile(print.map((sample) => sample.wallMs), 50),
      printDurationP50: percentile(print.map((sample) => sample.response!.duration_ms), 50),
      pandasP50: percentile(pandas.map((sample) => sample.wallMs), 50),
      pandasDurationP50: percentile(pandas.map((sample) => sample.response!.duration_ms), 50),
      perSecond: succeeded.length / load.elapsedSeconds,
      floorPerSecond,
      failed: load.samples.length - succeeded.length,
      // The sequential figure includes the pauses' pool polling (cheap) and starting each call's replacement.
      cpuPerCallSequential: cpuMs(cpuSequential) / (iterations + 5),
      cpuPerCallConcurrent: cpuMs(cpuConcurrent) / load.samples.length,
      latencyP50: percentile(load.samples.map((sample) => sample.wallMs), 50),
    };
    let memory: ForkMemory | undefined;
    if (start === 'fork') {
      await execute(server, { language: 'python', code: 'pass' });
      await pauseUntilWarm(server, 'python');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      memory = forkMemory(server.sandboxUid);
    }
    return { series, memory };
  } finally {
    await server.close();
    await rm(directory, { recursive: true, force: true });
  }
}

interface ForkMemory {
  readyForks: number;
  /** Mean PSS of one ready fork: its interpreter and its pid 1. */
  perForkKiB: number;
  /** Private (not shared) part of that: what one more ready fork adds. */
  perForkPrivateKiB: number;
  /** The template, its namespace maker and its sandbox's bubblewrap processes. */
  templateKiB: number;
}

function forkMemory(uid: number): ForkMemory {
  const processes = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        const status = readFileSync(`/proc/${entry}/status`, 'utf8');
        if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) !== uid) return [];
        const rollup = readFileSync(`/proc/${entry}/smaps_rollup`, 'utf8');
        const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
        return [{
          pid: Number(entry),
          parent: Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]),
          name: /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '',
          pss: field('Pss'),
          private: field('Private_Clean') + field('Private_Dirty'),
        }];
      } catch {
        return [];
      }
    });
  const byPid = new Map(processes.map((entry) => [entry.pid, entry]));
  const template = processes.find((entry) => entry.name === 'python3' && byPid.get(entry.parent)?.name === 'bwrap' && processes.some((child) => child.parent === entry.pid));
  if (!template) throw new Error('no fork template found among the sandbox user\'s processes');
  const children = processes.filter((entry) => entry.parent === template.pid);
  const maker = children.reduce((first, entry) => (entry.pid < first.pid ? entry : first));
  const interpreters = children.filter((entry) => entry !== maker);
  const pid1s = processes.filter((entry) => entry.parent === maker.pid);
  const bubblewrap = [byPid.get(template.parent)!, byPid.get(byPid.get(template.parent)!.parent)!].filter((entry) => entry?.name === 'bwrap');
  const sum = (entries: typeof processes, key: 'pss' | 'private'): number => entries.reduce((total, entry) => total + entry[key], 0);
  const readyForks = interpreters.length;
  return {
    readyForks,
    perForkKiB: (sum(interpreters, 'pss') + sum(pid1s, 'pss')) / readyForks,
    perForkPrivateKiB: (sum(interpreters, 'private') + sum(pid1s, 'private')) / readyForks,
    templateKiB: template.pss + maker.pss + sum(bubblewrap, 'pss'),
  };
}

async function main(): Promise<void> {
  const store = new ImageStore({ directory: imagesDirectory });
  const image = await store.ensure('default');
  const baselines = coldBaselines({
    rootfs: image.rootfs,
    interpreters: { python: image.manifest.languages.python!.interpreter, node: image.manifest.languages.node!.interpreter },
    bubblewrapPath: '/usr/bin/bwrap',
    sandboxUser: { uid: 63999, gid: 63999 },
  });
  const raw = await measureSequential(baselines.bubblewrapPython, { warmup: 5, iterations });
  const rawP50 = percentile(raw, 50);
  const workers = availableParallelism();
  const floor = (): Promise<number> => measureRate(baselines.pythonFloor, { workers, seconds });
  const fresh = await measureServer('fresh', floor);
  const fork = await measureServer('fork', floor);
  const rows: Array<[string, string, string]> = [
    ['raw cold `bwrap python3 -c print(1)` p50', formatMs(rawP50), ''],
    ['python `print(1)` e2e p50', formatMs(fresh.series.printP50), formatMs(fork.series.printP50)],
    ['python `print(1)` e2e p50 / raw cold bwrap p50 (target <= 0.3x)', formatRatio(fresh.series.printP50 / rawP50), formatRatio(fork.series.printP50 / rawP50)],
    ['python `print(1)` duration_ms p50 (code start to processes gone)', formatMs(fresh.series.printDurationP50), formatMs(fork.series.printDurationP50)],
    ['`import pandas` e2e p50', formatMs(fresh.series.pandasP50), formatMs(fork.series.pandasP50)],
    ['`import pandas` duration_ms p50 (target <= 5 ms with the fork tier)', formatMs(fresh.series.pandasDurationP50), formatMs(fork.series.pandasDurationP50)],
    [`throughput, python print(1) at concurrency ${CONCURRENCY}`, formatRate(fresh.series.perSecond), formatRate(fork.series.perSecond)],
    [
      `CPU floor (${baselines.pythonFloor.name}, ${workers} loops), right before the throughput run`,
      formatRate(fresh.series.floorPerSecond),
      formatRate(fork.series.floorPerSecond),
    ],
    [
      'throughput / CPU floor (targets >= 0.7x fresh, >= 1.0x fork)',
      formatRatio(fresh.series.perSecond / fresh.series.floorPerSecond),
      formatRatio(fork.series.perSecond / fork.series.floorPerSecond),
    ],
    ['latency under load p50', formatMs(fresh.series.latencyP50), formatMs(fork.series.latencyP50)],
    ['failed requests under load', String(fresh.series.failed), String(fork.series.failed)],
    ['server process CPU per call, sequential', formatMs(fresh.series.cpuPerCallSequential), formatMs(fork.series.cpuPerCallSequential)],
    ['server process CPU per call, concurrent', formatMs(fresh.series.cpuPerCallConcurrent), formatMs(fork.series.cpuPerCallConcurrent)],
  ];
  if (fork.memory) {
    rows.push(
      [`PSS per ready fork (interpreter + pid 1), ${fork.memory.readyForks} ready (target <= 2 MiB)`, '', formatMiB(fork.memory.perForkKiB)],
      ['private memory per ready fork (what one more adds)', '', formatMiB(fork.memory.perForkPrivateKiB)],
      ['the template (interpreter, namespace maker, bubblewrap)', '', formatMiB(fork.memory.templateKiB)],
    );
  }
  const preload = values.preload === undefined ? '' : ` --preload ${values.preload}`;
  process.stdout.write(`${COMMAND} --seconds ${seconds} --iterations ${iterations}${preload}\n\n| metric | fresh | fork |\n| --- | --- | --- |\n`);
  for (const [metric, freshValue, forkValue] of rows) process.stdout.write(`| ${metric} | ${freshValue} | ${forkValue} |\n`);
}

await main();
