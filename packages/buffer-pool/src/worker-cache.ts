/**
 * The local cache of one worker (one pool instance): per size class, a small stack of free slots
 * that only this worker touches, so that steady-state allocation and release use no atomics.
 *
 * The hot operations (pop on allocation, push on release) are a few typed-array reads and writes that
 * the pool inlines into its own hot path, reading {@link WorkerCache.stack}, {@link WorkerCache.tops},
 * {@link WorkerCache.bottoms} and {@link WorkerCache.limits} directly. The slow operations live here,
 * out of that path:
 * - refill on a miss: caches of at least 4 take `capacity / 2` slots from the global freelist in one
 *   batch, hand the first to the caller and keep the rest; smaller caches take one slot;
 * - spill on a release into a full cache: caches of at least 4 move `min(length, capacity / 2)` slots
 *   to the global freelist in one batch and keep the incoming slot; smaller caches send the incoming
 *   slot straight to the global freelist, keeping the hot local one;
 * - flush: everything goes back to the global freelist (explicitly, on close, on worker exit).
 *
 * This module is browser compatible.
 * @module
 */
import type { Freelist } from './freelist.js';
import { MIN_BATCH_CACHE_CAPACITY } from './pool-limits.js';

/** Per-class stacks of free slots private to one worker. */
export class WorkerCache {
  /** The slots, class `c` in `[bottoms[c], limits[c])`. */
  readonly stack: Int32Array;
  /** One past the top entry of each class's stack (equal to `bottoms[c]` when empty). */
  readonly tops: Int32Array;
  /** Where each class's stack starts. */
  readonly bottoms: Int32Array;
  /** Where each class's stack ends: `bottoms[c] + capacity`, or `bottoms[c]` when the cache is closed. */
  readonly limits: Int32Array;
  /** Slots per class. */
  readonly capacity: number;
  readonly #scratch: Int32Array;

  /** Cost: O(classCount * capacity) zeroed memory. */
  constructor(classCount: number, capacity: number) {
    this.capacity = capacity;
    this.stack = new Int32Array(classCount * capacity);
    this.tops = new Int32Array(classCount);
    this.bottoms = new Int32Array(classCount);
    this.limits = new Int32Array(classCount);
    for (let c = 0; c < classCount; c += 1) {
      this.bottoms[c] = c * capacity;
      this.tops[c] = c * capacity;
      this.limits[c] = c * capacity + capacity;
    }
    this.#scratch = new Int32Array(Math.max(1, capacity));
  }

  /** How many free slots class `classIndex` holds here. Cost: O(1). */
  length(classIndex: number): number {
    return this.tops[classIndex]! - this.bottoms[classIndex]!;
  }

  /** Takes the top slot of class `classIndex`, or returns -1 if its stack is empty. Cost: O(1). */
  pop(classIndex: number): number {
    const top = this.tops[classIndex]!;
    if (top === this.bottoms[classIndex]) return -1;
    this.tops[classIndex] = top - 1;
    return this.stack[top - 1]!;
  }

  /**
   * Slow path of allocation, after the local stack of `classIndex` came up empty: takes from the
   * global freelist (a batch when the cache is large enough), returns one slot for the caller and
   * keeps the rest. Returns -1 if the global freelist has nothing either.
   * Cost: one freelist take, or one batch take plus O(capacity / 2) local pushes.
   */
  refill(classIndex: number, global: Freelist): number {
    if (this.capacity < MIN_BATCH_CACHE_CAPACITY) return global.take(classIndex);
    const scratch = this.#scratch;
    const taken = global.takeBatch(classIndex, this.capacity >> 1, scratch);
    if (taken === 0) return -1;
    let top = this.tops[classIndex]!;
    // The batch is at most half the capacity and the stack was empty: it cannot overflow.
    for (let i = taken - 1; i >= 1; i -= 1) {
      this.stack[top] = scratch[i]!;
      top += 1;
    }
    this.tops[classIndex] = top;
    return scratch[0]!;
  }

  /**
   * Slow path of release, when the local stack of `classIndex` is full (or the cache is disabled or
   * closed): makes room by spilling to the global freelist, or sends `slot` there directly.
   * Cost: one freelist put, or one batch put of up to `capacity / 2` slots.
   */
  spill(classIndex: number, slot: number, global: Freelist): void {
    const bottom = this.bottoms[classIndex]!;
    const limit = this.limits[classIndex]!;
    const capacity = limit - bottom;
    if (capacity < MIN_BATCH_CACHE_CAPACITY) {
      global.put(classIndex, slot);
      return;
    }
    const top = this.tops[classIndex]!;
    const count = Math.max(1, Math.min(top - bottom, capacity >> 1));
    global.putBatch(classIndex, this.stack, top - count, count);
    this.stack[top - count] = slot;
    this.tops[classIndex] = top - count + 1;
  }

  /** Moves every cached slot of every class to the global freelist. Cost: one batch put per non-empty class. */
  flush(global: Freelist): void {
    for (let c = 0; c < this.tops.length; c += 1) {
      const bottom = this.bottoms[c]!;
      const count = this.tops[c]! - bottom;
      if (count > 0) global.putBatch(c, this.stack, bottom, count);
      this.tops[c] = bottom;
    }
  }

  /**
   * Empties the cache and makes it refuse further slots (every later release takes the slow path).
   * Slots it held are forgotten: call {@link WorkerCache.flush} first to keep them.
   * Cost: O(classes).
   */
  close(): void {
    for (let c = 0; c < this.tops.length; c += 1) {
      this.tops[c] = this.bottoms[c]!;
      this.limits[c] = this.bottoms[c]!;
    }
  }
}
