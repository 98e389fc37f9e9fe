import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { describeValue } from './describe-value.js';

class Foo {}

describe('describeValue', () => {
  it.each([
    ['a positive integer', 12, '12'],
    ['a negative number', -1, '-1'],
    ['a fraction', -0.5, '-0.5'],
    ['negative zero', -0, '-0'],
    ['NaN', Number.NaN, 'NaN'],
    ['Infinity', Number.POSITIVE_INFINITY, 'Infinity'],
    ['-Infinity', Number.NEGATIVE_INFINITY, '-Infinity'],
    ['2^53', 2 ** 53, '9007199254740992'],
    ['a bigint', 12n, '12n (bigint)'],
    ['a numeric string', '12', '"12" (string)'],
    ['an empty string', '', '"" (string)'],
    ['a string with a quote', 'a"b', '"a\\"b" (string)'],
    ['undefined', undefined, 'undefined'],
    ['null', null, 'null'],
    ['true', true, 'true (boolean)'],
    ['a symbol', Symbol('tag'), 'Symbol(tag) (symbol)'],
    ['a named function', function named() {}, '[function named]'],
    ['a plain object', {}, '[object Object]'],
    ['an array', [1, 2], '[object Array]'],
    ['a class instance', new Foo(), '[object Foo]'],
    ['a typed array', new Uint8Array(4), '[object Uint8Array]'],
    ['an object without prototype', Object.create(null) as object, '[object Object]'],
  ])('describes %s', (_label, value, expected) => {
    expect(describeValue(value)).toBe(expected);
  });

  it('describes an anonymous function', () => {
    expect(describeValue([() => 0][0])).toBe('[function anonymous]');
  });

  it('tells the string "12" apart from the number 12', () => {
    expect(describeValue('12')).not.toBe(describeValue(12));
  });

  it('truncates strings longer than 40 characters', () => {
    const long = 'x'.repeat(100);
    expect(describeValue(long)).toBe(`"${'x'.repeat(40)}..." (string)`);
    expect(describeValue('y'.repeat(40))).toBe(`"${'y'.repeat(40)}" (string)`);
  });

  it('never throws, even for a revoked proxy or a throwing constructor getter', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(describeValue(proxy)).toBe('[object Object]');
    const hostile = Object.defineProperty({}, 'constructor', {
      get() {
        throw new Error('no');
      },
    });
    expect(describeValue(hostile)).toBe('[object Object]');
  });

  it('never throws and always returns a non-empty string (property)', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withBoxedValues: true, withMap: true, withSet: true }), (value) => {
        const text = describeValue(value);
        expect(typeof text).toBe('string');
        expect(text.length).toBeGreaterThan(0);
      }),
    );
  });
});
