import { describe, expect, it } from 'vitest';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { BufferTransfer } from './buffer-transfer.js';
import { FrozenBuffer } from './frozen-buffer.js';
import { IoBuffer } from './io-buffer.js';
import { MAX_TRANSFERS_IN_FLIGHT } from './pool-limits.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

const config = BufferPoolConfig.from({ minSize: 1024, maxSize: 4096, maxPerClass: 8 });

describe.each([
  ['private', false],
  ['shared', true],
])('transfers of a %s pool', (_name, shared) => {
  const create = (): BufferPool =>
    shared
      ? BufferPool.createShared(config, { leakDetection: 'off' })
      : new BufferPool(config, { leakDetection: 'off' });

  it('hands a buffer over exactly once, data and all, and releases the sender', () => {
    const pool = create();
    const buffer = pool.alloc(2000);
    buffer.write([1, 2, 3]);
    const offset = buffer.byteOffset;
    const descriptor = buffer.transfer();
    expect(buffer.released).toBe(true);
    expectMemError(() => buffer.bytes, 'USE_AFTER_RELEASE');
    expectMemError(() => buffer.release(), 'DOUBLE_FREE');
    expect(pool.stats().transfersInFlight).toBe(1);
    const adopted = pool.adopt(structuredClone(descriptor)) as IoBuffer;
    expect(adopted).toBeInstanceOf(IoBuffer);
    expect([...adopted.bytes]).toEqual([1, 2, 3]);
    expect(adopted.capacity).toBe(2048);
    expect(adopted.byteOffset).toBe(offset);
    expect(pool.stats().transfersInFlight).toBe(0);
    const again = expectMemError(() => pool.adopt(descriptor), 'STALE_HANDLE');
    expect(again.message).toContain('already adopted');
    adopted.release();
    expect(pool.stats().classes[1]!.inUse).toBe(0);
  });

  it('hands a frozen view over with its reference', () => {
    const pool = create();
    const buffer = pool.alloc(1024);
    buffer.write([5, 6, 7, 8]);
    const frozen = buffer.freeze();
    const kept = frozen.slice(1, 3);
    const descriptor = frozen.transfer();
    expect(frozen.released).toBe(true);
    const adopted = pool.adopt(descriptor) as FrozenBuffer;
    expect(adopted).toBeInstanceOf(FrozenBuffer);
    expect([...adopted.bytes]).toEqual([5, 6, 7, 8]);
    expect(adopted.referenceCount).toBe(2);
    kept.release();
    expect(adopted.isUnique).toBe(true);
    adopted.release();
    expect(pool.stats().classes[0]!.inUse).toBe(0);
  });

  it('hands a slice over as a view of the same bytes', () => {
    const pool = create();
    const buffer = pool.alloc(1024);
    buffer.write([1, 2, 3, 4, 5]);
    const frozen = buffer.freeze();
    const adopted = pool.adopt(frozen.slice(2, 4).transfer()) as FrozenBuffer;
    expect([...adopted.bytes]).toEqual([3, 4]);
    frozen.release();
    adopted.release();
    expect(pool.stats().classes[0]!.inUse).toBe(0);
  });

  it('hands a mutable buffer made from a slice over, with its shorter capacity', () => {
    const pool = create();
    const buffer = pool.alloc(1024);
    buffer.write([1, 2, 3]);
    const frozen = buffer.freeze();
    const tail = frozen.slice(1);
    frozen.release();
    const mutable = IoBuffer.tryFromFrozen(tail)!;
    const adopted = pool.adopt(mutable.transfer()) as IoBuffer;
    expect(adopted.capacity).toBe(1023);
    expect([...adopted.bytes]).toEqual([2, 3]);
    adopted.release();
    expect(pool.stats().classes[0]!.inUse).toBe(0);
  });

  it('carries the bytes of untracked buffers and views in the descriptor', () => {
    const pool = create();
    const buffer = pool.alloc(10_000);
    buffer.write([9, 8]);
    const descriptor = buffer.transfer();
    expect(descriptor.slot).toBe(-1);
    const adopted = pool.adopt(structuredClone(descriptor)) as IoBuffer;
    expect(adopted.isPooled).toBe(false);
    expect([...adopted.bytes]).toEqual([9, 8]);
    const frozen = adopted.freeze();
    const copy = pool.adopt(frozen.clone().transfer()) as FrozenBuffer;
    expect([...copy.bytes]).toEqual([9, 8]);
    expect(copy.isUnique).toBe(true); // its own copy: the local views do not share it
    expect(frozen.isUnique).toBe(true);
  });

  it('refuses a descriptor of another pool with FOREIGN_HANDLE and keeps it adoptable', () => {
    const pool = create();
    const other = create();
    const descriptor = pool.alloc(1024).transfer();
    expectMemError(() => other.adopt(descriptor), 'FOREIGN_HANDLE');
    pool.adopt(descriptor).release();
  });

  it('refuses malformed descriptors with INVALID_ARGUMENT and keeps the real one adoptable', () => {
    const pool = create();
    const descriptor = pool.alloc(1024).transfer();
    const variants: unknown[] = [
      undefined,
      null,
      42,
      'transfer',
      {},
      { ...descriptor, type: 'other' },
      { ...descriptor, slot: 1.5 },
      { ...descriptor, slot: -2 },
      { ...descriptor, slot: 10_000 },
      { ...descriptor, length: -1 },
      { ...descriptor, length: 5000 },
      { ...descriptor, capacity: 512 },
      { ...descriptor, start: 3 },
      { ...descriptor, ticket: 0 },
      { ...descriptor, ticketIndex: NaN },
      { ...descriptor, frozen: 'no' },
      { ...descriptor, bytes: new Uint8Array(4) },
      { ...descriptor, slot: -1 },
    ];
    for (const variant of variants) expectMemError(() => pool.adopt(variant as BufferTransfer), 'INVALID_ARGUMENT');
    expect(pool.stats().transfersInFlight).toBe(1);
    const adopted = pool.adopt(descriptor) as IoBuffer;
    expect(adopted.capacity).toBe(1024);
    adopted.release();
  });

  it('refuses a descriptor edited to describe another buffer with INVALID_ARGUMENT, and keeps it adoptable as issued', () => {
    const pool = create();
    const buffer = pool.alloc(1024);
    buffer.write([1, 2, 3, 4]);
    const neighbour = pool.alloc(1024);
    neighbour.write([9, 9, 9, 9]);
    const neighbourSlot = pool.adopt(neighbour.transfer()) as IoBuffer;
    const frozen = pool.alloc(1024);
    frozen.write([5, 6, 7, 8]);
    const view = frozen.freeze();
    const mutableDescriptor = buffer.transfer();
    const frozenDescriptor = view.slice(1, 3).transfer();
    const otherSlot = pool.alloc(1024).transfer().slot;
    const edits: [string, BufferTransfer][] = [
      ['another slot of the class', { ...mutableDescriptor, slot: otherSlot }],
      ['a frozen flag', { ...mutableDescriptor, frozen: true, capacity: 4 }],
      ['a shorter length', { ...mutableDescriptor, length: 2 }],
      ['a wider frozen view', { ...frozenDescriptor, start: 0, length: 4, capacity: 4 }],
      ['a later frozen start', { ...frozenDescriptor, start: 2 }],
      ['a mutable flag', { ...frozenDescriptor, frozen: false, start: 1, capacity: 1023 }],
    ];
    for (const [label, edited] of edits) {
      const error = expectMemError(() => pool.adopt(edited), 'INVALID_ARGUMENT', label);
      expect(error.message).toContain('does not match');
    }
    expect(pool.stats().transfersInFlight).toBe(3);
    expect([...neighbourSlot.bytes]).toEqual([9, 9, 9, 9]);
    const adopted = pool.adopt(mutableDescriptor) as IoBuffer;
    expect([...adopted.bytes]).toEqual([1, 2, 3, 4]);
    const adoptedView = pool.adopt(frozenDescriptor) as FrozenBuffer;
    expect([...adoptedView.bytes]).toEqual([6, 7]);
    for (const handle of [adopted, adoptedView, neighbourSlot, view]) handle.release();
  });

  it('reads a descriptor once: its getters cannot change what adopt checked', () => {
    const pool = create();
    const buffer = pool.alloc(1024);
    buffer.write([1, 2, 3]);
    const descriptor = buffer.transfer();
    const reads = new Map<string, number>();
    const tricky = {} as Record<string, unknown>;
    for (const [key, value] of Object.entries(descriptor)) {
      Object.defineProperty(tricky, key, {
        enumerable: true,
        get: () => {
          const count = (reads.get(key) ?? 0) + 1;
          reads.set(key, count);
          // A second read would see the pool closed and another slot.
          if (count > 1) {
            pool.close();
            return key === 'slot' ? (value as number) + 1 : value;
          }
          return value;
        },
      });
    }
    const adopted = pool.adopt(tricky as unknown as BufferTransfer) as IoBuffer;
    expect([...reads.values()].every((count) => count === 1)).toBe(true);
    expect(pool.closed).toBe(false);
    expect([...adopted.bytes]).toEqual([1, 2, 3]);
    adopted.release();
  });

  it('refuses a forged ticket with STALE_HANDLE', () => {
    const pool = create();
    const descriptor = pool.alloc(1024).transfer();
    expectMemError(() => pool.adopt({ ...descriptor, ticket: descriptor.ticket + 1 }), 'STALE_HANDLE');
    expectMemError(
      () => pool.adopt({ ...descriptor, ticketIndex: (descriptor.ticketIndex + 1) % 4096 }),
      'STALE_HANDLE',
    );
    pool.adopt(descriptor).release();
  });

  it('bounds the transfers in flight with LIMIT_EXCEEDED', () => {
    const pool = create();
    const frozen = pool.alloc(1024).freeze();
    const descriptors: BufferTransfer[] = [];
    for (let i = 0; i < MAX_TRANSFERS_IN_FLIGHT; i += 1) descriptors.push(frozen.clone().transfer());
    const spare = frozen.clone();
    expectMemError(() => spare.transfer(), 'LIMIT_EXCEEDED');
    expect(spare.released).toBe(false);
    for (const descriptor of descriptors) pool.adopt(descriptor).release();
    pool.adopt(spare.transfer()).release();
    frozen.release();
    expect(pool.stats().classes[0]!.inUse).toBe(0);
  });

  it('refuses adoption by a closed instance', () => {
    const pool = create();
    const descriptor = pool.alloc(1024).transfer();
    pool.close();
    expectMemError(() => pool.adopt(descriptor), 'USE_AFTER_RELEASE');
  });
});
