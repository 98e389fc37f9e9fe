import { describe, expect, it } from 'vitest';
import type { MemError } from '@mem/types';
import { SharedEpochArena, decodeHandle } from './index.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

describe.each([
  { chunkSize: 0, name: 'direct Atomics bumps' },
  { chunkSize: 1024, name: 'per-worker chunks' },
])('SharedEpochArena with $name', ({ chunkSize }) => {
  it('allocates, copies and reads back through an attached instance', () => {
    const arena = SharedEpochArena.createShared({ capacity: 1 << 16, chunkSize, epoch: 3 });
    const attached = SharedEpochArena.attach(arena.descriptor());
    const small = arena.allocateCopy(new Uint8Array([1, 2, 3]));
    const key = attached.allocateKey(new TextEncoder().encode('shared key'));
    const long = attached.allocateCopy(new Uint8Array(2000).fill(9));
    expect([...attached.view(small)]).toEqual([1, 2, 3]);
    expect(arena.equals(key, new TextEncoder().encode('shared key'))).toBe(true);
    expect(arena.view(key).byteOffset % 16).toBe(0);
    expect(arena.lengthOf(long)).toBe(2000);
    expect(arena.view(long).every((byte) => byte === 9)).toBe(true);
    expect(arena.epochOf(small)).toBe(3);
    expect(attached.stats()).toMatchObject({ allocationCount: 3, bytesAllocated: 2013, attachments: 2 });
    attached.close();
  });

  it('aligns to every power of two up to 4096', () => {
    const arena = SharedEpochArena.createShared({ capacity: 1 << 20, chunkSize });
    for (let align = 1; align <= 4096; align *= 2) {
      arena.allocate(3);
      const handle = arena.allocate(40, align);
      expect(arena.view(handle).byteOffset % Math.max(align, 8)).toBe(0);
    }
  });

  it('never hands out overlapping ranges', () => {
    const arena = SharedEpochArena.createShared({ capacity: 1 << 20, chunkSize });
    const second = SharedEpochArena.attach(arena.descriptor());
    const ranges: Array<[number, number]> = [];
    for (let i = 0; i < 2000; i += 1) {
      const owner = i % 2 === 0 ? arena : second;
      const size = (i * 37) % 700;
      const handle = i % 5 === 0 ? owner.allocate(size, 32) : owner.allocate(size);
      const view = arena.view(handle);
      ranges.push([view.byteOffset, view.byteOffset + view.length]);
    }
    ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (let i = 1; i < ranges.length; i += 1) expect(ranges[i]![0]).toBeGreaterThanOrEqual(ranges[i - 1]![1]);
  });

  it('resets for every attached instance: their handles go stale and their chunks are dropped', () => {
    const arena = SharedEpochArena.createShared({ capacity: 1 << 16, chunkSize });
    const attached = SharedEpochArena.attach(arena.descriptor());
    const handle = attached.allocate(16);
    arena.reset(9);
    expectMemError(() => attached.view(handle), 'STALE_HANDLE');
    expect(attached.epoch).toBe(9);
    expect(attached.generation).toBe(1);
    const fresh = attached.allocate(16);
    expect(arena.isValid(fresh)).toBe(true);
    expect(decodeHandle(fresh)!.address).toBe(0);
    expect(arena.stats()).toMatchObject({ allocationCount: 1, epoch: 9 });
  });

  it('throws EXHAUSTED when the region is full and works again after a reset', () => {
    const arena = SharedEpochArena.createShared({ capacity: 4096, chunkSize: chunkSize === 0 ? 0 : 256 });
    let count = 0;
    expectMemError(() => {
      for (;;) {
        arena.allocate(40);
        count += 1;
      }
    }, 'EXHAUSTED');
    expect(count).toBeGreaterThan(40);
    expect(arena.stats().allocationCount).toBe(count);
    // An empty allocation in a full region: a live empty handle, or EXHAUSTED; never a dead handle.
    let empty: number | undefined;
    try {
      empty = arena.allocate(0);
    } catch (error) {
      expect((error as MemError).code).toBe('EXHAUSTED');
    }
    if (empty !== undefined) expect(arena.lengthOf(empty)).toBe(0);
    arena.reset(1);
    expect(arena.lengthOf(arena.allocate(40))).toBe(40);
  });

  it('throws LIMIT_EXCEEDED past its allocation limit', () => {
    const arena = SharedEpochArena.createShared({ capacity: 1 << 16, chunkSize, allocationLimit: 1024 });
    expect(arena.stats().allocationLimit).toBe(1024);
    expectMemError(() => {
      for (let i = 0; i < 100; i += 1) arena.allocate(64);
    }, 'LIMIT_EXCEEDED');
    expect(arena.stats().bytesUsed).toBeLessThanOrEqual(1024);
  });

  it('rejects an allocation that can never fit with OVERSIZED', () => {
    const arena = SharedEpochArena.createShared({ capacity: 4096, chunkSize });
    expectMemError(() => arena.allocate(5000), 'OVERSIZED');
    expect(arena.stats().allocationCount).toBe(0);
  });
});

describe('SharedEpochArena attachments', () => {
  it('frees the counter slot on close and keeps the closed counts in the totals', () => {
    const arena = SharedEpochArena.createShared({ capacity: 4096, maxAttachments: 2 });
    const second = SharedEpochArena.attach(arena.descriptor());
    expectMemError(() => SharedEpochArena.attach(arena.descriptor()), 'EXHAUSTED');
    second.allocate(10);
    second.close();
    second.close();
    expect(second.closed).toBe(true);
    expect(arena.stats()).toMatchObject({ attachments: 1, allocationCount: 1, bytesAllocated: 10 });
    const third = SharedEpochArena.attach(arena.descriptor());
    third.allocate(5);
    expect(arena.stats()).toMatchObject({ attachments: 2, allocationCount: 2 });
    third[Symbol.dispose]();
  });

  it('refuses every call after close with USE_AFTER_RELEASE', () => {
    const arena = SharedEpochArena.createShared({ capacity: 4096 });
    const handle = arena.allocate(8);
    const attached = SharedEpochArena.attach(arena.descriptor());
    attached.close();
    for (const call of [
      () => attached.allocate(8),
      () => attached.allocateCopy(new Uint8Array(2)),
      () => attached.allocateKey(new Uint8Array(2)),
      () => attached.view(handle),
      () => attached.lengthOf(handle),
      () => attached.reset(1),
      () => attached.stats(),
      () => attached.descriptor(),
    ]) {
      expectMemError(call, 'USE_AFTER_RELEASE');
    }
    expect(attached.isValid(handle)).toBe(false);
    expect(arena.lengthOf(handle)).toBe(8);
  });

  it('refuses a descriptor that does not come from descriptor()', () => {
    const arena = SharedEpochArena.createShared({ capacity: 4096 });
    const good = arena.descriptor();
    for (const bad of [
      undefined,
      null,
      42,
      {},
      { ...good, kind: 'other' },
      { ...good, version: 2 },
      { ...good, control: new ArrayBuffer(1024) },
      { ...good, control: new SharedArrayBuffer(1024) },
      { ...good, data: { kind: 'shared-array-buffer', buffer: new SharedArrayBuffer(8) } },
      { ...good, data: null },
    ]) {
      expectMemError(() => SharedEpochArena.attach(bad as never), 'INVALID_ARGUMENT');
    }
    expect(arena.stats().attachments).toBe(1);
  });

  it('survives a structured clone of its descriptor', () => {
    const arena = SharedEpochArena.createShared({ capacity: 4096 });
    const handle = arena.allocateCopy(new Uint8Array([42]));
    const attached = SharedEpochArena.attach(structuredClone(arena.descriptor()));
    expect([...attached.view(handle)]).toEqual([42]);
  });
});
