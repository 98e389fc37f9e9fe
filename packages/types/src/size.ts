/**
 * Validated size and alignment arithmetic shared by every package.
 *
 * Every helper that takes a size rejects negative, NaN, Infinity, fractional, non-number and
 * out-of-range values with a {@link MemError} `INVALID_ARGUMENT` whose message names the argument,
 * the bad value and the rule. Sizes are byte counts no larger than `Number.MAX_SAFE_INTEGER`.
 *
 * This module is browser compatible.
 * @module
 */
import { describeValue } from './describe-value.js';
import { MemError } from './mem-error.js';

/** The largest power of two that is a safe integer (2^52); {@link nextPowerOfTwo} cannot go past it. */
export const MAX_POWER_OF_TWO = 2 ** 52;

/** Bounds for {@link assertInteger} and {@link assertSize}; both inclusive. */
export interface IntegerRange {
  /** The smallest accepted value. @defaultValue 0 for sizes, `Number.MIN_SAFE_INTEGER` for integers */
  readonly min?: number;
  /** The largest accepted value. @defaultValue `Number.MAX_SAFE_INTEGER` */
  readonly max?: number;
}

function invalid(name: string, value: unknown, rule: string): MemError {
  return new MemError('INVALID_ARGUMENT', `${name} must be ${rule}, got ${describeValue(value)}`, {
    details: { argument: name, value, rule },
  });
}

/**
 * Checks that `value` is an integer in `[min, max]` and returns it typed as a number.
 * Cost: O(1).
 * @throws MemError INVALID_ARGUMENT if `value` is not a number, not an integer, or out of range.
 *
 * @example
 * ```ts
 * import { assertInteger } from '@mem/types';
 * const epoch = assertInteger(7, 'epoch', { min: 0 }); // 7
 * ```
 */
export function assertInteger(value: unknown, name: string, range: IntegerRange = {}): number {
  const min = range.min ?? Number.MIN_SAFE_INTEGER;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(name, value, `an integer in [${min}, ${max}]`);
  }
  return value;
}

/**
 * Checks that `value` is a byte size: an integer in `[min, max]`, `min` defaulting to 0.
 * Cost: O(1).
 * @throws MemError INVALID_ARGUMENT naming `name`, the value and the accepted range.
 *
 * @example
 * ```ts
 * import { assertSize } from '@mem/types';
 * assertSize(4096, 'capacity', { min: 1, max: 1 << 20 }); // 4096
 * ```
 */
export function assertSize(value: unknown, name: string, range: IntegerRange = {}): number {
  return assertInteger(value, name, { min: range.min ?? 0, max: range.max ?? Number.MAX_SAFE_INTEGER });
}

/**
 * Tells whether `value` is a power of two (1, 2, 4, ...) within the safe integers.
 * Anything else, including non-numbers, NaN, 0, negatives and fractions, is `false`.
 * Cost: O(1).
 * @throws never
 *
 * @example
 * ```ts
 * import { isPowerOfTwo } from '@mem/types';
 * isPowerOfTwo(4096); // true
 * isPowerOfTwo(0); // false
 * ```
 */
export function isPowerOfTwo(value: unknown): value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_POWER_OF_TWO) {
    return false;
  }
  if (value <= 0x40000000) return (value & (value - 1)) === 0;
  // Math.log2 rounds: log2(2^50 + 1) is exactly 50 in floating point. Check the candidate exactly.
  return 2 ** Math.round(Math.log2(value)) === value;
}

/**
 * Checks that `value` is a power of two, optionally no larger than `max`, and returns it.
 * Cost: O(1).
 * @throws MemError INVALID_ARGUMENT if it is not.
 *
 * @example
 * ```ts
 * import { assertPowerOfTwo } from '@mem/types';
 * assertPowerOfTwo(64, 'alignment'); // 64
 * ```
 */
export function assertPowerOfTwo(value: unknown, name: string, max: number = MAX_POWER_OF_TWO): number {
  if (!isPowerOfTwo(value) || value > max) {
    throw invalid(name, value, `a power of two in [1, ${max}]`);
  }
  return value;
}

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
    throw invalid('value', value, `at most ${Number.MAX_SAFE_INTEGER - alignment + 1} to align up to ${alignment}`);
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

/**
 * Checks that `[offset, offset + length)` lies inside `[0, capacity)`.
 * Cost: O(1).
 * @throws MemError INVALID_ARGUMENT naming `name`, if capacity is not a size, offset or length is not an
 * integer, or the range overruns.
 *
 * @example
 * ```ts
 * import { assertRange } from '@mem/types';
 * assertRange(16, 16, 64, 'key'); // ok
 * ```
 */
export function assertRange(offset: number, length: number, capacity: number, name = 'range'): void {
  // An unchecked capacity would let NaN (every comparison false) or Infinity accept any range.
  assertSize(capacity, `${name} capacity`);
  assertInteger(offset, `${name} offset`, { min: 0, max: capacity });
  assertInteger(length, `${name} length`, { min: 0, max: capacity - offset });
}
