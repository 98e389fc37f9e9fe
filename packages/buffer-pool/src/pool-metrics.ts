/**
 * The counters a pool instance keeps as plain numbers (the hot path does one typed-array increment),
 * and their publication into a `@mem/types` MetricsSink by a collector that runs at scrape time.
 *
 * Series (labels `pool` = the pool's name, `size_class` = the class size in bytes):
 * - `mem_buffer_pool_buffers{pool, size_class}` gauge: tracked buffers created
 * - `mem_buffer_pool_free_buffers{pool, size_class, where="global"|"local"}` gauge: free buffers
 * - `mem_buffer_pool_hits_total{pool, size_class, tier="local"|"global"|"new"}` counter: where allocations came from
 * - `mem_buffer_pool_exhausted_total{pool, size_class}` counter: allocations refused (or fallen back) for exhaustion
 * - `mem_buffer_pool_oversized_total{pool}` counter: requests above `maxSize`
 * - `mem_buffer_pool_fallbacks_total{pool}` counter: untracked buffers handed out instead of pooled ones
 * - `mem_buffer_pool_leaks_total{pool}` counter: handles garbage-collected without release
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, describeValue, mirrorCounter, type Gauge, type MetricsSink } from '@mem/types';
import type { Freelist } from './freelist.js';
import type { WorkerCache } from './worker-cache.js';

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

/**
 * What the collector reads besides the counters. Plain state, never the pool instance: the sink
 * keeps the collector until it is unregistered, and it must not keep a dropped instance alive.
 */
export interface PoolGaugeSources {
  /** Tracked buffers created, per class. */
  readonly created: Int32Array;
  /** The global freelists. */
  readonly global: Freelist;
  /** This instance's local cache. */
  readonly cache: WorkerCache;
}

function checkInstrument<T extends object>(instrument: T, methods: readonly string[], what: string): T {
  const fits =
    typeof instrument === 'object' &&
    instrument !== null &&
    methods.every((method) => typeof (instrument as Record<string, unknown>)[method] === 'function');
  if (!fits) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `options.metrics returned ${describeValue(instrument)} for ${what}, not an object with ${methods.join(', ')}`,
    );
  }
  return instrument;
}

/**
 * Resolves every instrument once and registers a collector that publishes `counters` and `sources`
 * into `sink`; returns the function that unregisters it.
 * Cost: O(classes) instruments now; O(classes) per scrape.
 * @throws MemError INVALID_ARGUMENT if the sink hands back something that is not an instrument
 * (or, from `addCollector`, not a function); whatever the sink's methods throw.
 */
export function publishPoolMetrics(
  sink: MetricsSink,
  pool: string,
  classSizes: readonly number[],
  counters: PoolCounters,
  sources: PoolGaugeSources,
): () => void {
  const counter = (name: string, help: string, labels: Record<string, string>): ((total: number) => void) =>
    mirrorCounter(checkInstrument(sink.counter(name, help, labels), ['inc'], `counter ${name}`));
  const gauge = (name: string, help: string, labels: Record<string, string>): Gauge =>
    checkInstrument(sink.gauge(name, help, labels), ['set'], `gauge ${name}`);
  const perClass = classSizes.map((size) => {
    const size_class = String(size);
    return {
      created: gauge('mem_buffer_pool_buffers', 'Tracked buffers created', { pool, size_class }),
      freeGlobal: gauge('mem_buffer_pool_free_buffers', 'Free buffers', { pool, size_class, where: 'global' }),
      freeLocal: gauge('mem_buffer_pool_free_buffers', 'Free buffers', { pool, size_class, where: 'local' }),
      hitsLocal: counter('mem_buffer_pool_hits_total', 'Allocations by source', { pool, size_class, tier: 'local' }),
      hitsGlobal: counter('mem_buffer_pool_hits_total', 'Allocations by source', { pool, size_class, tier: 'global' }),
      hitsNew: counter('mem_buffer_pool_hits_total', 'Allocations by source', { pool, size_class, tier: 'new' }),
      exhausted: counter('mem_buffer_pool_exhausted_total', 'Allocations that found the class exhausted', {
        pool,
        size_class,
      }),
    };
  });
  const oversized = counter('mem_buffer_pool_oversized_total', 'Requests above maxSize', { pool });
  const fallbacks = counter('mem_buffer_pool_fallbacks_total', 'Untracked buffers handed out instead of pooled ones', {
    pool,
  });
  const leaks = counter('mem_buffer_pool_leaks_total', 'Buffers garbage-collected without release', { pool });
  const { created, global, cache } = sources;
  const unpublish = sink.addCollector(() => {
    perClass.forEach((instruments, c) => {
      instruments.created.set(Atomics.load(created, c));
      instruments.freeGlobal.set(global.length(c));
      instruments.freeLocal.set(cache.length(c));
      instruments.hitsLocal(counters.hitsLocal[c]!);
      instruments.hitsGlobal(counters.hitsGlobal[c]!);
      instruments.hitsNew(counters.hitsNew[c]!);
      instruments.exhausted(counters.exhausted[c]!);
    });
    oversized(counters.oversized);
    fallbacks(counters.fallbacks);
    leaks(counters.leaks);
  });
  if (typeof unpublish !== 'function') {
    throw new MemError(
      'INVALID_ARGUMENT',
      `options.metrics.addCollector returned ${describeValue(unpublish)}, not the function that unregisters the collector`,
    );
  }
  return unpublish;
}
