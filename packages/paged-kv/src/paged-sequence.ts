// Over 400 lines for one concept: one block table with its reservation and all-or-none copy-on-write.
/**
 * One sequence's view of the paged pool: a block table mapping
 * logical block `i` (token positions `i * blockSize .. (i + 1) * blockSize`) to a physical block,
 * and a length. Copy-on-write forking for parallel sampling.
 *
 * Ownership: the sequence owns one reference to each block in its table; `clear()` and `release()`
 * give them back, tail first, so that its last blocks are evicted first.
 *
 * Callbacks: copy-on-write runs the user's `copyBlock` after every block it needs is taken and
 * before the block table changes, so a copy that throws leaves the sequence as it was. While the
 * callback runs, the methods that change this sequence throw IN_USE; reading it and using any other
 * sequence or the allocator works.
 *
 * This module is browser compatible.
 * @module
 */
import { DisposableHandle, MemError, assertFunction, assertInteger, assertOptions, invalidArgument } from '@mem/types';
import { BlockAllocator } from './block-allocator.js';

/**
 * Copies the whole content of physical block `source` into block `target` (every layer's K and V,
 * all `blockSize` slots). Called on copy-on-write; {@link KvStore.copyBlock} is one.
 *
 * It may throw: the write that needed the copy then changes nothing (the blocks taken for it go
 * back to the allocator; one that held cached content loses it, as `target` may be half written).
 * It may call other sequences and the allocator; the methods that change the sequence being copied
 * throw IN_USE until it returns.
 */
export type CopyBlock = (source: number, target: number) => void;

/**
 * What paged attention and the KV store need from a sequence: its block table. {@link KvSequence}
 * and {@link PagedSequence} are views; so is any object with these fields.
 */
export interface BlockTableView {
  /** Physical block of each logical block; entries at and past `blockCount` are 0 and unused. */
  readonly blockTable: Uint32Array;
  /** How many entries of `blockTable` are valid. */
  readonly blockCount: number;
  /** Tokens per block. */
  readonly blockSize: number;
  /** Whether the sequence was released: the store and attention refuse it with USE_AFTER_RELEASE. */
  readonly released?: boolean;
  /**
   * Positions below this hold final K/V (computed, or served from the prefix cache) in blocks other
   * sequences may share: {@link KvStore.writeToken} refuses them with IN_USE. {@link KvSequence} has it.
   */
  readonly computedTokens?: number;
}

/**
 * Checks a `copyBlock` option: `undefined` or a function.
 * @throws MemError INVALID_ARGUMENT otherwise.
 */
export function assertCopyBlock(copyBlock: unknown): CopyBlock | undefined {
  return copyBlock === undefined ? undefined : assertFunction<CopyBlock>(copyBlock, 'options.copyBlock');
}

/**
 * The blocks of `blockSize` tokens that `tokens` tokens need.
 * @throws MemError LIMIT_EXCEEDED if that is more than `maxBlocksPerSequence`.
 */
export function blocksForTokens(tokens: number, blockSize: number, maxBlocksPerSequence: number): number {
  const needed = Math.ceil(tokens / blockSize);
  if (needed > maxBlocksPerSequence) {
    throw new MemError(
      'LIMIT_EXCEEDED',
      `a sequence of ${tokens} tokens needs ${needed} blocks of ${blockSize} tokens, more than maxBlocksPerSequence ${maxBlocksPerSequence}`,
      { details: { tokens, needed, limit: maxBlocksPerSequence } },
    );
  }
  return needed;
}

/** Options of a {@link PagedSequence}. */
export interface PagedSequenceOptions {
  /** Tokens per block. @defaultValue 16 */
  readonly blockSize?: number;
  /** The most blocks this sequence may hold (the length of its block table). */
  readonly maxBlocksPerSequence: number;
  /** Copies a block's KV data on copy-on-write; required to write into shared blocks. @defaultValue none */
  readonly copyBlock?: CopyBlock;
}

/**
 * A sequence's block table and length over a {@link BlockAllocator}.
 *
 * @example
 * ```ts
 * import { BlockAllocator, PagedSequence } from '@mem/paged-kv';
 * const blocks = new BlockAllocator(16);
 * const seq = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 8 });
 * const start = seq.appendTokens(6); // positions 0..5, two blocks
 * seq.blockTable.subarray(0, seq.blockCount); // [0, 1]
 * seq.release();
 * ```
 */
export class PagedSequence extends DisposableHandle implements BlockTableView {
  /** The allocator the blocks come from. */
  readonly allocator: BlockAllocator;
  /** Tokens per block. */
  readonly blockSize: number;
  /** The most blocks this sequence may hold. */
  readonly maxBlocksPerSequence: number;
  /**
   * Physical block of each logical block, ready to upload to a device; entries past `blockCount`
   * are 0. Read only: write through the methods.
   */
  readonly blockTable: Uint32Array;
  readonly #copyBlock: CopyBlock | undefined;
  #blockCount = 0;
  #length = 0;
  /** Positions below this are known to be in blocks this sequence alone may write. */
  #writableEnd = 0;
  /** Whether the `copyBlock` callback is running (the sequence is mid copy-on-write). */
  #copying = false;

  /**
   * Creates an empty sequence; no block is taken until it grows.
   * Cost: O(maxBlocksPerSequence) for the block table.
   * @throws MemError INVALID_ARGUMENT if `allocator` is not a BlockAllocator or an option is invalid.
   */
  constructor(allocator: BlockAllocator, options: PagedSequenceOptions) {
    super();
    if (!(allocator instanceof BlockAllocator)) {
      throw invalidArgument('allocator', allocator, 'a BlockAllocator');
    }
    if (options === undefined) throw invalidArgument('options', options, 'an object');
    const opts = assertOptions<PagedSequenceOptions>(options, 'options');
    this.allocator = allocator;
    this.blockSize =
      opts.blockSize === undefined ? 16 : assertInteger(opts.blockSize, 'options.blockSize', { min: 1, max: 65536 });
    this.maxBlocksPerSequence = assertInteger(opts.maxBlocksPerSequence, 'options.maxBlocksPerSequence', {
      min: 1,
      max: 1 << 24,
    });
    this.#copyBlock = assertCopyBlock(opts.copyBlock);
    this.blockTable = new Uint32Array(this.maxBlocksPerSequence);
  }

  /** How many entries of {@link PagedSequence.blockTable} are valid. Cost: O(1). */
  get blockCount(): number {
    return this.#blockCount;
  }

  /** Tokens written so far (positions `0 .. length - 1`). Cost: O(1). */
  get length(): number {
    return this.#length;
  }

  /** Tokens the allocated blocks can hold (`blockCount * blockSize`). Cost: O(1). */
  get capacityTokens(): number {
    return this.#blockCount * this.blockSize;
  }

  /**
   * End of the positions prepared for writing by {@link PagedSequence.ensureWritable}: positions in
   * `[length, writableLength)` are in blocks this sequence holds alone. Cost: O(1).
   */
  get writableLength(): number {
    return this.#writableEnd;
  }

  /**
   * Makes the sequence hold enough blocks for `targetLength` tokens; idempotent when it already does. All or none.
   * Cost: O(new blocks).
   * @throws MemError INVALID_ARGUMENT if `targetLength` is not an integer >= 0.
   * @throws MemError LIMIT_EXCEEDED if it would need more than `maxBlocksPerSequence` blocks.
   * @throws MemError EXHAUSTED if the allocator has too few free blocks (nothing is taken).
   * @throws MemError USE_AFTER_RELEASE after `release()`; IN_USE from inside its `copyBlock` callback.
   */
  ensureCapacity(targetLength: number): void {
    this.#enter('ensureCapacity');
    assertInteger(targetLength, 'targetLength', { min: 0 });
    const needed = this.#blocksFor(targetLength);
    const fresh = needed - this.#blockCount;
    if (fresh <= 0) return;
    if (fresh > this.allocator.freeCount) throw this.#exhausted(fresh, targetLength);
    for (let i = 0; i < fresh; i += 1) this.blockTable[this.#blockCount++] = this.allocator.allocate();
  }

  /**
   * Prepares positions `[length, length + count)` for writing: grows the table as needed and
   * copies each shared block in that range (reference count above 1, e.g. after `fork`) into a
   * block of its own through the `copyBlock` callback (copy-on-write). Returns `length`, the first
   * position to write.
   *
   * All or none: every block it needs (copies and new ones) is taken before the first copy, and the
   * block table changes only after the last copy returned. If `copyBlock` throws, its error propagates and the blocks
   * taken go back (a soft-free block among them loses its cached content: the callback may have
   * half written it). While `copyBlock` runs, this sequence's changing methods throw IN_USE.
   * Cost: O(new blocks + copied blocks) plus the copies.
   * @throws MemError INVALID_ARGUMENT if `count` is not an integer >= 0.
   * @throws MemError LIMIT_EXCEEDED past `maxBlocksPerSequence` blocks; EXHAUSTED if too few blocks are free.
   * @throws MemError IN_USE if a block to write is shared and no `copyBlock` callback was given, or
   * when called from inside this sequence's `copyBlock` callback.
   * @throws MemError USE_AFTER_RELEASE after `release()`.
   */
  ensureWritable(count: number): number {
    return this.#prepareWrite(count, true);
  }

  /**
   * @internal {@link PagedSequence.ensureWritable} that returns -1 instead of throwing EXHAUSTED
   * when too few blocks are free (nothing changes then).
   */
  tryEnsureWritable(count: number): number {
    return this.#prepareWrite(count, false);
  }

  #prepareWrite(count: number, orThrow: boolean): number {
    this.#enter('ensureWritable');
    assertInteger(count, 'count', { min: 0 });
    const end = this.#length + count;
    if (end <= this.#writableEnd) return this.#length;
    const needed = this.#blocksFor(end);
    const fresh = Math.max(0, needed - this.#blockCount);
    const firstWritten = Math.floor(this.#length / this.blockSize);
    const lastShared = Math.min(this.#blockCount, needed);
    let copies = 0;
    for (let i = firstWritten; i < lastShared; i += 1) {
      if (this.allocator.refCount(this.blockTable[i]!) > 1) copies += 1;
    }
    if (copies > 0 && this.#copyBlock === undefined) {
      throw new MemError(
        'IN_USE',
        `cannot write into a shared block without copy-on-write: give the sequence a copyBlock callback`,
      );
    }
    if (fresh + copies > this.allocator.freeCount) {
      if (orThrow) throw this.#exhausted(fresh + copies, end);
      return -1;
    }
    if (copies > 0) this.#copyOnWrite(firstWritten, lastShared, copies, fresh);
    else for (let i = 0; i < fresh; i += 1) this.blockTable[this.#blockCount++] = this.allocator.allocate();
    this.#writableEnd = Math.max(this.#writableEnd, end);
    return this.#length;
  }

  /**
   * Appends `count` tokens: prepares their positions with {@link PagedSequence.ensureWritable} and
   * advances the length. Returns the first new position; write the tokens' K and V there.
   * Cost: O(1) when the positions were prepared, else that of `ensureWritable`.
   * @throws the errors of {@link PagedSequence.ensureWritable}; nothing changes when it throws.
   */
  appendTokens(count: number): number {
    const start = this.ensureWritable(count);
    this.#length += count;
    return start;
  }

  /**
   * Appends a block the caller holds a reference to (for example from `tryAcquireByHash`) as the
   * next full block; the sequence takes over that reference. The length must be at a block
   * boundary equal to the tokens the table holds; the block's `blockSize` tokens count as written.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `block` is not a live block of the allocator (USE_AFTER_RELEASE if free).
   * @throws MemError IN_USE if the sequence holds blocks past its length (prepared for writing).
   * @throws MemError LIMIT_EXCEEDED past `maxBlocksPerSequence` blocks; USE_AFTER_RELEASE after `release()`.
   * @throws MemError IN_USE from inside its `copyBlock` callback.
   */
  attachCachedBlock(block: number): void {
    this.#enter('attachCachedBlock');
    if (this.allocator.refCount(block) === 0) {
      throw new MemError('USE_AFTER_RELEASE', `cannot attach block ${block}: it is free`);
    }
    if (this.#length !== this.#blockCount * this.blockSize) {
      throw new MemError(
        'IN_USE',
        `cannot attach a cached block: length ${this.#length} is not at the end of ${this.#blockCount} full blocks`,
      );
    }
    this.#blocksFor(this.#length + this.blockSize); // LIMIT_EXCEEDED when the table is full
    this.blockTable[this.#blockCount++] = block;
    this.#length += this.blockSize;
    this.#writableEnd = this.#length;
  }

  /**
   * Physical slot of token `position`: `blockTable[position / blockSize] * blockSize + position % blockSize`.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `position` is not below `capacityTokens`.
   * @throws MemError USE_AFTER_RELEASE after `release()`.
   */
  slotOf(position: number): number {
    this.assertLive();
    assertInteger(position, 'position', { min: 0, max: this.capacityTokens - 1 });
    return this.blockTable[Math.floor(position / this.blockSize)]! * this.blockSize + (position % this.blockSize);
  }

  /**
   * A new sequence sharing every block of this one (each gains a reference) with the same length,
   * for parallel sampling. The first write into a shared block copies it (copy-on-write), in
   * whichever sequence writes first; both must then write through `ensureWritable`/`appendTokens`.
   * Cost: O(blockCount).
   * @throws MemError IN_USE if no `copyBlock` callback was given (a fork could never write).
   * @throws MemError LIMIT_EXCEEDED if a block would pass the reference-count limit.
   * @throws MemError USE_AFTER_RELEASE after `release()`; IN_USE from inside its `copyBlock` callback.
   */
  fork(): PagedSequence {
    this.#enter('fork');
    if (this.#copyBlock === undefined) {
      throw new MemError('IN_USE', 'cannot fork a sequence without a copyBlock callback: copy-on-write needs it');
    }
    const table = this.blockTable.subarray(0, this.#blockCount);
    this.allocator.acquireMany(table);
    const child = new PagedSequence(this.allocator, {
      blockSize: this.blockSize,
      maxBlocksPerSequence: this.maxBlocksPerSequence,
      copyBlock: this.#copyBlock,
    });
    child.blockTable.set(table);
    child.#blockCount = this.#blockCount;
    child.#length = this.#length;
    child.#writableEnd = this.#length;
    this.#writableEnd = this.#length;
    return child;
  }

  /**
   * Gives every block back (tail first) and sets the length to 0; the sequence stays usable: it keeps
   * its buffers for reuse.
   * Cost: O(blockCount).
   * @throws MemError DOUBLE_FREE if a block was freed behind the sequence's back (nothing changes then).
   * @throws MemError USE_AFTER_RELEASE after `release()`; IN_USE from inside its `copyBlock` callback.
   */
  clear(): void {
    this.#enter('clear');
    this.#clear();
  }

  /**
   * Gives every block back (tail first) and makes the sequence unusable.
   * Cost: O(blockCount).
   * @throws MemError DOUBLE_FREE if already released, or if a block was freed behind the
   * sequence's back (it stays live then).
   * @throws MemError IN_USE from inside its `copyBlock` callback (it stays live).
   */
  override release(): void {
    super.release();
  }

  #clear(): void {
    this.allocator.freeSequence(this.blockTable, this.#blockCount);
    this.blockTable.fill(0, 0, this.#blockCount);
    this.#blockCount = 0;
    this.#length = 0;
    this.#writableEnd = 0;
  }

  /** Names the sequence in error messages. */
  protected override describe(): string {
    return `PagedSequence of ${this.#length} tokens in ${this.#blockCount} blocks`;
  }

  /** Gives the blocks back; the sequence is then unusable. */
  protected onRelease(): void {
    this.#enter('release');
    this.#clear();
  }

  /** Checks that the sequence may change now: live, and not inside its own copy-on-write. */
  #enter(method: string): void {
    this.assertLive();
    if (this.#copying) {
      throw new MemError(
        'IN_USE',
        `PagedSequence.${method} was called from inside the sequence's copyBlock callback; the copy-on-write in progress must return first`,
      );
    }
  }

  /**
   * Copy-on-write of the `copies` shared blocks among entries `[from, to)` of the table, plus
   * `fresh` new blocks at its end, all or none: takes every block first (the callback may take
   * free blocks too), runs the callback for each pair with the sequence marked busy, and changes
   * the table (dropping the shared references) only when every copy returned. On a throw the
   * blocks go back newest first, so the free order is as before.
   */
  #copyOnWrite(from: number, to: number, copies: number, fresh: number): void {
    const allocator = this.allocator;
    const table = this.blockTable;
    const slots = new Uint32Array(copies);
    for (let i = from, k = 0; i < to; i += 1) if (allocator.refCount(table[i]!) > 1) slots[k++] = i;
    const taken = allocator.allocateMany(copies + fresh);
    this.#copying = true;
    try {
      for (let k = 0; k < copies; k += 1) this.#copyBlock!(table[slots[k]!]!, taken[k]!);
    } catch (error) {
      allocator.freeMany(taken.reverse()); // newest first: each goes back where allocate took it
      throw error;
    } finally {
      this.#copying = false;
    }
    for (let k = 0; k < copies; k += 1) {
      const slot = slots[k]!;
      const shared = table[slot]!;
      table[slot] = taken[k]!;
      allocator.free(shared);
    }
    for (let k = copies; k < copies + fresh; k += 1) table[this.#blockCount++] = taken[k]!;
  }

  #blocksFor(tokens: number): number {
    return blocksForTokens(tokens, this.blockSize, this.maxBlocksPerSequence);
  }

  #exhausted(blocks: number, tokens: number): MemError {
    return new MemError(
      'EXHAUSTED',
      `growing to ${tokens} tokens needs ${blocks} more blocks: capacity ${this.allocator.capacity}, free ${this.allocator.freeCount}`,
      { details: { requested: blocks, capacity: this.allocator.capacity, free: this.allocator.freeCount } },
    );
  }
}
