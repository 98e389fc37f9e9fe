/**
 * Model-based property test: random operation sequences run against a real pool (private, or one
 * shared pool seen through two instances) and a trivially correct model (per class: how many buffers
 * were created, which are held), with invariants checked after every step:
 * - no byte is owned twice: live pooled buffers occupy disjoint ranges of the backings;
 * - nothing is lost: created = free (global + every local cache) + held, per class;
 * - the pool's stats match the model (created, in use), and exhaustion happens exactly when the
 *   model says nothing is left;
 * - every live buffer still holds what its owner wrote (and zeroed allocations start zeroed).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemError } from '@mem/types';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig, type WorkerCachePolicy } from './buffer-pool-config.js';
import type { FrozenBuffer } from './frozen-buffer.js';
import { IoBuffer } from './io-buffer.js';

type Op =
  | {
      readonly kind: 'alloc';
      readonly size: number;
      readonly instance: number;
      readonly zeroed: boolean;
      readonly strict: boolean;
    }
  | { readonly kind: 'release'; readonly pick: number }
  | { readonly kind: 'write'; readonly pick: number; readonly count: number }
  | { readonly kind: 'freeze'; readonly pick: number }
  | { readonly kind: 'slice'; readonly pick: number; readonly a: number; readonly b: number }
  | { readonly kind: 'releaseView'; readonly pick: number; readonly view: number }
  | { readonly kind: 'thaw'; readonly pick: number }
  | { readonly kind: 'transfer'; readonly pick: number; readonly instance: number }
  | { readonly kind: 'flush'; readonly instance: number };

interface Held {
  /** The class, or -1 for an untracked buffer. */
  readonly classIndex: number;
  /** The mutable buffer, or null once frozen. */
  buffer: IoBuffer | null;
  /** The views of a frozen buffer (empty while mutable). */
  views: FrozenBuffer[];
  /** The byte every readable byte holds. */
  fill: number;
  /** The slot's range, for the overlap check. */
  readonly backing: ArrayBuffer | SharedArrayBuffer;
  readonly start: number;
  readonly end: number;
}

const SIZES = [0, 1, 31, 63, 64, 65, 200, 256, 300, 512, 513, 1000];

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('alloc' as const),
      size: fc.constantFrom(...SIZES),
      instance: fc.nat(1),
      zeroed: fc.boolean(),
      strict: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('write' as const), pick: fc.nat(), count: fc.nat(80) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('freeze' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('slice' as const), pick: fc.nat(), a: fc.nat(), b: fc.nat() }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('releaseView' as const), pick: fc.nat(), view: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('thaw' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('transfer' as const), pick: fc.nat(), instance: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const), instance: fc.nat(1) }) },
);

const configArbitrary = fc
  .record({
    maxPerClass: fc.integer({ min: 1, max: 12 }),
    poolMinSize: fc.constantFrom(0, 32),
    cache: fc.constantFrom('derived', 'disabled', 1, 4, 6),
    prefill: fc.boolean(),
  })
  .map(({ maxPerClass, poolMinSize, cache, prefill }) => ({
    maxPerClass,
    poolMinSize,
    prefill,
    // Fixed capacities of 4 and more move batches between the cache and the global freelist.
    workerCache: (typeof cache === 'number'
      ? { kind: 'fixed', capacity: Math.min(cache, maxPerClass) }
      : { kind: cache }) as WorkerCachePolicy,
  }));

function runModel(
  fields: { maxPerClass: number; poolMinSize: number; workerCache: WorkerCachePolicy; prefill: boolean },
  shared: boolean,
  ops: readonly Op[],
): void {
  const config = BufferPoolConfig.from({ minSize: 64, maxSize: 512, alignment: 64, ...fields });
  const first = shared
    ? BufferPool.createShared(config, { leakDetection: 'off' })
    : new BufferPool(config, { leakDetection: 'off' });
  const instances = shared ? [first, BufferPool.attach(first.descriptor(), { leakDetection: 'off' })] : [first];
  const classCount = config.classCount;
  const created = new Array<number>(classCount).fill(fields.prefill ? fields.maxPerClass : 0);
  const held: Held[] = [];
  let nextFill = 1;

  const heldPerClass = (c: number): number => held.filter((entry) => entry.classIndex === c).length;
  const readable = (entry: Held): Uint8Array[] =>
    entry.buffer ? [entry.buffer.bytes] : entry.views.map((v) => v.bytes);

  const check = (): void => {
    // Nothing lost, stats match the model.
    for (let c = 0; c < classCount; c += 1) {
      const perInstance = instances.map((pool) => pool.stats().classes[c]!);
      const free = perInstance.reduce((sum, stats) => sum + stats.localFree, perInstance[0]!.globalFree);
      expect(perInstance[0]!.created).toBe(created[c]);
      expect(free + heldPerClass(c)).toBe(created[c]);
      if (!shared) expect(perInstance[0]!.inUse).toBe(heldPerClass(c));
    }
    // No byte owned twice.
    const pooled = held.filter((entry) => entry.classIndex >= 0);
    for (let i = 0; i < pooled.length; i += 1) {
      for (let j = i + 1; j < pooled.length; j += 1) {
        const a = pooled[i]!;
        const b = pooled[j]!;
        const overlap = a.backing === b.backing && a.start < b.end && b.start < a.end;
        expect(overlap, `buffers at ${a.start} and ${b.start} overlap`).toBe(false);
      }
    }
    // Contents survive.
    for (const entry of held) {
      for (const bytes of readable(entry)) expect(bytes.every((byte) => byte === entry.fill)).toBe(true);
    }
  };

  const pick = <T>(list: readonly T[], index: number): T | undefined => list[index % Math.max(1, list.length)];

  for (const op of ops) {
    switch (op.kind) {
      case 'alloc': {
        const pool = instances[op.instance % instances.length]!;
        const bypass = op.size < fields.poolMinSize;
        const oversized = op.size > config.maxSize;
        const c = oversized ? -1 : config.classIndexOf(op.size)!;
        const before = pool.stats().classes[c];
        const available =
          before !== undefined && (before.globalFree + before.localFree > 0 || created[c]! < fields.maxPerClass);
        let buffer: IoBuffer;
        try {
          buffer = op.zeroed
            ? op.strict
              ? pool.tryAllocZeroed(op.size)
              : pool.allocZeroed(op.size)
            : op.strict
              ? pool.tryAlloc(op.size)
              : pool.alloc(op.size);
        } catch (error) {
          expect(MemError.is(error, oversized ? 'OVERSIZED' : 'EXHAUSTED')).toBe(true);
          expect(op.strict && !bypass && !available).toBe(true);
          break;
        }
        const pooled = !bypass && available;
        expect(buffer.isPooled).toBe(pooled);
        if (pooled) {
          expect(buffer.capacity).toBe(config.classSizes[c]);
          expect(buffer.byteOffset % 64).toBe(0);
          if (before!.globalFree + before!.localFree === 0) created[c]! += 1;
        } else {
          expect(buffer.capacity).toBe(bypass ? op.size : Math.max(op.size, 64));
        }
        expect(buffer.length).toBe(op.zeroed ? op.size : 0);
        if (op.zeroed) expect(buffer.bytes.every((byte) => byte === 0)).toBe(true);
        const fill = nextFill++ & 0xff || 1;
        buffer.bytes.fill(fill);
        held.push({
          classIndex: pooled ? c : -1,
          buffer,
          views: [],
          fill,
          backing: buffer.arrayBuffer,
          start: buffer.byteOffset,
          end: buffer.byteOffset + buffer.capacity,
        });
        break;
      }
      case 'release': {
        const entry = pick(
          held.filter((e) => e.buffer),
          op.pick,
        );
        if (!entry) break;
        entry.buffer!.release();
        held.splice(held.indexOf(entry), 1);
        break;
      }
      case 'write': {
        const entry = pick(
          held.filter((e) => e.buffer),
          op.pick,
        );
        if (!entry) break;
        const buffer = entry.buffer!;
        const count = Math.min(op.count, buffer.capacity - buffer.length);
        buffer.write(new Uint8Array(count).fill(entry.fill));
        break;
      }
      case 'freeze': {
        const entry = pick(
          held.filter((e) => e.buffer),
          op.pick,
        );
        if (!entry) break;
        entry.views = [entry.buffer!.freeze()];
        entry.buffer = null;
        break;
      }
      case 'slice': {
        const entry = pick(
          held.filter((e) => e.views.length > 0),
          op.pick,
        );
        if (!entry) break;
        const view = entry.views[0]!;
        const a = op.a % (view.length + 1);
        const b = a + (op.b % (view.length - a + 1));
        const slice = view.slice(a, b);
        if (a === b) {
          expect(slice.isPooled).toBe(false);
          slice.release();
        } else {
          entry.views.push(slice);
        }
        break;
      }
      case 'releaseView': {
        const entry = pick(
          held.filter((e) => e.views.length > 0),
          op.pick,
        );
        if (!entry) break;
        const [view] = entry.views.splice(op.view % entry.views.length, 1);
        view!.release();
        if (entry.views.length === 0) held.splice(held.indexOf(entry), 1);
        break;
      }
      case 'thaw': {
        const entry = pick(
          held.filter((e) => e.views.length > 0),
          op.pick,
        );
        if (!entry) break;
        const view = entry.views[0]!;
        const length = view.length;
        const mutable = IoBuffer.tryFromFrozen(view);
        if (entry.views.length > 1) {
          expect(mutable).toBeUndefined();
          break;
        }
        expect(mutable).toBeInstanceOf(IoBuffer);
        expect(mutable!.length).toBe(length);
        entry.buffer = mutable!;
        entry.views = [];
        break;
      }
      case 'transfer': {
        const entry = pick(held, op.pick);
        if (!entry) break;
        const target = instances[op.instance % instances.length]!;
        if (entry.buffer) {
          entry.buffer = target.adopt(entry.buffer.transfer()) as IoBuffer;
        } else {
          const index = entry.views.length - 1;
          entry.views[index] = target.adopt(entry.views[index]!.transfer()) as FrozenBuffer;
          // An untracked view travels as a copy with its own reference count.
          if (entry.classIndex < 0 && entry.views.length > 1) {
            entry.views.pop()!.release();
          }
        }
        break;
      }
      case 'flush':
        instances[op.instance % instances.length]!.flush();
        break;
    }
    check();
  }

  // Give everything back: every created slot ends free, and comes out exactly once.
  for (const entry of held) {
    entry.buffer?.release();
    for (const view of entry.views) view.release();
  }
  held.length = 0;
  check();
  for (const pool of instances.slice(1)) pool.close();
  for (let c = 0; c < classCount; c += 1) {
    const size = config.classSizes[c]!;
    const all = Array.from({ length: fields.maxPerClass }, () => first.tryAlloc(size));
    expect(new Set(all.map((buffer) => buffer.byteOffset)).size).toBe(fields.maxPerClass);
    expect(() => first.tryAlloc(size)).toThrow(expect.objectContaining({ code: 'EXHAUSTED' }));
    for (const buffer of all) buffer.release();
  }
  first.close();
}

describe('BufferPool against a model', () => {
  it('keeps every invariant over random operation sequences (private pool)', () => {
    fc.assert(
      fc.property(configArbitrary, fc.array(opArbitrary, { maxLength: 80 }), (fields, ops) =>
        runModel(fields, false, ops),
      ),
      { numRuns: 150 },
    );
  });

  it('keeps every invariant over random operation sequences (shared pool seen by two instances)', () => {
    fc.assert(
      fc.property(configArbitrary, fc.array(opArbitrary, { maxLength: 80 }), (fields, ops) =>
        runModel(fields, true, ops),
      ),
      { numRuns: 100 },
    );
  });
});
