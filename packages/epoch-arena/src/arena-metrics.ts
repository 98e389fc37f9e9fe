/**
 * Publishing arena and pool figures to a {@link MetricsSink}: nothing on the hot paths, a collector
 * that reads `stats()` when the sink is scraped.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, describeValue, mirrorCounter, type MetricLabels, type MetricsSink } from '@mem/types';
import type { ArenaStats } from './arena.js';

/**
 * Checks a `metrics` option: `undefined` or an object with `counter`, `gauge` and `addCollector`.
 * @throws MemError INVALID_ARGUMENT otherwise.
 */
export function assertMetricsSink(sink: unknown): MetricsSink | undefined {
  if (sink === undefined) return undefined;
  const candidate = sink as Partial<MetricsSink> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.counter !== 'function' ||
    typeof candidate.gauge !== 'function' ||
    typeof candidate.addCollector !== 'function'
  ) {
    throw new MemError('INVALID_ARGUMENT', `metrics must be a MetricsSink, got ${describeValue(sink)}`);
  }
  return candidate as MetricsSink;
}

/**
 * Registers a collector that publishes an arena's stats under `mem_epoch_arena_*` with `labels`.
 * Returns the function that unregisters it. Cost: O(1) now; `stats()` per scrape.
 */
export function publishArenaMetrics(sink: MetricsSink, labels: MetricLabels, stats: () => ArenaStats): () => void {
  const allocations = sink.gauge('mem_epoch_arena_allocations', 'allocations in the current generation', labels);
  const bytesAllocated = sink.gauge(
    'mem_epoch_arena_bytes_allocated',
    'bytes requested in the current generation',
    labels,
  );
  const bytesUsed = sink.gauge(
    'mem_epoch_arena_bytes_used',
    'bytes taken from blocks in the current generation',
    labels,
  );
  const capacity = sink.gauge('mem_epoch_arena_capacity_bytes', 'bytes of blocks held', labels);
  const blocks = sink.gauge('mem_epoch_arena_blocks', 'blocks held', labels);
  const resets = mirrorCounter(sink.counter('mem_epoch_arena_resets_total', 'resets (generations dropped)', labels));
  return sink.addCollector(() => {
    const snapshot = stats();
    allocations.set(snapshot.allocationCount);
    bytesAllocated.set(snapshot.bytesAllocated);
    bytesUsed.set(snapshot.bytesUsed);
    capacity.set(snapshot.totalCapacity);
    blocks.set(snapshot.blockCount);
    resets(snapshot.generation);
  });
}

/** The pool figures {@link publishPoolMetrics} reads. */
export interface PoolMetricsSource {
  readonly currentEpoch: number;
  readonly activeGuards: number;
  readonly deferredArenas: number;
  readonly deferredReclamations: number;
  readonly reclaimedAfterDeferral: number;
  readonly advances: number;
  readonly leakedGuards: number;
}

/**
 * Registers a collector that publishes a pool's figures under `mem_arena_pool_*` with `labels`.
 * Returns the function that unregisters it. Cost: O(1) now; the source per scrape.
 */
export function publishPoolMetrics(
  sink: MetricsSink,
  labels: MetricLabels,
  source: () => PoolMetricsSource,
): () => void {
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
  return sink.addCollector(() => {
    const snapshot = source();
    epoch.set(snapshot.currentEpoch);
    guards.set(snapshot.activeGuards);
    deferredArenas.set(snapshot.deferredArenas);
    deferrals(snapshot.deferredReclamations);
    reclaimed(snapshot.reclaimedAfterDeferral);
    advances(snapshot.advances);
    leaked(snapshot.leakedGuards);
  });
}
