/**
 * What a {@link KvTierConnector} counts, and how it publishes it: lookups, hit blocks, loaded and
 * saved blocks and bytes, a histogram of load latency, and errors by kind. Counting is a few integer
 * additions per call; a collector copies the counts into a metrics sink when it is scraped.
 *
 * This module is browser compatible.
 * @module
 */
import { type Histogram, type MetricsSink, mirrorCounter } from '@mem/types';

/**
 * Why a tier operation delivered less than asked:
 * `'lookup'`, `'load'`, `'save'`: the tier failed (unreachable, refused, closed, timed out), for
 * the whole call or, in a load, for one block (a load then delivers the blocks before it);
 * `'missing'`: a value missing in the middle of a chain the tier holds further on (the store
 * evicted it, or its save failed; a chain that simply ends is not an error);
 * `'short'`: a value shorter than its layout; `'layout'`: a value of another layout or format version;
 * `'corrupt'`: a value whose checksum or digest does not match;
 * `'write'`: copying a loaded value into the KV store failed.
 * (The scheduler counts its own: requests it stopped waiting for, in `SchedulerStats.tierTimeouts`.)
 */
export type KvTierErrorKind = 'lookup' | 'load' | 'save' | 'missing' | 'short' | 'layout' | 'corrupt' | 'write';

/** Every {@link KvTierErrorKind}, in the order stats list them. */
export const KV_TIER_ERROR_KINDS: readonly KvTierErrorKind[] = Object.freeze([
  'lookup',
  'load',
  'save',
  'missing',
  'short',
  'layout',
  'corrupt',
  'write',
]);

/** Upper bounds of the load-latency histogram's buckets, in seconds (the last bucket is unbounded). */
export const KV_TIER_LOAD_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
]);

/** A {@link KvTierConnector.stats} snapshot. */
export interface KvTierStats {
  /** The tier's name. */
  readonly tier: string;
  /** `lookup` calls. */
  readonly lookups: number;
  /** Blocks asked about by lookups. */
  readonly lookupBlocks: number;
  /** Leading blocks lookups found. */
  readonly hitBlocks: number;
  /** `load` calls. */
  readonly loads: number;
  /** Blocks loads asked for (those not delivered were missing, or faulty and counted in `errors`). */
  readonly loadBlocks: number;
  /** Blocks loads delivered intact. */
  readonly loadedBlocks: number;
  /** Bytes of those blocks' values. */
  readonly loadedBytes: number;
  /** Blocks written to the tier. */
  readonly savedBlocks: number;
  /** Bytes of those values. */
  readonly savedBytes: number;
  /** Seconds spent in loads, from the call to the answer. */
  readonly loadSeconds: number;
  /** Loads per latency bucket: `loadLatency[i]` counts loads of at most `KV_TIER_LOAD_BUCKETS[i]` seconds (not cumulative; the last entry counts the slower ones). */
  readonly loadLatency: readonly number[];
  /** Errors by kind. */
  readonly errors: Readonly<Record<KvTierErrorKind, number>>;
}

/** @internal The mutable counts behind {@link KvTierStats}. */
export class KvTierCounts {
  lookups = 0;
  lookupBlocks = 0;
  hitBlocks = 0;
  loads = 0;
  loadBlocks = 0;
  loadedBlocks = 0;
  loadedBytes = 0;
  savedBlocks = 0;
  savedBytes = 0;
  loadSeconds = 0;
  readonly loadLatency = new Array<number>(KV_TIER_LOAD_BUCKETS.length + 1).fill(0);
  readonly errors = Object.fromEntries(KV_TIER_ERROR_KINDS.map((kind) => [kind, 0])) as Record<KvTierErrorKind, number>;
  /** The metrics sink's load-latency histogram, when there is one. */
  latency: Histogram | undefined;

  /** Records one load of `seconds`. */
  observeLoad(seconds: number): void {
    this.latency?.observe(seconds);
    this.loadSeconds += seconds;
    let bucket = 0;
    while (bucket < KV_TIER_LOAD_BUCKETS.length && seconds > KV_TIER_LOAD_BUCKETS[bucket]!) bucket += 1;
    this.loadLatency[bucket]! += 1;
  }

  snapshot(tier: string): KvTierStats {
    return {
      tier,
      lookups: this.lookups,
      lookupBlocks: this.lookupBlocks,
      hitBlocks: this.hitBlocks,
      loads: this.loads,
      loadBlocks: this.loadBlocks,
      loadedBlocks: this.loadedBlocks,
      loadedBytes: this.loadedBytes,
      savedBlocks: this.savedBlocks,
      savedBytes: this.savedBytes,
      loadSeconds: this.loadSeconds,
      loadLatency: this.loadLatency.slice(),
      errors: { ...this.errors },
    };
  }
}

/** @internal The name and help of the tier's error counter, which the connector and the scheduler both publish to. */
export const TIER_ERRORS_METRIC = [
  'mem_paged_kv_tier_errors_total',
  'KV tier operations that fell back to recompute, by kind',
] as const;

/**
 * @internal Registers the connector's counters, its load-latency histogram (where the sink offers
 * histograms) and a collector that copies `counts` into them, labelled with the KV cache's name
 * (`pool`) and the tier's (`tier`); every error kind is published from 0. Returns the function that
 * removes the collector.
 * @throws whatever the sink throws.
 */
export function publishKvTierMetrics(
  sink: MetricsSink,
  labels: { readonly pool: string; readonly tier: string },
  counts: KvTierCounts,
): () => void {
  const counter = (name: string, help: string, extra: Record<string, string> = {}): ((total: number) => void) =>
    mirrorCounter(sink.counter(name, help, { ...labels, ...extra }));
  const lookups = counter('mem_paged_kv_tier_lookups_total', 'KV tier lookups');
  const hitBlocks = counter('mem_paged_kv_tier_hit_blocks_total', 'leading KV blocks tier lookups found');
  const loadedBlocks = counter('mem_paged_kv_tier_loaded_blocks_total', 'KV blocks loaded intact from the tier');
  const loadedBytes = counter('mem_paged_kv_tier_loaded_bytes_total', 'bytes of KV blocks loaded from the tier');
  const savedBlocks = counter('mem_paged_kv_tier_saved_blocks_total', 'KV blocks saved to the tier');
  const savedBytes = counter('mem_paged_kv_tier_saved_bytes_total', 'bytes of KV blocks saved to the tier');
  const errors = KV_TIER_ERROR_KINDS.map((kind) => counter(TIER_ERRORS_METRIC[0], TIER_ERRORS_METRIC[1], { kind }));
  counts.latency = sink.histogram?.(
    'mem_paged_kv_tier_load_seconds',
    'seconds from a KV tier load call to its answer',
    KV_TIER_LOAD_BUCKETS,
    labels,
  );
  return sink.addCollector(() => {
    lookups(counts.lookups);
    hitBlocks(counts.hitBlocks);
    loadedBlocks(counts.loadedBlocks);
    loadedBytes(counts.loadedBytes);
    savedBlocks(counts.savedBlocks);
    savedBytes(counts.savedBytes);
    KV_TIER_ERROR_KINDS.forEach((kind, i) => errors[i]!(counts.errors[kind]));
  });
}
