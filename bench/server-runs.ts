import { setTimeout as sleep } from 'node:timers/promises';
import { LANGUAGES, type Language } from '@airlock/contracts';
import type { BenchServer } from './airlock-server.js';
import { cpuBusySince, readCpuTimes } from './machine-facts.js';
import { isSuccess, runConcurrent, runSequential, timeGet, type ExecuteSample } from './http-load.js';
import {
  SEQUENTIAL_PAUSE_MS,
  countingPool,
  pauseUntilWarm,
  readPoolStatistics,
  readySlots,
  waitForPool,
  type PoolCounts,
} from './pool-probe.js';
import { summarize } from './percentiles.js';
import type { BenchResults, SequentialSeries, WarmSeries } from './report.js';
import { readIdleSlots, summarizeSlots } from './slot-memory.js';
import { formatMiB, formatMs } from './units.js';

/** docs/architecture.md: sustained throughput is measured at concurrency 8. */
const THROUGHPUT_CONCURRENCY = 8;
const BURST_CONCURRENCY = 16;

/** How long the slot memory measurement waits for the pool to finish its refills. */
const QUIET_POOL_TIMEOUT_MS = 30_000;
/** Time for sandboxes destroyed after their call to exit before the slots are read. */
const TEARDOWN_MS = 500;

const PROGRAMS: Record<Language, string> = { python: 'print(1)', node: 'console.log(1)', bash: 'echo 1' };
/** The call every python load run and delivery mode series sends. */
export const PYTHON_REQUEST = { language: 'python', code: PROGRAMS.python } as const;

export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function wallTimes(samples: ExecuteSample[]): number[] {
  return samples.map((sample) => sample.wallMs);
}

type Counts = { warmup: number; iterations: number };

/** One language's sequential calls: client wall time, the server's overhead_ms, and this process's CPU per call. */
async function sequentialSeries(
  server: BenchServer,
  language: Language,
  options: { counts: Counts; between: () => Promise<void> },
): Promise<SequentialSeries> {
  const { counts, between } = options;
  const request = { language, code: PROGRAMS[language] };
  await runSequential(server, request, { warmup: counts.warmup, iterations: 0, between });
  const cpuBefore = process.cpuUsage();
  const samples = await runSequential(server, request, { warmup: 0, iterations: counts.iterations, between });
  const cpu = process.cpuUsage(cpuBefore);
  return {
    wall: summarize(wallTimes(samples)),
    overhead: summarize(samples.map((sample) => sample.response!.overhead_ms)),
    run: summarize(samples.map((sample) => sample.response!.duration_ms)),
    processCpuMs: (cpu.user + cpu.system) / 1000 / counts.iterations,
    processSystemCpuMs: cpu.system / 1000 / counts.iterations,
  };
}

function reportSeries(series: SequentialSeries, pool?: PoolCounts): void {
  const hits = pool ? `, ${pool.hits} of ${pool.hits + pool.misses} warm` : '';
  progress(`  wall p50 ${formatMs(series.wall.p50)}, overhead p50 ${formatMs(series.overhead.p50)}${hits}`);
}

/** Sequential calls per language on a server without a pool: every call starts a cold sandbox. */
export async function measureColdSeries(server: BenchServer, counts: Counts): Promise<Record<Language, SequentialSeries>> {
  const results = {} as Record<Language, SequentialSeries>;
  for (const language of LANGUAGES) {
    progress(`cold ${language} over HTTP: ${counts.iterations} sequential calls`);
    results[language] = await sequentialSeries(server, language, { counts, between: () => sleep(SEQUENTIAL_PAUSE_MS) });
    reportSeries(results[language]);
  }
  return results;
}

/**
 * Sequential calls per language on the server with the pool: after each call the client pauses, then waits until the
 * pool has started the replacement sandbox, so each call finds a ready one; the pool's counters say whether it did.
 */
export async function measureWarmSeries(server: BenchServer, counts: Counts): Promise<Record<Language, WarmSeries>> {
  const results = {} as Record<Language, WarmSeries>;
  for (const language of LANGUAGES) {
    progress(`warm ${language} over HTTP: ${counts.iterations} sequential calls`);
    const between = (): Promise<void> => pauseUntilWarm(server, language);
    // The first calls of a language create its pool key, so the warm-up runs before the counting starts.
    await runSequential(server, { language, code: PROGRAMS[language] }, { warmup: counts.warmup, iterations: 0, between });
    const { result, pool } = await countingPool(server, () =>
      sequentialSeries(server, language, { counts: { warmup: 0, iterations: counts.iterations }, between }),
    );
    results[language] = { ...result, pool };
    reportSeries(result, pool);
  }
  return results;
}

/** Requests that start no sandbox: what HTTP alone costs, and HTTP plus the API key lookup in the database. */
export async function measureRoundTrips(server: BenchServer, counts: Counts): Promise<BenchResults['roundTrips']> {
  const series = async (path: string, expectedStatus: number): Promise<number[]> => {
    const samples: number[] = [];
    for (let run = 0; run < counts.warmup + counts.iterations; run++) {
      const wallMs = await timeGet(server, path, expectedStatus);
      if (run >= counts.warmup) samples.push(wallMs);
    }
    return samples;
  };
  progress(`round trips without a sandbox: ${counts.iterations} of each`);
  const health = summarize(await series('/healthz', 200));
  const authenticated = summarize(await series('/v1/executions/exe_bench_unknown', 404));
  progress(`  /healthz p50 ${formatMs(health.p50)}, authenticated 404 p50 ${formatMs(authenticated.p50)}`);
  return { health, authenticated };
}

export async function measureThroughput(
  server: BenchServer,
  seconds: number,
): Promise<Omit<BenchResults['throughput'], 'floor' | 'floorWorkers' | 'floorPerSecond'>> {
  progress(`throughput: python at concurrency ${THROUGHPUT_CONCURRENCY} for ${seconds} s`);
  const eventLoopBefore = performance.eventLoopUtilization();
  const cpuBefore = process.cpuUsage();
  const machineBefore = readCpuTimes();
  const { result: sustained, pool } = await countingPool(server, () =>
    runConcurrent(server, PYTHON_REQUEST, { concurrency: THROUGHPUT_CONCURRENCY, seconds }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  const machineBusy = cpuBusySince(machineBefore);
  const eventLoopBusy = performance.eventLoopUtilization(eventLoopBefore).utilization;
  const succeeded = sustained.samples.filter(isSuccess);
  return {
    concurrency: THROUGHPUT_CONCURRENCY,
    seconds,
    perSecond: succeeded.length / sustained.elapsedSeconds,
    requests: sustained.samples.length,
    failed: sustained.samples.length - succeeded.length,
    wall: summarize(wallTimes(succeeded)),
    pool,
    eventLoopBusy,
    machineBusy,
    processCpuMs: (cpu.user + cpu.system) / 1000 / sustained.samples.length,
  };
}

export async function measureBurst(server: BenchServer, requests: number): Promise<BenchResults['burst']> {
  progress(`burst: ${requests} python requests at concurrency ${BURST_CONCURRENCY}`);
  const { result: burst, pool } = await countingPool(server, () =>
    runConcurrent(server, PYTHON_REQUEST, { concurrency: BURST_CONCURRENCY, requests }),
  );
  return {
    requests: burst.samples.length,
    concurrency: BURST_CONCURRENCY,
    httpErrors: burst.samples.filter((sample) => sample.httpStatus !== 200).length,
    failedExecutions: burst.samples.filter((sample) => sample.httpStatus === 200 && !isSuccess(sample)).length,
    elapsedSeconds: burst.elapsedSeconds,
    wall: summarize(wallTimes(burst.samples)),
    pool,
  };
}

/**
 * PSS of the server's idle warm slots, once the pool has finished refilling and the sandboxes of finished calls have
 * exited. The server must run in this process: its slots are children of this process.
 */
export async function measureSlotMemory(
  server: BenchServer,
  interpreters: Partial<Record<Language, string>>,
): Promise<BenchResults['slotMemory']> {
  progress('idle slot memory: waiting for the pool to finish its refills');
  if (!(await waitForPool(server, (statistics) => statistics.startingSlots === 0, QUIET_POOL_TIMEOUT_MS))) {
    throw new Error(`the warm pool was still starting sandboxes after ${QUIET_POOL_TIMEOUT_MS / 1000} s; is the machine busy?`);
  }
  await sleep(TEARDOWN_MS);
  const slots = readIdleSlots({ serverPid: process.pid, sandboxUid: server.sandboxUid, interpreters });
  const statistics = readPoolStatistics(server);
  const results = {} as BenchResults['slotMemory'];
  for (const language of LANGUAGES) {
    const summary = summarizeSlots(slots, language);
    results[language] = { readySlots: readySlots(statistics, language), summary };
    if (summary) progress(`  ${language}: ${summary.slots} slots, ${formatMiB(summary.totalKiB)} PSS each`);
  }
  return results;
}
