import { describe, expect, it } from 'vitest';
import { percentile } from './percentile.js';

describe('percentile', () => {
  it('computes nearest-rank percentiles', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10);
    expect(percentile([], 50)).toBeNaN();
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([50, 99, 100, 0].map((p) => percentile(values, p))).toEqual([50, 99, 100, 1]);
  });
});
