/**
 * Publishing arena and pool figures to a {@link MetricsSink}: nothing on the hot paths, a collector
 * that reads `stats()` when the sink is scraped. The sink is called only to register the collector
 * (at construction) and from the collector (at scrapes), never from inside an arena or pool
 * operation, so a sink that calls back into the arena or pool finds it between operations.
 *
 * This module is browser compatible.
 * @module
 */
import { assertNonEmptyString, mirrorCounter, type MetricLabels, type MetricsSink } from '@mem/types';
import type { ArenaStats } from './arena.js';
import type { ArenaPoolStats } from './ring-stats.js';

/**
 * Checks a `name` option (the `pool` label of the figures): `undefined` gives `fallback`.
 * @throws MemError INVALID_ARGUMENT if it is not a non-empty string.
 */
export function metricsName(name: unknown, fallback: string): string {
  return name === undefined ? fallback : assertNonEmptyString(name, 'name');
}

/**
 * Registers with `sink` a collector that runs `collect(source)` on every scrape while `source` is
 * alive. The sink holds `source` weakly: once it has been garbage-collected, the collector runs
 * `gone()` once and unregisters itself, so a sink never keeps a dropped arena or pool alive.
 * Only `sink.addCollector` is called now; instruments are made by the collector, at scrapes.
 * Cost: O(1) now.
 * @throws whatever `sink.addCollector` throws; nothing is registered then.
 */
export function collectWhileAlive<T extends object>(
  sink: MetricsSink,
  source: T,
  collect: (source: T) => void,
  gone: () => void,
): void {
  const reference = new WeakRef(source);
  let ended = false;
  // The collector can only find the source gone at a later scrape, once `unregister` is set.
  const unregister = sink.addCollector(() => {
    if (ended) return;
    const alive = reference.deref();
    if (alive !== undefined) {
      collect(alive);
      return;
    }
    ended = true;
    unregister();
    gone();
  });
}

/**
 * Publishes `arena`'s figures (`read(arena)`, or zeros once it is gone) under `mem_epoch_arena_*`
 * with `labels`, while the sink holds the arena weakly. Cost: O(1) now.
 * @throws whatever `sink.addCollector` throws; nothing is registered then.
 */
export function publishArenaWhileAlive<T extends object>(
  sink: MetricsSink,
  labels: MetricLabels,
  arena: T,
  read: (arena: T) => ArenaFigures,
): void {
  const publish = arenaPublisher(sink, labels);
  collectWhileAlive(
    sink,
    arena,
    (alive) => publish(read(alive)),
    () => publish(NO_ARENA_FIGURES),
  );
}

/** The figures {@link arenaPublisher} publishes. */
export type ArenaFigures = Pick<
  ArenaStats,
  'allocationCount' | 'bytesAllocated' | 'bytesUsed' | 'totalCapacity' | 'blockCount' | 'generation'
>;

/** What an arena that is gone or closed publishes. */
export const NO_ARENA_FIGURES: ArenaFigures = {
  allocationCount: 0,
  bytesAllocated: 0,
  bytesUsed: 0,
  totalCapacity: 0,
  blockCount: 0,
  generation: 0,
};

/**
 * Returns a function that publishes an arena's figures under `mem_epoch_arena_*` with `labels`;
 * its instruments are made by its first call. Cost: O(1) per call.
 */
export function arenaPublisher(sink: MetricsSink, labels: MetricLabels): (figures: ArenaFigures) => void {
  let publish: ((figures: ArenaFigures) => void) | undefined;
  return (figures) => {
    publish ??= makeArenaPublisher(sink, labels);
    publish(figures);
  };
}

function makeArenaPublisher(sink: MetricsSink, labels: MetricLabels): (figures: ArenaFigures) => void {
  const allocations = sink.gauge('mem_epoch_arena_allocations', 'allocations in the current generation', labels);
  const bytesAllocated = sink.gauge(
    'mem_epoch_arena_allocated_bytes',
    'bytes requested in the current generation',
    labels,
  );
  const bytesUsed = sink.gauge(
    'mem_epoch_arena_used_bytes',
    'bytes taken from blocks in the current generation',
    labels,
  );
  const capacity = sink.gauge('mem_epoch_arena_capacity_bytes', 'bytes of blocks held', labels);
  const blocks = sink.gauge('mem_epoch_arena_blocks', 'blocks held', labels);
  const resets = mirrorCounter(sink.counter('mem_epoch_arena_resets_total', 'resets (generations dropped)', labels));
  return (figures) => {
    allocations.set(figures.allocationCount);
    bytesAllocated.set(figures.bytesAllocated);
    bytesUsed.set(figures.bytesUsed);
    capacity.set(figures.totalCapacity);
    blocks.set(figures.blockCount);
    resets(figures.generation);
  };
}

/** The pool figures {@link poolPublisher} publishes. */
export interface PoolFigures {
  readonly currentEpoch: number;
  readonly activeGuards: number;
  readonly deferredArenas: number;
  readonly deferredReclamations: number;
  readonly reclaimedAfterDeferral: number;
  readonly advances: number;
  readonly leakedGuards: number;
}

/** What a pool that is gone or closed publishes. */
export const NO_POOL_FIGURES: PoolFigures = {
  currentEpoch: 0,
  activeGuards: 0,
  deferredArenas: 0,
  deferredReclamations: 0,
  reclaimedAfterDeferral: 0,
  advances: 0,
  leakedGuards: 0,
};

/**
 * Returns a function that publishes a pool's figures under `mem_arena_pool_*` with `labels`; its
 * instruments are made by its first call. Cost: O(1) per call.
 */
export function poolPublisher(sink: MetricsSink, labels: MetricLabels): (figures: PoolFigures) => void {
  let publish: ((figures: PoolFigures) => void) | undefined;
  return (figures) => {
    publish ??= makePoolPublisher(sink, labels);
    publish(figures);
  };
}

function makePoolPublisher(sink: MetricsSink, labels: MetricLabels): (figures: PoolFigures) => void {
  const epoch = sink.gauge('mem_arena_pool_epoch', 'the current epoch', labels);
  const guards = sink.gauge('mem_arena_pool_guards', 'live guards pinning epochs', labels);
  const deferredArenas = sink.gauge(
    'mem_arena_pool_deferred_arenas',
    'arenas out of the ring waiting for their guards',
    labels,
  );
  const deferrals = mirrorCounter(
    sink.counter('mem_arena_pool_deferred_reclamations_total', 'advances that found their arena pinned', labels),
  );
  const reclaimed = mirrorCounter(
    sink.counter(
      'mem_arena_pool_reclaimed_after_deferral_total',
      'deferred arenas reclaimed at their last release',
      labels,
    ),
  );
  const advances = mirrorCounter(sink.counter('mem_arena_pool_advances_total', 'epoch advances', labels));
  const leaked = mirrorCounter(
    sink.counter('mem_arena_pool_leaked_guards_total', 'guards collected unreleased', labels),
  );
  return (figures) => {
    epoch.set(figures.currentEpoch);
    guards.set(figures.activeGuards);
    deferredArenas.set(figures.deferredArenas);
    deferrals(figures.deferredReclamations);
    reclaimed(figures.reclaimedAfterDeferral);
    advances(figures.advances);
    leaked(figures.leakedGuards);
  };
}

/**
 * Publishes a ring's figures (`mem_arena_pool_*`, labelled `pool`) and its arenas'
 * (`mem_epoch_arena_*`, labelled `pool` and `arena`) while the sink holds `ring` weakly: `read(ring)` at each
 * scrape, zeros once it answers undefined (a closed attachment) or the ring is gone. Cost: O(1) now.
 * @throws whatever `sink.addCollector` throws; nothing is registered then.
 */
export function publishRingWhileAlive<T extends object>(
  sink: MetricsSink,
  pool: string,
  ring: T,
  read: (ring: T) => ArenaPoolStats | undefined,
): void {
  const publishRing = poolPublisher(sink, { pool });
  const publishArenas = new Map<number, (figures: ArenaFigures) => void>();
  const publishZeros = (): void => {
    publishRing(NO_POOL_FIGURES);
    for (const publish of publishArenas.values()) publish(NO_ARENA_FIGURES);
  };
  const publish = (stats: ArenaPoolStats | undefined): void => {
    if (stats === undefined) return publishZeros();
    publishRing(stats);
    for (const { arena } of stats.arenas) {
      let publishArena = publishArenas.get(arena.arenaId);
      if (publishArena === undefined) {
        publishArena = arenaPublisher(sink, { pool, arena: String(arena.arenaId) });
        publishArenas.set(arena.arenaId, publishArena);
      }
      publishArena(arena);
    }
  };
  collectWhileAlive(sink, ring, (alive) => publish(read(alive)), publishZeros);
}
