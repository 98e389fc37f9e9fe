/**
 * Validated size and alignment arithmetic shared by every package.
 *
 * Every helper that takes a size rejects negative, NaN, Infinity, fractional, non-number and
 * out-of-range values with a `MemError` `INVALID_ARGUMENT` from the validators module, whose
 * message names the argument, the bad value and the rule.
 *
 * This module is browser compatible.
 * @module
 */
import { MAX_POWER_OF_TWO } from './power-of-two.js';
import { assertPowerOfTwo, assertSize, invalidArgument } from './validators.js';

/**
 * Returns the smallest power of two greater than or equal to `value`; `nextPowerOfTwo(0)` is 1.
 * Cost: O(1).
 * @throws MemError INVALID_ARGUMENT if `value` is not an integer in [0, 2^52].
 *
 * @example
 * ```ts
 * import { nextPowerOfTwo } from '@mem/types';
 * nextPowerOfTwo(1000); // 1024
 * ```
 */
export function nextPowerOfTwo(value: number): number {
  assertSize(value, 'value', { max: MAX_POWER_OF_TWO });
  if (value <= 1) return 1;
  if (value <= 0x40000000) return 2 ** (32 - Math.clz32(value - 1));
  // Math.log2 rounds near powers of two (log2(2^50 + 1) is exactly 50), so correct the estimate
  // exactly: the result is the power of two p with p / 2 < value <= p.
  let power = 2 ** Math.ceil(Math.log2(value));
  if (power < value) power *= 2;
  else if (power / 2 >= value) power /= 2;
  return power;
}

/**
 * Returns log2 of the smallest power of two greater than or equal to `value`
 * (`ceilLog2(1)` is 0, `ceilLog2(1000)` is 10). Size-class indexes are computed with it.
 * Cost: O(1).
 * @throws MemError INVALID_ARGUMENT if `value` is not an integer in [1, 2^52].
 *
 * @example
 * ```ts
 * import { ceilLog2 } from '@mem/types';
 * ceilLog2(4097); // 13
 * ```
 */
export function ceilLog2(value: number): number {
  assertSize(value, 'value', { min: 1, max: MAX_POWER_OF_TWO });
  return Math.log2(nextPowerOfTwo(value));
}

/**
 * Rounds `value` up to a multiple of `alignment`.
 * Cost: O(1).
 * @throws MemError INVALID_ARGUMENT if `value` is not a size, `alignment` is not a power of two,
 * or the result would exceed `Number.MAX_SAFE_INTEGER`.
 *
 * @example
 * ```ts
 * import { alignUp } from '@mem/types';
 * alignUp(13, 8); // 16
 * ```
 */
export function alignUp(value: number, alignment: number): number {
  assertSize(value, 'value');
  assertPowerOfTwo(alignment, 'alignment');
  const aligned = Math.ceil(value / alignment) * alignment;
  if (aligned > Number.MAX_SAFE_INTEGER) {
    throw invalidArgument(
      'value',
      value,
      `at most ${Number.MAX_SAFE_INTEGER - alignment + 1} to align up to ${alignment}`,
    );
  }
  return aligned;
}

/**
 * Rounds `value` down to a multiple of `alignment`.
 * Cost: O(1).
 * @throws MemError INVALID_ARGUMENT if `value` is not a size or `alignment` is not a power of two.
 *
 * @example
 * ```ts
 * import { alignDown } from '@mem/types';
 * alignDown(13, 8); // 8
 * ```
 */
export function alignDown(value: number, alignment: number): number {
  assertSize(value, 'value');
  assertPowerOfTwo(alignment, 'alignment');
  return Math.floor(value / alignment) * alignment;
}

/**
 * Tells whether `value` is a multiple of `alignment`.
 * Cost: O(1).
 * @throws MemError INVALID_ARGUMENT if `value` is not a size or `alignment` is not a power of two.
 *
 * @example
 * ```ts
 * import { isAligned } from '@mem/types';
 * isAligned(4096, 64); // true
 * ```
 */
export function isAligned(value: number, alignment: number): boolean {
  assertSize(value, 'value');
  assertPowerOfTwo(alignment, 'alignment');
  return value % alignment === 0;
}
