import { describe, expect, it } from 'vitest';
import { ArenaKey, ArenaPool, EpochArena } from './index.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

describe('ArenaPool basics', () => {
  it('tags allocations with the current epoch and keeps the last ringSize epochs valid', () => {
    const pool = new ArenaPool({ ringSize: 4 });
    const h1 = pool.allocate(16);
    expect(pool.epochOf(h1)).toBe(0);
    pool.advanceEpoch();
    const h2 = pool.allocate(16);
    expect(pool.epochOf(h2)).toBe(1);
    expect(pool.isEpochValid(0)).toBe(true);
    expect(pool.isEpochValid(1)).toBe(true);
  });

  it('allocates through a per-worker accessor', () => {
    const pool = new ArenaPool({ ringSize: 4 });
    const local = pool.local();
    const h1 = local.allocate(32);
    expect(pool.lengthOf(h1)).toBe(32);
    const h2 = local.allocateKey(new TextEncoder().encode('test'));
    expect(pool.lengthOf(h2)).toBe(4);
  });

  it('advances epoch by epoch and invalidates the epochs whose arena was reused', () => {
    const pool = new ArenaPool({ ringSize: 4 });
    for (let expected = 1; expected <= 10; expected += 1) expect(pool.advanceEpoch()).toBe(expected);
    expect(pool.isEpochValid(0)).toBe(false);
    expect(pool.isEpochValid(6)).toBe(false);
    expect(pool.isEpochValid(7)).toBe(true);
    expect(pool.isEpochValid(10)).toBe(true);
    expect(pool.isEpochValid(11)).toBe(false); // not started
  });

  it('wraps a handle in a key that reads, compares and reports its epoch', () => {
    const arena = new EpochArena({ epoch: 42 });
    const data = new TextEncoder().encode('user:12345:profile');
    const key = new ArenaKey(arena, arena.allocateKey(data));
    expect(key.length).toBe(data.length);
    expect(key.epoch).toBe(42);
    expect(key.bytes()).toEqual(data);
  });
});

describe('ArenaPool epochs', () => {
  it('resets the arena it is about to reuse, so its old handles go stale', () => {
    const pool = new ArenaPool({ ringSize: 2 });
    const handle = pool.allocateCopy(new Uint8Array([1, 2, 3]));
    pool.advanceEpoch();
    expect([...pool.view(handle)]).toEqual([1, 2, 3]);
    pool.advanceEpoch();
    expectMemError(() => pool.view(handle), 'STALE_HANDLE');
    expect(pool.currentArena().stats().allocationCount).toBe(0);
  });

  it('starts at initialEpoch', () => {
    const pool = new ArenaPool({ ringSize: 3, initialEpoch: 100 });
    expect(pool.currentEpoch).toBe(100);
    expect(pool.epochOf(pool.allocate(8))).toBe(100);
    expect(pool.advanceEpoch()).toBe(101);
    expect(pool.isEpochValid(99)).toBe(false);
  });

  it('handles epochs above 2^32', () => {
    const start = 2 ** 32 - 2;
    const pool = new ArenaPool({ ringSize: 2, initialEpoch: start });
    for (let i = 1; i <= 4; i += 1) expect(pool.advanceEpoch()).toBe(start + i);
    expect(pool.epochOf(pool.allocate(1))).toBe(start + 4);
    expect(pool.isEpochValid(start + 3)).toBe(true);
    expect(pool.isEpochValid(start + 2)).toBe(false);
  });

  it('refuses to advance past the largest epoch with LIMIT_EXCEEDED', () => {
    const pool = new ArenaPool({ ringSize: 1, initialEpoch: Number.MAX_SAFE_INTEGER });
    expectMemError(() => pool.advanceEpoch(), 'LIMIT_EXCEEDED');
    expect(pool.currentEpoch).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('with a ring of one, each advance invalidates the previous epoch', () => {
    const pool = new ArenaPool({ ringSize: 1 });
    const handle = pool.allocate(8);
    pool.advanceEpoch();
    expect(pool.isValid(handle)).toBe(false);
    expect(pool.isEpochValid(0)).toBe(false);
  });
});

describe('ArenaPool local accessor', () => {
  it('caches the current arena and follows the epoch when it moves', () => {
    const pool = new ArenaPool({ ringSize: 4 });
    const local = pool.local();
    const first = local.arena;
    expect(local.epoch).toBe(0);
    local.allocate(8);
    pool.advanceEpoch();
    const handle = local.allocate(8);
    expect(pool.epochOf(handle)).toBe(1);
    expect(local.arena).not.toBe(first);
    expect(local.arena).toBe(pool.currentArena());
    expect(local.epoch).toBe(1);
  });

  it('gives every accessor the same arena for an epoch', () => {
    const pool = new ArenaPool();
    const a = pool.local();
    const b = pool.local();
    const ha = a.allocate(8);
    const hb = b.allocateCopy(new Uint8Array(8));
    expect(pool.arenaOf(ha)).toBe(pool.arenaOf(hb));
  });
});

describe('ArenaPool guards', () => {
  it('never resets a pinned epoch: advancing onto it takes a fresh arena and counts a deferral', () => {
    const pool = new ArenaPool({ ringSize: 2 });
    const handle = pool.allocateCopy(new Uint8Array([7, 7]));
    const guard = pool.pin();
    expect(guard.epoch).toBe(0);
    pool.advanceEpoch();
    pool.advanceEpoch(); // epoch 2 would reuse epoch 0's arena
    expect(pool.isEpochValid(0)).toBe(true);
    expect([...pool.view(handle)]).toEqual([7, 7]);
    const stats = pool.stats();
    expect(stats).toMatchObject({
      currentEpoch: 2,
      deferredArenas: 1,
      deferredReclamations: 1,
      reclaimedAfterDeferral: 0,
      activeGuards: 1,
      pinnedEpochs: [0],
      arenaCount: 3,
    });
    // New allocations of epoch 2 do not land on epoch 0's bytes.
    const fresh = pool.allocateCopy(new Uint8Array([1, 1]));
    expect(pool.arenaOf(fresh)).not.toBe(pool.arenaOf(handle));
    guard.release();
    expect(pool.isEpochValid(0)).toBe(false);
    expectMemError(() => pool.view(handle), 'STALE_HANDLE');
    expect(pool.stats()).toMatchObject({ deferredArenas: 0, reclaimedAfterDeferral: 1, activeGuards: 0 });
  });

  it('reuses a reclaimed arena as the spare of the next deferral', () => {
    const pool = new ArenaPool({ ringSize: 2, maxArenas: 3 });
    for (let round = 0; round < 5; round += 1) {
      const guard = pool.pin();
      pool.advanceEpoch();
      pool.advanceEpoch();
      guard.release();
    }
    expect(pool.stats()).toMatchObject({ arenaCount: 3, deferredReclamations: 5, reclaimedAfterDeferral: 5 });
  });

  it('throws PINNED when no spare is left, leaving the pool as it was', () => {
    const pool = new ArenaPool({ ringSize: 1, maxArenas: 2 });
    const first = pool.pin();
    pool.advanceEpoch(); // epoch 0 deferred into the spare slot
    const second = pool.pin();
    const before = pool.stats();
    expectMemError(() => pool.advanceEpoch(), 'PINNED');
    expect(pool.stats()).toEqual(before);
    expect(pool.currentEpoch).toBe(1);
    first.release();
    expect(pool.advanceEpoch()).toBe(2); // epoch 0's arena was reclaimed and is the spare now
    second.release();
  });

  it('lets several guards pin one epoch; the last release reclaims it', () => {
    const pool = new ArenaPool({ ringSize: 1 });
    const a = pool.pin();
    const b = pool.pin();
    pool.advanceEpoch();
    a.release();
    expect(pool.isEpochValid(0)).toBe(true);
    b.release();
    expect(pool.isEpochValid(0)).toBe(false);
  });

  it('pins an older epoch that is still valid, and refuses a reclaimed or future one', () => {
    const pool = new ArenaPool({ ringSize: 3 });
    pool.advanceEpoch();
    pool.advanceEpoch();
    const guard = pool.pin(0);
    expect(guard.epoch).toBe(0);
    pool.advanceEpoch();
    expect(pool.isEpochValid(0)).toBe(true);
    guard.release();
    expect(pool.isEpochValid(0)).toBe(false);
    expectMemError(() => pool.pin(0), 'STALE_HANDLE');
    expectMemError(() => pool.pin(99), 'INVALID_ARGUMENT');
  });

  it('releases with using, and refuses a second release with DOUBLE_FREE', () => {
    const pool = new ArenaPool({ ringSize: 1 });
    const handle = pool.allocate(4);
    let escaped: ReturnType<ArenaPool['pin']> | undefined;
    {
      using guard = pool.pin();
      escaped = guard;
      pool.advanceEpoch();
      expect(pool.isValid(handle)).toBe(true);
    }
    expect(pool.isValid(handle)).toBe(false);
    expectMemError(() => escaped!.release(), 'DOUBLE_FREE');
    expectMemError(() => escaped!.epoch, 'USE_AFTER_RELEASE');
  });

  it('does not hold back epochs it does not pin', () => {
    const pool = new ArenaPool({ ringSize: 2 });
    pool.advanceEpoch();
    const guard = pool.pin(); // epoch 1
    const old = pool.stats().arenas.find((arena) => arena.heldEpoch === 0)!;
    pool.advanceEpoch(); // reuses epoch 0's arena: not pinned
    expect(pool.isEpochValid(0)).toBe(false);
    expect(pool.stats().deferredReclamations).toBe(0);
    expect(old.pins).toBe(0);
    guard.release();
  });
});

describe('ArenaPool stats', () => {
  it('counts allocations per arena and describes every arena', () => {
    const pool = new ArenaPool({ ringSize: 2 });
    pool.allocate(8);
    pool.advanceEpoch();
    pool.allocate(8);
    pool.allocate(8);
    const stats = pool.stats();
    expect(stats.arenas.map((arena) => [arena.state, arena.heldEpoch, arena.arena.allocationCount])).toEqual(
      [
        ['live', 0, 1],
        ['live', 1, 2],
        ['spare', null, 0],
        ['spare', null, 0],
      ].slice(0, stats.arenaCount),
    );
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
    expect(stats.advances).toBe(1);
  });

  it('passes block options to its arenas', () => {
    const pool = new ArenaPool({ ringSize: 1, blockSize: 8192, allocationLimit: 8192, retainBlocks: 1 });
    pool.allocate(8000);
    expectMemError(() => pool.allocate(8000), 'LIMIT_EXCEEDED');
    expect(pool.currentArena().stats().totalCapacity).toBe(8192);
  });
});

describe('ArenaPool mode', () => {
  it('gives its arenas as EpochArenas and has none of the shared-mode methods', () => {
    const pool = new ArenaPool();
    expect(pool.currentArena()).toBeInstanceOf(EpochArena);
    expect('descriptor' in pool || 'close' in pool || 'closed' in pool).toBe(false);
  });
});
