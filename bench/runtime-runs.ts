import { availableParallelism } from 'node:os';
import { LIMITS } from '@airlock/contracts';
import { SandboxRuntime, type SandboxLimits } from '@airlock/runtime';
import type { Config } from '@airlock/server';
import { summarize, type LatencySummary } from './percentiles.js';
import { countingPool, pauseUntilWarm, type PoolCounts } from './pool-probe.js';
import { progress } from './server-runs.js';
import { formatMs } from './units.js';

/** The limits of the server's default sandbox configuration (1 core, 1 GiB, half of it for each tmpfs zone). */
export const DEFAULT_LIMITS: SandboxLimits = {
  cpus: 1,
  memoryBytes: 2 ** 30,
  pids: 512,
  tmpBytes: 2 ** 29,
  homeBytes: 2 ** 29,
};

/** A sandbox runtime with the warm server's pool settings and sandbox uid, outside any server; `close()` it. */
export async function startBenchRuntime(options: { config: Config; stateDirectory: string }): Promise<SandboxRuntime> {
  const { config } = options;
  const runtime = await SandboxRuntime.start({
    stateDirectory: options.stateDirectory,
    imagesDirectory: config.imagesDirectory,
    sandboxUid: config.sandboxUid,
    sandboxGid: config.sandboxGid,
    bwrapPath: config.bwrapPath,
    outputLimitBytes: LIMITS.outputMaxBytes,
    pool: {
      maxSlots: config.poolMaxSlots,
      maxSlotsPerKey: config.poolMaxSlotsPerKey,
      maxConcurrentRefills: availableParallelism(),
      idleMs: config.poolIdleSeconds * 1000,
    },
  });
  try {
    await runtime.loadImage('default');
    return runtime;
  } catch (error) {
    await runtime.close();
    throw error;
  }
}

/**
 * The warm pool without the server: sequential python runs through the runtime API, timed from taking a sandbox to
 * the stub reporting that the code starts. No HTTP, no authentication, no database; the same pacing as the warm
 * server's sequential series.
 */
export async function measureRuntimeWarmStart(
  runtime: SandboxRuntime,
  counts: { warmup: number; iterations: number },
): Promise<{ overhead: LatencySummary; pool: PoolCounts }> {
  progress(`warm python through the runtime API, no server: ${counts.iterations} sequential runs`);
  const key = { image: 'default', language: 'python', limits: DEFAULT_LIMITS } as const;
  const runOnce = async (): Promise<number> => {
    const takenAt = performance.now();
    const { sandbox } = await runtime.acquire(key);
    const outcome = await sandbox.run({ code: 'print(1)', env: {}, timeoutMs: 10_000 });
    if (outcome.status !== 'success') {
      throw new Error(`python run through the runtime API ended ${outcome.status}: ${outcome.stderr}`);
    }
    await pauseUntilWarm(runtime, 'python');
    return outcome.codeStartedAt - takenAt;
  };
  for (let run = 0; run < counts.warmup; run++) await runOnce();
  const { result: samples, pool } = await countingPool(runtime, async () => {
    const samples: number[] = [];
    for (let run = 0; run < counts.iterations; run++) samples.push(await runOnce());
    return samples;
  });
  const overhead = summarize(samples);
  progress(`  take -> code running p50 ${formatMs(overhead.p50)}, ${pool.hits} of ${pool.hits + pool.misses} warm`);
  return { overhead, pool };
}
