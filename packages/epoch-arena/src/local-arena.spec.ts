import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { ArenaPool, SharedArenaPool, decodeHandle, type Arena } from './index.js';

/**
 * Makes the next allocation in `arena` run `meanwhile` first, as another worker would between the
 * accessor's look at the pool's epoch and the allocation itself.
 */
function beforeNextAllocation(arena: Arena, meanwhile: () => void): void {
  const own = arena as { allocate: Arena['allocate'] };
  own.allocate = (size, align) => {
    delete (own as Partial<typeof own>).allocate;
    meanwhile();
    return arena.allocate(size, align);
  };
}

describe('LocalArena', () => {
  it('never allocates in an arena that another worker reclaimed during the call: the allocation moves to the current epoch', () => {
    const pool = SharedArenaPool.createShared({ ringSize: 1, capacity: 1 << 16, leakDetection: 'off' });
    const other = SharedArenaPool.attach(pool.descriptor(), { leakDetection: 'off' }); // another worker's
    const local = pool.local();
    local.allocate(8); // caches epoch 0's arena
    const stale = pool.currentArena();
    beforeNextAllocation(stale, () => {
      // Epoch 0 pinned while the ring advances: its arena leaves the ring, and the release
      // reclaims it as a spare, holding no epoch.
      const guard = other.pin();
      other.advanceEpoch();
      guard.release();
    });
    const handle = local.allocate(16);
    expect(pool.isValid(handle)).toBe(true);
    expect(pool.epochOf(handle)).toBe(1);
    expect(pool.isEpochValid(pool.epochOf(handle))).toBe(true);
    expect(decodeHandle(handle)!.arenaId).toBe(pool.currentArena().id);
    expect(pool.stats().arenas.find((arena) => arena.arena.arenaId === stale.id)!.state).toBe('spare');
    other.close();
    pool.close();
  });

  it('rethrows what the arena threw when the epoch did not move', () => {
    const pool = SharedArenaPool.createShared({ ringSize: 1, capacity: 4096, leakDetection: 'off' });
    const local = pool.local();
    expectMemError(() => local.allocate(8192), 'OVERSIZED');
    expectMemError(() => local.allocate(-1), 'INVALID_ARGUMENT');
    expect(pool.currentEpoch).toBe(0);
    pool.close();
  });

  it('returns an allocation that raced with an advance of a ring of several: its epoch is still valid', () => {
    const pool = new ArenaPool({ ringSize: 2 });
    const local = pool.local();
    local.allocate(8);
    beforeNextAllocation(pool.currentArena(), () => pool.advanceEpoch());
    const handle = local.allocate(16);
    expect(pool.epochOf(handle)).toBe(0);
    expect(pool.isEpochValid(0)).toBe(true);
    expect(pool.stats().arenas.reduce((sum, arena) => sum + arena.arena.allocationCount, 0)).toBe(2);
  });
});
