/**
 * The global freelist of a shared pool: per size class, a lock-free Treiber stack whose nodes are
 * slot numbers and whose links live in a SharedArrayBuffer, so that every worker attached to the
 * pool pushes and pops the same stacks with `Atomics`.
 *
 * ABA safety: a stack head is one 64-bit word, `tag << 32 | (top + 1)`, swapped with
 * `Atomics.compareExchange` on a `BigUint64Array`. Every successful push or pop increments the
 * 32-bit tag, so a worker that read the head, was descheduled while others popped its top node and
 * pushed it back, fails its compare-exchange instead of linking a stale `next`. A false success needs
 * exactly 2^32 successful operations on one class between a worker's read and its swap.
 *
 * Batches: a refill pops up to `n` nodes with one compare-exchange (it walks `n` links from the
 * head it read; if the swap succeeds, no push or pop happened meanwhile, so the links it walked were
 * the stack's), and a spill links its nodes privately and pushes the chain with one swap.
 *
 * Cost: a take or a put is one compare-exchange on a 64-bit head (through BigInt, so a few small
 * allocations) uncontended, retried under contention; a batch costs the same swap plus a walk of
 * its links. Worker caches keep it off the hot path.
 *
 * This module is browser compatible (where SharedArrayBuffer is available).
 * @module
 */
import type { Freelist } from './freelist.js';

const LOW_32 = 0xffffffffn;

/** The shared memory of a shared freelist, structured-cloneable to workers. */
export interface SharedFreelistMemory {
  /** One 64-bit head per class: `tag << 32 | (top slot + 1)`, 0 in the low half when empty. */
  readonly heads: SharedArrayBuffer;
  /** One 32-bit link per slot: `next slot + 1`, 0 at the bottom of a stack. */
  readonly links: SharedArrayBuffer;
  /** One 32-bit count per class of parked slots (updated after each swap, so a snapshot). */
  readonly lengths: SharedArrayBuffer;
}

/** A lock-free, ABA-safe freelist per class over shared memory. */
export class SharedFreelist implements Freelist {
  readonly #heads: BigUint64Array;
  readonly #links: Int32Array;
  readonly #lengths: Int32Array;

  /** Wraps memory from {@link SharedFreelist.allocate} (here or in another worker). Cost: O(1). */
  constructor(memory: SharedFreelistMemory) {
    this.#heads = new BigUint64Array(memory.heads);
    this.#links = new Int32Array(memory.links);
    this.#lengths = new Int32Array(memory.lengths);
  }

  /** Allocates empty stacks for `classCount` classes over `slotCount` slots. Cost: O(slotCount) zeroed shared memory. */
  static allocate(classCount: number, slotCount: number): SharedFreelistMemory {
    return {
      heads: new SharedArrayBuffer(8 * classCount),
      links: new SharedArrayBuffer(4 * slotCount),
      lengths: new SharedArrayBuffer(4 * classCount),
    };
  }

  take(classIndex: number): number {
    const heads = this.#heads;
    for (;;) {
      const head = Atomics.load(heads, classIndex);
      const top = Number(head & LOW_32) - 1;
      if (top < 0) return -1;
      const below = Atomics.load(this.#links, top);
      const next = BigInt.asUintN(64, ((head >> 32n) + 1n) << 32n) | BigInt(below);
      if (Atomics.compareExchange(heads, classIndex, head, next) === head) {
        Atomics.sub(this.#lengths, classIndex, 1);
        return top;
      }
    }
  }

  takeBatch(classIndex: number, max: number, out: Int32Array): number {
    const heads = this.#heads;
    const links = this.#links;
    for (;;) {
      const head = Atomics.load(heads, classIndex);
      let link = Number(head & LOW_32);
      let taken = 0;
      // Walk at most `max` links: a concurrent change can make this walk read a cycle or another
      // state's links, but then the tag moved and the swap below fails.
      while (taken < max && link !== 0) {
        out[taken] = link - 1;
        taken += 1;
        link = Atomics.load(links, link - 1);
      }
      if (taken === 0) return 0;
      const next = BigInt.asUintN(64, ((head >> 32n) + 1n) << 32n) | BigInt(link);
      if (Atomics.compareExchange(heads, classIndex, head, next) === head) {
        Atomics.sub(this.#lengths, classIndex, taken);
        return taken;
      }
    }
  }

  put(classIndex: number, slot: number): void {
    const heads = this.#heads;
    for (;;) {
      const head = Atomics.load(heads, classIndex);
      Atomics.store(this.#links, slot, Number(head & LOW_32));
      const next = BigInt.asUintN(64, ((head >> 32n) + 1n) << 32n) | BigInt(slot + 1);
      if (Atomics.compareExchange(heads, classIndex, head, next) === head) {
        Atomics.add(this.#lengths, classIndex, 1);
        return;
      }
    }
  }

  putBatch(classIndex: number, slots: Int32Array, start: number, count: number): void {
    if (count === 0) return;
    const heads = this.#heads;
    const links = this.#links;
    const end = start + count;
    // Link the batch privately (its slots belong to no stack yet), then swing the head once.
    for (let i = start; i < end - 1; i += 1) Atomics.store(links, slots[i]!, slots[i + 1]! + 1);
    const first = slots[start]!;
    const last = slots[end - 1]!;
    for (;;) {
      const head = Atomics.load(heads, classIndex);
      Atomics.store(links, last, Number(head & LOW_32));
      const next = BigInt.asUintN(64, ((head >> 32n) + 1n) << 32n) | BigInt(first + 1);
      if (Atomics.compareExchange(heads, classIndex, head, next) === head) {
        Atomics.add(this.#lengths, classIndex, count);
        return;
      }
    }
  }

  length(classIndex: number): number {
    return Math.max(0, Atomics.load(this.#lengths, classIndex));
  }

  /** A shared list is never cleared by one party: other workers may still use it. */
  clear(): void {}
}
