/**
 * Fuzz test of what travels by `postMessage`: transfer descriptors (`BufferPool.adopt`) and pool
 * descriptors (`BufferPool.attach`). Any value a worker may receive, random or malformed (null and
 * undefined included), a real descriptor with one field edited, a replay of an adopted one, one of
 * another pool, one issued by an instance that has closed since, or one posted to an instance that
 * has closed, is answered with a MemError, or adopted only if it is exactly a descriptor in flight.
 * Afterwards every descriptor still in flight adopts with its bytes intact and nothing is lost.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemError, describeValue, type MemErrorCode } from '@mem/types';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { BufferTransfer } from './buffer-transfer.js';
import type { FrozenBuffer } from './frozen-buffer.js';
import type { IoBuffer } from './io-buffer.js';

const config = BufferPoolConfig.from({ minSize: 64, maxSize: 256, alignment: 64, maxPerClass: 8 });
const FIELDS = ['type', 'poolId', 'frozen', 'slot', 'start', 'length', 'capacity', 'ticketIndex', 'ticket', 'bytes'];
const ANSWERS: readonly MemErrorCode[] = ['INVALID_ARGUMENT', 'STALE_HANDLE', 'FOREIGN_HANDLE', 'USE_AFTER_RELEASE'];

/** Values a field may be replaced with: near misses, wrong types and anything at all. */
const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -2, max: 300 }),
  fc.constantFrom(
    null,
    undefined,
    NaN,
    -0,
    0.5,
    Infinity,
    2 ** 31,
    2 ** 53,
    '1',
    true,
    false,
    'mem.buffer-pool.transfer',
  ),
  fc.constantFrom(new Uint8Array(64), new Uint8Array(0), new Uint16Array(4), {}, [], [1, 2]),
  fc.anything(),
);

type Case =
  | { readonly kind: 'random'; readonly value: unknown }
  | { readonly kind: 'edit'; readonly pick: number; readonly field: number; readonly value: unknown }
  | { readonly kind: 'clone' | 'replay' | 'foreign' | 'strayInstance'; readonly pick: number }
  | { readonly kind: 'issue'; readonly size: number; readonly frozen: boolean; readonly from: number };

const caseArbitrary: fc.Arbitrary<Case> = fc.oneof(
  fc.record({ kind: fc.constant('random' as const), value: fc.anything() }),
  fc.record({
    kind: fc.constant('edit' as const),
    pick: fc.nat(),
    field: fc.nat(FIELDS.length - 1),
    value: fieldValue,
  }),
  fc.record({
    kind: fc.constantFrom('clone' as const, 'replay' as const, 'foreign' as const, 'strayInstance' as const),
    pick: fc.nat(),
  }),
  fc.record({
    kind: fc.constant('issue' as const),
    size: fc.constantFrom(64, 200, 1000),
    frozen: fc.boolean(),
    from: fc.nat(2),
  }),
);

interface InFlight {
  readonly descriptor: BufferTransfer;
  readonly bytes: number[];
  readonly frozen: boolean;
}

function sameDescriptor(a: BufferTransfer, b: Record<string, unknown>): boolean {
  return FIELDS.every((field) => {
    const mine = a[field as keyof BufferTransfer];
    const theirs = b[field];
    if (mine instanceof Uint8Array) return theirs instanceof Uint8Array && [...mine].join() === [...theirs].join();
    return mine === theirs; // -0 describes slot 0 as well as 0 does
  });
}

function fuzzAdopt(shared: boolean, cases: readonly Case[]): void {
  const pool = shared
    ? BufferPool.createShared(config, { leakDetection: 'off' })
    : new BufferPool(config, { leakDetection: 'off' });
  const foreign = shared
    ? BufferPool.createShared(config, { leakDetection: 'off' })
    : new BufferPool(config, { leakDetection: 'off' });
  // Senders: the pool, and (shared) an instance that closes after its first transfer.
  const senders = shared ? [pool, BufferPool.attach(pool.descriptor(), { leakDetection: 'off' })] : [pool];
  // An instance closed before anything was posted to it: of this pool when shared, of another otherwise.
  const closedAdopter = shared
    ? BufferPool.attach(pool.descriptor(), { leakDetection: 'off' })
    : new BufferPool(config, { leakDetection: 'off' });
  closedAdopter.close();
  const inFlight: InFlight[] = [];
  const adopted: BufferTransfer[] = [];
  const foreignDescriptors: BufferTransfer[] = [];
  let stamp = 0;

  const issue = (size: number, frozen: boolean, from: number): void => {
    const sender = senders[from % senders.length]!;
    if (sender.closed) return;
    let buffer: IoBuffer;
    try {
      buffer = sender.tryAlloc(size);
    } catch (error) {
      if (MemError.is(error, 'EXHAUSTED') || MemError.is(error, 'OVERSIZED')) buffer = sender.alloc(size);
      else throw error;
    }
    stamp += 1;
    const bytes = Array.from({ length: 5 }, (_, i) => (stamp * 7 + i) & 0xff);
    buffer.write(bytes);
    const descriptor = frozen ? buffer.freeze().transfer() : buffer.transfer();
    inFlight.push({ descriptor, bytes, frozen });
    // An instance that sent a transfer and closed: what it sent stays adoptable.
    if (sender !== pool) sender.close();
  };
  const accept = (value: IoBuffer | FrozenBuffer, posted: Record<string, unknown>): void => {
    const index = inFlight.findIndex((entry) => sameDescriptor(entry.descriptor, posted));
    expect(index, 'adopted a descriptor that is not one in flight').toBeGreaterThanOrEqual(0);
    const [entry] = inFlight.splice(index, 1);
    expect([...value.bytes]).toEqual(entry!.bytes);
    adopted.push(entry!.descriptor);
    value.release();
  };
  const post = (value: unknown, target: BufferPool = pool): void => {
    let result: IoBuffer | FrozenBuffer;
    try {
      result = target.adopt(value as BufferTransfer);
    } catch (error) {
      expect(error, `adopt threw a non-MemError for ${describeValue(value)}`).toBeInstanceOf(MemError);
      expect(ANSWERS).toContain((error as MemError).code);
      return;
    }
    accept(result, value as Record<string, unknown>);
  };

  issue(64, false, 0);
  issue(200, true, 1);
  issue(1000, false, 0); // untracked: its bytes travel in the descriptor
  foreignDescriptors.push(foreign.alloc(64).transfer(), foreign.alloc(1000).freeze().transfer());

  for (const entry of cases) {
    const pick = <T>(list: readonly T[], index: number): T | undefined => list[index % Math.max(1, list.length)];
    switch (entry.kind) {
      case 'random':
        post(entry.value);
        break;
      case 'edit': {
        const base = pick(inFlight, entry.pick);
        if (base) post({ ...base.descriptor, [FIELDS[entry.field]!]: entry.value });
        break;
      }
      case 'clone': {
        const base = pick(inFlight, entry.pick);
        if (base) post(structuredClone(base.descriptor));
        break;
      }
      case 'replay': {
        const old = pick(adopted, entry.pick);
        if (old) expect(() => pool.adopt(old)).toThrow(expect.objectContaining({ code: 'STALE_HANDLE' }));
        break;
      }
      case 'foreign':
        expect(() => pool.adopt(pick(foreignDescriptors, entry.pick)!)).toThrow(
          expect.objectContaining({ code: 'FOREIGN_HANDLE' }),
        );
        break;
      case 'strayInstance': {
        const base = pick(inFlight, entry.pick);
        if (base)
          expect(() => closedAdopter.adopt(base.descriptor)).toThrow(
            expect.objectContaining({ code: shared ? 'USE_AFTER_RELEASE' : 'FOREIGN_HANDLE' }),
          );
        break;
      }
      case 'issue':
        issue(entry.size, entry.frozen, entry.from);
        break;
    }
  }

  // Everything still in flight adopts, with its bytes; then every slot is free exactly once.
  expect(pool.stats().transfersInFlight).toBe(inFlight.length);
  for (const entry of [...inFlight])
    accept(pool.adopt(entry.descriptor), entry.descriptor as unknown as Record<string, unknown>);
  expect(pool.stats().transfersInFlight).toBe(0);
  for (const stats of pool.stats().classes) expect(stats.inUse).toBe(0);
  for (const size of config.classSizes) {
    const all: IoBuffer[] = [];
    for (let i = 0; i < config.maxPerClass; i += 1) all.push(pool.tryAlloc(size));
    expect(new Set(all.map((buffer) => buffer.byteOffset)).size).toBe(config.maxPerClass);
    for (const buffer of all) buffer.release();
  }
}

describe.each([
  ['private', false],
  ['shared', true],
])('adopt on a %s pool takes any posted value', (_name, shared) => {
  it('answers with a MemError, or adopts exactly a descriptor in flight, once', () => {
    fc.assert(
      fc.property(fc.array(caseArbitrary, { maxLength: 40 }), (cases) => fuzzAdopt(shared, cases)),
      { numRuns: 100 },
    );
  });
});

describe('BufferPool.attach takes any posted value', () => {
  it('answers anything but a descriptor from descriptor() (or a structured clone of one) with INVALID_ARGUMENT', () => {
    const pool = BufferPool.createShared(config, { leakDetection: 'off' });
    const descriptor = pool.descriptor();
    const keys = Object.keys(descriptor);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc
            .record({ key: fc.constantFrom(...keys), value: fieldValue })
            .map(({ key, value }) => ({ ...descriptor, [key]: value })),
          fc.record({ key: fc.constantFrom('heads', 'links', 'lengths'), value: fieldValue }).map(({ key, value }) => ({
            ...descriptor,
            freelist: { ...descriptor.freelist, [key]: value },
          })),
        ),
        (value) => {
          let attached: BufferPool;
          try {
            attached = BufferPool.attach(value as never, { leakDetection: 'off' });
          } catch (error) {
            expect(error).toBeInstanceOf(MemError);
            expect((error as MemError).code).toBe('INVALID_ARGUMENT');
            return;
          }
          // Accepted: it is the pool's own descriptor, and the instance works.
          expect(attached.poolId).toBe(pool.poolId);
          attached.alloc(64).release();
          attached.close();
        },
      ),
      { numRuns: 300 },
    );
    const clone = BufferPool.attach(structuredClone(descriptor));
    expect(clone.poolId).toBe(pool.poolId);
    clone.close();
    for (const stats of pool.stats().classes) expect(stats.inUse).toBe(0);
  });
});
