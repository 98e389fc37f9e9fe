/**
 * Leak detection as Netty users know it: a resource that is garbage-collected without having been
 * released is reported, and the owner gets back what it needs to recover the memory.
 *
 * Levels: `off` tracks nothing; `sampled` tracks one resource in `sampleInterval` (cheap enough for
 * production); `paranoid` tracks every resource and records its allocation stack.
 *
 * This module is browser compatible (it needs `FinalizationRegistry`, present in every current runtime).
 * @module
 */
import { describeValue } from './describe-value.js';
import { MemError } from './mem-error.js';
import { assertInteger } from './validators.js';

/** How much leak detection costs and tells. */
export type LeakDetectionLevel = 'off' | 'sampled' | 'paranoid';

/** The leak levels, for validation and option lists. */
export const LEAK_DETECTION_LEVELS: readonly LeakDetectionLevel[] = ['off', 'sampled', 'paranoid'];

/** What a {@link LeakTracker} reports for a leaked resource. */
export interface LeakReport<T> {
  /** What leaked, as given to {@link LeakTracker.track}. */
  readonly resource: string;
  /** The stack where the resource was allocated; only in `paranoid` mode. */
  readonly allocationStack: string | undefined;
  /** The value given to `track`, with which the owner recovers the memory. */
  readonly held: T;
}

/** Options of a {@link LeakTracker}. */
export interface LeakTrackerOptions<T> {
  /** @defaultValue 'sampled' */
  readonly level?: LeakDetectionLevel;
  /** In `sampled` mode, one resource in this many is tracked. @defaultValue 128 */
  readonly sampleInterval?: number;
  /** Called for each leaked resource (after garbage collection, from a finalization task). */
  readonly onLeak: (report: LeakReport<T>) => void;
}

interface Entry<T> {
  readonly resource: string;
  readonly allocationStack: string | undefined;
  readonly held: T;
}

/**
 * Tracks resources that must be released, and reports those the garbage collector found unreleased.
 * The `held` value must not reference the tracked object itself (it would never be collected).
 *
 * @example
 * ```ts
 * import { LeakTracker } from '@mem/types';
 * const tracker = new LeakTracker<number>({
 *   level: 'paranoid',
 *   onLeak: ({ resource, held, allocationStack }) => console.warn(`${resource} leaked slot ${held}`, allocationStack),
 * });
 * const buffer = { bytes: new Uint8Array(16) };
 * tracker.track(buffer, 7, 'buffer of 16 bytes');
 * tracker.untrack(buffer); // released properly: never reported
 * ```
 */
export class LeakTracker<T> {
  /** The detection level in force. */
  readonly level: LeakDetectionLevel;
  /** In `sampled` mode, one resource in this many is tracked. */
  readonly sampleInterval: number;
  readonly #onLeak: (report: LeakReport<T>) => void;
  readonly #registry: FinalizationRegistry<Entry<T>> | undefined;
  #countdown: number;
  #tracked = 0;
  #leaks = 0;

  /**
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `options` is not an object, `level` is unknown,
   * `sampleInterval` is not an integer in [1, 2^31 - 1], or `onLeak` is not a function.
   */
  constructor(options: LeakTrackerOptions<T>) {
    if (typeof options !== 'object' || options === null) {
      throw new MemError('INVALID_ARGUMENT', `options must be an object with onLeak, got ${describeValue(options)}`);
    }
    const level = options.level ?? 'sampled';
    if (!LEAK_DETECTION_LEVELS.includes(level)) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `level must be one of ${LEAK_DETECTION_LEVELS.join(', ')}, got ${describeValue(level)}`,
      );
    }
    this.sampleInterval = assertInteger(options.sampleInterval ?? 128, 'sampleInterval', { min: 1, max: 0x7fffffff });
    if (typeof options.onLeak !== 'function') {
      throw new MemError('INVALID_ARGUMENT', `onLeak must be a function, got ${describeValue(options.onLeak)}`);
    }
    this.level = level;
    this.#onLeak = options.onLeak;
    this.#countdown = 1;
    this.#registry =
      level === 'off'
        ? undefined
        : new FinalizationRegistry((entry) => {
            this.#tracked -= 1;
            this.#leaks += 1;
            this.#onLeak(entry);
          });
  }

  /**
   * Starts tracking `target` (if the level and the sample say so) and returns whether it did.
   * `held` comes back in the leak report. Cost: O(1) when not sampled; a registry entry (and a
   * stack capture in paranoid mode) when tracked. Tracking an object that is already tracked
   * replaces its entry (its `held` and `resource`), and it still counts once.
   * @throws MemError INVALID_ARGUMENT if `target` is not an object (a primitive cannot be collected).
   */
  track(target: object, held: T, resource: string): boolean {
    if ((typeof target !== 'object' && typeof target !== 'function') || target === null) {
      throw new MemError('INVALID_ARGUMENT', `target must be an object, got ${describeValue(target)}`);
    }
    const registry = this.#registry;
    if (registry === undefined) return false;
    if (this.level === 'sampled') {
      this.#countdown -= 1;
      if (this.#countdown > 0) return false;
      this.#countdown = this.sampleInterval;
    }
    const allocationStack = this.level === 'paranoid' ? captureStack() : undefined;
    // A second registration of the same target would be reported twice but untracked (and counted) once.
    if (registry.unregister(target)) this.#tracked -= 1;
    registry.register(target, { resource, allocationStack, held }, target);
    this.#tracked += 1;
    return true;
  }

  /**
   * Stops tracking `target` because it was released properly. Untracking an untracked object does nothing.
   * Cost: O(1).
   * @throws never
   */
  untrack(target: object): void {
    if ((typeof target !== 'object' && typeof target !== 'function') || target === null) return;
    if (this.#registry?.unregister(target)) this.#tracked -= 1;
  }

  /** How many resources are tracked now. Cost: O(1). */
  get tracked(): number {
    return this.#tracked;
  }

  /** How many leaks were reported so far. Cost: O(1). */
  get leaks(): number {
    return this.#leaks;
  }
}

function captureStack(): string | undefined {
  const stack = new Error('allocated here').stack;
  return stack?.split('\n').slice(3).join('\n');
}
