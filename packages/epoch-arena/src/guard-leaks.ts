/**
 * Watching a pool's guards for leaks: a guard garbage-collected without a release would pin its
 * epoch for ever, so the pool unpins it and tells the user.
 *
 * This module is browser compatible.
 * @module
 */
import {
  assertFunction,
  assertMetricsSink,
  assertOneOf,
  LEAK_DETECTION_LEVELS,
  LeakTracker,
  type LeakDetectionLevel,
  type MetricsSink,
} from '@mem/types';
import { metricsName } from './arena-metrics.js';

/** A guard that was garbage-collected without being released, as given to `onGuardLeak`. */
export interface GuardLeak {
  /** The epoch it pinned (now unpinned by the pool). */
  readonly epoch: number;
  /** Where it was pinned; only with `leakDetection: 'paranoid'`. */
  readonly allocationStack: string | undefined;
}

/** How a pool object watches for guards dropped without a release, and where it publishes its figures. */
export interface GuardLeakOptions {
  /**
   * Watches for guards that are garbage-collected without a release (each would pin its epoch for
   * ever): `off`, `sampled` (one guard in 128 is watched) or `paranoid` (every guard, with the stack
   * where it was pinned). A watched leaked guard is unpinned by the pool and counted in
   * `stats().leakedGuards`. @defaultValue 'sampled'
   */
  readonly leakDetection?: LeakDetectionLevel;
  /**
   * Called for each leaked guard that was watched, after it was unpinned and counted. It runs in a
   * finalization task, between operations, so it may call any method of the pool; an error it
   * throws surfaces as an uncaught error of the worker. @defaultValue none
   */
  readonly onGuardLeak?: (leak: GuardLeak) => void;
  /** Where to publish the pool's figures (`mem_arena_pool_*`) from this worker. @defaultValue none */
  readonly metrics?: MetricsSink;
  /**
   * The pool's name: the `pool` label of its figures and its arenas'. Give each pool that publishes
   * into one sink its own name. @defaultValue 'arena-pool'
   */
  readonly name?: string;
}

/** The option names of {@link GuardLeakOptions}. */
export const GUARD_LEAK_OPTIONS = ['leakDetection', 'onGuardLeak', 'metrics', 'name'] as const;

/** What the leak tracker keeps of a guard: enough to unpin it. */
export interface HeldPin {
  /** The index of the pinned arena in its pool. */
  readonly index: number;
  /** The pinned epoch. */
  readonly epoch: number;
}

/**
 * Checks the guard options: `leakDetection` one of the levels, `onGuardLeak` a function, `metrics` a
 * sink, `name` a non-empty string. Cost: O(1).
 * @throws MemError INVALID_ARGUMENT naming the bad option.
 */
export function assertGuardLeakOptions(options: GuardLeakOptions): void {
  if (options.leakDetection !== undefined) assertOneOf(options.leakDetection, 'leakDetection', LEAK_DETECTION_LEVELS);
  if (options.onGuardLeak !== undefined) assertFunction(options.onGuardLeak, 'onGuardLeak');
  assertMetricsSink(options.metrics, 'metrics');
  metricsName(options.name, 'arena-pool');
}

/** The tracker of a pool object's guards (options checked), or undefined when leak detection is off. */
export function makeGuardTracker(
  options: GuardLeakOptions,
  onLeak: (index: number, epoch: number, stack: string | undefined) => void,
): LeakTracker<HeldPin> | undefined {
  if (options.leakDetection === 'off') return undefined;
  return new LeakTracker<HeldPin>({
    level: options.leakDetection ?? 'sampled',
    onLeak: ({ held, allocationStack }) => onLeak(held.index, held.epoch, allocationStack),
  });
}
