/** Summary statistics of timing samples. */

/** Two-sided 95% critical values of Student's t for 1..30 degrees of freedom; 1.96 beyond. */
const T_95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** What a series of per-operation timings summarises to. */
export interface SampleSummary {
  /** Median nanoseconds per operation. */
  readonly nsPerOp: number;
  /** Operations per second at the median. */
  readonly opsPerSec: number;
  /** Number of samples. */
  readonly samples: number;
  /** Relative margin of error of the mean at 95% confidence, in percent. */
  readonly rme: number;
}

/** Median of `values` (which it does not modify). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Summarises per-operation nanosecond samples: median, ops/s and the relative margin of error. */
export function summarize(nsPerOpSamples: readonly number[]): SampleSummary {
  const n = nsPerOpSamples.length;
  const mean = nsPerOpSamples.reduce((sum, value) => sum + value, 0) / n;
  const variance = n > 1 ? nsPerOpSamples.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (n - 1) : 0;
  const standardError = Math.sqrt(variance / n);
  const critical = T_95[n - 2] ?? 1.96;
  const nsPerOp = median(nsPerOpSamples);
  return {
    nsPerOp: round(nsPerOp, 3),
    opsPerSec: Math.round(1e9 / nsPerOp),
    samples: n,
    rme: mean > 0 ? round(((critical * standardError) / mean) * 100, 2) : 0,
  };
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
