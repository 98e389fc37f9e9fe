import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BAD_ALIGNMENTS, BAD_SIZES, MAX, NON_INTEGERS, WRONG_TYPES, expectInvalid } from './bad-numbers.test-helper.js';
import { MAX_POWER_OF_TWO, isPowerOfTwo } from './power-of-two.js';
import { alignDown, alignUp, ceilLog2, isAligned, nextPowerOfTwo } from './size.js';

/** Integers near every power of two 2^k, k in [0, 52]: where float tricks go wrong. */
const nearPowerOfTwo = fc
  .tuple(fc.integer({ min: 0, max: 52 }), fc.integer({ min: -3, max: 3 }))
  .map(([k, delta]) => 2 ** k + delta)
  .filter((value) => value >= 0 && value <= MAX_POWER_OF_TWO);

/** Sizes in [0, 2^52], biased towards the edges and powers of two. */
const sizeUpToMaxPower = fc.oneof(fc.integer({ min: 0, max: MAX_POWER_OF_TWO }), nearPowerOfTwo);

/** An alignment: a power of two 2^k with k in [0, 52]. */
const alignment = fc.integer({ min: 0, max: 52 }).map((k) => 2 ** k);

/** Exact check with BigInt: no float arithmetic involved. */
function isPowerOfTwoExact(value: number): boolean {
  if (!Number.isSafeInteger(value) || value < 1) return false;
  const big = BigInt(value);
  return (big & (big - 1n)) === 0n;
}

describe('isPowerOfTwo', () => {
  it('is true for every power of two from 1 to 2^52', () => {
    for (let k = 0; k <= 52; k += 1) expect(isPowerOfTwo(2 ** k), `2^${k}`).toBe(true);
  });

  it('is false for the neighbours of large powers of two', () => {
    // Math.log2(2^50 + 1) is exactly 50 in floating point: a log2-based check says "power of two".
    for (let k = 2; k <= 52; k += 1) {
      expect(isPowerOfTwo(2 ** k - 1), `2^${k} - 1`).toBe(false);
      if (k < 52) expect(isPowerOfTwo(2 ** k + 1), `2^${k} + 1`).toBe(false);
    }
    expect(isPowerOfTwo(MAX)).toBe(false);
  });

  it.each([
    ['zero', 0],
    ['a negative power of two', -4],
    ['a fractional power of two', 0.25],
    ['2^53, past MAX_POWER_OF_TWO', 2 ** 53],
    ['six', 6],
    ...NON_INTEGERS,
    ...WRONG_TYPES,
    ['the string "4"', '4'],
  ] as [string, unknown][])('is false for %s, without throwing', (_label, value) => {
    expect(isPowerOfTwo(value)).toBe(false);
  });

  it('agrees with an exact BigInt check (property)', () => {
    fc.assert(
      fc.property(fc.oneof(nearPowerOfTwo, fc.maxSafeNat(), fc.integer()), (value) => {
        expect(isPowerOfTwo(value)).toBe(isPowerOfTwoExact(value) && value <= MAX_POWER_OF_TWO);
      }),
    );
  });
});

describe('nextPowerOfTwo', () => {
  it.each([
    [0, 1],
    [1, 1],
    [2, 2],
    [3, 4],
    [1000, 1024],
    [1024, 1024],
    [1025, 2048],
    [2 ** 30, 2 ** 30],
    [2 ** 30 + 1, 2 ** 31],
    [2 ** 31 + 1, 2 ** 32],
    [2 ** 50 + 1, 2 ** 51],
    [2 ** 51 + 1, 2 ** 52],
    [2 ** 52 - 1, 2 ** 52],
    [2 ** 52, 2 ** 52],
  ])('rounds %d up to %d', (value, expected) => {
    expect(nextPowerOfTwo(value)).toBe(expected);
  });

  it.each(BAD_SIZES)('rejects %s with INVALID_ARGUMENT', (_label, value) => {
    expectInvalid(() => nextPowerOfTwo(value as number), value, 'value');
  });

  it('rejects values past MAX_POWER_OF_TWO, whose next power of two is not safe', () => {
    expectInvalid(() => nextPowerOfTwo(2 ** 52 + 1), 2 ** 52 + 1, 'value');
    expectInvalid(() => nextPowerOfTwo(MAX), MAX, 'value');
  });

  it('returns a power of two p with n <= p < 2n (property)', () => {
    fc.assert(
      fc.property(sizeUpToMaxPower, (value) => {
        const power = nextPowerOfTwo(value);
        expect(isPowerOfTwoExact(power)).toBe(true);
        expect(power).toBeGreaterThanOrEqual(value);
        if (value >= 1) expect(power).toBeLessThan(2 * value);
        else expect(power).toBe(1);
      }),
    );
  });

  it('is the identity on powers of two (property)', () => {
    fc.assert(fc.property(alignment, (power) => nextPowerOfTwo(power) === power));
  });
});

describe('ceilLog2', () => {
  it.each([
    [1, 0],
    [2, 1],
    [3, 2],
    [1000, 10],
    [4096, 12],
    [4097, 13],
    [2 ** 50 + 1, 51],
    [2 ** 52, 52],
  ])('maps %d to %d', (value, expected) => {
    expect(ceilLog2(value)).toBe(expected);
  });

  it('rejects zero, whose log is undefined', () => {
    expectInvalid(() => ceilLog2(0), 0, 'value');
  });

  it.each(BAD_SIZES)('rejects %s with INVALID_ARGUMENT', (_label, value) => {
    expectInvalid(() => ceilLog2(value as number), value, 'value');
  });

  it('rejects values past MAX_POWER_OF_TWO', () => {
    expectInvalid(() => ceilLog2(2 ** 52 + 1), 2 ** 52 + 1, 'value');
  });

  it('returns the integer k with 2^(k-1) < n <= 2^k (property)', () => {
    fc.assert(
      fc.property(
        sizeUpToMaxPower.filter((value) => value >= 1),
        (value) => {
          const k = ceilLog2(value);
          expect(Number.isInteger(k)).toBe(true);
          expect(2 ** k).toBe(nextPowerOfTwo(value));
          expect(2 ** k).toBeGreaterThanOrEqual(value);
          if (k > 0) expect(2 ** (k - 1)).toBeLessThan(value);
        },
      ),
    );
  });
});

describe('alignUp', () => {
  it.each([
    [13, 8, 16],
    [16, 8, 16],
    [0, 8, 0],
    [1, 1, 1],
    [1, 4096, 4096],
    [MAX, 1, MAX],
    [2 ** 53 - 4096, 4096, 2 ** 53 - 4096],
  ])('aligns %d up to a multiple of %d: %d', (value, alignTo, expected) => {
    expect(alignUp(value, alignTo)).toBe(expected);
  });

  it.each(BAD_SIZES)('rejects a value that is %s with INVALID_ARGUMENT', (_label, value) => {
    expectInvalid(() => alignUp(value as number, 8), value, 'value');
  });

  it.each(BAD_ALIGNMENTS)('rejects an alignment that is %s with INVALID_ARGUMENT', (_label, value) => {
    expectInvalid(() => alignUp(16, value as number), value, 'alignment');
  });

  it('rejects a value whose aligned result would pass MAX_SAFE_INTEGER, naming the limit', () => {
    const error = expectInvalid(() => alignUp(MAX, 2), MAX, 'value');
    expect(error.message).toContain(`at most ${2 ** 53 - 2} to align up to 2`);
    expectInvalid(() => alignUp(2 ** 53 - 4095, 4096), 2 ** 53 - 4095, 'value');
  });

  it('returns a multiple of the alignment in [v, v + a) (property)', () => {
    fc.assert(
      fc.property(alignment, fc.maxSafeNat(), (alignTo, raw) => {
        const value = raw % (2 ** 53 - alignTo + 1); // keep the result safe: v <= 2^53 - a
        const aligned = alignUp(value, alignTo);
        expect(aligned).toBeGreaterThanOrEqual(value);
        expect(aligned % alignTo).toBe(0);
        expect(BigInt(aligned) < BigInt(value) + BigInt(alignTo)).toBe(true);
      }),
    );
  });

  it('throws exactly when the result would not be a safe integer (property)', () => {
    fc.assert(
      fc.property(
        alignment.filter((alignTo) => alignTo > 1),
        fc.integer({ min: 1, max: 2 ** 20 }),
        (alignTo, below) => {
          const value = MAX - Math.min(below, alignTo - 2); // in (2^53 - a, MAX]
          expectInvalid(() => alignUp(value, alignTo), value, 'value');
        },
      ),
    );
  });
});

describe('alignDown', () => {
  it.each([
    [13, 8, 8],
    [16, 8, 16],
    [7, 8, 0],
    [0, 64, 0],
    [MAX, 2, MAX - 1],
    [MAX, MAX_POWER_OF_TWO, MAX_POWER_OF_TWO],
  ])('aligns %d down to a multiple of %d: %d', (value, alignTo, expected) => {
    expect(alignDown(value, alignTo)).toBe(expected);
  });

  it.each(BAD_SIZES)('rejects a value that is %s with INVALID_ARGUMENT', (_label, value) => {
    expectInvalid(() => alignDown(value as number, 8), value, 'value');
  });

  it.each(BAD_ALIGNMENTS)('rejects an alignment that is %s with INVALID_ARGUMENT', (_label, value) => {
    expectInvalid(() => alignDown(16, value as number), value, 'alignment');
  });

  it('returns a multiple of the alignment in (v - a, v] (property)', () => {
    fc.assert(
      fc.property(alignment, fc.maxSafeNat(), (alignTo, value) => {
        const aligned = alignDown(value, alignTo);
        expect(aligned).toBeLessThanOrEqual(value);
        expect(aligned % alignTo).toBe(0);
        expect(aligned).toBeGreaterThan(value - alignTo);
      }),
    );
  });
});

describe('isAligned', () => {
  it('tells multiples of the alignment apart from the rest', () => {
    expect(isAligned(4096, 64)).toBe(true);
    expect(isAligned(0, 64)).toBe(true);
    expect(isAligned(4097, 64)).toBe(false);
    expect(isAligned(MAX, 1)).toBe(true);
    expect(isAligned(MAX, 2)).toBe(false);
  });

  it.each(BAD_SIZES)('rejects a value that is %s with INVALID_ARGUMENT', (_label, value) => {
    expectInvalid(() => isAligned(value as number, 8), value, 'value');
  });

  it.each(BAD_ALIGNMENTS)('rejects an alignment that is %s with INVALID_ARGUMENT', (_label, value) => {
    expectInvalid(() => isAligned(16, value as number), value, 'alignment');
  });

  it('agrees with alignDown and alignUp (property)', () => {
    fc.assert(
      fc.property(alignment, fc.integer({ min: 0, max: 2 ** 40 }), (alignTo, value) => {
        const aligned = isAligned(value, alignTo);
        expect(aligned).toBe(alignDown(value, alignTo) === value);
        expect(aligned).toBe(alignUp(value, alignTo) === value);
      }),
    );
  });
});
