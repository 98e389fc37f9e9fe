import { describe, expect, it } from 'vitest';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import { IoBuffer } from './io-buffer.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

function testPool(maxPerClass = 4): BufferPool {
  return new BufferPool(BufferPoolConfig.from({ minSize: 1024, maxSize: 4096, maxPerClass }), {
    leakDetection: 'off',
  });
}

describe('IoBuffer', () => {
  it('exposes its readable bytes, its capacity bytes and where they live', () => {
    const pool = testPool();
    const buffer = pool.alloc(1000);
    expect(buffer.bytes.length).toBe(0);
    expect(buffer.capacityBytes.length).toBe(1024);
    buffer.capacityBytes.set([1, 2, 3]);
    buffer.length = 3;
    expect([...buffer.bytes]).toEqual([1, 2, 3]);
    const view = new Uint8Array(buffer.arrayBuffer, buffer.byteOffset, 3);
    expect([...view]).toEqual([1, 2, 3]);
    buffer.length = 1024;
    expect(buffer.bytes).toBe(buffer.capacityBytes); // the cached view: no allocation
    buffer.release();
  });

  it('appends with write and refuses to write past its capacity, writing nothing', () => {
    const pool = testPool();
    const buffer = pool.alloc(1024);
    expect(buffer.write([1, 2])).toBe(2);
    expect(buffer.write(new Uint8Array([3]))).toBe(3);
    expect([...buffer.bytes]).toEqual([1, 2, 3]);
    const error = expectMemError(() => buffer.write(new Uint8Array(1022)), 'LIMIT_EXCEEDED');
    expect(error.message).toBe('cannot write 1022 bytes after 3: the capacity is 1024');
    expect(buffer.length).toBe(3);
    expect(buffer.write(new Uint8Array(1021))).toBe(1024);
    buffer.release();
  });

  it('releases once: a second release throws DOUBLE_FREE and returns nothing twice', () => {
    const pool = testPool(1);
    const buffer = pool.tryAlloc(1024);
    buffer.release();
    expect(buffer.released).toBe(true);
    const error = expectMemError(() => buffer.release(), 'DOUBLE_FREE');
    expect(error.message).toBe('IoBuffer(0 of 1024 bytes, slot 0) was already released');
    const stats = pool.stats().classes[0]!;
    expect(stats.localFree + stats.globalFree).toBe(1);
    const next = pool.tryAlloc(1024);
    expectMemError(() => pool.tryAlloc(1024), 'EXHAUSTED');
    next.release();
  });

  it('never lets a stale handle reach a slot that was handed out again', () => {
    const pool = testPool(1);
    const stale = pool.tryAlloc(1024);
    stale.release();
    const owner = pool.tryAlloc(1024);
    owner.write([42]);
    expectMemError(() => stale.release(), 'DOUBLE_FREE');
    expectMemError(() => stale.bytes, 'USE_AFTER_RELEASE');
    expect([...owner.bytes]).toEqual([42]);
    expectMemError(() => pool.tryAlloc(1024), 'EXHAUSTED');
    owner.release();
  });

  it('throws USE_AFTER_RELEASE on every access to the memory of a released buffer', () => {
    const pool = testPool();
    const buffer = pool.alloc(1024);
    buffer.release();
    const accesses: [string, () => unknown][] = [
      ['bytes', () => buffer.bytes],
      ['capacityBytes', () => buffer.capacityBytes],
      ['arrayBuffer', () => buffer.arrayBuffer],
      ['byteOffset', () => buffer.byteOffset],
      ['length =', () => (buffer.length = 1)],
      ['write', () => buffer.write([1])],
      ['freeze', () => buffer.freeze()],
      ['transfer', () => buffer.transfer()],
    ];
    for (const [name, access] of accesses) {
      const error = expectMemError(access, 'USE_AFTER_RELEASE');
      expect(error.message, name).toContain('was used after release');
    }
    // Metadata stays readable.
    expect(buffer.capacity).toBe(1024);
    expect(buffer.isPooled).toBe(true);
  });

  it('releases at the end of a using block, and using ignores an early release', () => {
    const pool = testPool(1);
    {
      using buffer = pool.tryAlloc(1024);
      expect(buffer.released).toBe(false);
    }
    {
      using buffer = pool.tryAlloc(1024);
      buffer.release();
    }
    const again = pool.tryAlloc(1024);
    expectMemError(() => pool.tryAlloc(1024), 'EXHAUSTED');
    again.release();
  });

  it('validates the readable length it is given', () => {
    const pool = testPool();
    const buffer = pool.alloc(1024);
    for (const bad of [-1, 1025, 0.5, NaN, Infinity, '1', null, undefined]) {
      expectMemError(() => (buffer.length = bad as number), 'INVALID_ARGUMENT');
    }
    expect(buffer.length).toBe(0);
    buffer.length = 1024;
    buffer.length = 0;
    buffer.release();
  });

  it('validates what it writes', () => {
    const pool = testPool();
    const buffer = pool.alloc(1024);
    for (const bad of ['abc', 5, null, undefined, {}, new Uint16Array(2)]) {
      expectMemError(() => buffer.write(bad as never), 'INVALID_ARGUMENT');
    }
    expect(buffer.length).toBe(0);
    buffer.release();
  });

  it('works the same when untracked', () => {
    const pool = testPool();
    const buffer = pool.alloc(10_000);
    expect(buffer.isPooled).toBe(false);
    buffer.write([9]);
    expect(buffer.byteOffset).toBe(0);
    buffer.release();
    expectMemError(() => buffer.release(), 'DOUBLE_FREE');
    expectMemError(() => buffer.bytes, 'USE_AFTER_RELEASE');
  });

  it('is issued by a pool only: one built by hand around a pool cannot give it a slot', () => {
    const pool = testPool();
    const before = pool.stats();
    // @ts-expect-error the constructor is private: buffers come from BufferPool.alloc
    const forged: IoBuffer = new IoBuffer(pool, 0, 0, new Uint8Array(1024), 0);
    expect(() => forged.release()).toThrow(TypeError);
    expect(pool.stats()).toEqual(before);
  });
});
