import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BIN_COUNT, BIN_FLOORS, binIndex, binIndexRoundUp, highestBit, lowestBit } from './size-bins.js';

describe('size bins', () => {
  it('maps small sizes one to one and every size below 2^32 into range', () => {
    expect([1, 8, 15, 16, 31, 32, 48].map(binIndex)).toEqual([1, 8, 15, 16, 31, 32, 40]);
    expect(binIndex(2 ** 31)).toBeLessThan(BIN_COUNT);
    expect(binIndex(2 ** 32 - 1)).toBe(BIN_COUNT - 1);
  });

  it('orders bins by size: a larger size never lands in a lower bin', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 1, max: 2 ** 31 }), (a, b) => {
        if (a <= b) expect(binIndex(a)).toBeLessThanOrEqual(binIndex(b));
      }),
    );
  });

  it('rounds up to a bin whose every block is at least the size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 1, max: 2 ** 31 }), (size, block) => {
        // Every block in the rounded-up bin or above is large enough.
        if (binIndex(block) >= binIndexRoundUp(size)) expect(block).toBeGreaterThanOrEqual(size);
        expect(binIndexRoundUp(size)).toBeGreaterThanOrEqual(binIndex(size));
        expect(binIndexRoundUp(size)).toBeLessThanOrEqual(binIndex(size) + 1);
      }),
    );
  });

  it('spans 1/16 of a power of two per bin', () => {
    expect(binIndex(1024)).toBe(binIndex(1024 + 63));
    expect(binIndex(1024 + 64)).toBe(binIndex(1024) + 1);
  });

  it('gives every bin the smallest size it holds, and 2^32 past the last', () => {
    expect(BIN_FLOORS.length).toBe(BIN_COUNT + 1);
    expect(BIN_FLOORS[BIN_COUNT]).toBe(2 ** 32);
    for (let bin = 1; bin < BIN_COUNT; bin += 1) {
      expect(binIndex(BIN_FLOORS[bin]!), `floor of bin ${bin}`).toBe(bin);
      expect(binIndex(BIN_FLOORS[bin + 1]! - 1), `last size of bin ${bin}`).toBe(bin);
    }
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 32 - 1 }), (size) => {
        const bin = binIndex(size);
        expect(BIN_FLOORS[bin]).toBeLessThanOrEqual(size);
        expect(size).toBeLessThan(BIN_FLOORS[bin + 1]!);
      }),
    );
  });

  it('finds the lowest and highest set bits', () => {
    expect(lowestBit(0b10100)).toBe(2);
    expect(highestBit(0b10100)).toBe(4);
    expect(lowestBit(1 << 31)).toBe(31);
  });
});
