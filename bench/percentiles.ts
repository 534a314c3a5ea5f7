/** Latency summary of one series of measurements, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile: the smallest sample with at least `percent` % of the samples at or below it. */
export function percentile(samples: readonly number[], percent: number): number {
  if (samples.length === 0) throw new Error('percentile of an empty series; measure at least one sample');
  if (percent <= 0 || percent > 100) throw new Error(`percentile must be in (0, 100], got ${percent}`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((percent / 100) * sorted.length);
  return sorted[rank - 1]!;
}

export function summarize(samples: readonly number[]): LatencySummary {
  return {
    count: samples.length,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    mean: samples.reduce((sum, sample) => sum + sample, 0) / samples.length,
    min: Math.min(...samples),
    max: Math.max(...samples),
  };
}
