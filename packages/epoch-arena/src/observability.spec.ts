import { describe, expect, it } from 'vitest';
import { collectUntil } from '@mem/testkit/collect-garbage';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { MemError, RecordingMetricsSink } from '@mem/types';
import { ArenaPool, SharedArenaPool, EpochArena, type GuardLeak, SharedEpochArena } from './index.js';

/** Pins in its own frame and drops the guard without releasing it. */
function leakAGuard(pool: ArenaPool): void {
  pool.pin();
}

/** Makes an arena, a shared arena and a pool publishing to `sink`, scrapes once, and drops them. */
function dropWithMetrics(sink: RecordingMetricsSink, registry: FinalizationRegistry<string>): void {
  const arena = new EpochArena({ metrics: sink });
  const shared = SharedEpochArena.createShared({ capacity: 4096, metrics: sink });
  const pool = new ArenaPool({ metrics: sink });
  for (const made of [arena, shared, pool]) made.allocate(8);
  registry.register(arena, 'EpochArena');
  registry.register(shared, 'SharedEpochArena');
  registry.register(pool, 'ArenaPool');
  pool.pin().release();
  expect(sink.collect().length).toBeGreaterThan(0);
}

describe('metrics', () => {
  it('publishes an arena figures when the sink is scraped, and nothing before', () => {
    const sink = new RecordingMetricsSink();
    const arena = new EpochArena({ metrics: sink, id: 7 });
    arena.allocate(10);
    arena.allocate(20);
    const labels = { pool: 'epoch-arena', arena: '7' };
    expect(sink.read('mem_epoch_arena_allocations', labels)).toBe(2);
    expect(sink.read('mem_epoch_arena_allocated_bytes', labels)).toBe(30);
    expect(sink.read('mem_epoch_arena_capacity_bytes', labels)).toBe(2 * 1024 * 1024);
    arena.reset(1);
    arena.reset(2);
    expect(sink.read('mem_epoch_arena_resets_total', labels)).toBe(2);
    expect(sink.read('mem_epoch_arena_allocations', labels)).toBe(0);
  });

  it('publishes a pool figures and those of its arenas, labelled with its name', () => {
    const sink = new RecordingMetricsSink();
    const pool = new ArenaPool({ ringSize: 1, metrics: sink, name: 'steps' });
    pool.allocate(8);
    const guard = pool.pin();
    pool.advanceEpoch();
    const samples = sink.collect();
    const value = (name: string): number | undefined => samples.find((sample) => sample.name === name)?.value;
    expect(value('mem_arena_pool_epoch')).toBe(1);
    expect(value('mem_arena_pool_guards')).toBe(1);
    expect(value('mem_arena_pool_deferred_arenas')).toBe(1);
    expect(value('mem_arena_pool_deferred_reclamations_total')).toBe(1);
    expect(value('mem_arena_pool_advances_total')).toBe(1);
    const arenas = samples.filter((sample) => sample.name === 'mem_epoch_arena_allocations');
    expect(arenas.length).toBe(2);
    expect(arenas.every((sample) => sample.labels.pool === 'steps' && /^\d+$/.test(sample.labels.arena!))).toBe(true);
    expect(samples.filter((sample) => sample.name.startsWith('mem_arena_pool_')).map((s) => s.labels)).toContainEqual({
      pool: 'steps',
    });
    guard.release();
    expect(
      sink.collect().find((sample) => sample.name === 'mem_arena_pool_reclaimed_after_deferral_total')?.value,
    ).toBe(1);
  });

  it('publishes a shared arena, and zeros once it is closed', () => {
    const sink = new RecordingMetricsSink();
    const arena = SharedEpochArena.createShared({ capacity: 4096, metrics: sink, id: 9, name: 'shared' });
    arena.allocate(5);
    expect(sink.read('mem_epoch_arena_allocations', { pool: 'shared', arena: '9' })).toBe(1);
    arena.close();
    expect(sink.read('mem_epoch_arena_allocations', { pool: 'shared', arena: '9' })).toBe(0);
  });

  it('holds arenas and pools weakly: dropped ones are collected, publish zeros, and leave the sink', async () => {
    const sink = new RecordingMetricsSink();
    const collected = new Set<string>();
    const registry = new FinalizationRegistry<string>((name) => collected.add(name));
    dropWithMetrics(sink, registry);
    await collectUntil(() => collected.size === 3);
    expect([...collected].sort()).toEqual(['ArenaPool', 'EpochArena', 'SharedEpochArena']);
    const published = sink.collect();
    expect(
      published.filter(({ name }) => name === 'mem_epoch_arena_allocations').every(({ value }) => value === 0),
    ).toBe(true);
    expect(published.find(({ name }) => name === 'mem_arena_pool_guards')?.value).toBe(0);
  });

  it('refuses a sink that is not one with INVALID_ARGUMENT', () => {
    for (const metrics of [5, 'sink', {}, { counter() {}, gauge() {} }, null]) {
      expect(() => new EpochArena({ metrics: metrics as never })).toThrowError(MemError);
      expect(() => new ArenaPool({ metrics: metrics as never })).toThrowError(MemError);
      expect(() => SharedEpochArena.createShared({ capacity: 4096, metrics: metrics as never })).toThrowError(MemError);
    }
  });

  it('refuses a name that is not a non-empty string with INVALID_ARGUMENT', () => {
    const created = SharedArenaPool.createShared({ capacity: 4096 });
    for (const name of ['', 5, null]) {
      expectMemError(() => new EpochArena({ name: name as never }), 'INVALID_ARGUMENT');
      expectMemError(() => new ArenaPool({ name: name as never }), 'INVALID_ARGUMENT');
      expectMemError(() => SharedEpochArena.createShared({ capacity: 4096, name: name as never }), 'INVALID_ARGUMENT');
      expectMemError(() => SharedArenaPool.createShared({ capacity: 4096, name: name as never }), 'INVALID_ARGUMENT');
      expectMemError(() => SharedArenaPool.attach(created.descriptor(), { name: name as never }), 'INVALID_ARGUMENT');
    }
    created.close();
  });
});

describe('guard leak detection', () => {
  it('unpins a guard collected without a release, so its epoch is reclaimed after all', async () => {
    const leaks: GuardLeak[] = [];
    const pool = new ArenaPool({ ringSize: 1, leakDetection: 'paranoid', onGuardLeak: (leak) => leaks.push(leak) });
    const handle = pool.allocate(8);
    leakAGuard(pool);
    pool.advanceEpoch();
    expect(pool.isValid(handle)).toBe(true); // pinned by the leaked guard until the GC finds it
    await collectUntil(() => leaks.length > 0);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]!.epoch).toBe(0);
    expect(leaks[0]!.allocationStack).toContain('leakAGuard');
    expect(pool.isValid(handle)).toBe(false);
    expect(pool.stats()).toMatchObject({
      leakedGuards: 1,
      activeGuards: 0,
      deferredArenas: 0,
      reclaimedAfterDeferral: 1,
    });
  });

  it('never reports a guard that was released', async () => {
    const leaks: GuardLeak[] = [];
    const pool = new ArenaPool({ leakDetection: 'paranoid', onGuardLeak: (leak) => leaks.push(leak) });
    (() => pool.pin().release())();
    await collectUntil(() => false, { attempts: 5 });
    expect(leaks).toHaveLength(0);
    expect(pool.stats().leakedGuards).toBe(0);
  });

  it('tracks nothing with leakDetection off', async () => {
    const pool = new ArenaPool({ ringSize: 1, leakDetection: 'off' });
    leakAGuard(pool);
    await collectUntil(() => false, { attempts: 5 });
    expect(pool.stats()).toMatchObject({ leakedGuards: 0, activeGuards: 1 });
  });

  it('refuses a bad level or callback with INVALID_ARGUMENT', () => {
    for (const options of [{ leakDetection: 'loud' }, { leakDetection: 1 }, { onGuardLeak: 'log' }]) {
      expect(() => new ArenaPool(options as never)).toThrowError(MemError);
      expect(() => SharedArenaPool.createShared({ capacity: 4096, ...(options as object) })).toThrowError(MemError);
    }
    const pool = SharedArenaPool.createShared({ capacity: 4096 });
    expect(() => SharedArenaPool.attach(pool.descriptor(), { leakDetection: 'x' as never })).toThrowError(MemError);
    expect(pool.stats().arenas.every((arena) => (arena.arena as { attachments?: number }).attachments === 1)).toBe(
      true,
    );
  });
});
