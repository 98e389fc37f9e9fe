/**
 * Publishes a {@link BlockAllocator}'s counts to a {@link MetricsSink}: gauges of blocks in use,
 * capacity, usage and cached free blocks, and counters of evictions and resurrections, read by a
 * collector when the sink is scraped (nothing is recorded on the allocation path).
 *
 * This module is browser compatible.
 * @module
 */
import { mirrorCounter, type MetricLabels, type MetricsSink } from '@mem/types';
import type { BlockAllocator } from './block-allocator.js';

/** Registers the allocator's gauges and counters, labelled `labels`, and a collector that reads them. Cost: O(1). */
export function publishAllocatorMetrics(sink: MetricsSink, blocks: BlockAllocator, labels: MetricLabels): void {
  const inUse = sink.gauge('mem_paged_kv_in_use_blocks', 'KV blocks with at least one reference', labels);
  const capacity = sink.gauge('mem_paged_kv_capacity_blocks', 'KV blocks in the pool', labels);
  const usage = sink.gauge('mem_paged_kv_usage_ratio', 'share of KV blocks in use', labels);
  const cached = sink.gauge('mem_paged_kv_cached_free_blocks', 'free KV blocks still holding cached content', labels);
  const evictions = mirrorCounter(
    sink.counter('mem_paged_kv_evictions_total', 'cached KV blocks evicted for reuse', labels),
  );
  const resurrections = mirrorCounter(
    sink.counter('mem_paged_kv_resurrections_total', 'soft-free KV blocks brought back by a prefix-cache hit', labels),
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
