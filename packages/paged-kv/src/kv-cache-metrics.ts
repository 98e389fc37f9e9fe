/**
 * The metrics a `KvCacheManager` publishes: prefix-cache lookups and hits, preemptions and
 * live sequences, read by one collector from the manager's counters.
 *
 * This module is browser compatible.
 * @module
 */
import { type MetricLabels, type MetricsSink, mirrorCounter } from '@mem/types';

/** The manager's counters a collection reads. */
export interface KvCacheCounts {
  /** Prompt tokens looked up in the prefix cache. */
  readonly queryTokens: number;
  /** Prompt tokens served from the prefix cache. */
  readonly hitTokens: number;
  /** Sequences preempted by recompute. */
  readonly preemptions: number;
  /** Sequences not yet released. */
  readonly sequences: number;
}

/**
 * Registers the manager's instruments, labelled `labels`, and its collector with `sink`; returns the function that
 * removes the collector. Cost: O(1) per collection.
 * @throws whatever the sink throws; then nothing stays registered.
 */
export function publishKvCacheMetrics(sink: MetricsSink, labels: MetricLabels, read: () => KvCacheCounts): () => void {
  const queries = mirrorCounter(
    sink.counter('mem_paged_kv_prefix_query_tokens_total', 'prompt tokens looked up in the prefix cache', labels),
  );
  const hits = mirrorCounter(
    sink.counter('mem_paged_kv_prefix_hit_tokens_total', 'prompt tokens served from the prefix cache', labels),
  );
  const preemptions = mirrorCounter(
    sink.counter('mem_paged_kv_preemptions_total', 'sequences preempted by recompute', labels),
  );
  const sequences = sink.gauge('mem_paged_kv_sequences', 'KV sequences not yet released', labels);
  return sink.addCollector(() => {
    const counts = read();
    queries(counts.queryTokens);
    hits(counts.hitTokens);
    preemptions(counts.preemptions);
    sequences.set(counts.sequences);
  });
}
