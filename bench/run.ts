import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImageStore } from '@airlock/runtime';
import type { Config } from '@airlock/server';
import { benchServerConfig, startBenchServer, type BenchServer } from './airlock-server.js';
import { coldBaselines, measureRate, measureSequential, warmUp, type Baseline } from './baselines.js';
import { measureDeliveryModes } from './delivery-runs.js';
import { readMachineFacts } from './machine-facts.js';
import { BENCH_COMMAND, parseOptions, type BenchOptions } from './options.js';
import { summarize, type LatencySummary } from './percentiles.js';
import { buildReport, type BenchResults } from './report.js';
import { renderMarkdown, renderText, standaloneSections } from './report-format.js';
import { SEQUENTIAL_PAUSE_MS } from './pool-probe.js';
import { measureRuntimeWarmStart, startBenchRuntime } from './runtime-runs.js';
import {
  measureBurst,
  measureColdSeries,
  measureRoundTrips,
  measureSlotMemory,
  measureThroughput,
  measureWarmSeries,
  progress,
} from './server-runs.js';
import { formatMs } from './units.js';
import { measureThreads } from './thread-runs.js';

const repository = fileURLToPath(new URL('..', import.meta.url));

/** Above this one-minute load average the machine is not quiet enough for comparable figures. */
const BUSY_LOAD_AVERAGE = 1.0;

/** Steps that undo what the run set up, newest first; each runs once, on success, error or signal. */
const cleanups: Array<() => Promise<void>> = [];

async function cleanUp(): Promise<void> {
  for (const step of cleanups.splice(0).reverse()) {
    await step().catch((error: unknown) => console.error(`cleanup failed: ${String(error)}`));
  }
}

async function measureLatency(
  baseline: Baseline,
  counts: { warmup: number; iterations: number },
): Promise<{ baseline: Baseline; summary: LatencySummary }> {
  progress(`${baseline.name}: ${counts.iterations} runs`);
  const summary = summarize(await measureSequential(baseline, counts));
  progress(`  p50 ${formatMs(summary.p50)}, p99 ${formatMs(summary.p99)}`);
  return { baseline, summary };
}

/** The configuration of a server on a fresh data directory, which the cleanups remove. */
async function serverConfig(options: { imagesDirectory: string; warmPool: boolean }): Promise<Config> {
  const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-bench-'));
  cleanups.push(() => rm(dataDirectory, { recursive: true, force: true }));
  return benchServerConfig({ dataDirectory, ...options });
}

async function startMeasuredServer(config: Config): Promise<BenchServer> {
  progress(`starting the server, warm pool ${config.poolMaxSlots > 0 ? 'on' : 'off'}`);
  const server = await startBenchServer(config);
  cleanups.push(() => server.close());
  return server;
}

/** The warm pool through the runtime API, on a state directory of its own, while no server runs. */
async function measureWithoutServer(
  config: Config,
  counts: { warmup: number; iterations: number },
): Promise<BenchResults['runtimeWarm']> {
  const directory = await mkdtemp(join(tmpdir(), 'airlock-bench-runtime-'));
  cleanups.push(() => rm(directory, { recursive: true, force: true }));
  // bubblewrap, as the sandbox user, reaches the homes below the state directory.
  await chmod(directory, 0o711);
  const runtime = await startBenchRuntime({ config, stateDirectory: join(directory, 'run') });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= runtime.close());
  cleanups.push(close);
  const result = await measureRuntimeWarmStart(runtime, counts);
  await close();
  return result;
}

async function run(argv: string[], options: BenchOptions): Promise<void> {
  const startedAt = performance.now();
  const counts = { warmup: options.warmup, iterations: options.iterations };
  const imagesDirectory = resolve(repository, options.images);
  const image = await new ImageStore({ directory: imagesDirectory }).ensure('default', (line) => progress(`[image] ${line}`));
  const coldConfig = await serverConfig({ imagesDirectory, warmPool: false });
  const warmConfig = await serverConfig({ imagesDirectory, warmPool: true });
  const facts = readMachineFacts({ bubblewrapPath: coldConfig.bwrapPath });
  if (facts.loadAverage > BUSY_LOAD_AVERAGE) {
    progress(`warning: the 1-minute load average is ${facts.loadAverage.toFixed(2)}; whatever else runs skews every figure`);
  }

  // Baselines first, on an otherwise idle process.
  const { python, node } = image.manifest.languages;
  if (!python || !node) throw new Error(`image default ${image.manifest.version} lacks python or node`);
  const baselines = coldBaselines({
    rootfs: image.rootfs,
    interpreters: { python: python.interpreter, node: node.interpreter },
    bubblewrapPath: coldConfig.bwrapPath,
    sandboxUser: { uid: coldConfig.sandboxUid, gid: coldConfig.sandboxGid },
  });
  const latencyBaselines = {
    spawnTrue: await measureLatency(baselines.spawnTrue, counts),
    chrootPython: await measureLatency(baselines.chrootPython, counts),
    chrootNode: await measureLatency(baselines.chrootNode, counts),
    bubblewrapTrue: await measureLatency(baselines.bubblewrapTrue, counts),
    bubblewrapPython: await measureLatency(baselines.bubblewrapPython, counts),
    bubblewrapNode: await measureLatency(baselines.bubblewrapNode, counts),
  };

  // The cold server first, then the warm one: never both at once.
  const residentMiBBefore = process.memoryUsage().rss / 2 ** 20;
  const coldServer = await startMeasuredServer(coldConfig);
  const serverProcess = {
    residentMiBBefore,
    residentMiBAfter: process.memoryUsage().rss / 2 ** 20,
    spawnTrue: (await measureLatency(baselines.spawnTrue, counts)).summary,
  };
  const cold = await measureColdSeries(coldServer, counts);
  await coldServer.close();
  const runtimeWarm = await measureWithoutServer(warmConfig, counts);

  const warmServer = await startMeasuredServer(warmConfig);
  const roundTrips = await measureRoundTrips(warmServer, counts);
  const warm = await measureWarmSeries(warmServer, counts);
  const deliveryModes = await measureDeliveryModes(warmServer, counts);
  // The floor right before the throughput run, with the warm server idle: this machine's speed drifts within minutes.
  const floorWorkers = availableParallelism();
  progress(`CPU floor: ${floorWorkers} parallel loops of ${baselines.pythonFloor.name} for ${options.seconds} s`);
  await warmUp(baselines.pythonFloor, options.warmup);
  const floorPerSecond = await measureRate(baselines.pythonFloor, { workers: floorWorkers, seconds: options.seconds });
  const throughput = await measureThroughput(warmServer, options.seconds);
  const burst = await measureBurst(warmServer, options.burst);
  const slotMemory = await measureSlotMemory(warmServer, Object.fromEntries(Object.entries(image.manifest.languages).map(([language, entry]) => [language, entry.interpreter])));
  progress(`thread homes: ${counts.iterations} rounds of an ephemeral call and calls on a small and a 50 MiB home`);
  const threads = await measureThreads(warmServer, counts);
  await cleanUp();

  const report = buildReport({
    command: [BENCH_COMMAND, ...argv].join(' '),
    runSeconds: (performance.now() - startedAt) / 1000,
    facts,
    image: { version: image.manifest.version, languageVersions: Object.fromEntries(Object.entries(image.manifest.languages).map(([language, entry]) => [language, entry.version])) },
    settings: {
      ...counts,
      pauseMs: SEQUENTIAL_PAUSE_MS,
      sandboxUid: warmConfig.sandboxUid,
      pool: {
        maxSlots: warmConfig.poolMaxSlots,
        maxSlotsPerKey: warmConfig.poolMaxSlotsPerKey,
        idleSeconds: warmConfig.poolIdleSeconds,
      },
    },
    baselines: latencyBaselines,
    serverProcess,
    roundTrips,
    runtimeWarm,
    cold,
    warm,
    deliveryModes,
    throughput: { floor: baselines.pythonFloor, floorWorkers, floorPerSecond, ...throughput },
    burst,
    slotMemory,
    threads,
  });
  process.stdout.write(renderText(report));
  const output = resolve(repository, options.output);
  const earlier = await readFile(output, 'utf8').catch(() => '');
  await writeFile(output, renderMarkdown(report, standaloneSections(earlier, report)));
  progress(`wrote ${output}`);
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => void cleanUp().finally(() => process.exit(code)));
}

try {
  const argv = process.argv.slice(2);
  const options = parseOptions(argv, process.env);
  if (process.getuid?.() !== 0) {
    throw new Error('run the benchmark as root: the server joins sandboxes to cgroups and runs them as another user');
  }
  await run(argv, options);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
