import { describe, expect, it } from 'vitest';
import type { MemError } from '@mem/types';
import { DEFAULT_BLOCK_SIZE, EpochArena, MAX_KEY_LENGTH, decodeHandle } from './index.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

const encoder = new TextEncoder();

function bytesOf(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 1) bytes[i] = (i * 31 + seed) & 255;
  return bytes;
}

describe('EpochArena basics', () => {
  it('allocates handles of the requested lengths tagged with the epoch', () => {
    const arena = new EpochArena({ epoch: 1 });
    const h1 = arena.allocate(16);
    const h2 = arena.allocate(32);
    const h3 = arena.allocate(64);
    expect(arena.lengthOf(h1)).toBe(16);
    expect(arena.lengthOf(h2)).toBe(32);
    expect(arena.lengthOf(h3)).toBe(64);
    expect(arena.epochOf(h1)).toBe(1);
    expect(arena.stats().allocationCount).toBe(3);
  });

  it('copies bytes in and reads them back', () => {
    const arena = new EpochArena({ epoch: 1 });
    const data = encoder.encode('hello world');
    const handle = arena.allocateCopy(data);
    expect(arena.lengthOf(handle)).toBe(data.length);
    expect(arena.view(handle)).toEqual(data);
  });

  it('stores a key and reads it back', () => {
    const arena = new EpochArena({ epoch: 1 });
    const key = encoder.encode('my_test_key');
    const handle = arena.allocateKey(key);
    expect(arena.view(handle)).toEqual(key);
  });

  it('resets to a new epoch with no allocations left', () => {
    const arena = new EpochArena({ epoch: 1 });
    for (let i = 0; i < 1000; i += 1) arena.allocate(64);
    expect(arena.stats().bytesAllocated).toBeGreaterThan(0);
    arena.reset(2);
    const after = arena.stats();
    expect(after.epoch).toBe(2);
    expect(after.allocationCount).toBe(0);
    expect(after.bytesAllocated).toBe(0);
    expect(after.bytesUsed).toBe(0);
  });

  it('gives an allocation larger than a block a block of its own', () => {
    const arena = new EpochArena({ epoch: 1 });
    arena.allocate(16);
    const large = 3 * 1024 * 1024;
    const handle = arena.allocate(large);
    expect(arena.lengthOf(handle)).toBe(large);
    const stats = arena.stats();
    expect(stats.blockCount).toBeGreaterThanOrEqual(2);
    expect(stats.oversizedBlocks).toBe(1);
    // The current block keeps serving small allocations.
    const small = arena.allocate(16);
    expect(decodeHandle(small)!.address).toBe(decodeHandle(arena.allocate(0))!.address - 2);
  });

  it('aligns allocations to 16 and 64 bytes', () => {
    const arena = new EpochArena({ epoch: 1 });
    arena.allocate(3);
    const h1 = arena.allocate(17, 16);
    expect(arena.view(h1).byteOffset % 16).toBe(0);
    const h2 = arena.allocate(65, 64);
    expect(arena.view(h2).byteOffset % 64).toBe(0);
  });

  it('aligns to every power of two up to 4096, in regular and oversized blocks', () => {
    const arena = new EpochArena({ blockSize: 8192 });
    for (let align = 1; align <= 4096; align *= 2) {
      arena.allocate(5);
      const handle = arena.allocate(100, align);
      expect(arena.view(handle).byteOffset % align).toBe(0);
      expect(arena.view(handle).byteOffset % 8).toBe(0);
      const big = arena.allocate(10_000, align);
      expect(arena.view(big).byteOffset % align).toBe(0);
      expect(arena.lengthOf(big)).toBe(10_000);
    }
  });
});

describe('EpochArena allocation', () => {
  it('packs consecutive small allocations on 8-byte boundaries without overlap', () => {
    const arena = new EpochArena();
    const handles = [1, 7, 8, 9, 16, 0, 33].map((size) => arena.allocate(size));
    const ranges = handles.map((handle) => {
      const view = arena.view(handle);
      return [view.byteOffset, view.byteOffset + view.length] as const;
    });
    for (const [start] of ranges) expect(start % 8).toBe(0);
    for (let i = 1; i < ranges.length; i += 1) expect(ranges[i]![0]).toBeGreaterThanOrEqual(ranges[i - 1]![1]);
  });

  it('makes its first block on the first allocation, not at construction', () => {
    const arena = new EpochArena();
    expect(arena.stats().blockCount).toBe(0);
    arena.allocate(1);
    expect(arena.stats()).toMatchObject({ blockCount: 1, totalCapacity: DEFAULT_BLOCK_SIZE });
  });

  it('moves to the next block when an allocation does not fit the rest of the current one', () => {
    const arena = new EpochArena({ blockSize: 8192 });
    const first = arena.allocate(8000);
    const second = arena.allocate(400);
    expect(decodeHandle(first)!.address >>> 10).toBe(0);
    expect(decodeHandle(second)!.address >>> 10).toBe(1);
    expect(arena.stats()).toMatchObject({ blocksInUse: 2, totalCapacity: 16384 });
  });

  it('fills a block exactly to its end', () => {
    const arena = new EpochArena({ blockSize: 8192 });
    for (let i = 0; i < 16; i += 1) arena.allocate(504);
    const last = arena.allocate(128);
    expect(arena.view(last).byteOffset + 128).toBe(8192);
    expect(arena.stats().blocksInUse).toBe(1);
    const zero = arena.allocate(0);
    expect(arena.lengthOf(zero)).toBe(0);
    expect(arena.stats().blocksInUse).toBe(1);
  });

  it('stores lengths of 511 bytes and more in a header and reads them back exactly', () => {
    const arena = new EpochArena({ blockSize: 8192 });
    for (const size of [509, 510, 511, 512, 4096, 8000, 8184, 8185, 20_000]) {
      const data = bytesOf(size, size);
      const handle = arena.allocateCopy(data);
      expect(decodeHandle(handle)!.inlineLength).toBe(size >= 511 ? 511 : size);
      expect(arena.lengthOf(handle)).toBe(size);
      expect(arena.view(handle)).toEqual(data);
    }
  });

  it('returns bytes that are not cleared after a reset, and fill() clears them', () => {
    const arena = new EpochArena();
    arena.allocateCopy(new Uint8Array([9, 9, 9, 9]));
    arena.reset(1);
    const handle = arena.allocate(4);
    expect([...arena.view(handle)]).toEqual([9, 9, 9, 9]);
    arena.fill(handle);
    expect([...arena.view(handle)]).toEqual([0, 0, 0, 0]);
    arena.fill(handle, 7);
    expect([...arena.view(handle)]).toEqual([7, 7, 7, 7]);
  });

  it('counts allocations, requested bytes and used bytes with padding', () => {
    const arena = new EpochArena();
    arena.allocate(3);
    arena.allocate(5, 64);
    const stats = arena.stats();
    expect(stats.allocationCount).toBe(2);
    expect(stats.bytesAllocated).toBe(8);
    expect(stats.bytesUsed).toBe(72); // 3 -> 8, then 64-aligned start, 5 -> 8
  });
});

describe('EpochArena keys', () => {
  it('aligns keys to 16 bytes and accepts keys up to 256 bytes', () => {
    const arena = new EpochArena();
    for (const length of [0, 1, 15, 16, 17, 100, MAX_KEY_LENGTH]) {
      arena.allocate(3);
      const key = bytesOf(length, length);
      const handle = arena.allocateKey(key);
      expect(arena.view(handle).byteOffset % 16).toBe(0);
      expect(arena.equals(handle, key)).toBe(true);
    }
  });

  it('rejects a key longer than 256 bytes with OVERSIZED and allocates nothing', () => {
    const arena = new EpochArena();
    arena.allocate(8);
    const before = arena.stats();
    expectMemError(() => arena.allocateKey(new Uint8Array(257)), 'OVERSIZED');
    expect(arena.stats()).toEqual(before);
  });
});

describe('EpochArena accessors', () => {
  it('copies out into a fresh array and into a target at an offset', () => {
    const arena = new EpochArena();
    const data = bytesOf(40);
    const handle = arena.allocateCopy(data);
    const copy = arena.copy(handle);
    expect(copy).toEqual(data);
    copy[0] = 255;
    expect(arena.view(handle)[0]).toBe(data[0]);
    const target = new Uint8Array(50);
    expect(arena.copyTo(handle, target, 10)).toBe(40);
    expect(target.subarray(10)).toEqual(data);
    expectMemError(() => arena.copyTo(handle, new Uint8Array(45), 10), 'INVALID_ARGUMENT');
  });

  it('copies long allocations out through the view path', () => {
    const arena = new EpochArena();
    const data = bytesOf(5000);
    const handle = arena.allocateCopy(data);
    const target = new Uint8Array(5000);
    arena.copyTo(handle, target);
    expect(target).toEqual(data);
  });

  it('writes into an allocation at an offset and refuses writes that overrun it', () => {
    const arena = new EpochArena();
    const handle = arena.allocate(8);
    arena.fill(handle);
    arena.write(handle, new Uint8Array([1, 2, 3]), 5);
    expect([...arena.view(handle)]).toEqual([0, 0, 0, 0, 0, 1, 2, 3]);
    expectMemError(() => arena.write(handle, new Uint8Array([1, 2, 3]), 6), 'INVALID_ARGUMENT');
    expect([...arena.view(handle)]).toEqual([0, 0, 0, 0, 0, 1, 2, 3]);
  });

  it('compares with a key in memcmp order without copying', () => {
    const arena = new EpochArena();
    const handle = arena.allocateKey(encoder.encode('abc'));
    expect(arena.compare(handle, encoder.encode('abc'))).toBe(0);
    expect(arena.compare(handle, encoder.encode('abd'))).toBeLessThan(0);
    expect(arena.compare(handle, encoder.encode('abb'))).toBeGreaterThan(0);
    expect(arena.compare(handle, encoder.encode('ab'))).toBeGreaterThan(0);
    expect(arena.compare(handle, encoder.encode('abcd'))).toBeLessThan(0);
    expect(arena.compare(handle, new Uint8Array([0x61, 0x62, 0xff]))).toBeLessThan(0);
    expect(arena.equals(handle, encoder.encode('abc'))).toBe(true);
    expect(arena.equals(handle, encoder.encode('abd'))).toBe(false);
    expect(arena.equals(handle, encoder.encode('ab'))).toBe(false);
  });

  it('accepts a Buffer wherever it takes bytes', () => {
    const arena = new EpochArena();
    const handle = arena.allocateCopy(Buffer.from('buffer key'));
    expect(arena.equals(handle, Buffer.from('buffer key'))).toBe(true);
    expect(arena.allocateKey(Buffer.from('k'))).toBeGreaterThan(0);
  });
});

describe('EpochArena reset', () => {
  it('reuses its blocks after a reset instead of allocating new ones', () => {
    const arena = new EpochArena({ blockSize: 8192 });
    for (let i = 0; i < 1000; i += 1) arena.allocate(64);
    const capacity = arena.stats().totalCapacity;
    arena.reset(1);
    for (let i = 0; i < 1000; i += 1) arena.allocate(64);
    expect(arena.stats().totalCapacity).toBe(capacity);
  });

  it('trims blocks beyond retainBlocks at reset, and drops oversized blocks', () => {
    const arena = new EpochArena({ blockSize: 8192, retainBlocks: 3 });
    for (let i = 0; i < 1000; i += 1) arena.allocate(64);
    arena.allocate(100_000);
    expect(arena.stats().blockCount).toBeGreaterThan(4);
    arena.reset(1);
    expect(arena.stats()).toMatchObject({ blockCount: 3, totalCapacity: 3 * 8192, oversizedBlocks: 0 });
    arena.reset(2, { retainBlocks: 1 });
    expect(arena.stats()).toMatchObject({ blockCount: 1, totalCapacity: 8192 });
    arena.reset(3, { retainBlocks: 0 });
    expect(arena.stats()).toMatchObject({ blockCount: 0, totalCapacity: 0 });
    expect(arena.lengthOf(arena.allocate(10))).toBe(10);
  });

  it('makes every earlier handle stale, including on a reset to the same epoch number', () => {
    const arena = new EpochArena({ epoch: 5 });
    const handle = arena.allocate(16);
    arena.reset(5);
    expectMemError(() => arena.view(handle), 'STALE_HANDLE');
    const again = arena.allocate(16);
    expect(decodeHandle(again)!.address).toBe(decodeHandle(handle)!.address);
    expect(arena.isValid(again)).toBe(true);
    expect(arena.isValid(handle)).toBe(false);
  });

  it('is O(blocks): resetting a million keys touches only the block list', () => {
    const arena = new EpochArena();
    const key = bytesOf(32);
    for (let i = 0; i < 1_000_000; i += 1) arena.allocateKey(key);
    const blocks = arena.stats().blockCount;
    expect(blocks).toBeLessThan(40);
    arena.reset(1);
    expect(arena.stats()).toMatchObject({ allocationCount: 0, blockCount: blocks });
  });
});

describe('EpochArena allocation limit', () => {
  it('fails with LIMIT_EXCEEDED once a new block would cross the limit, leaving the arena as it was', () => {
    const arena = new EpochArena({ blockSize: 8192, allocationLimit: 16384 });
    for (let i = 0; i < 2; i += 1) arena.allocate(8000);
    const before = arena.stats();
    expectMemError(() => arena.allocate(8000), 'LIMIT_EXCEEDED');
    expect(arena.stats()).toEqual(before);
    expect(arena.lengthOf(arena.allocate(100))).toBe(100);
  });

  it('takes a smaller last block that ends exactly at the limit, as bumpalo does', () => {
    const arena = new EpochArena({ blockSize: 8192, allocationLimit: 10_000 });
    arena.allocate(8000);
    const handle = arena.allocate(1000);
    expect(arena.lengthOf(handle)).toBe(1000);
    expect(arena.stats().totalCapacity).toBe(8192 + 1808);
    expectMemError(() => arena.allocate(1000), 'LIMIT_EXCEEDED');
  });

  it('counts oversized blocks against the limit', () => {
    const arena = new EpochArena({ blockSize: 8192, allocationLimit: 50_000 });
    expectMemError(() => arena.allocate(60_000), 'LIMIT_EXCEEDED');
    expect(arena.lengthOf(arena.allocate(40_000))).toBe(40_000);
  });

  it('can be changed and removed, and a lower limit trims spare blocks at reset', () => {
    const arena = new EpochArena({ blockSize: 8192 });
    for (let i = 0; i < 4; i += 1) arena.allocate(8000);
    arena.setAllocationLimit(16384);
    expect(arena.allocationLimit).toBe(16384);
    expectMemError(() => arena.allocate(8000), 'LIMIT_EXCEEDED');
    arena.reset(1);
    expect(arena.stats().totalCapacity).toBe(16384);
    arena.setAllocationLimit(null);
    expect(arena.allocationLimit).toBeNull();
    for (let i = 0; i < 4; i += 1) arena.allocate(8000);
    expect(arena.stats().totalCapacity).toBe(4 * 8192);
  });

  it('with a limit of zero refuses every allocation', () => {
    const arena = new EpochArena({ allocationLimit: 0 });
    expectMemError(() => arena.allocate(1), 'LIMIT_EXCEEDED');
  });
});

describe('EpochArena handle space', () => {
  it('throws EXHAUSTED when a generation has used every block a handle can address', () => {
    // 16 MiB blocks leave 7 block bits of the 28-bit address: 128 blocks per generation. Each
    // allocation below fills most of a block (untouched pages of a block cost no physical memory).
    const arena = new EpochArena({ blockSize: 16 * 1024 * 1024 });
    let thrown: MemError | undefined;
    const handles: number[] = [];
    for (let i = 0; i < 200 && thrown === undefined; i += 1) {
      try {
        handles.push(arena.allocate(16 * 1024 * 1024 - 4096));
      } catch (error) {
        thrown = error as MemError;
      }
    }
    expect(thrown?.code).toBe('EXHAUSTED');
    expect(handles.length).toBe(128);
    arena.reset(1, { retainBlocks: 0 });
    expect(arena.lengthOf(arena.allocate(1))).toBe(1);
  }, 60_000);
});
