/**
 * The validators every mem package uses for its arguments and options.
 *
 * Each checks one value and returns it typed, or throws a {@link MemError} `INVALID_ARGUMENT`
 * whose message reads `"<name> must be <rule>, got <value>"` and whose `details` are
 * `{ argument, value, rule }`. Sizes are byte counts no larger than `Number.MAX_SAFE_INTEGER`.
 *
 * This module is browser compatible.
 * @module
 */
import { describeValue } from './describe-value.js';
import { MemError } from './mem-error.js';
import { isPowerOfTwo, MAX_POWER_OF_TWO } from './power-of-two.js';

/** Bounds for {@link assertInteger} and {@link assertSize}; both inclusive. */
export interface IntegerRange {
  /** The smallest accepted value. @defaultValue 0 for sizes, `Number.MIN_SAFE_INTEGER` for integers */
  readonly min?: number;
  /** The largest accepted value. @defaultValue `Number.MAX_SAFE_INTEGER` */
  readonly max?: number;
}

/**
 * Builds the `INVALID_ARGUMENT` error every validator throws: `"<name> must be <rule>, got <value>"`,
 * with `details` `{ argument, value, rule }`. Use it for a rule no validator here covers, so that
 * every message reads the same. Cost: one Error construction.
 * @throws never
 *
 * @example
 * ```ts
 * import { invalidArgument } from '@mem/types';
 * const error = invalidArgument('blockSize', 3, 'a multiple of 16');
 * error.message; // "blockSize must be a multiple of 16, got 3"
 * ```
 */
export function invalidArgument(name: string, value: unknown, rule: string): MemError {
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
    throw invalidArgument(name, value, `an integer in [${min}, ${max}]`);
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
    throw invalidArgument(name, value, `a power of two in [1, ${max}]`);
  }
  return value;
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

/**
 * Checks an options argument: `undefined` (giving `{}`) or a plain object (not an array, not
 * null). With `known`, a property outside it is refused too, so a misspelt option is never
 * silently ignored. Cost: O(1), or O(keys) with `known`.
 * @throws MemError INVALID_ARGUMENT naming `name` if it is not an object, or naming the unknown option.
 *
 * @example
 * ```ts
 * import { assertOptions } from '@mem/types';
 * const options = assertOptions<{ shared: boolean }>({ shared: true }, 'options', ['shared']);
 * options.shared; // true
 * ```
 */
export function assertOptions<T extends object>(
  value: unknown,
  name = 'options',
  known?: readonly string[],
): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(name, value, 'an object');
  }
  if (known !== undefined) {
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        throw invalidArgument(
          `${name}.${key}`,
          (value as Record<string, unknown>)[key],
          `absent: known options are ${known.join(', ')}`,
        );
      }
    }
  }
  return value as Partial<T>;
}

/**
 * Checks that `value` is a boolean and returns it. Cost: O(1).
 * @throws MemError INVALID_ARGUMENT naming `name` otherwise.
 *
 * @example
 * ```ts
 * import { assertBoolean } from '@mem/types';
 * assertBoolean(true, 'prefill'); // true
 * ```
 */
export function assertBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidArgument(name, value, 'a boolean');
  return value;
}

/**
 * Checks that `value` is a string of at least one character and returns it (a pool's `name`, which
 * labels its metrics). Cost: O(1).
 * @throws MemError INVALID_ARGUMENT naming `name` otherwise.
 *
 * @example
 * ```ts
 * import { assertNonEmptyString } from '@mem/types';
 * assertNonEmptyString('activations', 'options.name'); // 'activations'
 * ```
 */
export function assertNonEmptyString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidArgument(name, value, 'a non-empty string');
  return value;
}

/**
 * Checks that `value` is one of `choices` (compared with `===`) and returns it. Cost: O(choices).
 * @throws MemError INVALID_ARGUMENT naming `name` and listing the choices otherwise.
 *
 * @example
 * ```ts
 * import { assertOneOf } from '@mem/types';
 * assertOneOf('lru', 'evictionOrder', ['lru', 'fifo'] as const); // 'lru'
 * ```
 */
export function assertOneOf<T>(value: unknown, name: string, choices: readonly T[]): T {
  if (!choices.includes(value as T)) {
    throw invalidArgument(name, value, `one of ${choices.map(String).join(', ')}`);
  }
  return value as T;
}

/**
 * Checks that `value` is a number (not NaN) in `[min, max]` and returns it; fractions are
 * accepted, for integers use {@link assertInteger}. Cost: O(1).
 * @throws MemError INVALID_ARGUMENT naming `name`, the value and the range otherwise.
 *
 * @example
 * ```ts
 * import { assertNumber } from '@mem/types';
 * assertNumber(0.5, 'fillRatio', 0, 1); // 0.5
 * ```
 */
export function assertNumber(value: unknown, name: string, min = -Number.MAX_VALUE, max = Number.MAX_VALUE): number {
  if (typeof value !== 'number' || !(value >= min && value <= max)) {
    throw invalidArgument(name, value, `a number in [${min}, ${max}]`);
  }
  return value;
}

/**
 * Checks that `value` is a function and returns it. Cost: O(1).
 * @typeParam T - the function type the caller expects; only "is callable" is checked.
 * @throws MemError INVALID_ARGUMENT naming `name` otherwise.
 *
 * @example
 * ```ts
 * import { assertFunction } from '@mem/types';
 * const log = assertFunction<(line: string) => void>(console.log, 'logger');
 * ```
 */
export function assertFunction<T extends (...args: never[]) => unknown>(value: unknown, name: string): T {
  if (typeof value !== 'function') throw invalidArgument(name, value, 'a function');
  return value as T;
}
