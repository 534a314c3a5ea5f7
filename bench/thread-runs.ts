import type { BenchServer } from './airlock-server.js';
import { runSequential } from './http-load.js';
import { summarize, type LatencySummary } from './percentiles.js';
import { pauseUntilWarm, type PoolSource } from './pool-probe.js';

/** Each measured call changes one small file of its home. */
const CHANGE_ONE_FILE = 'open("counter.txt", "w").write("x" * 64)';
/** Makes a home of 50 files of 1 MiB of random bytes (no two alike, so nothing is deduplicated). */
const FILL_50_MIB = 'import os\nos.makedirs("data", exist_ok=True)\nfor i in range(50):\n    open(f"data/{i}.bin", "wb").write(os.urandom(1 << 20))';

export interface ThreadSeries {
  /** The same call without thread_id: an ephemeral home. */
  ephemeral: LatencySummary;
  /** thread_id whose home holds one small file. */
  smallHome: LatencySummary;
  /** thread_id whose home holds 50 MiB in 50 files. */
  largeHome: LatencySummary;
}

/**
 * Sequential python calls that each change one file, with an ephemeral home and with the homes of two threads:
 * client wall time, so the difference is what restoring and saving a thread adds to a call.
 */
export async function measureThreads(
  server: BenchServer & PoolSource,
  counts: { warmup: number; iterations: number },
): Promise<ThreadSeries> {
  const between = () => pauseUntilWarm(server, 'python');
  const tag = Date.now().toString(36);
  const small = `bench-small-${tag}`;
  const large = `bench-large-${tag}`;
  await runSequential(server, { language: 'python', thread_id: small, code: CHANGE_ONE_FILE }, { warmup: 0, iterations: 1 });
  await runSequential(server, { language: 'python', thread_id: large, code: FILL_50_MIB, timeout: 120 }, { warmup: 0, iterations: 1 });
  // Interleaved, one call of each kind per round, so a change in the machine's load touches all three alike.
  const kinds = [undefined, small, large];
  const times: number[][] = [[], [], []];
  for (let round = 0; round < counts.warmup + counts.iterations; round++) {
    for (const [index, threadId] of kinds.entries()) {
      const request = { language: 'python' as const, code: CHANGE_ONE_FILE, ...(threadId ? { thread_id: threadId } : {}) };
      const [sample] = await runSequential(server, request, { warmup: 0, iterations: 1, between });
      if (round >= counts.warmup) times[index]!.push(sample!.wallMs);
    }
  }
  return { ephemeral: summarize(times[0]!), smallHome: summarize(times[1]!), largeHome: summarize(times[2]!) };
}
