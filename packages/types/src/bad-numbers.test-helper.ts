/**
 * Bad numbers shared by the size and validator specs, and the check of the uniform
 * INVALID_ARGUMENT they must produce.
 */
import { expect } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { describeValue } from './describe-value.js';
import type { MemError } from './mem-error.js';

export const MAX = Number.MAX_SAFE_INTEGER;

/** Calls `fn`, expects a MemError INVALID_ARGUMENT whose message names `argument` and ends with the bad value. */
export function expectInvalid(fn: () => unknown, value: unknown, argument?: string): MemError {
  const error = expectMemError(fn, 'INVALID_ARGUMENT');
  expect(error.message.endsWith(`got ${describeValue(value)}`), error.message).toBe(true);
  if (argument !== undefined) {
    expect(error.message.startsWith(argument), error.message).toBe(true);
    expect(error.details['argument']).toBe(argument);
  }
  expect(Object.is(error.details['value'], value)).toBe(true);
  return error;
}

/** Values that are not a number at all. */
export const WRONG_TYPES: [string, unknown][] = [
  ['a numeric string', '12'],
  ['null', null],
  ['undefined', undefined],
  ['an object', {}],
  ['an array', [12]],
  ['a bigint', 12n],
  ['a boolean', true],
  ['a boxed number', Object(12) as unknown],
];

/** Numbers that are never integers or never safe. */
export const NON_INTEGERS: [string, unknown][] = [
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['a fraction', 1.5],
  ['a tiny fraction', Number.EPSILON],
  ['2^53 (huge, unsafe)', 2 ** 53],
  ['1e300 (huge)', 1e300],
];

/** Every bad size: negative, non-integer, huge and wrong-type. */
export const BAD_SIZES: [string, unknown][] = [
  ['a negative integer', -1],
  ['-MAX_SAFE_INTEGER', -MAX],
  ['-2^53', -(2 ** 53)],
  ...NON_INTEGERS,
  ...WRONG_TYPES,
];

/** Every bad alignment: zero, not a power of two, and every bad size. */
export const BAD_ALIGNMENTS: [string, unknown][] = [
  ['zero', 0],
  ['three', 3],
  ['twelve', 12],
  ['a negative power of two', -8],
  ['a fractional power of two', 0.5],
  ['2^53 (a power of two past MAX_POWER_OF_TWO)', 2 ** 53],
  ...BAD_SIZES,
];
