/**
 * `EpochArena`: bump allocation out of blocks for one worker, with checked handles and an O(blocks)
 * reset that drops a whole generation of allocations at once.
 *
 * Over 400 lines for one concept: the three allocation entry points write their hot path out on
 * purpose (docs/DESIGN.md, "Hot paths"), and the slow paths share the block bookkeeping they read.
 *
 * This module is browser compatible.
 * @module
 */
import {
  assertInteger,
  assertMetricsSink,
  assertOptions,
  assertPowerOfTwo,
  invalidArgument,
  MemError,
  type MetricsSink,
} from '@mem/types';
import { metricsName, publishArenaWhileAlive } from './arena-metrics.js';
import { RESET_OPTIONS, type Arena, type ArenaHandle, type ArenaStats, type ResetOptions } from './arena.js';
import { takeArenaId } from './arena-id.js';
import {
  DEFAULT_BLOCK_SIZE,
  KEY_ALIGNMENT,
  MAX_BLOCK_SIZE,
  MAX_KEY_LENGTH,
  MIN_ALIGNMENT,
  MIN_BLOCK_SIZE,
  assertAllocationSize,
  assertBytes,
  assertEpoch,
  assertKey,
  lengthOfBytes,
  refuseMisreportedLength,
  resolveAlignment,
} from './arena-limits.js';
import {
  ADDRESS_BITS,
  ADDRESS_SPAN,
  HEADER_SIZE,
  LENGTH_ESCAPE,
  MAX_ARENA_ID,
  arenaTag,
  readHeader,
  tagBase,
  writeHeader,
} from './handle-layout.js';
import { HandleAccessors } from './handle-accessors.js';
import { rejectHandle } from './handle-rejection.js';

/** Options of an {@link EpochArena}. */
export interface EpochArenaOptions {
  /** The epoch number of the first generation. @defaultValue 0 */
  readonly epoch?: number;
  /** Bytes per block: a power of two from 8 KiB to 16 MiB. @defaultValue 2 MiB */
  readonly blockSize?: number;
  /**
   * The most bytes of blocks the arena may hold (bumpalo's `set_allocation_limit`: it bounds the
   * memory taken, not each allocation). When a full block would cross it, a smaller block that
   * reaches exactly the limit is tried; an allocation that still does not fit throws LIMIT_EXCEEDED.
   * @defaultValue no limit
   */
  readonly allocationLimit?: number;
  /**
   * The most regular blocks a reset keeps for reuse; the rest are dropped for the GC.
   * @defaultValue every block
   */
  readonly retainBlocks?: number;
  /**
   * The arena id (1 to 63) its handles carry. Give distinct ids to arenas whose handles may meet, to
   * have FOREIGN_HANDLE detected between them. @defaultValue the next id of a process-wide counter
   */
  readonly id?: number;
  /**
   * Where to publish the arena's figures (`mem_epoch_arena_*`, labelled with its name and id)
   * when the sink is scraped; nothing is done on allocation. @defaultValue none
   */
  readonly metrics?: MetricsSink;
  /**
   * The `pool` label of the arena's figures (beside `arena`, its id). @defaultValue 'epoch-arena'
   */
  readonly name?: string;
}

const OPTIONS = ['epoch', 'blockSize', 'allocationLimit', 'retainBlocks', 'id', 'metrics', 'name'] as const;

const NO_BLOCK = new Uint8Array(0);

/**
 * An epoch-partitioned bump arena for one worker: allocations are carved out of large blocks
 * (2 MiB by default) by moving a position forward, and {@link EpochArena.reset} drops all of them at
 * once by moving it back, in O(blocks), with no per-object GC cost.
 *
 * Ownership: the arena owns its blocks; an allocation is a handle (a number), valid until the next
 * reset. Every access through a handle checks it: a handle from before a reset throws
 * STALE_HANDLE, one of another arena FOREIGN_HANDLE, and a number that is no handle of this arena
 * INVALID_ARGUMENT. Views returned by {@link EpochArena.view} alias the block and are not checked
 * after they are made: do not keep them across a reset.
 *
 * Costs: an allocation is a bump of a number and a multiply-add to pack the handle (a few
 * nanoseconds); no JS object is created per allocation. Filling a block takes a spare block or
 * allocates a new `ArrayBuffer`. Nothing here uses `Atomics`: use {@link SharedEpochArena} to share.
 *
 * @example
 * ```ts
 * import { EpochArena } from '@mem/epoch-arena';
 * const arena = new EpochArena({ epoch: 1 });
 * const key = arena.allocateKey(new TextEncoder().encode('user:42'));
 * arena.equals(key, new TextEncoder().encode('user:42')); // true
 * arena.reset(2); // every handle of epoch 1 is now stale
 * arena.isValid(key); // false
 * ```
 */
export class EpochArena extends HandleAccessors implements Arena {
  // Hot state: what allocate() and the handle check read. Plain fields, no Atomics.
  /** Bump position in the current block, a multiple of 8. */
  #pos = 0;
  /** End of the current block; 0 before the first block, which sends allocate() to the slow path. */
  #limit = 0;
  /** The current block's bytes. */
  #block: Uint8Array = NO_BLOCK;
  /** The current block's index shifted into place in the address field. */
  #base = 0;
  /** `tag << 9`: add the length and multiply by 2^28 to get the top of a handle. */
  #tagLow = 0;
  /** `#tagLow + 512`: a handle of this generation has a top in `[#tagLow, #tagEnd)`. */
  #tagEnd = 0;
  #allocationCount = 0;
  #bytesAllocated = 0;

  // Block bookkeeping: touched when a block fills, at reset and by the handle check's range test.
  /** The blocks of this generation; a handle's block field indexes it. */
  readonly #blocks: Uint8Array[] = [];
  /** Bytes used of each block of `#blocks`; the current block's entry is stale (see `#pos`). */
  readonly #used: number[] = [];
  /** Index of the current regular block in `#blocks`, or -1. */
  #current = -1;
  /** Regular blocks kept for reuse and not yet used in this generation. */
  #spares: Uint8Array[] = [];
  #oversizedBlocks = 0;
  /** Bytes of all blocks held (`#blocks` and `#spares`). */
  #capacity = 0;

  readonly #id: number;
  readonly #blockSize: number;
  /** log2(blockSize) - 3: bits of the in-block offset (in 8-byte units) in the address. */
  readonly #offsetBits: number;
  readonly #offsetMask: number;
  /** The most blocks a generation can address. */
  readonly #maxBlocks: number;
  #retainBlocks: number | undefined;
  #allocationLimit: number | undefined;
  #epoch: number;
  #generation = 0;

  /**
   * Creates an empty arena; the first block is allocated by the first allocation.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if an option is out of range or of the wrong type.
   */
  constructor(options?: EpochArenaOptions) {
    super();
    const checked = assertOptions<EpochArenaOptions>(options, 'options', OPTIONS);
    this.#epoch = assertEpoch(checked.epoch ?? 0, 'epoch');
    this.#blockSize = assertPowerOfTwo(checked.blockSize ?? DEFAULT_BLOCK_SIZE, 'blockSize', MAX_BLOCK_SIZE);
    if (this.#blockSize < MIN_BLOCK_SIZE) {
      throw invalidArgument('blockSize', this.#blockSize, `a power of two in [${MIN_BLOCK_SIZE}, ${MAX_BLOCK_SIZE}]`);
    }
    this.#allocationLimit =
      checked.allocationLimit === undefined
        ? undefined
        : assertInteger(checked.allocationLimit, 'allocationLimit', { min: 0 });
    this.#retainBlocks =
      checked.retainBlocks === undefined ? undefined : assertInteger(checked.retainBlocks, 'retainBlocks', { min: 0 });
    this.#id =
      checked.id === undefined ? takeArenaId() : assertInteger(checked.id, 'id', { min: 1, max: MAX_ARENA_ID });
    this.#offsetBits = Math.log2(this.#blockSize) - 3;
    this.#offsetMask = (1 << this.#offsetBits) - 1;
    this.#maxBlocks = 2 ** (ADDRESS_BITS - this.#offsetBits);
    this.#retag();
    const metrics = assertMetricsSink(checked.metrics, 'metrics');
    const labels = { pool: metricsName(checked.name, 'epoch-arena'), arena: String(this.#id) };
    if (metrics !== undefined) publishArenaWhileAlive(metrics, labels, this, readStats);
  }

  /** The arena's id (1 to 63), carried by every handle it issues. Cost: O(1). */
  get id(): number {
    return this.#id;
  }

  /** The epoch number of the current generation. Cost: O(1). */
  override get epoch(): number {
    return this.#epoch;
  }

  /** How many times the arena has been reset. Cost: O(1). */
  get generation(): number {
    return this.#generation;
  }

  /** Bytes per regular block. Cost: O(1). */
  get blockSize(): number {
    return this.#blockSize;
  }

  /** The allocation limit in bytes of blocks held, or `null` for none. Cost: O(1). */
  get allocationLimit(): number | null {
    return this.#allocationLimit ?? null;
  }

  /**
   * Sets (or with `null` removes) the limit on bytes of blocks held. Blocks already held stay; a
   * lower limit applies to the next block and trims spare blocks at the next reset.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `limit` is not `null` or an integer >= 0.
   */
  setAllocationLimit(limit: number | null): void {
    this.#allocationLimit = limit === null ? undefined : assertInteger(limit, 'limit', { min: 0 });
  }

  // ---------------------------------------------------------------------------------------------
  // Hot paths: a size check, a bump and a multiply-add. Anything else (a new block, alignment
  // above 8, long allocations, bad arguments) goes to the slow paths below. The three entry points
  // write the bump out on purpose: a shared helper returning the handle would pass a double above
  // 2^31 across a call, a heap number whenever V8 does not inline it (the bench's heap-growth case).
  // ---------------------------------------------------------------------------------------------

  /**
   * Allocates `size` bytes aligned to `align` and returns their handle. The bytes are not zeroed:
   * after a reset they hold an earlier generation's data.
   *
   * An allocation that does not fit in the rest of the current block moves on to the next block
   * (the rest stays unused until the reset); one larger than a block gets a block of its own.
   * Cost: a few nanoseconds for sizes under 511 bytes with the default alignment; otherwise a slow
   * path, and now and then a new block.
   * @throws MemError INVALID_ARGUMENT if `size` is not an integer >= 0 or `align` is not a power of
   * two in [1, 4096].
   * @throws MemError OVERSIZED if `size` is above 2 GiB.
   * @throws MemError LIMIT_EXCEEDED if a new block would cross the allocation limit.
   * @throws MemError EXHAUSTED if the generation has used all the blocks a handle can address, or the
   * runtime cannot allocate a block.
   *
   * @example
   * ```ts
   * import { EpochArena } from '@mem/epoch-arena';
   * const arena = new EpochArena();
   * const handle = arena.allocate(64, 64);
   * arena.view(handle).byteOffset % 64; // 0
   * ```
   */
  allocate(size: number, align?: number): ArenaHandle {
    if (align === undefined && typeof size === 'number' && size >= 0 && size < LENGTH_ESCAPE && (size | 0) === size) {
      const start = this.#pos;
      const end = start + size;
      if (end < this.#limit) {
        this.#pos = (end + 7) & -8;
        this.#allocationCount += 1;
        this.#bytesAllocated += size;
        return (this.#tagLow + size) * ADDRESS_SPAN + (this.#base | (start >>> 3));
      }
    }
    this.#allocateSlow(size, align, undefined);
    return this.#issuedTop * ADDRESS_SPAN + this.#issuedAddress;
  }

  /**
   * Allocates a copy of `bytes`, 8-byte aligned, and returns its handle.
   * Cost: the allocation plus a copy of `bytes.length` bytes (one `Uint8Array#set`).
   * @throws MemError INVALID_ARGUMENT if `bytes` is not a `Uint8Array`; otherwise as {@link EpochArena.allocate}.
   *
   * @example
   * ```ts
   * import { EpochArena } from '@mem/epoch-arena';
   * const arena = new EpochArena();
   * const handle = arena.allocateCopy(new Uint8Array([1, 2, 3]));
   * arena.copy(handle); // Uint8Array [1, 2, 3]
   * ```
   */
  allocateCopy(bytes: Uint8Array): ArenaHandle {
    if (bytes instanceof Uint8Array && ArrayBuffer.isView(bytes)) {
      const size = bytes.length;
      if (size < LENGTH_ESCAPE) {
        const start = this.#pos;
        const end = start + size;
        if (end < this.#limit) {
          // A genuine view copies the bytes it has: a longer one than its `length` claims writes into
          // this block's free space, or makes `set` throw before it writes anything.
          try {
            this.#block.set(bytes, start);
          } catch {
            // Nothing was written. A view of a transferred buffer (no bytes) gets an empty allocation.
            if (lengthOfBytes(bytes) !== 0) refuseMisreportedLength(bytes, 'bytes');
          }
          this.#pos = (end + 7) & -8;
          this.#allocationCount += 1;
          this.#bytesAllocated += size;
          return (this.#tagLow + size) * ADDRESS_SPAN + (this.#base | (start >>> 3));
        }
      }
    }
    const source = assertBytes(bytes, 'bytes');
    this.#allocateSlow(lengthOfBytes(source), undefined, source);
    return this.#issuedTop * ADDRESS_SPAN + this.#issuedAddress;
  }

  /**
   * Allocates a copy of a key of at most 256 bytes, 16-byte aligned (SIMD-friendly),
   * and returns its handle.
   * Cost: as {@link EpochArena.allocateCopy}.
   * @throws MemError INVALID_ARGUMENT if `key` is not a `Uint8Array`.
   * @throws MemError OVERSIZED if `key` is longer than 256 bytes.
   * @throws MemError LIMIT_EXCEEDED or EXHAUSTED as {@link EpochArena.allocate}.
   *
   * @example
   * ```ts
   * import { EpochArena } from '@mem/epoch-arena';
   * const arena = new EpochArena();
   * const handle = arena.allocateKey(new TextEncoder().encode('user:12345:profile'));
   * arena.lengthOf(handle); // 18
   * ```
   */
  allocateKey(key: Uint8Array): ArenaHandle {
    if (key instanceof Uint8Array && ArrayBuffer.isView(key)) {
      const size = key.length;
      if (size <= MAX_KEY_LENGTH) {
        const start = (this.#pos + 15) & -16;
        const end = start + size;
        if (end < this.#limit) {
          try {
            this.#block.set(key, start);
          } catch {
            // Nothing was written. A view of a transferred buffer (no bytes) gets an empty allocation.
            if (lengthOfBytes(key) !== 0) refuseMisreportedLength(key, 'key');
          }
          this.#pos = (end + 7) & -8;
          this.#allocationCount += 1;
          this.#bytesAllocated += size;
          return (this.#tagLow + size) * ADDRESS_SPAN + (this.#base | (start >>> 3));
        }
      }
    }
    const source = assertKey(key);
    this.#allocateSlow(lengthOfBytes(source), KEY_ALIGNMENT, source);
    return this.#issuedTop * ADDRESS_SPAN + this.#issuedAddress;
  }

  /**
   * Starts a new generation tagged `newEpoch`: every handle issued so far becomes stale, the
   * blocks are kept (up to `retainBlocks`) and reused from their start, blocks of oversized
   * allocations are dropped, and spare blocks beyond the allocation limit are dropped.
   * The bytes are not cleared.
   * Cost: O(blocks), never O(allocations): resetting an arena of a million keys touches a few
   * dozen array slots.
   * @throws MemError INVALID_ARGUMENT if `newEpoch` is not an integer in [0, 2^53 - 1] or
   * `options.retainBlocks` is not an integer >= 0; the arena is then unchanged.
   *
   * @example
   * ```ts
   * import { EpochArena } from '@mem/epoch-arena';
   * const arena = new EpochArena({ epoch: 1 });
   * for (let i = 0; i < 1000; i += 1) arena.allocate(64);
   * arena.reset(2, { retainBlocks: 1 });
   * arena.stats().allocationCount; // 0
   * ```
   */
  reset(newEpoch: number, options?: ResetOptions): void {
    const epoch = assertEpoch(newEpoch, 'newEpoch');
    const checked = assertOptions<ResetOptions>(options, 'options', RESET_OPTIONS);
    const retain =
      checked.retainBlocks === undefined
        ? this.#retainBlocks
        : assertInteger(checked.retainBlocks, 'retainBlocks', { min: 0 });

    const regular: Uint8Array[] = this.#spares;
    for (const block of this.#blocks) {
      if (block.length <= this.#blockSize) regular.push(block);
    }
    let keep = retain === undefined ? regular.length : Math.min(retain, regular.length);
    let capacity = 0;
    for (let i = 0; i < keep; i += 1) capacity += regular[i]!.length;
    const limit = this.#allocationLimit;
    while (limit !== undefined && keep > 0 && capacity > limit) {
      keep -= 1;
      capacity -= regular[keep]!.length;
    }
    regular.length = keep;

    this.#spares = regular;
    this.#capacity = capacity;
    // Emptied in place: a fresh [] would have another elements kind and deoptimize the callers.
    this.#blocks.length = 0;
    this.#used.length = 0;
    this.#current = -1;
    this.#oversizedBlocks = 0;
    this.#block = NO_BLOCK;
    this.#pos = 0;
    this.#limit = 0;
    this.#base = 0;
    this.#allocationCount = 0;
    this.#bytesAllocated = 0;
    this.#epoch = epoch;
    this.#generation += 1;
    this.#retag();
  }

  /**
   * A snapshot of the arena: epoch, generation, blocks, capacity, bytes used and allocated,
   * allocation count and limit.
   * Cost: O(blocks).
   * @throws never
   */
  stats(): ArenaStats {
    let bytesUsed = 0;
    for (let i = 0; i < this.#blocks.length; i += 1) {
      bytesUsed += i === this.#current ? this.#pos : this.#used[i]!;
    }
    return {
      epoch: this.#epoch,
      generation: this.#generation,
      arenaId: this.#id,
      blockCount: this.#blocks.length + this.#spares.length,
      blocksInUse: this.#blocks.length,
      oversizedBlocks: this.#oversizedBlocks,
      totalCapacity: this.#capacity,
      bytesUsed,
      bytesAllocated: this.#bytesAllocated,
      allocationCount: this.#allocationCount,
      allocationLimit: this.#allocationLimit ?? null,
    };
  }

  /** Names the arena in error messages. */
  override toString(): string {
    return `EpochArena #${this.#id}`;
  }

  // ---------------------------------------------------------------------------------------------
  // The handle check. The fast test is a typeof, a floor, two compares on the tag, an integer
  // test, a block bound and a range bound; everything else is in rejectHandle().
  // ---------------------------------------------------------------------------------------------

  /**
   * Checks `handle` and returns its block, through `found` with the allocation's offset and length.
   * @internal
   */
  protected override resolve(handle: ArenaHandle): Uint8Array {
    if (typeof handle === 'number') {
      const top = Math.floor(handle / ADDRESS_SPAN);
      if (top >= this.#tagLow && top < this.#tagEnd) {
        const address = handle - top * ADDRESS_SPAN;
        if (address >>> 0 === address) {
          const index = address >>> this.#offsetBits;
          if (index < this.#blocks.length) {
            const offset = (address & this.#offsetMask) << 3;
            const used = index === this.#current ? this.#pos : this.#used[index]!;
            const bytes = this.#blocks[index]!;
            let length = top - this.#tagLow;
            if (length === LENGTH_ESCAPE) {
              length = offset >= HEADER_SIZE ? readHeader(bytes, offset - HEADER_SIZE, this.#tagLow >> 9) : -1;
            }
            if (length >= 0 && offset + length <= used) return this.found(bytes, offset, length);
          }
        }
      }
    }
    return rejectHandle(handle, { id: this.#id, generation: this.#generation, label: this.toString() });
  }

  #retag(): void {
    this.#tagLow = tagBase(arenaTag(this.#id, this.#generation));
    this.#tagEnd = this.#tagLow + (LENGTH_ESCAPE + 1);
  }

  // ---------------------------------------------------------------------------------------------
  // Slow paths: argument checks, alignment above 8, long allocations with a length header, moving
  // to the next block, oversized blocks, the allocation limit.
  // ---------------------------------------------------------------------------------------------

  /**
   * The slow path of every allocation. It leaves the handle's two halves in `#issuedTop` and
   * `#issuedAddress` (small integers) rather than returning the handle: a double returned from here
   * would meet the hot path's double in the caller and, once V8 inlines this path there, force a
   * heap-allocated number on every allocation.
   */
  #allocateSlow(size: unknown, align: unknown, source: Uint8Array | undefined): void {
    // A failed call changes nothing: every check and every throwing step comes before a state change.
    const checkedSize = assertAllocationSize(size);
    const alignment = resolveAlignment(align);
    const header = checkedSize >= LENGTH_ESCAPE ? HEADER_SIZE : 0;

    const fitted = this.#limit > 0 && this.#bumpCurrent(checkedSize, alignment, header);
    if (!fitted) {
      if (alignUpTo(header, alignment) + checkedSize <= this.#blockSize) {
        this.#bumpNewBlock(checkedSize, alignment, header);
      } else {
        this.#allocateOversized(checkedSize, alignment);
      }
    }
    // A detached view has no bytes to copy (and `set` would throw for it).
    if (source !== undefined && checkedSize > 0) {
      this.#blocks[this.#issuedBlock]!.set(source, this.#issuedStart);
    }
    this.#allocationCount += 1;
    this.#bytesAllocated += checkedSize;
  }

  /** The last slow-path allocation: `tag << 9 | length` and address (the handle's halves), block and start. */
  #issuedTop = 0;
  #issuedAddress = 0;
  #issuedBlock = 0;
  #issuedStart = 0;

  /** Bumps in the current block; false if it does not fit. */
  #bumpCurrent(size: number, alignment: number, header: number): boolean {
    let start = alignUpTo(this.#pos + header, alignment);
    const end = start + size;
    if (end > this.#limit) return false;
    if (start >= this.#limit) {
      // Only a zero-length allocation gets here: it fits anywhere, and the block end is no address.
      start = 0;
    } else {
      this.#pos = alignUpTo(end, MIN_ALIGNMENT);
    }
    this.#issue(this.#current, start, size);
    return true;
  }

  #bumpNewBlock(size: number, alignment: number, header: number): void {
    const needed = alignUpTo(header, alignment) + size;
    const block = this.#takeRegularBlock(needed);
    if (this.#current >= 0) this.#used[this.#current] = this.#pos;
    const index = this.#blocks.length;
    this.#blocks.push(block);
    this.#used.push(0);
    this.#current = index;
    this.#block = block;
    this.#base = index << this.#offsetBits;
    this.#pos = 0;
    this.#limit = block.length;
    if (!this.#bumpCurrent(size, alignment, header)) {
      throw new Error(`internal: ${size} bytes did not fit a fresh block of ${block.length}`);
    }
  }

  /** A spare block of at least `needed` bytes, or a new one within the limit. */
  #takeRegularBlock(needed: number): Uint8Array {
    this.#assertBlockIndexLeft();
    for (let i = this.#spares.length - 1; i >= 0; i -= 1) {
      if (this.#spares[i]!.length >= needed) {
        const [block] = this.#spares.splice(i, 1);
        return block!;
      }
    }
    let size = this.#blockSize;
    const limit = this.#allocationLimit;
    if (limit !== undefined && this.#capacity + size > limit) {
      // bumpalo's way: when a full block would cross the limit, try one that ends exactly at it.
      size = Math.floor((limit - this.#capacity) / MIN_ALIGNMENT) * MIN_ALIGNMENT;
      if (size < needed) this.#throwLimit(needed);
    }
    const block = newBlock(size);
    this.#capacity += size;
    return block;
  }

  #allocateOversized(size: number, alignment: number): void {
    this.#assertBlockIndexLeft();
    const dataOffset = alignment > HEADER_SIZE ? alignment : HEADER_SIZE;
    const total = dataOffset + size;
    const limit = this.#allocationLimit;
    if (limit !== undefined && this.#capacity + total > limit) this.#throwLimit(total);
    const block = newBlock(total);
    this.#capacity += total;
    this.#oversizedBlocks += 1;
    const index = this.#blocks.length;
    this.#blocks.push(block);
    this.#used.push(total);
    this.#issue(index, dataOffset, size);
  }

  /** Writes the header of a long allocation and records the handle's halves. */
  #issue(index: number, start: number, size: number): void {
    const block = this.#blocks[index]!;
    let length = size;
    if (size >= LENGTH_ESCAPE) {
      writeHeader(block, start - HEADER_SIZE, size, this.#tagLow >> 9);
      length = LENGTH_ESCAPE;
    }
    this.#issuedBlock = index;
    this.#issuedStart = start;
    this.#issuedTop = this.#tagLow + length;
    this.#issuedAddress = (index << this.#offsetBits) | (start >>> 3);
  }

  #assertBlockIndexLeft(): void {
    if (this.#blocks.length >= this.#maxBlocks) {
      throw new MemError(
        'EXHAUSTED',
        `${this.toString()} has used all ${this.#maxBlocks} blocks a handle can address in one generation (block size ${this.#blockSize}); reset it or use larger blocks`,
        { details: { maxBlocks: this.#maxBlocks, blockSize: this.#blockSize } },
      );
    }
  }

  #throwLimit(needed: number): never {
    throw new MemError(
      'LIMIT_EXCEEDED',
      `${this.toString()} holds ${this.#capacity} bytes of blocks; ${needed} more would cross its allocation limit of ${this.#allocationLimit}`,
      { details: { capacity: this.#capacity, needed, allocationLimit: this.#allocationLimit } },
    );
  }
}

function alignUpTo(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

function newBlock(size: number): Uint8Array {
  try {
    return new Uint8Array(size);
  } catch (cause) {
    throw new MemError('EXHAUSTED', `the runtime could not allocate a block of ${size} bytes`, {
      cause,
      details: { size },
    });
  }
}

/** What the metrics collector of an arena reads. */
function readStats(arena: EpochArena): ArenaStats {
  return arena.stats();
}
