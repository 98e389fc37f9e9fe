import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemError } from '@mem/types';
import { type Arena, ArenaPool, type EpochGuard, EpochArena, SharedEpochArena } from './index.js';

// -------------------------------------------------------------------------------------------------
// Arenas against a model: a list of live allocations with their expected bytes, and a list of
// handles from earlier generations. Invariants after every step: every live handle reads its bytes,
// no two live allocations share a byte, every stale handle is rejected, the stats match the model.
// -------------------------------------------------------------------------------------------------

type ArenaOp =
  | { kind: 'allocate'; size: number; align: number | undefined; via: 'allocate' | 'copy' | 'key'; instance: number }
  | { kind: 'write'; pick: number; value: number }
  | { kind: 'reset'; retain: number | undefined }
  | { kind: 'bad'; size: unknown };

const sizeArbitrary = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 3, arbitrary: fc.integer({ min: 65, max: 600 }) },
  { weight: 1, arbitrary: fc.integer({ min: 601, max: 20_000 }) },
);

const arenaOp: fc.Arbitrary<ArenaOp> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('allocate' as const),
      size: sizeArbitrary,
      align: fc.option(fc.constantFrom(1, 8, 16, 64, 256, 4096), { nil: undefined }),
      via: fc.constantFrom('allocate' as const, 'copy' as const, 'key' as const),
      instance: fc.integer({ min: 0, max: 1 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      pick: fc.nat(),
      value: fc.integer({ min: 0, max: 255 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('reset' as const),
      retain: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('bad' as const),
      size: fc.constantFrom(-1, 1.5, NaN, Infinity, '8', null, 2 ** 40),
    }),
  },
);

interface Live {
  readonly handle: number;
  readonly bytes: Uint8Array;
}

function pattern(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 1) bytes[i] = (seed * 7 + i * 13) & 255;
  return bytes;
}

function checkInvariants(arena: Arena, live: Live[], stale: number[]): void {
  const stats = arena.stats();
  expect(stats.allocationCount).toBe(live.length);
  expect(stats.bytesAllocated).toBe(live.reduce((sum, entry) => sum + entry.bytes.length, 0));
  expect(stats.bytesUsed).toBeGreaterThanOrEqual(stats.bytesAllocated);
  expect(stats.totalCapacity).toBeGreaterThanOrEqual(stats.bytesUsed);
  const ranges: Array<[ArrayBufferLike, number, number]> = [];
  for (const entry of live) {
    const view = arena.view(entry.handle);
    if (view.length !== entry.bytes.length || view.some((byte, i) => byte !== entry.bytes[i])) {
      throw new Error(`allocation ${entry.handle} does not read back its ${entry.bytes.length} bytes`);
    }
    if (view.byteOffset % 8 !== 0) throw new Error(`allocation at ${view.byteOffset} is not 8-byte aligned`);
    // A long allocation owns the 8-byte length header in front of it too.
    ranges.push([view.buffer, view.byteOffset - (view.length >= 511 ? 8 : 0), view.byteOffset + view.length]);
  }
  for (let i = 0; i < ranges.length; i += 1) {
    const [bufferA, startA, endA] = ranges[i]!;
    for (let j = i + 1; j < ranges.length; j += 1) {
      const [bufferB, startB, endB] = ranges[j]!;
      if (bufferA === bufferB && endA > startA && endB > startB && startA < endB && startB < endA) {
        throw new Error(`[${startA}, ${endA}) overlaps [${startB}, ${endB})`);
      }
    }
  }
  for (const handle of stale) {
    expect(arena.isValid(handle)).toBe(false);
    expect(() => arena.lengthOf(handle)).toThrowError(expect.objectContaining({ code: 'STALE_HANDLE' }));
  }
}

function runArenaModel(instances: readonly [Arena, Arena], ops: readonly ArenaOp[], alignsUnder8To8: boolean): void {
  let live: Live[] = [];
  let stale: number[] = [];
  let epoch = 0;
  ops.forEach((op, step) => {
    const arena = instances[op.kind === 'allocate' ? op.instance : 0]!;
    switch (op.kind) {
      case 'allocate': {
        const size = op.via === 'key' ? Math.min(op.size, 256) : op.size;
        const bytes = pattern(size, step);
        let handle: number;
        if (op.via === 'allocate') {
          handle = arena.allocate(size, op.align);
          arena.write(handle, bytes);
        } else if (op.via === 'copy') {
          handle = arena.allocateCopy(bytes);
        } else {
          handle = arena.allocateKey(bytes);
        }
        const view = arena.view(handle);
        const expected =
          op.via === 'key' ? 16 : op.via === 'copy' ? 8 : Math.max(op.align ?? 8, alignsUnder8To8 ? 8 : 1);
        expect(view.byteOffset % expected).toBe(0);
        live.push({ handle, bytes });
        break;
      }
      case 'write': {
        if (live.length === 0) break;
        const entry = live[op.pick % live.length]!;
        if (entry.bytes.length === 0) break;
        const offset = op.pick % entry.bytes.length;
        arena.write(entry.handle, new Uint8Array([op.value]), offset);
        entry.bytes[offset] = op.value;
        break;
      }
      case 'reset': {
        epoch += 1;
        instances[step % 2]!.reset(epoch, { retainBlocks: op.retain });
        stale = [...stale, ...live.map((entry) => entry.handle)].slice(-50);
        live = [];
        break;
      }
      case 'bad': {
        const before = JSON.stringify(arena.stats());
        expect(() => arena.allocate(op.size as number)).toThrowError(MemError);
        expect(JSON.stringify(arena.stats())).toBe(before);
        break;
      }
    }
    checkInvariants(instances[0]!, live, stale);
  });
}

describe('model-based: arenas against a list of live allocations', () => {
  it('EpochArena keeps every live allocation intact and apart, and rejects every stale handle', () => {
    fc.assert(
      fc.property(fc.array(arenaOp, { maxLength: 60 }), fc.integer({ min: 0, max: 2 }), (ops, sizeIndex) => {
        const arena = new EpochArena({ blockSize: [8192, 16384, 65536][sizeIndex]! });
        runArenaModel([arena, arena], ops, true);
      }),
      { numRuns: 120 },
    );
  });

  it('SharedEpochArena does the same with two attached instances allocating in turn', () => {
    fc.assert(
      fc.property(fc.array(arenaOp, { maxLength: 60 }), fc.constantFrom(0, 256, 4096), (ops, chunkSize) => {
        const arena = SharedEpochArena.createShared({ capacity: 1 << 20, chunkSize });
        const second = SharedEpochArena.attach(arena.descriptor());
        runArenaModel([arena, second], ops, true);
        second.close();
      }),
      { numRuns: 80 },
    );
  });
});

// -------------------------------------------------------------------------------------------------
// The pool against a model of epochs: an epoch is valid while it is among the last `ringSize` or
// pinned since before its arena came round again; guards count per epoch; deferrals need spares.
// -------------------------------------------------------------------------------------------------

type PoolOp =
  | { kind: 'allocate'; size: number }
  | { kind: 'advance' }
  | { kind: 'pin'; back: number }
  | { kind: 'release'; pick: number };

const poolOp: fc.Arbitrary<PoolOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('allocate' as const), size: fc.integer({ min: 0, max: 100 }) }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('advance' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('pin' as const), back: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
);

describe('model-based: ArenaPool against a model of epochs and pins', () => {
  it('agrees with the model on valid epochs, handles, guards and deferrals after every step', () => {
    fc.assert(
      fc.property(
        fc.array(poolOp, { maxLength: 80 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        (ops, ringSize, extra) => {
          const maxArenas = ringSize + extra;
          const pool = new ArenaPool({ ringSize, maxArenas, blockSize: 8192 });
          let current = 0;
          const valid = new Set<number>([0]);
          const pins = new Map<number, number>();
          const guards: EpochGuard[] = [];
          const handles: Array<{ handle: number; epoch: number; byte: number }> = [];
          const deferred = (): number => [...valid].filter((epoch) => epoch <= current - ringSize).length;

          ops.forEach((op, step) => {
            switch (op.kind) {
              case 'allocate': {
                const handle = pool.allocate(op.size);
                pool.fill(handle, step & 255);
                handles.push({ handle, epoch: current, byte: step & 255 });
                break;
              }
              case 'advance': {
                const leaving = current + 1 - ringSize;
                const pinned = valid.has(leaving) && (pins.get(leaving) ?? 0) > 0;
                if (pinned && deferred() + 1 > maxArenas - ringSize) {
                  expect(() => pool.advanceEpoch()).toThrowError(expect.objectContaining({ code: 'PINNED' }));
                  break;
                }
                expect(pool.advanceEpoch()).toBe(current + 1);
                current += 1;
                if (!pinned) valid.delete(leaving);
                valid.add(current);
                break;
              }
              case 'pin': {
                const epoch = current - op.back;
                if (epoch < 0) break;
                if (valid.has(epoch)) {
                  guards.push(pool.pin(epoch));
                  pins.set(epoch, (pins.get(epoch) ?? 0) + 1);
                } else {
                  expect(() => pool.pin(epoch)).toThrowError(expect.objectContaining({ code: 'STALE_HANDLE' }));
                }
                break;
              }
              case 'release': {
                if (guards.length === 0) break;
                const [guard] = guards.splice(op.pick % guards.length, 1);
                const epoch = guard!.epoch;
                guard!.release();
                const left = pins.get(epoch)! - 1;
                pins.set(epoch, left);
                if (left === 0 && epoch <= current - ringSize) valid.delete(epoch);
                break;
              }
            }
            // Invariants.
            expect(pool.currentEpoch).toBe(current);
            for (let epoch = Math.max(0, current - 8); epoch <= current + 1; epoch += 1) {
              expect(pool.isEpochValid(epoch), `epoch ${epoch} at ${current}`).toBe(valid.has(epoch));
            }
            for (const { handle, epoch, byte } of handles.slice(-40)) {
              expect(pool.isValid(handle)).toBe(valid.has(epoch));
              if (valid.has(epoch)) expect(pool.view(handle).every((value) => value === byte)).toBe(true);
            }
            const stats = pool.stats();
            expect(stats.activeGuards).toBe(guards.length);
            expect(stats.deferredArenas).toBe(deferred());
            expect(stats.pinnedEpochs).toEqual(
              [...pins.entries()]
                .filter(([, count]) => count > 0)
                .map(([epoch]) => epoch)
                .sort((a, b) => a - b),
            );
            expect(stats.arenaCount).toBeLessThanOrEqual(maxArenas);
          });
          for (const guard of guards) guard.release();
          expect(pool.stats().activeGuards).toBe(0);
          expect(pool.stats().deferredArenas).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });
});
