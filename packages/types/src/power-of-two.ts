/**
 * The power-of-two test that the validators and the size arithmetic share (not exported from the
 * package: `assertPowerOfTwo` and the size arithmetic are its public face).
 *
 * This module is browser compatible.
 * @module
 */

/** The largest power of two that is a safe integer (2^52); `nextPowerOfTwo` cannot go past it. @internal */
export const MAX_POWER_OF_TWO = 2 ** 52;

/**
 * Tells whether `value` is a power of two (1, 2, 4, ...) within the safe integers.
 * Anything else, including non-numbers, NaN, 0, negatives and fractions, is `false`.
 * Cost: O(1).
 * @throws never
 * @internal
 */
export function isPowerOfTwo(value: unknown): value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_POWER_OF_TWO) {
    return false;
  }
  if (value <= 0x40000000) return (value & (value - 1)) === 0;
  // Math.log2 rounds: log2(2^50 + 1) is exactly 50 in floating point. Check the candidate exactly.
  return 2 ** Math.round(Math.log2(value)) === value;
}
