import { setTimeout as sleep } from 'node:timers/promises';
import type { Language } from '@airlock/contracts';
import type { PoolStatistics } from '@airlock/runtime';

/** What the warm pool did during one stretch of the run. */
export interface PoolCounts {
  /** Executions served by a pre-started sandbox. */
  hits: number;
  /** Executions that found no ready sandbox and started a cold one. */
  misses: number;
  /** Sandboxes the pool started in the background. */
  refills: number;
  /** Mean time of those background starts, until the interpreter waited for code; 0 without refills. */
  meanRefillMs: number;
}

/** What has a warm pool: a benchmarked server, or a sandbox runtime used directly. */
export interface PoolSource {
  poolStatistics(): PoolStatistics | null;
}

const POLL_INTERVAL_MS = 5;

/** Pause after each sequential call, with or without a pool: a client that does something with each result. */
export const SEQUENTIAL_PAUSE_MS = 10;
/** How long a warm series waits for the pool's replacement sandbox before sending the next call anyway. */
const WARM_SLOT_TIMEOUT_MS = 5_000;

export function readPoolStatistics(source: PoolSource): PoolStatistics {
  const statistics = source.poolStatistics();
  if (!statistics) throw new Error('the warm pool is off; start the server or runtime with a pool (AIRLOCK_POOL_MAX_SLOTS > 0)');
  return statistics;
}

/** Runs `work` and counts what the pool did meanwhile. */
export async function countingPool<T>(source: PoolSource, work: () => Promise<T>): Promise<{ result: T; pool: PoolCounts }> {
  const before = readPoolStatistics(source);
  const result = await work();
  const after = readPoolStatistics(source);
  const refills = after.refills - before.refills;
  const refillMs = after.meanRefillMs * after.refills - before.meanRefillMs * before.refills;
  return {
    result,
    pool: {
      hits: after.hits - before.hits,
      misses: after.misses - before.misses,
      refills,
      meanRefillMs: refills === 0 ? 0 : refillMs / refills,
    },
  };
}

export function hitRate(pool: PoolCounts): number {
  const takes = pool.hits + pool.misses;
  return takes === 0 ? 0 : pool.hits / takes;
}

/**
 * Ready sandboxes for a language, over every pool key (`<image>/<language>/<limits>`) of that language, or of that
 * language on one image.
 */
export function readySlots(statistics: PoolStatistics, language: Language, image?: string): number {
  return statistics.keys
    .filter((key) => {
      const [keyImage, keyLanguage] = key.key.split('/');
      return keyLanguage === language && (image === undefined || keyImage === image);
    })
    .reduce((sum, key) => sum + key.ready, 0);
}

/** Polls the pool until `isDone` holds; returns whether it did before `timeoutMs` passed. */
export async function waitForPool(
  source: PoolSource,
  isDone: (statistics: PoolStatistics) => boolean,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (isDone(readPoolStatistics(source))) return true;
    if (performance.now() >= deadline) return false;
    await sleep(POLL_INTERVAL_MS);
  }
}

/**
 * Waits until the pool starts nothing and holds a ready sandbox for `language` (on `image`, or any): the next call will
 * be warm.
 */
export function waitForWarmSlot(source: PoolSource, language: Language, timeoutMs: number, image?: string): Promise<boolean> {
  return waitForPool(source, (statistics) => statistics.startingSlots === 0 && readySlots(statistics, language, image) > 0, timeoutMs);
}

/**
 * The pause after a sequential call on a pool: the client's pause, then until the pool has started the call's
 * replacement and holds a ready sandbox for `language` (on `image`, or any). If that takes too long the next call
 * goes anyway, and its miss shows in the pool's counters.
 */
export async function pauseUntilWarm(source: PoolSource, language: Language, image?: string): Promise<void> {
  await sleep(SEQUENTIAL_PAUSE_MS);
  await waitForWarmSlot(source, language, WARM_SLOT_TIMEOUT_MS, image);
}

/**
 * Calls each series in turn, round after round (5 rounds first, not counted), pausing `pauseMs` after each call so the
 * pool replaces the sandbox it used: each series' overhead_ms and client wall time, and what the pool did.
 */
export async function interleavedCalls<Name extends string>(
  source: PoolSource,
  series: Record<Name, () => Promise<{ overhead_ms: number }>>,
  options: { iterations: number; pauseMs: number },
): Promise<{ overhead: Record<Name, number[]>; wall: Record<Name, number[]>; pool: PoolCounts }> {
  const names = Object.keys(series) as Name[];
  const overhead = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<Name, number[]>;
  const wall = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<Name, number[]>;
  const { pool } = await countingPool(source, async () => {
    for (let round = -5; round < options.iterations; round++) {
      for (const name of names) {
        const started = performance.now();
        const answer = await series[name]();
        if (round >= 0) {
          overhead[name].push(answer.overhead_ms);
          wall[name].push(performance.now() - started);
        }
        await sleep(options.pauseMs);
      }
    }
  });
  return { overhead, wall, pool };
}
