/**
 * The global freelist of a pool: per size class, the free tracked buffers that any worker may take.
 * Two implementations: {@link PrivateFreelist} (a plain stack, for a pool used by one worker) and
 * `SharedFreelist` (lock-free over SharedArrayBuffers, for a pool shared by workers).
 *
 * Slots are numbered across the whole pool: class `c` owns slots `[c * maxPerClass, (c + 1) * maxPerClass)`.
 *
 * This module is browser compatible.
 * @module
 */

/** A per-class set of free slots. Order is not part of the contract. */
export interface Freelist {
  /** Takes one free slot of class `classIndex`, or returns -1 if there is none. */
  take(classIndex: number): number;
  /** Takes up to `max` free slots of class `classIndex` into `out` from index 0; returns how many. */
  takeBatch(classIndex: number, max: number, out: Int32Array): number;
  /** Parks a free slot of class `classIndex`. */
  put(classIndex: number, slot: number): void;
  /** Parks `slots[start .. start + count)` of class `classIndex`. */
  putBatch(classIndex: number, slots: Int32Array, start: number, count: number): void;
  /** How many slots of class `classIndex` are parked (exact for the private list, a snapshot for the shared one). */
  length(classIndex: number): number;
  /** Forgets every parked slot (when a private pool closes). */
  clear(): void;
}

/**
 * The freelist of a private pool: one array-backed stack per class, no atomics. Hot paths never
 * reach it (they stop at the worker cache); refill and spill do.
 */
export class PrivateFreelist implements Freelist {
  readonly #stack: Int32Array;
  readonly #tops: Int32Array;
  readonly #maxPerClass: number;

  /** Cost: O(classCount * maxPerClass) zeroed memory, 4 bytes per possible slot. */
  constructor(classCount: number, maxPerClass: number) {
    this.#maxPerClass = maxPerClass;
    this.#stack = new Int32Array(classCount * maxPerClass);
    this.#tops = new Int32Array(classCount);
    for (let c = 0; c < classCount; c += 1) this.#tops[c] = c * maxPerClass;
  }

  take(classIndex: number): number {
    const top = this.#tops[classIndex]!;
    if (top === classIndex * this.#maxPerClass) return -1;
    this.#tops[classIndex] = top - 1;
    return this.#stack[top - 1]!;
  }

  takeBatch(classIndex: number, max: number, out: Int32Array): number {
    let top = this.#tops[classIndex]!;
    const bottom = classIndex * this.#maxPerClass;
    let taken = 0;
    while (taken < max && top > bottom) {
      top -= 1;
      out[taken] = this.#stack[top]!;
      taken += 1;
    }
    this.#tops[classIndex] = top;
    return taken;
  }

  put(classIndex: number, slot: number): void {
    const top = this.#tops[classIndex]!;
    this.#stack[top] = slot;
    this.#tops[classIndex] = top + 1;
  }

  putBatch(classIndex: number, slots: Int32Array, start: number, count: number): void {
    let top = this.#tops[classIndex]!;
    for (let i = start; i < start + count; i += 1) {
      this.#stack[top] = slots[i]!;
      top += 1;
    }
    this.#tops[classIndex] = top;
  }

  length(classIndex: number): number {
    return this.#tops[classIndex]! - classIndex * this.#maxPerClass;
  }

  clear(): void {
    for (let c = 0; c < this.#tops.length; c += 1) this.#tops[c] = c * this.#maxPerClass;
  }
}
