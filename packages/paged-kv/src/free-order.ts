/**
 * The free order of a {@link BlockAllocator}: which free block `allocate` hands out next.
 *
 * In the default `'lru'` order, plain free blocks (no digest) wait on a LIFO stack, so recently
 * used memory is reused first; soft-free blocks (free, digest kept) wait in an intrusive doubly
 * linked list, least recently freed first, so the cached content evicted is the one unused the
 * longest (the LRU eviction of vLLM's prefix cache). A resurrected block leaves the middle of the
 * list in O(1). The `'lifo'` order, kept for comparison at `@mem/paged-kv/reference`, puts every
 * free block in the list and hands out the most recently freed one first, cached or not.
 *
 * This module is browser compatible.
 * @module
 */
import { HASHED, IN_LIST, IN_STACK, WHERE } from './block-state.js';
import type { BlockAllocator } from './block-allocator.js';

/** Which free block `allocate` reuses first: see the module documentation. */
export type ReuseOrder = 'lru' | 'lifo';

/** The accepted reuse orders. */
export const REUSE_ORDERS: readonly ReuseOrder[] = ['lru', 'lifo'];

/** The stack and the list of free blocks; it keeps the WHERE bits of each block's state word. */
export class FreeOrder {
  /** Whether every free block goes to the list, newest first (the comparison order). */
  readonly lifo: boolean;
  readonly #state: Int32Array;
  readonly #stack: Int32Array;
  #top = 0;
  /**
   * List links, interleaved: `links[2b]` is the block freed just before b, `links[2b + 1]` the one
   * freed just after. Index `capacity` is the sentinel closing the ring: `links[2 * capacity]` is
   * the newest block, `links[2 * capacity + 1]` the oldest.
   */
  readonly #links: Int32Array;
  readonly #sentinel: number;
  #listSize = 0;

  /** All `state.length` blocks free, handed out as 0, 1, 2... first. Cost: O(capacity). */
  constructor(state: Int32Array, order: ReuseOrder) {
    const capacity = state.length;
    this.lifo = order === 'lifo';
    this.#state = state;
    this.#stack = new Int32Array(capacity);
    this.#links = new Int32Array(2 * (capacity + 1));
    this.#sentinel = capacity;
    this.#links[2 * capacity] = capacity;
    this.#links[2 * capacity + 1] = capacity;
    for (let block = capacity - 1; block >= 0; block -= 1) {
      if (this.lifo) {
        state[block] = IN_LIST;
        this.#linkNewest(block);
      } else {
        this.#push(block);
      }
    }
  }

  /** The next plain free block off the stack, or -1 when the stack is empty. Cost: O(1). */
  takePlain(): number {
    return this.#top > 0 ? this.#stack[--this.#top]! : -1;
  }

  /** The next block off the list (oldest in `'lru'`, newest in `'lifo'`), or -1. Cost: O(1). */
  takeListed(): number {
    const s = this.#sentinel;
    const block = this.lifo ? this.#links[2 * s]! : this.#links[2 * s + 1]!;
    if (block === s) return -1;
    this.unlink(block);
    return block;
  }

  /** Places a block whose last reference is gone; `hashed` is its HASHED bit. Cost: O(1). */
  release(block: number, hashed: number): void {
    if (this.lifo || hashed !== 0) {
      this.#state[block] = hashed | IN_LIST;
      this.#linkNewest(block);
    } else {
      this.#stack[this.#top++] = block;
      this.#state[block] = IN_STACK;
    }
  }

  /** A soft-free block lost its digest: in `'lru'` order it moves to the plain stack. Cost: O(1). */
  uncache(block: number): void {
    if (this.lifo || (this.#state[block]! & WHERE) !== IN_LIST) return;
    this.unlink(block);
    this.#push(block);
  }

  /** Takes back the block placed by the latest `release` not yet undone. Cost: O(1). */
  undoRelease(block: number): void {
    if ((this.#state[block]! & WHERE) === IN_STACK)
      this.#top -= 1; // it is on top
    else this.unlink(block);
  }

  /** Takes a listed block out of the middle of the list. Cost: O(1). */
  unlink(block: number): void {
    const links = this.#links;
    const before = links[2 * block]!;
    const after = links[2 * block + 1]!;
    links[2 * before + 1] = after;
    links[2 * after] = before;
    this.#listSize -= 1;
  }

  /** Free blocks carrying a digest. Cost: O(1) in `'lru'` order, O(free blocks) in `'lifo'`. */
  cachedCount(): number {
    if (!this.lifo) return this.#listSize;
    let count = 0;
    const links = this.#links;
    for (let b = links[2 * this.#sentinel + 1]!; b !== this.#sentinel; b = links[2 * b + 1]!) {
      if ((this.#state[b]! & HASHED) !== 0) count += 1;
    }
    return count;
  }

  /** The free blocks in the order they would be handed out. Cost: O(free blocks), allocates. */
  toArray(): number[] {
    const order: number[] = [];
    for (let i = this.#top - 1; i >= 0; i -= 1) order.push(this.#stack[i]!);
    const s = this.#sentinel;
    const links = this.#links;
    if (this.lifo) for (let b = links[2 * s]!; b !== s; b = links[2 * b]!) order.push(b);
    else for (let b = links[2 * s + 1]!; b !== s; b = links[2 * b + 1]!) order.push(b);
    return order;
  }

  /** Pushes a free block on the stack, keeping its other state bits. */
  #push(block: number): void {
    this.#stack[this.#top++] = block;
    this.#state[block] = (this.#state[block]! & ~WHERE) | IN_STACK;
  }

  /** Links a free block as the newest of the list; the caller sets its WHERE bits. */
  #linkNewest(block: number): void {
    const s = this.#sentinel;
    const links = this.#links;
    const newest = links[2 * s]!;
    links[2 * block] = newest;
    links[2 * block + 1] = s;
    links[2 * newest + 1] = block;
    links[2 * s] = block;
    this.#listSize += 1;
  }
}
