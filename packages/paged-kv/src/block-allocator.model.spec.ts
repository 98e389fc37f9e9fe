/**
 * Model-based property test of the block allocator and its prefix cache together: random
 * operation sequences run against the real allocator and a trivially correct model (arrays and
 * maps), with the invariants checked after every step: no block owned without a reference, each
 * reference count equals the number of holders, the free order equals the model's, and every
 * registered hash finds its block.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemError } from '@mem/types';
import { BlockAllocator } from './block-allocator.js';
import type { ReuseOrder } from './free-order.js';

type Op =
  | { kind: 'allocate' }
  | { kind: 'allocateMany'; count: number }
  | { kind: 'acquire'; pick: number }
  | { kind: 'free'; pick: number }
  | { kind: 'freeMany'; picks: number[] }
  | { kind: 'freeSequence'; picks: number[] }
  | { kind: 'freeTooMany'; picks: number[]; sequence: boolean }
  | { kind: 'register'; pick: number; key: number }
  | { kind: 'tryAcquire'; key: number }
  | { kind: 'clear' };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'allocate' as const }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 5 }).map((count) => ({ kind: 'allocateMany' as const, count })) },
  { weight: 2, arbitrary: fc.nat().map((pick) => ({ kind: 'acquire' as const, pick })) },
  { weight: 4, arbitrary: fc.nat().map((pick) => ({ kind: 'free' as const, pick })) },
  { weight: 1, arbitrary: fc.array(fc.nat(), { maxLength: 4 }).map((picks) => ({ kind: 'freeMany' as const, picks })) },
  {
    weight: 1,
    arbitrary: fc.array(fc.nat(), { maxLength: 4 }).map((picks) => ({ kind: 'freeSequence' as const, picks })),
  },
  {
    weight: 4,
    arbitrary: fc
      .record({ pick: fc.nat(), key: fc.integer({ min: 0, max: 11 }) })
      .map((r) => ({ kind: 'register' as const, ...r })),
  },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 11 }).map((key) => ({ kind: 'tryAcquire' as const, key })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
);

/** The trivially correct model. */
class Model {
  /** One entry per reference held (a block appears once per holder). */
  holders: number[] = [];
  stack: number[] = [];
  list: number[] = []; // oldest first
  keyOf = new Map<number, number>();
  blockOf = new Map<number, number>();
  peak = 0;
  constructor(
    readonly capacity: number,
    readonly reuse: ReuseOrder,
  ) {
    if (reuse === 'lru') for (let b = capacity - 1; b >= 0; b -= 1) this.stack.push(b);
    else for (let b = capacity - 1; b >= 0; b -= 1) this.list.push(b);
  }
  refs(block: number): number {
    return this.holders.filter((b) => b === block).length;
  }
  get inUse(): number {
    return new Set(this.holders).size;
  }
  get freeCount(): number {
    return this.capacity - this.inUse;
  }
  freeOrder(): number[] {
    return this.reuse === 'lru' ? [...this.stack].reverse().concat(this.list) : [...this.list].reverse();
  }
  #dropHash(block: number): void {
    const key = this.keyOf.get(block);
    if (key === undefined) return;
    this.keyOf.delete(block);
    this.blockOf.delete(key);
  }
  allocate(): number {
    let block: number;
    if (this.reuse === 'lru' && this.stack.length > 0) block = this.stack.pop()!;
    else if (this.reuse === 'lru') block = this.list.shift()!;
    else block = this.list.pop()!;
    this.#dropHash(block);
    this.holders.push(block);
    this.peak = Math.max(this.peak, this.inUse);
    return block;
  }
  release(block: number): void {
    this.holders.splice(this.holders.indexOf(block), 1);
    if (this.refs(block) > 0) return;
    if (this.reuse === 'lifo' || this.keyOf.has(block)) this.list.push(block);
    else this.stack.push(block);
  }
  register(block: number, key: number): boolean {
    const holder = this.blockOf.get(key);
    if (holder === block) return true;
    this.#dropHash(block);
    if (holder !== undefined) {
      if (this.refs(holder) > 0) return false;
      this.#dropHash(holder);
      if (this.reuse === 'lru') {
        this.list.splice(this.list.indexOf(holder), 1);
        this.stack.push(holder);
      }
    }
    this.keyOf.set(block, key);
    this.blockOf.set(key, block);
    return true;
  }
  tryAcquire(key: number): number {
    const block = this.blockOf.get(key);
    if (block === undefined) return -1;
    if (this.refs(block) === 0) {
      this.list.splice(this.list.indexOf(block), 1);
      this.holders.push(block);
      this.peak = Math.max(this.peak, this.inUse);
    } else this.holders.push(block);
    return block;
  }
  clear(): void {
    for (const block of [...this.keyOf.keys()]) {
      this.#dropHash(block);
      if (this.reuse === 'lru' && this.list.includes(block)) {
        this.list.splice(this.list.indexOf(block), 1);
        this.stack.push(block);
      }
    }
  }
}

const key = (k: number): Uint32Array => new Uint32Array([k * 0x9e3779b1, k, 0, 0]);

function check(real: BlockAllocator, model: Model): void {
  for (let b = 0; b < model.capacity; b += 1) expect(real.refCount(b), `refs of block ${b}`).toBe(model.refs(b));
  expect(real.freeCount).toBe(model.freeCount);
  expect(real.inUseCount).toBe(model.inUse);
  expect(real.evictionOrder()).toEqual(model.freeOrder());
  expect(real.hashTableSize).toBe(model.keyOf.size);
  expect(real.peakInUse).toBe(model.peak);
  const cached = model.reuse === 'lru' ? model.list.length : model.list.filter((b) => model.keyOf.has(b)).length;
  expect(real.cachedFreeCount).toBe(cached);
  for (let k = 0; k < 12; k += 1) expect(real.findBlockByHash(key(k))).toBe(model.blockOf.get(k) ?? -1);
  // Every free block appears in the free order exactly once, and no live block does.
  const order = real.evictionOrder();
  expect(new Set(order).size).toBe(order.length);
  for (const b of order) expect(real.refCount(b)).toBe(0);
}

function apply(real: BlockAllocator, model: Model, op: Op): void {
  const pickHolder = (pick: number): number | undefined => model.holders[pick % Math.max(1, model.holders.length)];
  switch (op.kind) {
    case 'allocate':
      if (model.freeCount === 0) expect(() => real.allocate()).toThrow(MemError);
      else expect(real.allocate()).toBe(model.allocate());
      return;
    case 'allocateMany':
      if (op.count > model.freeCount) {
        expect(() => real.allocateMany(op.count)).toThrow(MemError);
      } else {
        const got = [...real.allocateMany(op.count)];
        expect(got).toEqual(Array.from({ length: op.count }, () => model.allocate()));
      }
      return;
    case 'acquire': {
      const block = pickHolder(op.pick);
      if (block === undefined) return;
      real.acquire(block);
      model.holders.push(block);
      return;
    }
    case 'free': {
      const block = pickHolder(op.pick);
      if (block === undefined) {
        expect(() => real.free(0)).toThrow(MemError);
        return;
      }
      real.free(block);
      model.release(block);
      return;
    }
    case 'freeMany':
    case 'freeSequence': {
      const remaining = [...model.holders];
      const blocks: number[] = [];
      for (const pick of op.picks) {
        if (remaining.length === 0) break;
        blocks.push(remaining.splice(pick % remaining.length, 1)[0]!);
      }
      if (op.kind === 'freeMany') {
        real.freeMany(blocks);
        for (const b of blocks) model.release(b);
      } else {
        real.freeSequence(blocks);
        const ordered = model.reuse === 'lru' ? [...blocks].reverse() : blocks;
        for (const b of ordered) model.release(b);
      }
      return;
    }
    case 'freeTooMany': {
      // Valid listings followed by one listing too many: throws, and nothing changes.
      const remaining = [...model.holders];
      const blocks: number[] = [];
      for (const pick of op.picks) {
        if (remaining.length === 0) break;
        blocks.push(remaining.splice(pick % remaining.length, 1)[0]!);
      }
      const extra = blocks.length > 0 ? blocks[0]! : 0;
      const listed = [
        ...blocks,
        ...Array.from({ length: model.refs(extra) - blocks.filter((b) => b === extra).length + 1 }, () => extra),
      ];
      const call = op.sequence ? () => real.freeSequence([...listed].reverse()) : () => real.freeMany(listed);
      expect(call).toThrow(MemError);
      return;
    }
    case 'register': {
      const block = pickHolder(op.pick);
      if (block === undefined) return;
      expect(real.registerBlockHash(block, key(op.key))).toBe(model.register(block, op.key));
      return;
    }
    case 'tryAcquire':
      expect(real.tryAcquireByHash(key(op.key))).toBe(model.tryAcquire(op.key));
      return;
    case 'clear':
      expect(real.clearPrefixCache()).toBe(model.keyOf.size);
      model.clear();
      return;
  }
}

describe('BlockAllocator and prefix cache against a model', () => {
  it.each(['lru', 'lifo'] as const)(
    'keeps references, free order and hashes equal to the model (%s order)',
    (order) => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 8 }), fc.array(opArbitrary, { maxLength: 60 }), (capacity, ops) => {
          const real = new BlockAllocator(capacity, { reuseOrder: order });
          const model = new Model(capacity, order);
          check(real, model);
          for (const op of ops) {
            apply(real, model, op);
            check(real, model);
          }
        }),
        { numRuns: 250 },
      );
    },
  );
});
