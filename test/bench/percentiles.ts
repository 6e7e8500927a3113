/** Nearest-rank percentile (p in (0, 100]) of a list of numbers; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface LatencyFigures {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export function latencyFigures(valuesMs: readonly number[]): LatencyFigures {
  const r = (n: number) => Math.round(n * 10) / 10;
  return {
    count: valuesMs.length,
    p50Ms: r(percentile(valuesMs, 50)),
    p90Ms: r(percentile(valuesMs, 90)),
    p99Ms: r(percentile(valuesMs, 99)),
    maxMs: r(valuesMs.length ? Math.max(...valuesMs) : Number.NaN),
    meanMs: r(valuesMs.length ? valuesMs.reduce((a, b) => a + b, 0) / valuesMs.length : Number.NaN),
  };
}
