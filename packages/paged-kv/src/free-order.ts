/**
 * The free order of a `BlockAllocator`: which free block `allocate` hands out next.
 *
 * In the default `'lru'` order, plain free blocks (no digest) wait on a LIFO stack, so recently
 * used memory is reused first; soft-free blocks (free, digest kept) wait in the {@link FreeList}
 * here, least recently freed first, so the cached content evicted is the one unused the longest
 * (the LRU eviction of vLLM's prefix cache). A resurrected block leaves the middle of the list in
 * O(1). The `'lifo'` order, kept for comparison at `@mem/paged-kv/reference`, puts every free block
 * in the list and hands out the most recently freed one first, cached or not.
 *
 * The plain stack is two fields of the allocator itself: it is the whole of `allocate` and `free`
 * for blocks without a digest, and one object less to reach on that path.
 *
 * This module is browser compatible.
 * @module
 */
/** Which free block `allocate` reuses first: see the module documentation. */
export type ReuseOrder = 'lru' | 'lifo';

/** The accepted reuse orders. */
export const REUSE_ORDERS: readonly ReuseOrder[] = ['lru', 'lifo'];

/** An intrusive doubly linked list of free blocks in the order they were freed, in two typed arrays' worth of links. */
export class FreeList {
  /**
   * Links, interleaved: `links[2b]` is the block freed just before b, `links[2b + 1]` the one freed
   * just after. Index `capacity` is the sentinel closing the ring: `links[2 * capacity]` is the
   * newest block, `links[2 * capacity + 1]` the oldest.
   */
  readonly #links: Int32Array;
  readonly #sentinel: number;
  /** Blocks in the list. */
  size = 0;

  /** An empty list over blocks `0 .. capacity - 1`. Cost: O(capacity), 8 bytes per block. */
  constructor(capacity: number) {
    this.#links = new Int32Array(2 * (capacity + 1));
    this.#sentinel = capacity;
    this.#links[2 * capacity] = capacity;
    this.#links[2 * capacity + 1] = capacity;
  }

  /** Links a block as the newest. Cost: O(1). */
  linkNewest(block: number): void {
    const s = this.#sentinel;
    const links = this.#links;
    const newest = links[2 * s]!;
    links[2 * block] = newest;
    links[2 * block + 1] = s;
    links[2 * newest + 1] = block;
    links[2 * s] = block;
    this.size += 1;
  }

  /** Takes a block out of the middle of the list. Cost: O(1). */
  unlink(block: number): void {
    const links = this.#links;
    const before = links[2 * block]!;
    const after = links[2 * block + 1]!;
    links[2 * before + 1] = after;
    links[2 * after] = before;
    this.size -= 1;
  }

  /** Takes the oldest block (the newest with `newest`), or returns -1 when empty. Cost: O(1). */
  take(newest: boolean): number {
    const s = this.#sentinel;
    const block = newest ? this.#links[2 * s]! : this.#links[2 * s + 1]!;
    if (block === s) return -1;
    this.unlink(block);
    return block;
  }

  /** How many listed blocks have `state[block] & mask` set. Cost: O(size). */
  countWhere(state: Int32Array, mask: number): number {
    let count = 0;
    const links = this.#links;
    for (let b = links[2 * this.#sentinel + 1]!; b !== this.#sentinel; b = links[2 * b + 1]!) {
      if ((state[b]! & mask) !== 0) count += 1;
    }
    return count;
  }

  /** Appends the listed blocks to `order`, oldest first (newest first with `newest`). Cost: O(size). */
  appendTo(order: number[], newest: boolean): void {
    const s = this.#sentinel;
    const links = this.#links;
    if (newest) for (let b = links[2 * s]!; b !== s; b = links[2 * b]!) order.push(b);
    else for (let b = links[2 * s + 1]!; b !== s; b = links[2 * b + 1]!) order.push(b);
  }
}
