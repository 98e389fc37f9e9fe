import { describe, expect, it } from 'vitest';
import { median, summarize } from './statistics.js';

describe('statistics', () => {
  it('takes the middle value, or the mean of the two middle values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it('reports the median as nsPerOp and a zero margin for identical samples', () => {
    const summary = summarize([10, 10, 10, 10]);
    expect(summary).toEqual({ nsPerOp: 10, opsPerSec: 100_000_000, samples: 4, rme: 0 });
  });

  it('reports a larger relative margin of error for noisier samples', () => {
    const quiet = summarize([10, 11, 10, 11, 10, 11]);
    const noisy = summarize([5, 20, 5, 20, 5, 20]);
    expect(noisy.rme).toBeGreaterThan(quiet.rme);
    expect(quiet.rme).toBeGreaterThan(0);
  });
});
