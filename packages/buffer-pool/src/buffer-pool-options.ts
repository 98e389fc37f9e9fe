/**
 * Options of a pool instance (besides its configuration): its name, metrics and leak detection.
 *
 * This module is browser compatible.
 * @module
 */
import {
  assertFunction,
  assertInteger,
  assertMetricsSink,
  assertNonEmptyString,
  assertOneOf,
  assertOptions,
  LEAK_DETECTION_LEVELS,
  type LeakDetectionLevel,
  type MetricsSink,
} from '@mem/types';

/** What a pool reports when a pooled buffer or view was garbage-collected without release. */
export interface BufferLeakReport {
  /** What leaked, e.g. `IoBuffer of the 4096-byte class`. */
  readonly resource: string;
  /** Where it was allocated: only with `leakDetection: 'paranoid'`. */
  readonly allocationStack: string | undefined;
  /** The slot it held. */
  readonly slot: number;
  /** Whether it was a frozen view (one reference) rather than a mutable buffer. */
  readonly frozen: boolean;
  /** Always true: the pool took the memory back (the slot, or the view's reference). */
  readonly recovered: boolean;
}

/**
 * Options of a pool instance: `new BufferPool`, `BufferPool.createShared` and `BufferPool.attach`
 * take them.
 */
export interface PoolInstanceOptions {
  /**
   * The pool's name: the `pool` label of its metrics. Give each pool that publishes into one sink
   * its own name. @defaultValue 'buffer-pool'
   */
  readonly name?: string;
  /**
   * Where the pool publishes its counters and gauges. The pool resolves its instruments and
   * registers one collector when the instance is created, and unregisters it in `close()` (or when
   * the instance is garbage-collected); the sink and its instruments may call any method of the
   * pool. @defaultValue noopMetrics
   */
  readonly metrics?: MetricsSink;
  /**
   * Leak detection, as Netty users know it: `off` tracks nothing; `sampled` tracks one allocation in
   * `leakSampleInterval`; `paranoid` tracks every allocation and records its stack (an `Error` per
   * allocation: for tests and debugging). A tracked allocation costs a FinalizationRegistry
   * registration and its removal at release. @defaultValue 'sampled'
   */
  readonly leakDetection?: LeakDetectionLevel;
  /**
   * In `sampled` mode, one allocation in this many is tracked; the others pay one
   * counter decrement. The default is sparser than Netty's 128, so that tracking stays a small
   * fraction of a pooled allocation's cost; a leak on a hot path is still caught after a few
   * thousand allocations.
   * @defaultValue 1024
   */
  readonly leakSampleInterval?: number;
  /**
   * Called for each leak, after the pool recovered the memory (from a finalization task, never in
   * the middle of a pool method); it may call any method of the pool. What it throws is reported as
   * an uncaught exception of that task, and other leaks are still recovered and reported.
   * @defaultValue a `console.warn`
   */
  readonly onLeak?: (report: BufferLeakReport) => void;
}

/** Options after validation, with defaults applied. */
export interface ResolvedInstanceOptions {
  /** The name. */
  readonly name: string;
  /** The sink, or undefined for none. */
  readonly metrics: MetricsSink | undefined;
  /** The leak level. */
  readonly leakDetection: LeakDetectionLevel;
  /** The sample interval. */
  readonly leakSampleInterval: number;
  /** The leak callback. */
  readonly onLeak: (report: BufferLeakReport) => void;
}

function warnLeak(report: BufferLeakReport): void {
  const where = report.allocationStack
    ? `\nAllocated at:\n${report.allocationStack}`
    : "\nUse leakDetection: 'paranoid' to record where leaked buffers are allocated.";
  console.warn(
    `@mem/buffer-pool LEAK: ${report.resource} (slot ${report.slot}) was garbage-collected without release(); ` +
      `its memory was recovered.${where}`,
  );
}

/** The option names {@link resolveInstanceOptions} accepts. */
const INSTANCE_OPTIONS: readonly (keyof PoolInstanceOptions)[] = [
  'name',
  'metrics',
  'leakDetection',
  'leakSampleInterval',
  'onLeak',
];

/**
 * Validates instance options and applies defaults.
 * @throws MemError INVALID_ARGUMENT naming the bad option.
 */
export function resolveInstanceOptions(options: unknown): ResolvedInstanceOptions {
  const given = assertOptions<PoolInstanceOptions>(options, 'options', INSTANCE_OPTIONS);
  const name = given.name === undefined ? 'buffer-pool' : assertNonEmptyString(given.name, 'options.name');
  const metrics = assertMetricsSink(given.metrics, 'options.metrics');
  const leakDetection =
    given.leakDetection === undefined
      ? 'sampled'
      : assertOneOf(given.leakDetection, 'options.leakDetection', LEAK_DETECTION_LEVELS);
  const leakSampleInterval =
    given.leakSampleInterval === undefined
      ? 1024
      : assertInteger(given.leakSampleInterval, 'options.leakSampleInterval', { min: 1, max: 0x3fffffff });
  const onLeak =
    given.onLeak === undefined
      ? warnLeak
      : assertFunction<(report: BufferLeakReport) => void>(given.onLeak, 'options.onLeak');
  return { name, metrics, leakDetection, leakSampleInterval, onLeak };
}
