import { describe, expect, it } from 'vitest';
import { SeededRandom } from './seeded-random.js';

describe('the seeded random generator', () => {
  it('repeats its stream for the same seed and differs for another', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const streamA = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(streamA);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(streamA);
  });

  it('draws normal samples with mean near 0 and variance near 1', () => {
    const random = new SeededRandom(7);
    const samples = Array.from({ length: 20_000 }, () => random.nextNormal());
    const mean = samples.reduce((s, x) => s + x, 0) / samples.length;
    const variance = samples.reduce((s, x) => s + (x - mean) ** 2, 0) / samples.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });

  it('draws floats in [0, 1) and integers in a closed range', () => {
    const random = new SeededRandom(3);
    const floats = Array.from({ length: 1000 }, () => random.nextFloat());
    expect(floats.every((x) => x >= 0 && x < 1)).toBe(true);
    const ints = new Set(Array.from({ length: 1000 }, () => random.nextInt(2, 4)));
    expect([...ints].sort()).toEqual([2, 3, 4]);
  });

  it('keeps the stream the randomized tests and the demo weights were made with', () => {
    const random = new SeededRandom(1);
    expect([random.nextUint32(), random.nextUint32()]).toEqual([2693262067, 11749833]);
  });
});
