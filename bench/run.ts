import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Language } from '@airlock/contracts';
import { ImageStore } from '@airlock/runtime';
import { benchServerConfig, startBenchServer, type BenchServer } from './airlock-server.js';
import { coldBaselines, measureRate, measureSequential, warmUp, type Baseline } from './baselines.js';
import { isSuccess, runConcurrent, runSequential, type ExecuteSample } from './http-load.js';
import { readMachineFacts } from './machine-facts.js';
import { BENCH_COMMAND, parseOptions, type BenchOptions } from './options.js';
import { summarize, type LatencySummary } from './percentiles.js';
import { buildReport, formatMs, type BenchResults } from './report.js';
import { renderMarkdown, renderText } from './report-format.js';

const repository = fileURLToPath(new URL('..', import.meta.url));

/** DESIGN.md section 8: sustained throughput is measured at concurrency 8. */
const THROUGHPUT_CONCURRENCY = 8;
const BURST_CONCURRENCY = 16;

const PROGRAMS: Record<Language, string> = { python: 'print(1)', node: 'console.log(1)', bash: 'echo 1' };
const PYTHON_REQUEST = { language: 'python', code: PROGRAMS.python } as const;

/** Steps that undo what the run set up, newest first; each runs once, on success, error or signal. */
const cleanups: Array<() => Promise<void>> = [];

async function cleanUp(): Promise<void> {
  for (const step of cleanups.splice(0).reverse()) {
    await step().catch((error: unknown) => console.error(`cleanup failed: ${String(error)}`));
  }
}

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
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

/** Sequential calls per language: client wall time, the server's overhead_ms, and this process's CPU per call. */
async function measureSequentialCalls(
  server: BenchServer,
  counts: { warmup: number; iterations: number },
): Promise<BenchResults['sequential']> {
  const sequential = {} as BenchResults['sequential'];
  for (const language of Object.keys(PROGRAMS) as Language[]) {
    progress(`${language} over HTTP: ${counts.iterations} sequential calls`);
    const request = { language, code: PROGRAMS[language] };
    await runSequential(server, request, { warmup: counts.warmup, iterations: 0 });
    const cpuBefore = process.cpuUsage();
    const samples = await runSequential(server, request, { warmup: 0, iterations: counts.iterations });
    const cpu = process.cpuUsage(cpuBefore);
    sequential[language] = {
      wall: summarize(wallTimes(samples)),
      overhead: summarize(samples.map((sample) => sample.response!.overhead_ms)),
      processCpuMs: (cpu.user + cpu.system) / 1000 / counts.iterations,
    };
    progress(`  wall p50 ${formatMs(sequential[language].wall.p50)}, overhead p50 ${formatMs(sequential[language].overhead.p50)}`);
  }
  return sequential;
}

async function measureBurst(server: BenchServer, requests: number): Promise<BenchResults['burst']> {
  progress(`burst: ${requests} python requests at concurrency ${BURST_CONCURRENCY}`);
  const burst = await runConcurrent(server, PYTHON_REQUEST, { concurrency: BURST_CONCURRENCY, requests });
  return {
    requests: burst.samples.length,
    concurrency: BURST_CONCURRENCY,
    httpErrors: burst.samples.filter((sample) => sample.httpStatus !== 200).length,
    failedExecutions: burst.samples.filter((sample) => sample.httpStatus === 200 && !isSuccess(sample)).length,
    elapsedSeconds: burst.elapsedSeconds,
    wall: summarize(wallTimes(burst.samples)),
  };
}

function wallTimes(samples: ExecuteSample[]): number[] {
  return samples.map((sample) => sample.wallMs);
}

async function run(argv: string[], options: BenchOptions): Promise<void> {
  const startedAt = performance.now();
  const counts = { warmup: options.warmup, iterations: options.iterations };
  const imagesDirectory = resolve(repository, options.images);
  const image = await new ImageStore({ directory: imagesDirectory }).ensure('default', (line) => progress(`[image] ${line}`));
  const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-bench-'));
  cleanups.push(() => rm(dataDirectory, { recursive: true, force: true }));
  const config = benchServerConfig({ dataDirectory, imagesDirectory });
  const facts = readMachineFacts({ bubblewrapPath: config.bwrapPath });

  // Baselines first, on an otherwise idle process.
  const baselines = coldBaselines({
    rootfs: image.rootfs,
    bubblewrapPath: config.bwrapPath,
    sandboxUser: { uid: config.sandboxUid, gid: config.sandboxGid },
  });
  const latencyBaselines: BenchResults['baselines'] = {
    spawnTrue: await measureLatency(baselines.spawnTrue, counts),
    chrootPython: await measureLatency(baselines.chrootPython, counts),
    chrootNode: await measureLatency(baselines.chrootNode, counts),
    bubblewrapTrue: await measureLatency(baselines.bubblewrapTrue, counts),
    bubblewrapPython: await measureLatency(baselines.bubblewrapPython, counts),
    bubblewrapNode: await measureLatency(baselines.bubblewrapNode, counts),
  };
  const floorWorkers = availableParallelism();
  progress(`CPU floor: ${floorWorkers} parallel loops of ${baselines.pythonFloor.name} for ${options.seconds} s`);
  await warmUp(baselines.pythonFloor, options.warmup);
  const floorPerSecond = await measureRate(baselines.pythonFloor, { workers: floorWorkers, seconds: options.seconds });

  const residentMiBBefore = process.memoryUsage().rss / 2 ** 20;
  progress('starting the server');
  const server = await startBenchServer(config);
  cleanups.push(() => server.close());
  const serverProcess = {
    residentMiBBefore,
    residentMiBAfter: process.memoryUsage().rss / 2 ** 20,
    spawnTrue: (await measureLatency(baselines.spawnTrue, counts)).summary,
  };
  const sequential = await measureSequentialCalls(server, counts);
  progress(`throughput: python at concurrency ${THROUGHPUT_CONCURRENCY} for ${options.seconds} s`);
  const sustained = await runConcurrent(server, PYTHON_REQUEST, { concurrency: THROUGHPUT_CONCURRENCY, seconds: options.seconds });
  const succeeded = sustained.samples.filter(isSuccess);
  const burst = await measureBurst(server, options.burst);
  await cleanUp();

  const report = buildReport({
    command: [BENCH_COMMAND, ...argv].join(' '),
    runSeconds: (performance.now() - startedAt) / 1000,
    facts,
    image: { version: image.manifest.version, languageVersions: image.manifest.languageVersions },
    settings: counts,
    baselines: latencyBaselines,
    serverProcess,
    sequential,
    throughput: {
      floor: baselines.pythonFloor,
      floorWorkers,
      floorPerSecond,
      concurrency: THROUGHPUT_CONCURRENCY,
      seconds: options.seconds,
      perSecond: succeeded.length / sustained.elapsedSeconds,
      requests: sustained.samples.length,
      failed: sustained.samples.length - succeeded.length,
      wall: summarize(wallTimes(succeeded)),
    },
    burst,
  });
  process.stdout.write(renderText(report));
  const output = resolve(repository, options.output);
  await writeFile(output, renderMarkdown(report));
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
