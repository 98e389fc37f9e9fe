/**
 * The physical KV block allocator: a fixed number of equal blocks, per-block reference counts, a
 * content-hash index for prefix caching, and an eviction order that keeps useful cached blocks.
 *
 * Ownership: a block is *live* while its reference count is at least 1; each holder (a sequence's
 * block table, a prefix-cache hit) owns one reference and gives it back with `free`. At zero the
 * block is *free*: if it carries a content hash it is *soft-free* (its KV data is intact and a
 * later `tryAcquireByHash` can resurrect it), otherwise it is plain free.
 *
 * Free order (the seed's "not yet"): `allocate` takes plain free blocks first (a LIFO stack, so
 * recently used memory is reused), then soft-free blocks in least-recently-freed order (an intrusive
 * doubly linked list in two Int32Arrays, so a resurrected block leaves the middle of the order in
 * O(1)). Taking a soft-free block evicts its hash: its content is about to be overwritten.
 * `freeSequence` frees a finished sequence tail first, so its last blocks (the least shared) are
 * evicted first. `reuseOrder: 'lifo'` reproduces the seed's single LIFO free list instead, for
 * comparison.
 *
 * All state lives in typed arrays: reference counts (Uint16Array, so 65,535 holders at most: one
 * more throws LIMIT_EXCEEDED, it never wraps), the free stack, the list links, the digests and an
 * open-addressing hash index (linear probing, backward-shift deletion, load at most 1/2).
 *
 * This module is browser compatible.
 * @module
 */
import {
  MemError,
  assertInteger,
  assertOneOf,
  assertOptions,
  describeValue,
  invalidArgument,
  type MetricsSink,
  mirrorCounter,
} from '@mem/types';
import { isArrayLike } from './token-ids.js';

/** Which free block `allocate` reuses first. */
export type ReuseOrder = 'lru' | 'lifo';

const REUSE_ORDERS: readonly ReuseOrder[] = ['lru', 'lifo'];

/** Options of a {@link BlockAllocator}. */
export interface BlockAllocatorOptions {
  /** Width of a content digest in 32-bit words (4 for the default hasher, 8 for SHA-256). @defaultValue 4 */
  readonly hashWords?: number;
  /**
   * `'lru'`: plain free blocks first, then soft-free blocks least recently freed first.
   * `'lifo'`: the seed's order, the most recently freed block first whether cached or not (for
   * comparison; it evicts useful cached blocks). @defaultValue 'lru'
   */
  readonly reuseOrder?: ReuseOrder;
  /** Where to publish block counts and eviction counters. @defaultValue no metrics */
  readonly metrics?: MetricsSink;
}

/** A {@link BlockAllocator.stats} snapshot. */
export interface BlockAllocatorStats {
  /** Total physical blocks. */
  readonly capacity: number;
  /** Blocks with at least one reference. */
  readonly inUse: number;
  /** Blocks with no reference (plain free plus soft-free). */
  readonly free: number;
  /** Free blocks that still carry a content hash (resurrectable). */
  readonly cachedFree: number;
  /** Blocks carrying a content hash, live or soft-free. */
  readonly hashedBlocks: number;
  /** The most blocks ever in use at once. */
  readonly peakInUse: number;
  /** `inUse / capacity`. */
  readonly usage: number;
  /** Soft-free blocks whose hash was evicted because `allocate` reused them. */
  readonly evictions: number;
  /** Soft-free blocks brought back by `tryAcquireByHash`. */
  readonly resurrections: number;
  /** The reuse order. */
  readonly reuseOrder: ReuseOrder;
}

/** Per-block state word: bits 0-15 the reference count, 16-17 where the block is, 18 whether it carries a digest. */
const REFS = 0xffff;
const IN_STACK = 1 << 16;
const IN_LIST = 2 << 16;
const WHERE = 3 << 16;
const HASHED = 1 << 18;

/**
 * A fixed pool of KV blocks identified by index `0 .. capacity - 1`, with reference counts and a
 * content-hash index (the seed's `BlockAllocator`).
 *
 * @example
 * ```ts
 * import { BlockAllocator, blockHashChain } from '@mem/paged-kv';
 * const blocks = new BlockAllocator(4);
 * const b = blocks.allocate(); // 0
 * const hashes = blockHashChain([1, 2, 3, 4], 4);
 * blocks.registerBlockHash(b, hashes, 0);
 * blocks.free(b); // soft-free: content kept, hash kept
 * blocks.tryAcquireByHash(hashes, 0); // 0 again, resurrected with one reference
 * ```
 */
export class BlockAllocator {
  /** The largest reference count a block can have (the counts are 16-bit, as the seed's). */
  static readonly MAX_REF_COUNT = 65535;

  /** Total physical blocks. */
  readonly capacity: number;
  /** Digest width in 32-bit words. */
  readonly hashWords: number;
  /** Which free block `allocate` reuses first. */
  readonly reuseOrder: ReuseOrder;

  /** One word per block (see REFS, WHERE, HASHED), so that a block's state costs one cache miss. */
  readonly #state: Int32Array;
  readonly #stack: Int32Array;
  #stackTop = 0;
  /**
   * List links, interleaved: `links[2b]` is block b's previous (newer-side) neighbour, `links[2b + 1]`
   * its next. Index `capacity` is the sentinel: its next is the oldest, its previous the newest.
   */
  readonly #links: Int32Array;
  #listSize = 0;
  readonly #lifo: boolean;
  #inUse = 0;
  #peak = 0;
  #evictions = 0;
  #resurrections = 0;
  readonly #digests: Uint32Array;
  readonly #index: Int32Array;
  readonly #indexMask: number;
  #hashedCount = 0;
  /** Per-block counters for validating bulk calls with repeated blocks; zero between calls. */
  #scratch: Uint32Array | undefined;

  /**
   * Creates an allocator whose blocks are all free; `allocate` returns 0, 1, 2... first.
   * Cost: O(capacity) time and about 30 + 4 * hashWords bytes per block.
   * @throws MemError INVALID_ARGUMENT if `capacity` is not an integer in [1, 2^24] or an option is invalid.
   */
  constructor(capacity: number, options: BlockAllocatorOptions = {}) {
    this.capacity = assertInteger(capacity, 'capacity', { min: 1, max: 1 << 24 });
    const opts = assertOptions<BlockAllocatorOptions>(options, 'options');
    this.hashWords =
      opts.hashWords === undefined ? 4 : assertInteger(opts.hashWords, 'options.hashWords', { min: 1, max: 16 });
    const order =
      opts.reuseOrder === undefined ? 'lru' : assertOneOf(opts.reuseOrder, 'options.reuseOrder', REUSE_ORDERS);
    this.reuseOrder = order;
    this.#lifo = order === 'lifo';
    this.#state = new Int32Array(capacity);
    this.#stack = new Int32Array(capacity);
    this.#links = new Int32Array(2 * (capacity + 1));
    this.#links[2 * capacity] = capacity;
    this.#links[2 * capacity + 1] = capacity;
    if (this.#lifo) {
      for (let b = capacity - 1; b >= 0; b -= 1) this.#linkNewest(b);
    } else {
      for (let b = capacity - 1; b >= 0; b -= 1) {
        this.#stack[this.#stackTop++] = b;
        this.#state[b] = IN_STACK;
      }
    }
    this.#digests = new Uint32Array(capacity * this.hashWords);
    let indexSize = 8;
    while (indexSize < capacity * 2) indexSize *= 2;
    this.#index = new Int32Array(indexSize).fill(-1);
    this.#indexMask = indexSize - 1;
    if (opts.metrics !== undefined) this.#publishMetrics(opts.metrics);
  }

  // ---------------------------------------------------------------------------------------------
  // Hot paths: allocate, free, tryAcquireByHash. Small on purpose; slow paths are separate methods.

  /**
   * Takes one free block with reference count 1 and returns its index. Plain free blocks come
   * first; when none is left the least recently freed soft-free block is reused and its hash
   * evicted.
   * Cost: O(1).
   * @throws MemError EXHAUSTED (with capacity and free count in the message) if no block is free.
   */
  allocate(): number {
    const block = this.#stackTop > 0 ? this.#stack[--this.#stackTop]! : this.#takeFromList();
    this.#state[block] = 1; // live, one reference, no digest (stack blocks have none; list blocks lost theirs)
    if (++this.#inUse > this.#peak) this.#peak = this.#inUse;
    return block;
  }

  /**
   * Drops one reference to `block`; at zero the block becomes free (soft-free if it carries a hash).
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `block` is not a block index of this allocator.
   * @throws MemError DOUBLE_FREE if the block has no reference.
   */
  free(block: number): void {
    if (block >>> 0 !== block || block >= this.capacity) throw this.#badBlock(block, 'block');
    const state = this.#state[block]!;
    const refs = state & REFS;
    if (refs > 1) {
      this.#state[block] = state - 1;
      return;
    }
    if (refs === 0) throw this.#doubleFree(block);
    this.#release(block, state);
  }

  /**
   * Looks up the digest `hashes[index * W .. (index + 1) * W)` and takes a reference to the block
   * holding it: a live block gains a reference, a soft-free block is resurrected with reference
   * count 1 (taken out of the middle of the free order in O(1)). Returns the block, or -1 on a miss
   * (a miss changes nothing).
   * Cost: O(1) expected (one probe sequence of the hash index at load at most 1/2).
   * @throws MemError INVALID_ARGUMENT if `hashes` is not a Uint32Array holding digest `index`.
   * @throws MemError LIMIT_EXCEEDED if the block already has {@link BlockAllocator.MAX_REF_COUNT} references.
   */
  tryAcquireByHash(hashes: Uint32Array, index = 0): number {
    const offset = this.#digestOffset(hashes, index);
    const block = this.#find(hashes, offset);
    if (block < 0) return -1;
    const state = this.#state[block]!;
    const refs = state & REFS;
    if (refs === 0) {
      this.#unlink(block);
      this.#state[block] = HASHED | 1;
      this.#resurrections += 1;
      if (++this.#inUse > this.#peak) this.#peak = this.#inUse;
    } else {
      if (refs === BlockAllocator.MAX_REF_COUNT) throw this.#overflow(block);
      this.#state[block] = state + 1;
    }
    return block;
  }

  // ---------------------------------------------------------------------------------------------
  // Bulk and reference operations.

  /**
   * Takes `count` free blocks (all of them or none) and writes their indexes to `out` at
   * `outOffset` (a new Uint32Array when `out` is omitted). Returns the array written.
   * Cost: O(count).
   * @throws MemError INVALID_ARGUMENT if `count` is not an integer in [0, capacity] or `out` cannot hold the blocks.
   * @throws MemError EXHAUSTED (with capacity and free count) if fewer than `count` blocks are free; nothing is taken.
   */
  allocateMany(count: number, out?: Uint32Array, outOffset = 0): Uint32Array {
    if (typeof count !== 'number' || count >>> 0 !== count || count > this.capacity) {
      assertInteger(count, 'count', { min: 0, max: this.capacity }); // throws the standard message
    }
    let target: Uint32Array;
    if (out === undefined) {
      target = new Uint32Array(count);
      outOffset = 0;
    } else {
      if (!(out instanceof Uint32Array)) {
        throw invalidArgument('out', out, 'a Uint32Array');
      }
      if (typeof outOffset !== 'number' || outOffset >>> 0 !== outOffset || out.length - outOffset < count) {
        throw new MemError(
          'INVALID_ARGUMENT',
          `outOffset must be an integer with room for ${count} blocks in out (length ${out.length}), got ${describeValue(outOffset)}`,
        );
      }
      target = out;
    }
    if (count > this.capacity - this.#inUse) throw this.#exhausted(count);
    for (let i = 0; i < count; i += 1) target[outOffset + i] = this.allocate();
    return target;
  }

  /**
   * Adds one reference to a live block (another holder shares it).
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `block` is not a block index of this allocator.
   * @throws MemError USE_AFTER_RELEASE if the block is free (resurrect soft-free blocks with `tryAcquireByHash`).
   * @throws MemError LIMIT_EXCEEDED if the block already has {@link BlockAllocator.MAX_REF_COUNT} references.
   */
  acquire(block: number): void {
    if (block >>> 0 !== block || block >= this.capacity) throw this.#badBlock(block, 'block');
    const state = this.#state[block]!;
    const refs = state & REFS;
    if (refs === 0) throw this.#notLive(block, 'acquire');
    if (refs === BlockAllocator.MAX_REF_COUNT) throw this.#overflow(block);
    this.#state[block] = state + 1;
  }

  /**
   * Adds one reference to each listed block (a block listed twice gains two), all or none.
   * Cost: O(blocks.length).
   * @throws MemError INVALID_ARGUMENT if `blocks` is not an array of block indexes of this allocator.
   * @throws MemError USE_AFTER_RELEASE if a listed block is free; LIMIT_EXCEEDED if one would pass
   * {@link BlockAllocator.MAX_REF_COUNT}. Nothing changes when it throws.
   */
  acquireMany(blocks: ArrayLike<number>): void {
    const length = this.#checkBlockList(blocks);
    const counts = this.#counts();
    let failure: MemError | undefined;
    for (let i = 0; i < length && failure === undefined; i += 1) {
      const block = blocks[i]!;
      const held = this.#state[block]! & REFS;
      if (held === 0) failure = this.#notLive(block, 'acquire');
      else if (held + ++counts[block]! > BlockAllocator.MAX_REF_COUNT) failure = this.#overflow(block);
    }
    for (let i = 0; i < length; i += 1) counts[blocks[i]!] = 0;
    if (failure) throw failure;
    for (let i = 0; i < length; i += 1) this.#state[blocks[i]!]! += 1;
  }

  /**
   * Drops one reference from each listed block in the listed order (a block listed twice loses
   * two), all or none: blocks reaching zero become free in that order.
   * Cost: O(blocks.length).
   * @throws MemError INVALID_ARGUMENT if `blocks` is not an array of block indexes of this allocator.
   * @throws MemError DOUBLE_FREE if a block would drop below zero. Nothing changes when it throws.
   */
  freeMany(blocks: ArrayLike<number>): void {
    this.#freeListed(blocks, this.#listLength(blocks), false);
  }

  /**
   * Frees the first `count` blocks of a sequence's block table so that its last block is evicted
   * first: in `'lru'` order the tail is freed first (it becomes the oldest soft-free block); in
   * `'lifo'` order the head is freed first (the tail is then on top), as the seed does. All or none.
   * Cost: O(count).
   * @throws MemError INVALID_ARGUMENT if `blocks` is not an array of block indexes or `count` is out of range.
   * @throws MemError DOUBLE_FREE if a block would drop below zero. Nothing changes when it throws.
   */
  freeSequence(blocks: ArrayLike<number>, count: number = blocks?.length): void {
    const length = this.#listLength(blocks);
    if (typeof count !== 'number' || count >>> 0 !== count || count > length) {
      assertInteger(count, 'count', { min: 0, max: length }); // throws the standard message
    }
    this.#freeListed(blocks, count, !this.#lifo);
  }

  /**
   * The reference count of `block`: 0 when free, otherwise the number of holders.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `block` is not a block index of this allocator.
   */
  refCount(block: number): number {
    if (block >>> 0 !== block || block >= this.capacity) throw this.#badBlock(block, 'block');
    return this.#state[block]! & REFS;
  }

  // ---------------------------------------------------------------------------------------------
  // Content hashes.

  /**
   * Tags the live `block` with the digest `hashes[index * W .. (index + 1) * W)` after its content
   * is written. A block carries one digest: a different earlier one is dropped. If another block
   * already carries this digest, the live one keeps it: a soft-free holder loses it to `block`, a
   * live holder keeps it and `block` stays untagged. Returns whether `block` now carries the digest.
   * Cost: O(1) expected.
   * @throws MemError INVALID_ARGUMENT if `block` is not a block index or `hashes` does not hold digest `index`.
   * @throws MemError USE_AFTER_RELEASE if `block` is free.
   */
  registerBlockHash(block: number, hashes: Uint32Array, index = 0): boolean {
    if (block >>> 0 !== block || block >= this.capacity) throw this.#badBlock(block, 'block');
    const offset = this.#digestOffset(hashes, index);
    if ((this.#state[block]! & REFS) === 0) throw this.#notLive(block, 'registerBlockHash on');
    const holder = this.#find(hashes, offset);
    if (holder === block) return true;
    if ((this.#state[block]! & HASHED) !== 0) this.#removeHash(block);
    if (holder >= 0) {
      if ((this.#state[holder]! & REFS) > 0) return false;
      this.#removeHash(holder);
      if (!this.#lifo) {
        this.#unlink(holder);
        this.#pushStack(holder);
      }
    }
    this.#digests.set(hashes.subarray(offset, offset + this.hashWords), block * this.hashWords);
    this.#insertHash(block);
    return true;
  }

  /**
   * Returns the block carrying the digest `hashes[index * W ..)`, or -1; takes no reference.
   * Cost: O(1) expected.
   * @throws MemError INVALID_ARGUMENT if `hashes` is not a Uint32Array holding digest `index`.
   */
  findBlockByHash(hashes: Uint32Array, index = 0): number {
    return this.#find(hashes, this.#digestOffset(hashes, index));
  }

  /**
   * A copy of the digest `block` carries, or `null` if it carries none.
   * Cost: O(W).
   * @throws MemError INVALID_ARGUMENT if `block` is not a block index of this allocator.
   */
  blockHash(block: number): Uint32Array | null {
    if (block >>> 0 !== block || block >= this.capacity) throw this.#badBlock(block, 'block');
    if ((this.#state[block]! & HASHED) === 0) return null;
    return this.#digests.slice(block * this.hashWords, (block + 1) * this.hashWords);
  }

  /**
   * Drops every digest, live and soft-free (after new weights, or to stop all sharing): soft-free
   * blocks become plain free. Returns how many digests were dropped.
   * Cost: O(capacity).
   * @throws never
   */
  clearPrefixCache(): number {
    let dropped = 0;
    for (let block = 0; block < this.capacity; block += 1) {
      if ((this.#state[block]! & HASHED) === 0) continue;
      this.#removeHash(block);
      dropped += 1;
      if (!this.#lifo && (this.#state[block]! & WHERE) === IN_LIST) {
        this.#unlink(block);
        this.#pushStack(block);
      }
    }
    return dropped;
  }

  // ---------------------------------------------------------------------------------------------
  // Counts and introspection.

  /** Blocks with no reference, plain and soft-free (what `allocate` can still hand out). Cost: O(1). */
  get freeCount(): number {
    return this.capacity - this.#inUse;
  }

  /** Free blocks that still carry a digest (soft-free, resurrectable). Cost: O(1). */
  get cachedFreeCount(): number {
    if (!this.#lifo) return this.#listSize;
    let count = 0;
    const links = this.#links;
    for (let b = links[2 * this.capacity + 1]!; b !== this.capacity; b = links[2 * b + 1]!) {
      if ((this.#state[b]! & HASHED) !== 0) count += 1;
    }
    return count;
  }

  /** Blocks with at least one reference. Cost: O(1). */
  get inUseCount(): number {
    return this.#inUse;
  }

  /** The most blocks ever in use at once (it never decreases). Cost: O(1). */
  get peakInUse(): number {
    return this.#peak;
  }

  /** How many blocks carry a digest (the seed's `hash_table_size`). Cost: O(1). */
  get hashTableSize(): number {
    return this.#hashedCount;
  }

  /** Soft-free blocks whose digest `allocate` evicted so far. Cost: O(1). */
  get evictions(): number {
    return this.#evictions;
  }

  /** Soft-free blocks `tryAcquireByHash` resurrected so far. Cost: O(1). */
  get resurrections(): number {
    return this.#resurrections;
  }

  /**
   * The free blocks in the order `allocate` would hand them out (for tests and diagnostics).
   * Cost: O(free blocks), allocates the array.
   * @throws never
   */
  evictionOrder(): number[] {
    const order: number[] = [];
    for (let i = this.#stackTop - 1; i >= 0; i -= 1) order.push(this.#stack[i]!);
    const s = this.capacity;
    const links = this.#links;
    if (this.#lifo) for (let b = links[2 * s]!; b !== s; b = links[2 * b]!) order.push(b);
    else for (let b = links[2 * s + 1]!; b !== s; b = links[2 * b + 1]!) order.push(b);
    return order;
  }

  /**
   * A snapshot of the counts.
   * Cost: O(1) in `'lru'` order, O(free blocks) in `'lifo'` order.
   * @throws never
   */
  stats(): BlockAllocatorStats {
    return {
      capacity: this.capacity,
      inUse: this.#inUse,
      free: this.freeCount,
      cachedFree: this.cachedFreeCount,
      hashedBlocks: this.#hashedCount,
      peakInUse: this.#peak,
      usage: this.#inUse / this.capacity,
      evictions: this.#evictions,
      resurrections: this.#resurrections,
      reuseOrder: this.reuseOrder,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Slow paths and internals.

  /** A block's last reference is gone: put it in the free order. */
  #release(block: number, state: number): void {
    this.#inUse -= 1;
    if (this.#lifo || (state & HASHED) !== 0) {
      this.#state[block] = state & HASHED;
      this.#linkNewest(block);
    } else {
      this.#stack[this.#stackTop++] = block;
      this.#state[block] = IN_STACK;
    }
  }

  /** Moves a free block without digest onto the plain free stack. */
  #pushStack(block: number): void {
    this.#stack[this.#stackTop++] = block;
    this.#state[block] = (this.#state[block]! & ~WHERE) | IN_STACK;
  }

  /** Slow path of `allocate`: no plain free block, so reuse a soft-free one (or fail). */
  #takeFromList(): number {
    const s = this.capacity;
    const block = this.#lifo ? this.#links[2 * s]! : this.#links[2 * s + 1]!;
    if (block === s) throw this.#exhausted(1);
    this.#unlink(block);
    if ((this.#state[block]! & HASHED) !== 0) {
      this.#removeHash(block);
      this.#evictions += 1;
    }
    return block;
  }

  #linkNewest(block: number): void {
    const s = this.capacity;
    const links = this.#links;
    const newest = links[2 * s]!;
    links[2 * block] = newest;
    links[2 * block + 1] = s;
    links[2 * newest + 1] = block;
    links[2 * s] = block;
    this.#state[block] = (this.#state[block]! & ~WHERE) | IN_LIST;
    this.#listSize += 1;
  }

  #unlink(block: number): void {
    const links = this.#links;
    const before = links[2 * block]!;
    const after = links[2 * block + 1]!;
    links[2 * before + 1] = after;
    links[2 * after] = before;
    this.#listSize -= 1;
  }

  #home(digests: Uint32Array, offset: number): number {
    // Re-mix the first two words so that a weak user-supplied hasher still spreads over buckets.
    let h = (digests[offset]! ^ Math.imul(digests[offset + (this.hashWords > 1 ? 1 : 0)]!, 0x9e3779b1)) | 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    return (h ^ (h >>> 13)) & this.#indexMask;
  }

  #find(hashes: Uint32Array, offset: number): number {
    const words = this.hashWords;
    const digests = this.#digests;
    const index = this.#index;
    const mask = this.#indexMask;
    for (let slot = this.#home(hashes, offset); ; slot = (slot + 1) & mask) {
      const block = index[slot]!;
      if (block < 0) return -1;
      const base = block * words;
      let equal = true;
      for (let w = 0; w < words; w += 1) {
        if (digests[base + w] !== hashes[offset + w]) {
          equal = false;
          break;
        }
      }
      if (equal) return block;
    }
  }

  #insertHash(block: number): void {
    const index = this.#index;
    const mask = this.#indexMask;
    let slot = this.#home(this.#digests, block * this.hashWords);
    while (index[slot]! >= 0) slot = (slot + 1) & mask;
    index[slot] = block;
    this.#state[block] = this.#state[block]! | HASHED;
    this.#hashedCount += 1;
  }

  /** Removes `block`'s digest from the index (backward-shift deletion keeps probe chains intact). */
  #removeHash(block: number): void {
    const index = this.#index;
    const mask = this.#indexMask;
    let hole = this.#home(this.#digests, block * this.hashWords);
    while (index[hole] !== block) hole = (hole + 1) & mask;
    for (let probe = (hole + 1) & mask; ; probe = (probe + 1) & mask) {
      const moved = index[probe]!;
      if (moved < 0) break;
      const home = this.#home(this.#digests, moved * this.hashWords);
      // `moved` may fill the hole unless its home lies cyclically in (hole, probe].
      const inRange = hole <= probe ? home > hole && home <= probe : home > hole || home <= probe;
      if (!inRange) {
        index[hole] = moved;
        hole = probe;
      }
    }
    index[hole] = -1;
    this.#state[block] = this.#state[block]! & ~HASHED;
    this.#hashedCount -= 1;
  }

  #digestOffset(hashes: Uint32Array, index: number): number {
    if (!(hashes instanceof Uint32Array)) {
      throw invalidArgument('hashes', hashes, 'a Uint32Array of digests');
    }
    const count = Math.floor(hashes.length / this.hashWords);
    if (index >>> 0 !== index || index >= count) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `index must be an integer in [0, ${count - 1}] (hashes holds ${count} digests of ${this.hashWords} words), got ${describeValue(index)}`,
      );
    }
    return index * this.hashWords;
  }

  /** Checks that `blocks` is a list of block indexes of this allocator; returns its length. */
  #checkBlockList(blocks: ArrayLike<number>): number {
    const length = this.#listLength(blocks);
    for (let i = 0; i < length; i += 1) {
      const block = blocks[i];
      if (typeof block !== 'number' || block >>> 0 !== block || block >= this.capacity) {
        throw this.#badBlock(block, `blocks[${i}]`);
      }
    }
    return length;
  }

  /**
   * Drops one reference per listing of `blocks[0..count)` (from the end when `reverse`), exactly as
   * calls of `free` in that order would. On a bad index or a double free it undoes the listings
   * already applied, newest first (a block released by an undone listing is then on top of its
   * free structure, so taking it back is O(1)), and throws: nothing changes.
   */
  #freeListed(blocks: ArrayLike<number>, count: number, reverse: boolean): void {
    const state = this.#state;
    const capacity = this.capacity;
    for (let k = 0; k < count; k += 1) {
      const i = reverse ? count - 1 - k : k;
      const block = blocks[i]!;
      let failure: MemError | undefined;
      if (typeof block !== 'number' || block >>> 0 !== block || block >= capacity) {
        failure = this.#badBlock(block, `blocks[${i}]`);
      } else {
        const word = state[block]!;
        const refs = word & REFS;
        if (refs > 1) state[block] = word - 1;
        else if (refs === 1) this.#release(block, word);
        else failure = this.#doubleFree(block);
      }
      if (failure !== undefined) {
        for (let u = k - 1; u >= 0; u -= 1) this.#undoFree(blocks[reverse ? count - 1 - u : u]!);
        throw failure;
      }
    }
  }

  /** Takes back one reference dropped by `#freeListed`, the most recent one not yet undone. */
  #undoFree(block: number): void {
    const word = this.#state[block]!;
    if ((word & REFS) > 0) {
      this.#state[block] = word + 1;
      return;
    }
    if ((word & WHERE) === IN_STACK)
      this.#stackTop -= 1; // it is on top
    else this.#unlink(block);
    this.#state[block] = (word & HASHED) | 1;
    this.#inUse += 1;
  }

  /** Checks that `blocks` is array-like (its entries are checked by the caller); returns its length. */
  #listLength(blocks: ArrayLike<number>): number {
    if (!isArrayLike(blocks)) {
      throw invalidArgument('blocks', blocks, 'an array of block indexes');
    }
    return blocks.length;
  }

  #counts(): Uint32Array {
    return (this.#scratch ??= new Uint32Array(this.capacity));
  }

  #publishMetrics(sink: MetricsSink): void {
    const inUse = sink.gauge('mem_paged_kv_blocks_in_use', 'KV blocks with at least one reference');
    const capacity = sink.gauge('mem_paged_kv_blocks_capacity', 'KV blocks in the pool');
    const usage = sink.gauge('mem_paged_kv_usage_ratio', 'share of KV blocks in use');
    const cached = sink.gauge('mem_paged_kv_blocks_cached_free', 'free KV blocks still holding cached content');
    const evictions = mirrorCounter(sink.counter('mem_paged_kv_evictions_total', 'cached KV blocks evicted for reuse'));
    const resurrections = mirrorCounter(
      sink.counter('mem_paged_kv_resurrections_total', 'soft-free KV blocks brought back by a prefix-cache hit'),
    );
    sink.addCollector(() => {
      inUse.set(this.#inUse);
      capacity.set(this.capacity);
      usage.set(this.#inUse / this.capacity);
      cached.set(this.cachedFreeCount);
      evictions(this.#evictions);
      resurrections(this.#resurrections);
    });
  }

  #badBlock(value: unknown, name: string): MemError {
    return new MemError(
      'INVALID_ARGUMENT',
      `${name} must be a block index (an integer in [0, ${this.capacity - 1}]), got ${describeValue(value)}`,
      { details: { argument: name, value, capacity: this.capacity } },
    );
  }

  #doubleFree(block: number): MemError {
    return new MemError('DOUBLE_FREE', `block ${block} has no reference left to free (double free)`, {
      details: { block },
    });
  }

  #notLive(block: number, action: string): MemError {
    return new MemError('USE_AFTER_RELEASE', `${action} block ${block}, which is free (reference count 0)`, {
      details: { block },
    });
  }

  #overflow(block: number): MemError {
    return new MemError(
      'LIMIT_EXCEEDED',
      `block ${block} already has ${BlockAllocator.MAX_REF_COUNT} references, the most a block can have`,
      { details: { block, limit: BlockAllocator.MAX_REF_COUNT } },
    );
  }

  #exhausted(requested: number): MemError {
    return new MemError(
      'EXHAUSTED',
      `cannot allocate ${requested} block${requested === 1 ? '' : 's'}: capacity ${this.capacity}, free ${this.freeCount}`,
      { details: { requested, capacity: this.capacity, free: this.freeCount } },
    );
  }
}
