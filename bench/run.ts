import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Language } from '@airlock/contracts';
import { ImageStore } from '@airlock/runtime';
import { benchServerConfig, startBenchServer } from './airlock-server.js';
import { coldBaselines, measureRate, measureSequential, type Baseline } from './baselines.js';
import { isSuccess, runConcurrent, runSequential, type ExecuteSample } from './http-load.js';
import { readMachineFacts } from './machine-facts.js';
import { BENCH_COMMAND, parseOptions } from './options.js';
import { summarize, type LatencySummary } from './percentiles.js';
import { buildReport, formatMs, type BenchResults } from './report.js';
import { renderMarkdown, renderText } from './report-format.js';

const repository = fileURLToPath(new URL('..', import.meta.url));

/** DESIGN.md section 8: sustained throughput is measured at concurrency 8. */
const THROUGHPUT_CONCURRENCY = 8;
const BURST_CONCURRENCY = 16;

const PROGRAMS: Record<Language, string> = { python: 'print(1)', node: 'console.log(1)', bash: 'echo 1' };

/** Steps that undo what the run set up, newest first; run once, on success, error or signal. */
const cleanups: Array<() => Promise<void>> = [];

async function cleanUp(): Promise<void> {
  for (const step of cleanups.splice(0).reverse()) {
    await step().catch((error: unknown) => console.error(`cleanup failed: ${String(error)}`));
  }
}

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  const argv = process.argv.slice(2);
  const options = parseOptions(argv, process.env);
  if (process.getuid?.() !== 0) {
    throw new Error('run the benchmark as root: the server joins sandboxes to cgroups and runs them as another user');
  }
  const counts = { warmup: options.warmup, iterations: options.iterations };
  const imagesDirectory = resolve(repository, options.images);
  const image = await new ImageStore({ directory: imagesDirectory }).ensure('default', (line) => progress(`[image] ${line}`));
  const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-bench-'));
  cleanups.push(() => rm(dataDirectory, { recursive: true, force: true }));
  const config = benchServerConfig({ dataDirectory, imagesDirectory });
  const facts = readMachineFacts({ bubblewrapPath: config.bwrapPath });

  const baselines = coldBaselines({
    rootfs: image.rootfs,
    bubblewrapPath: config.bwrapPath,
    sandboxUser: { uid: config.sandboxUid, gid: config.sandboxGid },
  });
  const measure = async (baseline: Baseline): Promise<{ baseline: Baseline; summary: LatencySummary }> => {
    progress(`${baseline.name}: ${counts.iterations} runs`);
    const summary = summarize(await measureSequential(baseline, counts));
    progress(`  p50 ${formatMs(summary.p50)}, p99 ${formatMs(summary.p99)}`);
    return { baseline, summary };
  };
  const latencyBaselines: BenchResults['baselines'] = {
    spawnTrue: await measure(baselines.spawnTrue),
    chrootPython: await measure(baselines.chrootPython),
    chrootNode: await measure(baselines.chrootNode),
    bubblewrapTrue: await measure(baselines.bubblewrapTrue),
    bubblewrapPython: await measure(baselines.bubblewrapPython),
    bubblewrapNode: await measure(baselines.bubblewrapNode),
  };
  const floorWorkers = availableParallelism();
  progress(`CPU floor: ${floorWorkers} parallel loops of ${baselines.pythonFloor.name} for ${options.seconds} s`);
  await measureSequential(baselines.pythonFloor, { warmup: options.warmup, iterations: 0 }); // warm-up only
  const floorPerSecond = await measureRate(baselines.pythonFloor, { workers: floorWorkers, seconds: options.seconds });

  const residentMiBBefore = process.memoryUsage().rss / 2 ** 20;
  progress('starting the server');
  const server = await startBenchServer(config);
  cleanups.push(() => server.close());
  const serverProcess = {
    residentMiBBefore,
    residentMiBAfter: process.memoryUsage().rss / 2 ** 20,
    spawnTrue: (await measure(baselines.spawnTrue)).summary,
  };

  const sequential = {} as BenchResults['sequential'];
  for (const language of Object.keys(PROGRAMS) as Language[]) {
    progress(`${language} over HTTP: ${counts.iterations} sequential calls`);
    const cpuBefore = process.cpuUsage();
    const samples = await runSequential(server, { language, code: PROGRAMS[language] }, counts);
    const cpu = process.cpuUsage(cpuBefore);
    sequential[language] = {
      wall: summarize(wallTimes(samples)),
      overhead: summarize(samples.map((sample) => sample.response!.overhead_ms)),
      processCpuMs: (cpu.user + cpu.system) / 1000 / (counts.warmup + counts.iterations),
    };
    progress(`  wall p50 ${formatMs(sequential[language].wall.p50)}, overhead p50 ${formatMs(sequential[language].overhead.p50)}`);
  }

  const python = { language: 'python', code: PROGRAMS.python } as const;
  progress(`throughput: python at concurrency ${THROUGHPUT_CONCURRENCY} for ${options.seconds} s`);
  const sustained = await runConcurrent(server, python, { concurrency: THROUGHPUT_CONCURRENCY, seconds: options.seconds });
  const succeeded = sustained.samples.filter(isSuccess);

  progress(`burst: ${options.burst} python requests at concurrency ${BURST_CONCURRENCY}`);
  const burst = await runConcurrent(server, python, { concurrency: BURST_CONCURRENCY, requests: options.burst });
  await cleanUp();

  const results: BenchResults = {
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
    burst: {
      requests: burst.samples.length,
      concurrency: BURST_CONCURRENCY,
      httpErrors: burst.samples.filter((sample) => sample.httpStatus !== 200).length,
      failedExecutions: burst.samples.filter((sample) => sample.httpStatus === 200 && !isSuccess(sample)).length,
      elapsedSeconds: burst.elapsedSeconds,
      wall: summarize(wallTimes(burst.samples)),
    },
  };
  const report = buildReport(results);
  process.stdout.write(renderText(report));
  const output = resolve(repository, options.output);
  await writeFile(output, renderMarkdown(report));
  progress(`wrote ${output}`);
}

function wallTimes(samples: ExecuteSample[]): number[] {
  return samples.map((sample) => sample.wallMs);
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => void cleanUp().finally(() => process.exit(code)));
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
