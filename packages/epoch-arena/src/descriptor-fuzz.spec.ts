import { describe, expect, it } from 'vitest';
import { MemError } from '@mem/types';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { seededRandom } from '@mem/testkit/seeded-random';
import { SharedArenaPool, SharedEpochArena } from './index.js';

/**
 * What a worker may receive instead of a descriptor: anything at all, pieces of other arenas and
 * pools, descriptors of objects whose every instance has closed. Attaching must either work (a
 * whole descriptor of a live region) or throw INVALID_ARGUMENT, and leave every slot as it was.
 */
const SEEDS = [1, 2, 3, 0xdead, 0xbeef];
const ROUNDS = 300;

function junk(random: () => number): unknown {
  const values: (() => unknown)[] = [
    () => undefined,
    () => null,
    () => 0,
    () => -1,
    () => Number.NaN,
    () => 2 ** 53,
    () => 'mem.epoch-arena.shared-epoch-arena',
    () => 'mem.epoch-arena.shared-arena-pool',
    () => true,
    () => [],
    () => ({}),
    () => Symbol('descriptor'),
    () => () => {},
    () => new ArrayBuffer(64),
    () => new SharedArrayBuffer(Math.floor(random() * 4096)),
    () => new Uint8Array(16),
    () => ({ kind: 'shared-array-buffer', buffer: new SharedArrayBuffer(64) }),
    () => ({ kind: 'shared-array-buffer', buffer: new ArrayBuffer(1 << 16) }),
    () => ({ kind: 'wasm-memory', memory: new WebAssembly.Memory({ initial: 1 }) }),
    () => {
      const buffer = new SharedArrayBuffer(2048);
      new Int32Array(buffer).fill(0x45415231); // the magic word everywhere, nothing else right
      return buffer;
    },
  ];
  return values[Math.floor(random() * values.length)]!();
}

/** A copy of `value` with one field (or one element, at any depth) replaced. */
function mutate(value: Record<string, unknown>, random: () => number, replacement: () => unknown): unknown {
  const copy: Record<string, unknown> = { ...value };
  const keys = Object.keys(copy);
  const key = keys[Math.floor(random() * keys.length)]!;
  const field = copy[key];
  if (Array.isArray(field) && field.length > 0 && random() < 0.7) {
    const list = [...field];
    const index = Math.floor(random() * list.length);
    list[index] = random() < 0.5 ? replacement() : mutate(list[index] as Record<string, unknown>, random, replacement);
    copy[key] = random() < 0.2 ? list.slice(1) : list;
  } else if (typeof field === 'object' && field !== null && !(field instanceof SharedArrayBuffer) && random() < 0.5) {
    copy[key] = mutate(field as Record<string, unknown>, random, replacement);
  } else {
    copy[key] = replacement();
  }
  return copy;
}

function attachments(arena: SharedEpochArena): number {
  return arena.stats().attachments;
}

describe('attaching from whatever a worker receives', () => {
  it.each(SEEDS)('SharedEpochArena.attach works or throws INVALID_ARGUMENT, and leaks no slot (seed %i)', (seed) => {
    const random = seededRandom(seed);
    const arena = SharedEpochArena.createShared({ capacity: 1 << 16, maxAttachments: 4 });
    const other = SharedEpochArena.createShared({ capacity: 1 << 17 });
    const closed = SharedEpochArena.createShared({ capacity: 4096 });
    const closedDescriptor = closed.descriptor();
    closed.close(); // every instance gone: its memory lives on while a descriptor reaches it
    const handle = arena.allocateCopy(new Uint8Array([5, 6, 7]));
    const sources = [arena.descriptor(), other.descriptor(), closedDescriptor];
    const pieces = () => {
      const from = sources[Math.floor(random() * sources.length)]!;
      return random() < 0.5 ? from.control : from.data;
    };
    for (let round = 0; round < ROUNDS; round += 1) {
      const base = sources[Math.floor(random() * sources.length)]!;
      const roll = random();
      const candidate =
        roll < 0.2 ? junk(random) : mutate(base as never, random, () => (random() < 0.5 ? junk(random) : pieces()));
      const before = [attachments(arena), attachments(other)];
      let attached: SharedEpochArena | undefined;
      try {
        attached = SharedEpochArena.attach(candidate as never);
      } catch (error) {
        expect(error, `seed ${seed} round ${round}`).toBeInstanceOf(MemError);
        expect((error as MemError).code, `seed ${seed} round ${round}`).toBe('INVALID_ARGUMENT');
      }
      if (attached !== undefined) {
        // Only a descriptor whose control words and region belong together may attach.
        attached.allocate(8);
        attached.close();
      }
      expect([attachments(arena), attachments(other)], `seed ${seed} round ${round}`).toEqual(before);
    }
    const late = SharedEpochArena.attach(closedDescriptor);
    expect(late.stats().attachments).toBe(1);
    expect([...arena.view(handle)]).toEqual([5, 6, 7]);
  });

  it.each(SEEDS)('SharedArenaPool.attach works or throws INVALID_ARGUMENT, and leaks no slot (seed %i)', (seed) => {
    const random = seededRandom(seed);
    const pool = SharedArenaPool.createShared({ ringSize: 2, capacity: 1 << 16 });
    const other = SharedArenaPool.createShared({ ringSize: 2, capacity: 1 << 16 });
    const handle = pool.allocateCopy(new Uint8Array([1, 2]));
    const good = pool.descriptor();
    const foreign = other.descriptor();
    const spliced = [
      { ...good, arenas: foreign.arenas }, // another pool's arenas
      { ...good, arenas: [...good.arenas].reverse() }, // its own, in another order
      { ...good, arenas: [good.arenas[0], foreign.arenas[1], good.arenas[2]] },
      { ...good, state: foreign.state },
      { ...good, arenas: good.arenas.slice(0, 2) },
      { ...good, arenas: [...good.arenas, good.arenas[0]] },
    ];
    const counts = () =>
      [pool, other].flatMap((owner) =>
        owner.stats().arenas.map(({ arena }) => (arena as { attachments?: number }).attachments),
      );
    for (let round = 0; round < ROUNDS; round += 1) {
      const roll = random();
      const candidate =
        roll < 0.2
          ? junk(random)
          : roll < 0.4
            ? spliced[Math.floor(random() * spliced.length)]
            : mutate((random() < 0.5 ? good : foreign) as never, random, () =>
                random() < 0.5 ? junk(random) : foreign.arenas[Math.floor(random() * 3)],
              );
      const before = counts();
      let attached: SharedArenaPool | undefined;
      try {
        attached = SharedArenaPool.attach(candidate as never);
      } catch (error) {
        expect(error, `seed ${seed} round ${round}`).toBeInstanceOf(MemError);
        expect((error as MemError).code, `seed ${seed} round ${round}`).toBe('INVALID_ARGUMENT');
      }
      attached?.close();
      expect(counts(), `seed ${seed} round ${round}`).toEqual(before);
    }
    for (const candidate of spliced)
      expectMemError(() => SharedArenaPool.attach(candidate as never), 'INVALID_ARGUMENT');
    expect([...pool.view(handle)]).toEqual([1, 2]);
    expect(pool.advanceEpoch()).toBe(1);
  });

  it('SharedArenaPool.attach refuses a descriptor spliced from two pools with INVALID_ARGUMENT: it would reset arenas that are not its own', () => {
    const pool = SharedArenaPool.createShared({ ringSize: 1, capacity: 4096 });
    const other = SharedArenaPool.createShared({ ringSize: 1, capacity: 4096 });
    const theirs = other.allocateCopy(new Uint8Array([9]));
    expectMemError(
      () => SharedArenaPool.attach({ ...pool.descriptor(), arenas: other.descriptor().arenas }),
      'INVALID_ARGUMENT',
    );
    expectMemError(
      () => SharedArenaPool.attach({ ...other.descriptor(), state: pool.descriptor().state }),
      'INVALID_ARGUMENT',
    );
    expectMemError(
      () => SharedArenaPool.attach({ ...pool.descriptor(), arenas: [...pool.descriptor().arenas].reverse() }),
      'INVALID_ARGUMENT',
    );
    pool.advanceEpoch();
    expect([...other.view(theirs)]).toEqual([9]);
  });
});
