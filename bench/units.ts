import { hitRate, type PoolCounts } from './pool-probe.js';

export function formatMs(milliseconds: number): string {
  return `${milliseconds.toFixed(milliseconds < 10 ? 2 : 1)} ms`;
}

export function formatRatio(ratio: number): string {
  return `${ratio.toFixed(2)}x`;
}

export function formatRate(perSecond: number): string {
  return `${perSecond.toFixed(1)}/s`;
}

export function formatMiB(kibibytes: number): string {
  return `${(kibibytes / 1024).toFixed(2)} MiB`;
}

/** "4.00 MiB (4093 KiB)": for a value compared with a limit in MiB, where rounding would hide which side it is on. */
export function formatMiBAndKiB(kibibytes: number): string {
  return `${formatMiB(kibibytes)} (${Math.round(kibibytes)} KiB)`;
}

export function formatPercent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

/** "97 of 100 (97%)": executions served by a pre-started sandbox. */
export function formatHits(pool: PoolCounts): string {
  return `${pool.hits} of ${pool.hits + pool.misses} (${formatPercent(hitRate(pool))})`;
}
