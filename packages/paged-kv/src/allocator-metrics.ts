/**
 * Publishes a {@link BlockAllocator}'s counts to a {@link MetricsSink}: gauges of blocks in use,
 * capacity, usage and cached free blocks, and counters of evictions and resurrections, read by a
 * collector when the sink is scraped (nothing is recorded on the allocation path).
 *
 * This module is browser compatible.
 * @module
 */
import { mirrorCounter, type MetricsSink } from '@mem/types';
import type { BlockAllocator } from './block-allocator.js';

/** Registers the allocator's gauges and counters and a collector that reads them. Cost: O(1). */
export function publishAllocatorMetrics(sink: MetricsSink, blocks: BlockAllocator): void {
  const inUse = sink.gauge('mem_paged_kv_blocks_in_use', 'KV blocks with at least one reference');
  const capacity = sink.gauge('mem_paged_kv_blocks_capacity', 'KV blocks in the pool');
  const usage = sink.gauge('mem_paged_kv_usage_ratio', 'share of KV blocks in use');
  const cached = sink.gauge('mem_paged_kv_blocks_cached_free', 'free KV blocks still holding cached content');
  const evictions = mirrorCounter(sink.counter('mem_paged_kv_evictions_total', 'cached KV blocks evicted for reuse'));
  const resurrections = mirrorCounter(
    sink.counter('mem_paged_kv_resurrections_total', 'soft-free KV blocks brought back by a prefix-cache hit'),
  );
  sink.addCollector(() => {
    inUse.set(blocks.inUseCount);
    capacity.set(blocks.capacity);
    usage.set(blocks.inUseCount / blocks.capacity);
    cached.set(blocks.cachedFreeCount);
    evictions(blocks.evictions);
    resurrections(blocks.resurrections);
  });
}
