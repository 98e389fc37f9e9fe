import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import fc from 'fast-check';
import { MemError } from './mem-error.js';
import { BAD_ALIGNMENTS, BAD_SIZES, MAX, NON_INTEGERS, WRONG_TYPES, expectInvalid } from './bad-numbers.test-helper.js';
import { MAX_POWER_OF_TWO } from './power-of-two.js';
import {
  assertBoolean,
  assertNonEmptyString,
  assertFunction,
  assertInteger,
  assertNumber,
  assertOneOf,
  assertOptions,
  assertPowerOfTwo,
  assertRange,
  assertSize,
  invalidArgument,
} from './validators.js';

describe('assertInteger', () => {
  it('returns an integer inside the default range', () => {
    expect(assertInteger(7, 'epoch')).toBe(7);
    expect(assertInteger(-7, 'delta')).toBe(-7);
    expect(assertInteger(0, 'zero')).toBe(0);
  });

  it('accepts the bounds of the safe integers by default', () => {
    expect(assertInteger(MAX, 'n')).toBe(MAX);
    expect(assertInteger(Number.MIN_SAFE_INTEGER, 'n')).toBe(Number.MIN_SAFE_INTEGER);
  });

  it('accepts both inclusive bounds of a given range', () => {
    expect(assertInteger(2, 'n', { min: 2, max: 5 })).toBe(2);
    expect(assertInteger(5, 'n', { min: 2, max: 5 })).toBe(5);
  });

  it('rejects values just outside a given range, naming the range', () => {
    const below = expectInvalid(() => assertInteger(1, 'n', { min: 2, max: 5 }), 1, 'n');
    expect(below.message).toBe('n must be an integer in [2, 5], got 1');
    expectInvalid(() => assertInteger(6, 'n', { min: 2, max: 5 }), 6, 'n');
  });

  it.each(NON_INTEGERS)('rejects %s with INVALID_ARGUMENT', (_label, value) => {
    expectInvalid(() => assertInteger(value, 'count'), value, 'count');
  });

  it.each(WRONG_TYPES)('rejects %s with INVALID_ARGUMENT', (_label, value) => {
    expectInvalid(() => assertInteger(value, 'count'), value, 'count');
  });

  it('rejects the string "12" with a message that quotes it', () => {
    const error = expectInvalid(() => assertInteger('12', 'count'), '12', 'count');
    expect(error.message).toContain('"12" (string)');
  });

  it('returns every safe integer unchanged (property)', () => {
    fc.assert(fc.property(fc.maxSafeInteger(), (value) => assertInteger(value, 'n') === value));
  });

  it('rejects every non-integer double (property)', () => {
    fc.assert(
      fc.property(
        fc.double().filter((value) => !Number.isSafeInteger(value)),
        (value) => {
          expectInvalid(() => assertInteger(value, 'n'), value, 'n');
        },
      ),
    );
  });

  it('accepts exactly the integers inside [min, max] (property)', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer(), fc.integer(), (value, a, b) => {
        const [min, max] = a <= b ? [a, b] : [b, a];
        const inside = value >= min && value <= max;
        if (inside) expect(assertInteger(value, 'n', { min, max })).toBe(value);
        else expectInvalid(() => assertInteger(value, 'n', { min, max }), value, 'n');
      }),
    );
  });
});

describe('assertSize', () => {
  it('returns a size', () => {
    expect(assertSize(4096, 'capacity', { min: 1, max: 1 << 20 })).toBe(4096);
    expect(assertSize(0, 'length')).toBe(0);
    expect(assertSize(MAX, 'length')).toBe(MAX);
  });

  it('rejects zero when the minimum is 1', () => {
    const error = expectInvalid(() => assertSize(0, 'capacity', { min: 1 }), 0, 'capacity');
    expect(error.message).toBe(`capacity must be an integer in [1, ${MAX}], got 0`);
  });

  it('rejects a size above the maximum', () => {
    expectInvalid(() => assertSize(1025, 'capacity', { max: 1024 }), 1025, 'capacity');
  });

  it('keeps the default minimum of 0 when only a maximum is given', () => {
    expectInvalid(() => assertSize(-1, 'capacity', { max: 1024 }), -1, 'capacity');
  });

  it.each(BAD_SIZES)('rejects %s with INVALID_ARGUMENT', (_label, value) => {
    expectInvalid(() => assertSize(value, 'byteLength'), value, 'byteLength');
  });

  it('accepts every safe non-negative integer and rejects every negative one (property)', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (value) => {
        if (value >= 0) expect(assertSize(value, 'n')).toBe(value);
        else expectInvalid(() => assertSize(value, 'n'), value, 'n');
      }),
    );
  });
});

describe('assertPowerOfTwo', () => {
  it('returns a power of two', () => {
    expect(assertPowerOfTwo(64, 'alignment')).toBe(64);
    expect(assertPowerOfTwo(1, 'alignment')).toBe(1);
    expect(assertPowerOfTwo(MAX_POWER_OF_TWO, 'alignment')).toBe(MAX_POWER_OF_TWO);
  });

  it('respects a given maximum', () => {
    expect(assertPowerOfTwo(4096, 'alignment', 4096)).toBe(4096);
    const error = expectInvalid(() => assertPowerOfTwo(8192, 'alignment', 4096), 8192, 'alignment');
    expect(error.message).toBe('alignment must be a power of two in [1, 4096], got 8192');
  });

  it.each(BAD_ALIGNMENTS)('rejects %s with INVALID_ARGUMENT', (_label, value) => {
    expectInvalid(() => assertPowerOfTwo(value, 'alignment'), value, 'alignment');
  });

  it('rejects the neighbours of large powers of two', () => {
    expectInvalid(() => assertPowerOfTwo(2 ** 50 + 1, 'alignment'), 2 ** 50 + 1, 'alignment');
    expectInvalid(() => assertPowerOfTwo(2 ** 52 - 1, 'alignment'), 2 ** 52 - 1, 'alignment');
  });
});

describe('assertRange', () => {
  it('accepts ranges inside the capacity, including empty ones at either end', () => {
    expect(() => assertRange(16, 16, 64, 'key')).not.toThrow();
    expect(() => assertRange(0, 64, 64)).not.toThrow();
    expect(() => assertRange(0, 0, 0)).not.toThrow();
    expect(() => assertRange(64, 0, 64)).not.toThrow();
  });

  it('rejects an offset past the capacity, naming the range', () => {
    const error = expectInvalid(() => assertRange(65, 0, 64, 'key'), 65, 'key offset');
    expect(error.message).toBe('key offset must be an integer in [0, 64], got 65');
  });

  it('rejects a length that overruns the capacity', () => {
    const error = expectInvalid(() => assertRange(60, 8, 64, 'key'), 8, 'key length');
    expect(error.message).toBe('key length must be an integer in [0, 4], got 8');
  });

  it('names the range "range" by default', () => {
    expectInvalid(() => assertRange(-1, 0, 64), -1, 'range offset');
  });

  it.each(BAD_SIZES)('rejects an offset that is %s with INVALID_ARGUMENT', (_label, value) => {
    expectInvalid(() => assertRange(value as number, 0, 64, 'slot'), value, 'slot offset');
  });

  it.each(BAD_SIZES)('rejects a length that is %s with INVALID_ARGUMENT', (_label, value) => {
    expectInvalid(() => assertRange(0, value as number, 64, 'slot'), value, 'slot length');
  });

  it.each(BAD_SIZES)('rejects a capacity that is %s with INVALID_ARGUMENT', (_label, value) => {
    // A NaN capacity used to make every bound comparison false, so any range passed.
    expectInvalid(() => assertRange(0, 0, value as number, 'slot'), value, 'slot capacity');
  });

  it('accepts exactly the ranges with offset + length <= capacity (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1 << 20 }),
        fc.integer({ min: -8, max: 1 << 20 }),
        fc.integer({ min: -8, max: 1 << 20 }),
        (capacity, offset, length) => {
          const inside = offset >= 0 && length >= 0 && offset + length <= capacity;
          if (inside) expect(() => assertRange(offset, length, capacity)).not.toThrow();
          else expect(() => assertRange(offset, length, capacity)).toThrow(MemError);
        },
      ),
    );
  });
});

describe('invalidArgument', () => {
  it('builds the uniform INVALID_ARGUMENT error with the argument, the value and the rule', () => {
    const error = invalidArgument('blockSize', 3, 'a multiple of 16');
    expect(error).toBeInstanceOf(MemError);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe('blockSize must be a multiple of 16, got 3');
    expect(error.details).toEqual({ argument: 'blockSize', value: 3, rule: 'a multiple of 16' });
  });
});

describe('assertOptions', () => {
  it('gives an empty object for undefined and returns an object as it is', () => {
    expect(assertOptions(undefined)).toEqual({});
    const options = { shared: true };
    expect(assertOptions(options, 'options', ['shared'])).toBe(options);
  });

  it.each([null, 0, 'x', true, [], () => {}, 5n])('rejects %s with INVALID_ARGUMENT naming the argument', (value) => {
    expect(expectInvalid(() => assertOptions(value, 'poolOptions'), value).message).toMatch(
      /^poolOptions must be an object/,
    );
  });

  it('rejects an unknown option when the known names are given, and lists them', () => {
    const error = expectMemError(
      () => assertOptions({ shared: true, sahred: 1 }, 'options', ['shared']),
      'INVALID_ARGUMENT',
    );
    expect(error.message).toContain('options.sahred');
    expect(error.message).toContain('known options are shared');
  });
});

describe('assertBoolean', () => {
  it('returns a boolean', () => {
    expect(assertBoolean(false, 'prefill')).toBe(false);
  });

  it.each([0, 1, 'true', null, undefined, {}])('rejects %s with INVALID_ARGUMENT', (value) => {
    expect(expectInvalid(() => assertBoolean(value, 'prefill'), value).message).toMatch(/^prefill must be a boolean/);
  });
});

describe('assertNonEmptyString', () => {
  it('returns a non-empty string', () => {
    expect(assertNonEmptyString('activations', 'options.name')).toBe('activations');
  });

  it.each(['', null, undefined, 1, {}, ['a']])('rejects %s with INVALID_ARGUMENT', (value) => {
    expect(expectInvalid(() => assertNonEmptyString(value, 'options.name'), value).message).toMatch(
      /^options\.name must be a non-empty string/,
    );
  });
});

describe('assertOneOf', () => {
  it('returns a listed choice', () => {
    expect(assertOneOf('lru', 'order', ['lru', 'fifo'] as const)).toBe('lru');
  });

  it.each(['LRU', '', null, 1, undefined])('rejects %s with INVALID_ARGUMENT listing the choices', (value) => {
    expect(expectInvalid(() => assertOneOf(value, 'order', ['lru', 'fifo']), value).message).toContain(
      'one of lru, fifo',
    );
  });
});

describe('assertNumber', () => {
  it('accepts fractions and both bounds', () => {
    expect(assertNumber(0.5, 'ratio', 0, 1)).toBe(0.5);
    expect(assertNumber(0, 'ratio', 0, 1)).toBe(0);
    expect(assertNumber(1, 'ratio', 0, 1)).toBe(1);
    expect(assertNumber(-1e300, 'anything')).toBe(-1e300);
  });

  it.each([NaN, -0.1, 1.1, Infinity, -Infinity, '0.5', null])('rejects %s with INVALID_ARGUMENT', (value) => {
    expect(expectInvalid(() => assertNumber(value, 'ratio', 0, 1), value).message).toContain('a number in [0, 1]');
  });
});

describe('assertFunction', () => {
  it('returns a function', () => {
    const log = (): void => {};
    expect(assertFunction(log, 'logger')).toBe(log);
  });

  it.each([null, undefined, {}, 'log'])('rejects %s with INVALID_ARGUMENT', (value) => {
    expect(expectInvalid(() => assertFunction(value, 'logger'), value).message).toMatch(/^logger must be a function/);
  });
});
