import { describe, expect, it } from 'vitest';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { BufferClassStats } from './buffer-pool-stats.js';
import { FrozenBuffer } from './frozen-buffer.js';
import { IoBuffer } from './io-buffer.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

const page = 4096;

function testPool(maxPerClass = 2): BufferPool {
  return new BufferPool(BufferPoolConfig.from({ minSize: page, maxSize: page, maxPerClass, alignment: page }), {
    leakDetection: 'off',
  });
}

function classOf(pool: BufferPool): BufferClassStats {
  return pool.stats().classes[0]!;
}

const allocated = (pool: BufferPool): number => classOf(pool).inUse;
const available = (pool: BufferPool): number => classOf(pool).localFree + classOf(pool).globalFree;

describe('FrozenBuffer', () => {
  it('keeps the slot while the frozen view lives and returns it at release', () => {
    const pool = testPool();
    expect(allocated(pool)).toBe(0);
    expect(available(pool)).toBe(0);
    const buffer = pool.tryAlloc(page);
    expect(allocated(pool)).toBe(1);
    const frozen = buffer.freeze();
    expect(allocated(pool)).toBe(1);
    expect(buffer.released).toBe(true);
    expectMemError(() => buffer.release(), 'DOUBLE_FREE');
    frozen.release();
    expect(allocated(pool)).toBe(0);
    expect(available(pool)).toBe(1);
  });

  it('shares memory between clones and slices and frees it with the last reference', () => {
    const pool = testPool();
    const buffer = pool.tryAlloc(page);
    buffer.write(new Uint8Array(100).fill(0xaa));
    const frozen = buffer.freeze();
    const clone = frozen.clone();
    const slice = frozen.slice(10, 40);
    const empty = frozen.slice(10, 10);
    expect(empty.length).toBe(0);
    expect(empty.isPooled).toBe(false);
    expect(frozen.referenceCount).toBe(3);
    expect(slice.bytes.buffer).toBe(frozen.bytes.buffer);
    expect(slice.bytes.byteOffset).toBe(frozen.bytes.byteOffset + 10);
    expect(slice.length).toBe(30);
    frozen.release();
    expect(allocated(pool)).toBe(1);
    slice.release();
    expect(allocated(pool)).toBe(1);
    clone.release();
    expect(allocated(pool)).toBe(0);
    empty.release();
    expect(available(pool)).toBe(1);
  });

  it('slices of slices address the original bytes', () => {
    const pool = testPool();
    const buffer = pool.tryAlloc(page);
    buffer.write([0, 1, 2, 3, 4, 5, 6, 7]);
    const frozen = buffer.freeze();
    const inner = frozen.slice(2, 7).slice(1, 3);
    expect([...inner.bytes]).toEqual([3, 4]);
    expect([...frozen.slice(5).bytes]).toEqual([5, 6, 7]);
    expect([...frozen.slice().bytes]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('turns a unique view starting at the slot back into a mutable buffer without copying', () => {
    const pool = testPool();
    const buffer = pool.tryAlloc(page);
    const frozen = buffer.freeze();
    expect(allocated(pool)).toBe(1);
    const mutable = IoBuffer.tryFromFrozen(frozen)!;
    expect(mutable).toBeInstanceOf(IoBuffer);
    expect(frozen.released).toBe(true);
    expect(allocated(pool)).toBe(1);
    expect(available(pool)).toBe(0);
    expect(mutable.capacity).toBe(page);
    mutable.release();
    expect(allocated(pool)).toBe(0);
    expect(available(pool)).toBe(1);
  });

  it('keeps the data of a full unique view when it becomes mutable', () => {
    const pool = testPool();
    const buffer = pool.tryAlloc(page);
    buffer.write(new Uint8Array(page).fill(0xee));
    const frozen = buffer.freeze();
    const mutable = IoBuffer.tryFromFrozen(frozen)!;
    expect(mutable.length).toBe(page);
    expect(mutable.capacity).toBe(page);
    expect(mutable.bytes.every((byte) => byte === 0xee)).toBe(true);
    expect(allocated(pool)).toBe(1);
    mutable.release();
    expect(available(pool)).toBe(1);
  });

  it('makes a unique slice mutable, and refuses while the memory is shared', () => {
    const pool = testPool();
    const buffer = pool.tryAlloc(page);
    buffer.write(new Uint8Array(page).fill(0xcd));
    const frozen = buffer.freeze();
    const sliced = frozen.slice(1, page);
    frozen.release();
    const recycled = IoBuffer.tryFromFrozen(sliced)!;
    expect(recycled.length).toBe(page - 1);
    expect(recycled.capacity).toBe(page - 1);
    expect(recycled.bytes.every((byte) => byte === 0xcd)).toBe(true);
    expect(allocated(pool)).toBe(1);
    recycled.release();
    expect(allocated(pool)).toBe(0);
    expect(available(pool)).toBe(1);

    const shared = pool.tryAlloc(page).freeze();
    const other = shared.clone();
    expect(shared.isUnique).toBe(false);
    expect(IoBuffer.tryFromFrozen(shared)).toBeUndefined();
    expect(shared.released).toBe(false);
    other.release();
    shared.release();
    expect(allocated(pool)).toBe(0);
    expect(available(pool)).toBeGreaterThanOrEqual(1);
  });

  it('makes an untracked frozen buffer mutable too', () => {
    const pool = testPool();
    const buffer = pool.alloc(page * 4);
    buffer.write([1, 2, 3]);
    const frozen = buffer.freeze();
    const clone = frozen.clone();
    expect(IoBuffer.tryFromFrozen(frozen)).toBeUndefined();
    clone.release();
    const mutable = IoBuffer.tryFromFrozen(frozen)!;
    expect(mutable.isPooled).toBe(false);
    expect(mutable.capacity).toBe(page * 4);
    expect([...mutable.bytes]).toEqual([1, 2, 3]);
  });

  it('throws USE_AFTER_RELEASE on every access to a released view, and DOUBLE_FREE on a second release', () => {
    const pool = testPool();
    const frozen = pool.tryAlloc(page).freeze();
    frozen.release();
    for (const access of [
      () => frozen.bytes,
      () => frozen.referenceCount,
      () => frozen.isUnique,
      () => frozen.slice(0, 0),
      () => frozen.clone(),
      () => frozen.transfer(),
      () => IoBuffer.tryFromFrozen(frozen),
    ]) {
      expectMemError(access, 'USE_AFTER_RELEASE');
    }
    expectMemError(() => frozen.release(), 'DOUBLE_FREE');
    expect(available(pool)).toBe(1);
  });

  it('validates slice bounds instead of clamping them, and stays usable', () => {
    const pool = testPool();
    const buffer = pool.tryAlloc(page);
    buffer.write([1, 2, 3, 4]);
    const frozen = buffer.freeze();
    for (const [start, end] of [
      [-1, 2],
      [0, 5],
      [3, 2],
      [0.5, 2],
      [NaN, 2],
      [0, Infinity],
      ['1', 2],
      [null, 2],
    ]) {
      expectMemError(() => frozen.slice(start as number, end as number), 'INVALID_ARGUMENT');
    }
    expect(frozen.referenceCount).toBe(1);
    expect([...frozen.slice(1, 3).bytes]).toEqual([2, 3]);
  });

  it('rejects what is not a frozen view', () => {
    const pool = testPool();
    const buffer = pool.alloc(page);
    expectMemError(() => IoBuffer.tryFromFrozen(buffer as unknown as FrozenBuffer), 'INVALID_ARGUMENT');
    expectMemError(() => IoBuffer.tryFromFrozen({} as FrozenBuffer), 'INVALID_ARGUMENT');
    expectMemError(() => IoBuffer.tryFromFrozen(null as unknown as FrozenBuffer), 'INVALID_ARGUMENT');
    buffer.release();
  });

  it('is issued by a pool only: one built by hand around a pool cannot take a reference to its slot', () => {
    const pool = testPool();
    const before = pool.stats();
    // @ts-expect-error the constructor is private: views come from IoBuffer.freeze
    expect(() => new FrozenBuffer(pool, 0, new Uint8Array(page), 0, page, undefined)).toThrow(TypeError);
    expect(pool.stats()).toEqual(before);
  });
});
