/**
 * Options of a pool instance (besides its configuration): sharing, metrics and leak detection.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, describeValue, LEAK_DETECTION_LEVELS, type LeakDetectionLevel, type MetricsSink } from '@mem/types';

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

/** Options of a pool instance, created with `new BufferPool` or attached with `BufferPool.attach`. */
export interface PoolInstanceOptions {
  /**
   * Where the pool publishes its counters and gauges. The pool resolves its instruments and
   * registers one collector when the instance is created, and unregisters it in `close()` (or when
   * the instance is garbage-collected); the sink and its instruments may call any method of the
   * pool. @defaultValue noopMetrics
   */
  readonly metrics?: MetricsSink;
  /**
   * Leak detection, as Netty users know it: `off` tracks nothing; `sampled` tracks one allocation in
   * `leakSampleInterval`; `paranoid` tracks every allocation and records its stack (microseconds
   * per allocation: for tests and debugging). A tracked allocation costs about 300 ns (a
   * FinalizationRegistry registration and its removal at release). @defaultValue 'sampled'
   */
  readonly leakDetection?: LeakDetectionLevel;
  /**
   * In `sampled` mode, one allocation in this many is tracked. The default keeps the average cost
   * under half a nanosecond per allocation (Netty's 128 would add about 2.5 ns, a tenth of a pooled
   * allocation); a leak on a hot path is still caught after a few thousand allocations.
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

/** Options of `new BufferPool`. */
export interface BufferPoolOptions extends PoolInstanceOptions {
  /**
   * Put the pool's state and memory in SharedArrayBuffers so that workers can attach to it
   * (`share()`, `BufferPool.attach`). All backing memory is reserved up front. @defaultValue false
   */
  readonly shared?: boolean;
}

/** Options after validation, with defaults applied. */
export interface ResolvedInstanceOptions {
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

/**
 * Validates instance options and applies defaults.
 * @throws MemError INVALID_ARGUMENT naming the bad option.
 */
export function resolveInstanceOptions(options: unknown, allowed: readonly string[]): ResolvedInstanceOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new MemError('INVALID_ARGUMENT', `options must be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new MemError('INVALID_ARGUMENT', `options.${key} is not an option; expected one of ${allowed.join(', ')}`);
    }
  }
  const given = options as PoolInstanceOptions;
  const metrics = given.metrics;
  if (
    metrics !== undefined &&
    (typeof metrics !== 'object' ||
      metrics === null ||
      typeof metrics.counter !== 'function' ||
      typeof metrics.gauge !== 'function' ||
      typeof metrics.addCollector !== 'function')
  ) {
    throw new MemError('INVALID_ARGUMENT', `options.metrics must be a MetricsSink, got ${describeValue(metrics)}`);
  }
  const leakDetection = given.leakDetection === undefined ? 'sampled' : given.leakDetection;
  if (!LEAK_DETECTION_LEVELS.includes(leakDetection)) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `options.leakDetection must be one of ${LEAK_DETECTION_LEVELS.join(', ')}, got ${describeValue(leakDetection)}`,
    );
  }
  const leakSampleInterval = given.leakSampleInterval === undefined ? 1024 : given.leakSampleInterval;
  if (
    typeof leakSampleInterval !== 'number' ||
    !Number.isInteger(leakSampleInterval) ||
    leakSampleInterval < 1 ||
    leakSampleInterval > 0x3fffffff
  ) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `options.leakSampleInterval must be an integer in [1, ${0x3fffffff}], got ${describeValue(leakSampleInterval)}`,
    );
  }
  const onLeak = given.onLeak === undefined ? warnLeak : given.onLeak;
  if (typeof onLeak !== 'function') {
    throw new MemError('INVALID_ARGUMENT', `options.onLeak must be a function, got ${describeValue(onLeak)}`);
  }
  return { metrics, leakDetection, leakSampleInterval, onLeak };
}
