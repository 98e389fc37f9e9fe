/**
 * `IoBuffer.write` takes a Uint8Array or an array of integers in [0, 255], reads it once, and
 * writes nothing unless all of it is valid and fits, also when reading it runs the caller's code.
 */
import { describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { IoBuffer } from './io-buffer.js';

function testPool(): BufferPool {
  return new BufferPool(BufferPoolConfig.from({ minSize: 1024, maxSize: 1024, maxPerClass: 4 }), {
    leakDetection: 'off',
  });
}

/** A buffer holding [7, 7] readable and 0x55 in the rest of its capacity. */
function primed(pool: BufferPool): IoBuffer {
  const buffer = pool.alloc(1024);
  buffer.capacityBytes.fill(0x55);
  buffer.write([7, 7]);
  return buffer;
}

function expectUntouched(buffer: IoBuffer): void {
  expect(buffer.length).toBe(2);
  expect([...buffer.bytes]).toEqual([7, 7]);
  expect(buffer.capacityBytes.subarray(2).every((byte) => byte === 0x55)).toBe(true);
}

/** An array whose element `index` runs `effect` when read. */
function arrayWithGetter(length: number, index: number, effect: () => void): number[] {
  const source = new Array<number>(length).fill(1);
  Object.defineProperty(source, index, {
    get: () => {
      effect();
      return 1;
    },
  });
  return source;
}

describe('IoBuffer.write', () => {
  it('rejects arrays of anything but integers in [0, 255] with INVALID_ARGUMENT, writing nothing', () => {
    const pool = testPool();
    const buffer = primed(pool);
    const bad: [string, unknown][] = [
      ['strings', ['a', 'b']],
      ['numeric strings', ['1']],
      ['256', [1, 256]],
      ['negative', [-1]],
      ['fractional', [1.5]],
      ['NaN', [NaN]],
      ['Infinity', [Infinity]],
      ['null', [null]],
      ['undefined', [undefined]],
      ['a hole', [1, , 3]], // eslint-disable-line no-sparse-arrays
      ['a bigint', [1n]],
      ['a boolean', [true]],
      ['an object', [{}]],
      ['a nested array', [[1]]],
    ];
    for (const [label, source] of bad) {
      const error = expectMemError(() => buffer.write(source as never), 'INVALID_ARGUMENT', label);
      expect(error.message).toMatch(/source\[\d\] must be an integer in \[0, 255\]/);
      expectUntouched(buffer);
    }
    expect(buffer.write([0, 255])).toBe(4);
    buffer.release();
  });

  it('rejects what is neither a Uint8Array nor an array with INVALID_ARGUMENT, proxies and other typed arrays included', () => {
    const pool = testPool();
    const buffer = primed(pool);
    const proxied = new Proxy(new Uint8Array([1, 2]), {});
    for (const source of [
      'ab',
      5,
      null,
      undefined,
      {},
      new Uint16Array(2),
      new Int8Array(2),
      proxied,
      new DataView(new ArrayBuffer(2)),
    ]) {
      expectMemError(() => buffer.write(source as never), 'INVALID_ARGUMENT');
      expectUntouched(buffer);
    }
    buffer.release();
  });

  it('takes a Node Buffer, and a Uint8Array for its real length whatever its length property says', () => {
    const pool = testPool();
    const buffer = primed(pool);
    expect(buffer.write(Buffer.from([1, 2]))).toBe(4);
    const lying = new Uint8Array([3, 4, 5]);
    Object.defineProperty(lying, 'length', { value: 2000 });
    expect(buffer.write(lying)).toBe(7);
    expect([...buffer.bytes]).toEqual([7, 7, 1, 2, 3, 4, 5]);
    buffer.release();
  });

  it('throws LIMIT_EXCEEDED for a source longer than the room left, reading none of it', () => {
    const pool = testPool();
    const buffer = primed(pool);
    let reads = 0;
    const long = arrayWithGetter(1023, 0, () => (reads += 1));
    expectMemError(() => buffer.write(long), 'LIMIT_EXCEEDED');
    expect(reads).toBe(0);
    expectUntouched(buffer);
    buffer.release();
  });

  it('writes nothing into a slot released, and handed out again, by a getter of the source (USE_AFTER_RELEASE)', () => {
    const pool = testPool();
    const buffer = primed(pool);
    let other: IoBuffer | undefined;
    const source = arrayWithGetter(100, 50, () => {
      buffer.release();
      other = pool.alloc(1024); // the same slot, from the local cache
    });
    expectMemError(() => buffer.write(source), 'USE_AFTER_RELEASE');
    expect(other!.capacityBytes.subarray(2).every((byte) => byte === 0x55)).toBe(true);
    expect([...other!.capacityBytes.subarray(0, 2)]).toEqual([7, 7]);
    other!.release();
  });

  it('checks the room again after a getter of the source grew the buffer (LIMIT_EXCEEDED)', () => {
    const pool = testPool();
    const buffer = primed(pool);
    const source = arrayWithGetter(100, 0, () => (buffer.length = 1000));
    expectMemError(() => buffer.write(source), 'LIMIT_EXCEEDED');
    expect(buffer.length).toBe(1000);
    expect(buffer.capacityBytes.subarray(2).every((byte) => byte === 0x55)).toBe(true);
    buffer.release();
  });

  it('rejects a proxy of an array whose length is not an array length with INVALID_ARGUMENT', () => {
    const pool = testPool();
    const buffer = primed(pool);
    for (const length of [-1, 1.5, '2', 2 ** 40]) {
      const source = new Proxy([1, 2], {
        get: (target, key) => (key === 'length' ? length : Reflect.get(target, key)),
      });
      expectMemError(() => buffer.write(source), 'INVALID_ARGUMENT', String(length));
      expectUntouched(buffer);
    }
    buffer.release();
  });
});
