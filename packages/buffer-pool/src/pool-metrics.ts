/**
 * The counters a pool instance keeps as plain numbers (the hot path does one typed-array increment),
 * and their publication into a `@mem/types` MetricsSink by a collector that runs at scrape time.
 *
 * Series (labels `size_class` = the class size in bytes):
 * - `mem_buffer_pool_created{size_class}` gauge: tracked buffers created
 * - `mem_buffer_pool_free{size_class, where="global"|"local"}` gauge: free buffers
 * - `mem_buffer_pool_hits_total{size_class, tier="local"|"global"|"new"}` counter: where allocations came from
 * - `mem_buffer_pool_exhausted_total{size_class}` counter: allocations refused (or fallen back) for exhaustion
 * - `mem_buffer_pool_oversized_total` counter: requests above `maxSize`
 * - `mem_buffer_pool_fallback_total` counter: untracked buffers handed out instead of pooled ones
 * - `mem_buffer_pool_leaks_total` counter: handles garbage-collected without release
 *
 * This module is browser compatible.
 * @module
 */
import { mirrorCounter, type MetricsSink } from '@mem/types';

/** Plain counters of one pool instance. */
export class PoolCounters {
  /** Per class: allocations served by the local cache (incremented on the hot path). */
  readonly hitsLocal: Float64Array;
  /** Per class: allocations served by the global freelist. */
  readonly hitsGlobal: Float64Array;
  /** Per class: allocations that created a tracked buffer. */
  readonly hitsNew: Float64Array;
  /** Per class: allocations that found the class exhausted. */
  readonly exhausted: Float64Array;
  /** Requests above `maxSize`. */
  oversized = 0;
  /** Requests below `poolMinSize`. */
  bypassed = 0;
  /** Untracked buffers handed out instead of pooled ones. */
  fallbacks = 0;
  /** Leaked handles recovered. */
  leaks = 0;

  /** Cost: O(classCount). */
  constructor(classCount: number) {
    this.hitsLocal = new Float64Array(classCount);
    this.hitsGlobal = new Float64Array(classCount);
    this.hitsNew = new Float64Array(classCount);
    this.exhausted = new Float64Array(classCount);
  }
}

/** What the collector reads besides the counters. */
export interface PoolGauges {
  /** Tracked buffers created in class `c`. */
  created(c: number): number;
  /** Free buffers of class `c` in the global freelist. */
  globalFree(c: number): number;
  /** Free buffers of class `c` in this instance's cache. */
  localFree(c: number): number;
}

/**
 * Resolves every instrument once and registers a collector that publishes `counters` and `gauges`
 * into `sink`; returns the function that unregisters it.
 * Cost: O(classes) instruments now; O(classes) per scrape.
 */
export function publishPoolMetrics(
  sink: MetricsSink,
  classSizes: readonly number[],
  counters: PoolCounters,
  gauges: PoolGauges,
): () => void {
  const perClass = classSizes.map((size) => {
    const size_class = String(size);
    return {
      created: sink.gauge('mem_buffer_pool_created', 'Tracked buffers created', { size_class }),
      freeGlobal: sink.gauge('mem_buffer_pool_free', 'Free buffers', { size_class, where: 'global' }),
      freeLocal: sink.gauge('mem_buffer_pool_free', 'Free buffers', { size_class, where: 'local' }),
      hitsLocal: mirrorCounter(
        sink.counter('mem_buffer_pool_hits_total', 'Allocations by source', { size_class, tier: 'local' }),
      ),
      hitsGlobal: mirrorCounter(
        sink.counter('mem_buffer_pool_hits_total', 'Allocations by source', { size_class, tier: 'global' }),
      ),
      hitsNew: mirrorCounter(
        sink.counter('mem_buffer_pool_hits_total', 'Allocations by source', { size_class, tier: 'new' }),
      ),
      exhausted: mirrorCounter(
        sink.counter('mem_buffer_pool_exhausted_total', 'Allocations that found the class exhausted', {
          size_class,
        }),
      ),
    };
  });
  const oversized = mirrorCounter(sink.counter('mem_buffer_pool_oversized_total', 'Requests above maxSize'));
  const fallbacks = mirrorCounter(
    sink.counter('mem_buffer_pool_fallback_total', 'Untracked buffers handed out instead of pooled ones'),
  );
  const leaks = mirrorCounter(sink.counter('mem_buffer_pool_leaks_total', 'Buffers garbage-collected without release'));
  return sink.addCollector(() => {
    perClass.forEach((instruments, c) => {
      instruments.created.set(gauges.created(c));
      instruments.freeGlobal.set(gauges.globalFree(c));
      instruments.freeLocal.set(gauges.localFree(c));
      instruments.hitsLocal(counters.hitsLocal[c]!);
      instruments.hitsGlobal(counters.hitsGlobal[c]!);
      instruments.hitsNew(counters.hitsNew[c]!);
      instruments.exhausted(counters.exhausted[c]!);
    });
    oversized(counters.oversized);
    fallbacks(counters.fallbacks);
    leaks(counters.leaks);
  });
}
