import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { SharedArenaPool, SharedEpochArena } from './index.js';

describe('SharedArenaPool, in one worker', () => {
  it('works as a pool and can be attached twice in the same worker', () => {
    const pool = SharedArenaPool.createShared({ ringSize: 2, capacity: 1 << 16, spareArenas: 1 });
    const other = SharedArenaPool.attach(pool.descriptor());
    const handle = other.allocateCopy(new Uint8Array([4, 5]));
    expect([...pool.view(handle)]).toEqual([4, 5]);
    const guard = pool.pin();
    other.advanceEpoch();
    other.advanceEpoch();
    expect(pool.currentEpoch).toBe(2);
    expect([...other.view(handle)]).toEqual([4, 5]);
    expect(other.stats().deferredArenas).toBe(1);
    guard.release();
    expect(other.isValid(handle)).toBe(false);
    other.close();
    expectMemError(() => other.allocate(1), 'USE_AFTER_RELEASE');
    expectMemError(() => other.stats(), 'USE_AFTER_RELEASE');
    expect(other.isValid(handle)).toBe(false);
    expect(pool.lengthOf(pool.allocate(3))).toBe(3);
    pool.close();
  });

  it('drops the pins of its guards at close: the deferred arena is reclaimed, a later release does nothing', () => {
    const pool = SharedArenaPool.createShared({ ringSize: 1, capacity: 4096 });
    const other = SharedArenaPool.attach(pool.descriptor());
    const handle = pool.allocate(8);
    const guard = other.pin();
    const kept = pool.pin(); // pinned through another object: close leaves it alone
    pool.advanceEpoch();
    expect(pool.stats()).toMatchObject({ activeGuards: 2, deferredArenas: 1 });
    other.close();
    expect(pool.stats()).toMatchObject({ activeGuards: 1, deferredArenas: 1 });
    guard.release(); // its pin was dropped already: it must not take away `kept`'s
    expect(guard.released).toBe(true);
    expect(pool.stats()).toMatchObject({ activeGuards: 1, deferredArenas: 1 });
    expect(pool.isValid(handle)).toBe(true);
    kept.release();
    expect(pool.stats()).toMatchObject({ activeGuards: 0, deferredArenas: 0, reclaimedAfterDeferral: 1 });
    expect(pool.isValid(handle)).toBe(false);
  });

  it('reclaims at close a deferred arena that only the closed attachment pinned', () => {
    const pool = SharedArenaPool.createShared({ ringSize: 1, capacity: 4096 });
    const other = SharedArenaPool.attach(pool.descriptor());
    const handle = pool.allocate(8);
    other.pin();
    pool.advanceEpoch();
    other.close();
    expect(pool.stats()).toMatchObject({ activeGuards: 0, deferredArenas: 0, reclaimedAfterDeferral: 1 });
    expect(pool.isValid(handle)).toBe(false);
  });

  it('throws PINNED when a shared pool has no spare arena left', () => {
    const pool = SharedArenaPool.createShared({ ringSize: 1, capacity: 4096, spareArenas: 0 });
    const guard = pool.pin();
    expectMemError(() => pool.advanceEpoch(), 'PINNED');
    guard.release();
    expect(pool.advanceEpoch()).toBe(1);
  });

  it('gives its arenas as SharedEpochArenas and closes once on Symbol.dispose', () => {
    const shared = SharedArenaPool.createShared({ capacity: 4096 });
    expect(shared.currentArena()).toBeInstanceOf(SharedEpochArena);
    shared[Symbol.dispose]();
    shared[Symbol.dispose]();
    expect(shared.closed).toBe(true);
  });
});
