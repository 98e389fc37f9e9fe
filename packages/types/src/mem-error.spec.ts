import { describe, expect, expectTypeOf, it } from 'vitest';
import { MemError, MemErrorCode } from './mem-error.js';

const DESIGN_CODES = [
  'INVALID_ARGUMENT',
  'OVERSIZED',
  'EXHAUSTED',
  'LIMIT_EXCEEDED',
  'DOUBLE_FREE',
  'USE_AFTER_RELEASE',
  'STALE_HANDLE',
  'FOREIGN_HANDLE',
  'IN_USE',
  'PINNED',
  'NOT_FOUND',
] as const;

describe('MemErrorCode', () => {
  it('holds exactly the codes of the design, each equal to its key', () => {
    expect(Object.keys(MemErrorCode).sort()).toEqual([...DESIGN_CODES].sort());
    for (const [key, value] of Object.entries(MemErrorCode)) expect(value).toBe(key);
  });

  it('types the code union as the string literals', () => {
    expectTypeOf<MemErrorCode>().toEqualTypeOf<(typeof DESIGN_CODES)[number]>();
  });
});

describe('MemError', () => {
  it.each(DESIGN_CODES)('carries the code %s and the message', (code) => {
    const error = new MemError(code, `failed with ${code}`);
    expect(error.code).toBe(code);
    expect(error.message).toBe(`failed with ${code}`);
  });

  it('is an Error and a MemError', () => {
    const error = new MemError('EXHAUSTED', 'no free block');
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(MemError);
  });

  it('is named MemError in its name, toString and stack', () => {
    const error = new MemError('OVERSIZED', 'too big: 9000');
    expect(error.name).toBe('MemError');
    expect(String(error)).toBe('MemError: too big: 9000');
    expect(error.stack?.split('\n')[0]).toBe('MemError: too big: 9000');
  });

  it('defaults details to an empty object', () => {
    expect(new MemError('NOT_FOUND', 'no key 7').details).toEqual({});
  });

  it('keeps the details it was given', () => {
    const details = { requested: 4096, free: 0 };
    const error = new MemError('EXHAUSTED', 'no block of 4096 bytes', { details });
    expect(error.details).toEqual({ requested: 4096, free: 0 });
  });

  it('keeps the cause it was given', () => {
    const cause = new RangeError('Array buffer allocation failed');
    const error = new MemError('EXHAUSTED', 'could not allocate', { cause });
    expect(error.cause).toBe(cause);
  });

  it('has no cause property when no cause was given', () => {
    expect('cause' in new MemError('PINNED', 'pinned')).toBe(false);
    expect('cause' in new MemError('PINNED', 'pinned', { cause: undefined })).toBe(false);
  });

  it('keeps a falsy cause such as 0 or null', () => {
    expect(new MemError('IN_USE', 'busy', { cause: 0 }).cause).toBe(0);
    expect(new MemError('IN_USE', 'busy', { cause: null }).cause).toBeNull();
  });

  it('can be caught and rethrown like any error', () => {
    expect(() => {
      throw new MemError('DOUBLE_FREE', 'block 3 was already released');
    }).toThrow(MemError);
  });
});

describe('MemError.is', () => {
  const error = new MemError('STALE_HANDLE', 'epoch 2 was reclaimed');

  it('recognises a MemError without a code', () => {
    expect(MemError.is(error)).toBe(true);
  });

  it('recognises a MemError with its own code', () => {
    expect(MemError.is(error, 'STALE_HANDLE')).toBe(true);
    expect(MemError.is(error, MemErrorCode.STALE_HANDLE)).toBe(true);
  });

  it('rejects a MemError with another code', () => {
    expect(MemError.is(error, 'FOREIGN_HANDLE')).toBe(false);
  });

  it.each([
    ['a plain Error', new Error('STALE_HANDLE')],
    ['a look-alike object with a code', { name: 'MemError', code: 'STALE_HANDLE', message: 'x' }],
    ['null', null],
    ['undefined', undefined],
    ['a string', 'STALE_HANDLE'],
  ])('rejects %s', (_label, candidate) => {
    expect(MemError.is(candidate)).toBe(false);
    expect(MemError.is(candidate, 'STALE_HANDLE')).toBe(false);
  });

  it('narrows an unknown to MemError', () => {
    const caught: unknown = error;
    if (MemError.is(caught, 'STALE_HANDLE')) {
      expectTypeOf(caught).toEqualTypeOf<MemError>();
      expect(caught.code).toBe('STALE_HANDLE');
    } else {
      expect.unreachable();
    }
  });
});
