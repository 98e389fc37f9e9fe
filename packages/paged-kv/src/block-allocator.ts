// Over 400 lines for one concept: the per-block state word and every operation on it stay in one module with the hot path (see docs/DESIGN.md, Hot paths).
/**
 * The physical KV block allocator: a fixed number of equal blocks, per-block reference counts, a
 * content-hash index for prefix caching, and an eviction order that keeps useful cached blocks
 * (the block manager of vLLM's automatic prefix caching).
 *
 * Ownership: a block is *live* while its reference count is at least 1; each holder (a sequence's
 * block table, a prefix-cache hit) owns one reference and gives it back with `free`. At zero the
 * block is *free*: if it carries a content hash it is *soft-free* (its KV data is intact and a
 * later `tryAcquireByHash` can resurrect it), otherwise it is plain free.
 *
 * The class holds the public operations and the per-block state word (reference counts, where a
 * free block waits, whether it carries a digest); its rooms are the free order (`free-order.ts`),
 * the hash index (`hash-index.ts`), the errors (`block-errors.ts`) and the metrics
 * (`allocator-metrics.ts`). All state lives in typed arrays.
 *
 * This module is browser compatible.
 * @module
 */
import {
  assertInteger,
  assertMetricsSink,
  assertNonEmptyString,
  assertOneOf,
  assertOptions,
  assertRange,
  invalidArgument,
  type MemError,
  type MetricsSink,
} from '@mem/types';
import { publishAllocatorMetrics } from './allocator-metrics.js';
import { badBlock, doubleFree, exhausted, notLive, overflow } from './block-errors.js';
import { FreeList, REUSE_ORDERS, type ReuseOrder } from './free-order.js';
import { HashIndex } from './hash-index.js';
import { isArrayLike } from './token-ids.js';

// The per-block state word: one Int32 per block holding its reference count, where it waits while
// free, and whether it carries a digest, so that a block's state costs one memory read. The layout
// stays module-local, for the hot path (see docs/DESIGN.md, Hot paths).
/** Bits 0-15: the reference count (0 = free). */
const REFS = 0xffff;
/** Bits 16-17 = 1: a free block on the plain free stack. */
const IN_STACK = 1 << 16;
/** Bits 16-17 = 2: a free block in the list of the free order. */
const IN_LIST = 2 << 16;
/** Bits 16-17: where a free block waits. */
const WHERE = 3 << 16;
/** Bit 18: the block carries a digest (it is in the hash index). */
const HASHED = 1 << 18;
/** The largest reference count: the counts are 16-bit and never wrap. */
const MAX_REF_COUNT = REFS;

/** Options of a {@link BlockAllocator}. */
export interface BlockAllocatorOptions {
  /** Width of a content digest in 32-bit words (4 for the default hasher, 8 for SHA-256). @defaultValue 4 */
  readonly hashWords?: number;
  /** @internal The free order; set through `comparisonBlockAllocator` of `@mem/paged-kv/reference`. */
  readonly reuseOrder?: ReuseOrder;
  /** Where to publish block counts and eviction counters. @defaultValue no metrics */
  readonly metrics?: MetricsSink;
  /** The `pool` label of its metrics. @defaultValue 'paged-kv' */
  readonly name?: string;
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
  /** @internal The free order (see `@mem/paged-kv/reference`). */
  readonly reuseOrder: ReuseOrder;
}

/**
 * A fixed pool of KV blocks identified by index `0 .. capacity - 1`, with reference counts and a
 * content-hash index. Plain free blocks are reused first, most recently freed first; then
 * soft-free blocks, least recently freed first, whose digest is evicted as they are reused.
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
  /** The largest reference count a block can have: the counts are 16-bit; one more throws, it never wraps. */
  static readonly MAX_REF_COUNT = MAX_REF_COUNT;

  /** Total physical blocks. */
  readonly capacity: number;
  /** Digest width in 32-bit words. */
  readonly hashWords: number;
  /** @internal The free order (see `@mem/paged-kv/reference`). */
  readonly reuseOrder: ReuseOrder;

  /** One state word per block (see the layout above), so that a block's state costs one memory read. */
  readonly #state: Int32Array;
  /** The plain free stack (see `free-order.ts`): blocks without a digest, most recently freed on top. */
  readonly #stack: Int32Array;
  #stackTop = 0;
  /** The list of the free order: soft-free blocks (every free block in `'lifo'` order). */
  readonly #list: FreeList;
  readonly #lifo: boolean;
  readonly #hashes: HashIndex;
  #inUse = 0;
  #peak = 0;
  #evictions = 0;
  #resurrections = 0;
  /**
   * @internal When set, `allocate` appends each block whose digest it evicts, with a copy of the
   * digest, before the block is handed out (a KV tier saves them while their bytes are intact).
   */
  evictionLog: { blocks: number[]; digests: Uint32Array[] } | null = null;
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
    const metrics = assertMetricsSink(opts.metrics, 'options.metrics');
    this.reuseOrder = order;
    this.#state = new Int32Array(capacity);
    this.#lifo = order === 'lifo';
    this.#stack = new Int32Array(capacity);
    this.#list = new FreeList(capacity);
    for (let block = capacity - 1; block >= 0; block -= 1) {
      if (this.#lifo) {
        this.#state[block] = IN_LIST;
        this.#list.linkNewest(block);
      } else {
        this.#stack[this.#stackTop++] = block;
        this.#state[block] = IN_STACK;
      }
    }
    this.#hashes = new HashIndex(capacity, this.hashWords);
    const name = opts.name === undefined ? 'paged-kv' : assertNonEmptyString(opts.name, 'options.name');
    if (metrics !== undefined) publishAllocatorMetrics(metrics, this, { pool: name });
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
    const block = this.#stackTop > 0 ? this.#stack[--this.#stackTop]! : this.#takeListed();
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
    if (block >>> 0 !== block || block >= this.capacity) throw badBlock(block, 'block', this.capacity);
    const state = this.#state[block]!;
    const refs = state & REFS;
    if (refs > 1) {
      this.#state[block] = state - 1;
      return;
    }
    if (refs === 0) throw doubleFree(block);
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
    const block = this.#hashes.find(hashes, offset);
    if (block < 0) return -1;
    const state = this.#state[block]!;
    const refs = state & REFS;
    if (refs === 0) {
      this.#list.unlink(block);
      this.#state[block] = HASHED | 1;
      this.#resurrections += 1;
      if (++this.#inUse > this.#peak) this.#peak = this.#inUse;
    } else {
      if (refs === MAX_REF_COUNT) throw overflow(block, MAX_REF_COUNT);
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
      assertRange(outOffset, count, out.length, 'out');
      target = out;
    }
    if (count > this.capacity - this.#inUse) throw exhausted(count, this.capacity, this.freeCount);
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
    if (block >>> 0 !== block || block >= this.capacity) throw badBlock(block, 'block', this.capacity);
    const state = this.#state[block]!;
    const refs = state & REFS;
    if (refs === 0) throw notLive(block, 'acquire');
    if (refs === MAX_REF_COUNT) throw overflow(block, MAX_REF_COUNT);
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
      if (held === 0) failure = notLive(block, 'acquire');
      else if (held + ++counts[block]! > MAX_REF_COUNT) failure = overflow(block, MAX_REF_COUNT);
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
   * first: the tail is freed first, so it becomes the oldest soft-free block. All or none.
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
    if (block >>> 0 !== block || block >= this.capacity) throw badBlock(block, 'block', this.capacity);
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
    if (block >>> 0 !== block || block >= this.capacity) throw badBlock(block, 'block', this.capacity);
    const offset = this.#digestOffset(hashes, index);
    if ((this.#state[block]! & REFS) === 0) throw notLive(block, 'registerBlockHash on');
    const holder = this.#hashes.find(hashes, offset);
    if (holder === block) return true;
    if ((this.#state[block]! & HASHED) !== 0) this.#dropDigest(block);
    if (holder >= 0) {
      if ((this.#state[holder]! & REFS) > 0) return false;
      this.#dropDigest(holder);
    }
    this.#hashes.insert(block, hashes, offset);
    this.#state[block] = this.#state[block]! | HASHED;
    return true;
  }

  /**
   * Returns the block carrying the digest `hashes[index * W ..)`, or -1; takes no reference.
   * Cost: O(1) expected.
   * @throws MemError INVALID_ARGUMENT if `hashes` is not a Uint32Array holding digest `index`.
   */
  findBlockByHash(hashes: Uint32Array, index = 0): number {
    return this.#hashes.find(hashes, this.#digestOffset(hashes, index));
  }

  /**
   * A copy of the digest `block` carries, or `null` if it carries none.
   * Cost: O(W).
   * @throws MemError INVALID_ARGUMENT if `block` is not a block index of this allocator.
   */
  blockHash(block: number): Uint32Array | null {
    if (block >>> 0 !== block || block >= this.capacity) throw badBlock(block, 'block', this.capacity);
    if ((this.#state[block]! & HASHED) === 0) return null;
    return this.#hashes.digestOf(block);
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
      this.#dropDigest(block);
      dropped += 1;
    }
    return dropped;
  }

  // ---------------------------------------------------------------------------------------------
  // Counts and introspection.

  /** Blocks with no reference, plain and soft-free (what `allocate` can still hand out). Cost: O(1). */
  get freeCount(): number {
    return this.capacity - this.#inUse;
  }

  /** Free blocks that still carry a digest (soft-free, resurrectable). Cost: O(1) in the default order. */
  get cachedFreeCount(): number {
    return this.#lifo ? this.#list.countWhere(this.#state, HASHED) : this.#list.size;
  }

  /** Blocks with at least one reference. Cost: O(1). */
  get inUseCount(): number {
    return this.#inUse;
  }

  /** The most blocks ever in use at once (it never decreases). Cost: O(1). */
  get peakInUse(): number {
    return this.#peak;
  }

  /** How many blocks carry a digest. Cost: O(1). */
  get hashTableSize(): number {
    return this.#hashes.size;
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
    this.#list.appendTo(order, this.#lifo);
    return order;
  }

  /**
   * A snapshot of the counts.
   * Cost: O(1) in the default order.
   * @throws never
   */
  stats(): BlockAllocatorStats {
    return {
      capacity: this.capacity,
      inUse: this.#inUse,
      free: this.freeCount,
      cachedFree: this.cachedFreeCount,
      hashedBlocks: this.#hashes.size,
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
      this.#state[block] = (state & HASHED) | IN_LIST;
      this.#list.linkNewest(block);
    } else {
      this.#stack[this.#stackTop++] = block;
      this.#state[block] = IN_STACK;
    }
  }

  /** Drops `block`'s digest; a soft-free block in `'lru'` order then moves from the list to the plain stack. */
  #dropDigest(block: number): void {
    this.#hashes.remove(block);
    const word = this.#state[block]! & ~HASHED;
    if (this.#lifo || (word & WHERE) !== IN_LIST) {
      this.#state[block] = word;
      return;
    }
    this.#list.unlink(block);
    this.#stack[this.#stackTop++] = block;
    this.#state[block] = (word & ~WHERE) | IN_STACK;
  }

  /** Slow path of `allocate`: no plain free block, so reuse a soft-free one (or fail). */
  #takeListed(): number {
    const block = this.#list.take(this.#lifo);
    if (block < 0) throw exhausted(1, this.capacity, this.freeCount);
    if ((this.#state[block]! & HASHED) !== 0) {
      const log = this.evictionLog;
      if (log !== null) {
        log.blocks.push(block);
        log.digests.push(this.#hashes.digestOf(block));
      }
      this.#hashes.remove(block);
      this.#evictions += 1;
    }
    return block;
  }

  #digestOffset(hashes: Uint32Array, index: number): number {
    if (!(hashes instanceof Uint32Array)) {
      throw invalidArgument('hashes', hashes, 'a Uint32Array of digests');
    }
    const count = Math.floor(hashes.length / this.hashWords);
    if (index >>> 0 !== index || index >= count) {
      throw invalidArgument(
        'index',
        index,
        `an integer in [0, ${count - 1}] (hashes holds ${count} digests of ${this.hashWords} words)`,
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
        throw badBlock(block, `blocks[${i}]`, this.capacity);
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
        failure = badBlock(block, `blocks[${i}]`, this.capacity);
      } else {
        const word = state[block]!;
        const refs = word & REFS;
        if (refs > 1) state[block] = word - 1;
        else if (refs === 1) this.#release(block, word);
        else failure = doubleFree(block);
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
    else this.#list.unlink(block);
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
}
