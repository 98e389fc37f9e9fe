/**
 * Percentiles of samples by the nearest-rank method: exact, on a sorted copy. The samples here are
 * small (the last requests' latencies, a run's requests), so exactness costs nothing; a histogram
 * would be the tool for millions of samples in bounded memory.
 *
 * Runs in Node and browsers.
 * @module
 */

/**
 * @param {readonly number[]} values the samples (not modified)
 * @param {number} p the percentile, 0 to 100
 * @returns {number} the `p`-th percentile of `values` (nearest rank); NaN when empty
 */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}
