/**
 * The dashboard's history: once a second, the demo's running totals are turned into one sample
 * (rates over the last second, levels as they are), kept in a ring of the last few minutes.
 * @module
 */

/** The running totals and levels the sampler reads. Totals only grow; levels go up and down. */
export interface DemoTotals {
  /** Requests completed (finished, not cancelled). */
  readonly requestsCompleted: number;
  /** Requests cancelled because their client went away. */
  readonly requestsCancelled: number;
  /** Tokens generated. */
  readonly tokensGenerated: number;
  /** Prompt tokens computed by prefill (cached prefix tokens are not computed). */
  readonly tokensPrefilled: number;
  /** Requests running now. */
  readonly running: number;
  /** Requests waiting now. */
  readonly waiting: number;
  /** KV blocks in use now. */
  readonly kvBlocksInUse: number;
  /** KV blocks free but still holding a cached prefix. */
  readonly kvBlocksCached: number;
  /** KV blocks in all. */
  readonly kvBlocksTotal: number;
  /** Prompt tokens looked up in the prefix cache. */
  readonly prefixQueriedTokens: number;
  /** Prompt tokens found in the prefix cache. */
  readonly prefixHitTokens: number;
  /** Preemptions. */
  readonly preemptions: number;
  /** Buffers handed out by the buffer pool from its classes. */
  readonly bufferAllocations: number;
  /** Buffers that fell back to a fresh allocation (class exhausted or oversized). */
  readonly bufferFallbacks: number;
  /** Buffers out of the pool now. */
  readonly buffersInUse: number;
  /** Bytes of step metadata allocated in the last completed epoch. */
  readonly arenaBytesPerEpoch: number;
  /** The arena pool's current epoch. */
  readonly arenaEpoch: number;
  /** Fragmentation of the workspace pool now (0-1). */
  readonly workspaceFragmentation: number;
  /** Peak bytes of workspaces in use during the last step. */
  readonly workspacePeakBytes: number;
  /** Defragmentations run. */
  readonly defragmentations: number;
  /** Scheduler steps run. */
  readonly steps: number;
  /** Time to first token, p50 over the last 100 requests, in ms. */
  readonly ttftP50Ms: number;
  /** Prompt tokens loaded from the KV tier instead of computed. */
  readonly tierHitTokens: number;
  /** Bytes loaded from the KV tier. */
  readonly tierLoadedBytes: number;
  /** Bytes saved to the KV tier. */
  readonly tierSavedBytes: number;
  /** Seconds spent in KV tier loads (summed over loads). */
  readonly tierLoadSeconds: number;
  /** KV tier loads. */
  readonly tierLoads: number;
  /** KV tier operations that fell back to recompute (any kind). */
  readonly tierErrors: number;
}

/** One point of the dashboard's charts. */
export interface DashboardSample {
  /** Milliseconds since the sampler started. */
  readonly t: number;
  readonly generatedTokensPerSecond: number;
  readonly prefillTokensPerSecond: number;
  readonly completedPerSecond: number;
  readonly running: number;
  readonly waiting: number;
  readonly kvBlocksInUse: number;
  readonly kvBlocksCached: number;
  readonly kvBlocksTotal: number;
  /** Prefix hit rate over the last 10 seconds, in percent (0 when nothing was queried). */
  readonly prefixHitRatePercent: number;
  readonly preemptions: number;
  readonly bufferAllocationsPerSecond: number;
  readonly bufferFallbacksPerSecond: number;
  readonly buffersInUse: number;
  readonly arenaBytesPerEpoch: number;
  readonly workspaceFragmentationPercent: number;
  readonly workspacePeakKiB: number;
  readonly tierHitTokensPerSecond: number;
  readonly tierLoadedKiBPerSecond: number;
  readonly tierSavedKiBPerSecond: number;
  readonly tierErrorsPerSecond: number;
}

/** A log line shown on the dashboard. */
export interface DemoEvent {
  /** `Date.now()` when it happened. */
  readonly time: number;
  /** What happened. */
  readonly message: string;
}

const HIT_RATE_WINDOW = 10;

/** Keeps the last `capacity` samples and events. */
export class StatsHistory {
  readonly #samples: DashboardSample[] = [];
  readonly #events: DemoEvent[] = [];
  readonly #totals: DemoTotals[] = [];
  readonly #started = performance.now();
  #lastAt = performance.now();

  constructor(
    readonly capacity = 300,
    readonly eventCapacity = 50,
  ) {}

  /** Adds a sample computed from `totals` and the totals of the previous samples. */
  record(totals: DemoTotals): DashboardSample {
    const now = performance.now();
    const seconds = Math.max(1e-3, (now - this.#lastAt) / 1000);
    this.#lastAt = now;
    const previous = this.#totals.at(-1) ?? totals;
    const windowStart = this.#totals.at(-HIT_RATE_WINDOW) ?? this.#totals[0] ?? totals;
    const queried = totals.prefixQueriedTokens - windowStart.prefixQueriedTokens;
    const hits = totals.prefixHitTokens - windowStart.prefixHitTokens;
    const rate = (key: keyof DemoTotals): number => Math.max(0, (totals[key] - previous[key]) / seconds);
    const sample: DashboardSample = {
      t: Math.round(now - this.#started),
      generatedTokensPerSecond: rate('tokensGenerated'),
      prefillTokensPerSecond: rate('tokensPrefilled'),
      completedPerSecond: rate('requestsCompleted'),
      running: totals.running,
      waiting: totals.waiting,
      kvBlocksInUse: totals.kvBlocksInUse,
      kvBlocksCached: totals.kvBlocksCached,
      kvBlocksTotal: totals.kvBlocksTotal,
      prefixHitRatePercent: queried > 0 ? (100 * hits) / queried : 0,
      preemptions: totals.preemptions,
      bufferAllocationsPerSecond: rate('bufferAllocations'),
      bufferFallbacksPerSecond: rate('bufferFallbacks'),
      buffersInUse: totals.buffersInUse,
      arenaBytesPerEpoch: totals.arenaBytesPerEpoch,
      workspaceFragmentationPercent: 100 * totals.workspaceFragmentation,
      workspacePeakKiB: totals.workspacePeakBytes / 1024,
      tierHitTokensPerSecond: rate('tierHitTokens'),
      tierLoadedKiBPerSecond: rate('tierLoadedBytes') / 1024,
      tierSavedKiBPerSecond: rate('tierSavedBytes') / 1024,
      tierErrorsPerSecond: rate('tierErrors'),
    };
    this.#push(this.#totals, totals, HIT_RATE_WINDOW + 1);
    this.#push(this.#samples, sample, this.capacity);
    return sample;
  }

  /** Adds an event to the log. */
  event(message: string): void {
    this.#push(this.#events, { time: Date.now(), message }, this.eventCapacity);
  }

  /** The samples, oldest first. */
  samples(): readonly DashboardSample[] {
    return this.#samples;
  }

  /** The events, newest first. */
  events(): readonly DemoEvent[] {
    return [...this.#events].reverse();
  }

  #push<T>(ring: T[], item: T, capacity: number): void {
    ring.push(item);
    if (ring.length > capacity) ring.splice(0, ring.length - capacity);
  }
}
