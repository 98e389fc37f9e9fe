/**
 * The block allocator under a workspace pool: blocks of segments, split on allocation, coalesced
 * with free neighbours on release, free blocks kept in size bins (as TensorFlow's BFC allocator
 * and PyTorch's caching allocator do).
 *
 * Block metadata is a table of typed arrays (struct of arrays), one record per block, so ten
 * thousand live workspaces cost about 60 bytes of metadata each and no object on the heap.
 * Records of blocks that were merged away are recycled through a stack.
 *
 * Ownership: the allocator owns every record; a live workspace refers to its block by record
 * index, which stays valid (the record is neither freed nor reused) until the workspace is
 * released or the pool is reset. Compaction changes a block's offset and segment, never its index.
 *
 * This module is browser compatible.
 * @module
 */
import type { BackingMemory } from '@mem/types';
import { Segment } from './segment.js';
import { BIN_COUNT, SUBDIVISION_LOG2, binIndex, binIndexRoundUp, highestBit, lowestBit } from './size-bins.js';

/** No block. */
export const NONE = -1;
/** A record not in use. */
export const RECORD_UNUSED = 0;
/** A free block (in a bin). */
export const BLOCK_FREE = 1;
/** A block owned by a workspace. */
export const BLOCK_USED = 2;

/** Strategy codes, resolved once from the configuration's names. */
export const STRATEGY_BEST_FIT = 0;
/** @see STRATEGY_BEST_FIT */
export const STRATEGY_FIRST_FIT = 1;
/** @see STRATEGY_BEST_FIT */
export const STRATEGY_EXACT_FIT = 2;
/** @see STRATEGY_BEST_FIT */
export const STRATEGY_POWER_OF_TWO = 3;

/** How many blocks of one bin best fit and exact fit look at before settling. */
const SCAN_LIMIT = 32;
const FIRST_LEVELS = BIN_COUNT >> SUBDIVISION_LOG2;
const BIN_MASK = (1 << SUBDIVISION_LOG2) - 1;

/** The block allocator. @internal */
export class BlockAllocator {
  // The block table (struct of arrays). Replaced wholesale when it grows: never cache these.
  /** Offset of the block from its segment's start. */
  offset: Float64Array;
  /** Size of the block in bytes (a multiple of the granule). */
  size: Float64Array;
  /** Bytes the workspace asked for (used blocks). */
  requested: Float64Array;
  /** The id of the workspace that owns the block (used blocks), 0 otherwise. */
  owner: Float64Array;
  /** The segment of the block. */
  segmentOf: Int32Array;
  /** The neighbour below in address order, or NONE. */
  prevPhys: Int32Array;
  /** The neighbour above in address order, or NONE. */
  nextPhys: Int32Array;
  /** The previous block in the same bin (free blocks), or NONE. */
  prevFree: Int32Array;
  /** The next block in the same bin (free blocks), or NONE. */
  nextFree: Int32Array;
  /** How many pins hold the block in place. */
  pins: Int32Array;
  /** RECORD_UNUSED, BLOCK_FREE or BLOCK_USED. */
  state: Uint8Array;
  #capacity: number;
  #unused: Int32Array;
  #unusedCount: number;

  /** The first free block of each bin, or NONE. */
  readonly binHeads = new Int32Array(BIN_COUNT).fill(NONE);
  /** Per first level, a bit per non-empty bin. */
  readonly binBits = new Int32Array(FIRST_LEVELS);
  /** A bit per first level that has a non-empty bin. */
  levelBits = 0;

  /** Every segment by index; released segments leave a hole (indices are never reused). */
  readonly segments: (Segment | undefined)[] = [];
  /** Free bytes per segment index. */
  segmentFree = new Float64Array(8);

  /** The size granule and alignment of every block. */
  readonly granule: number;
  /** One of the STRATEGY_* codes. */
  readonly strategy: number;
  /** Free bytes in all segments. */
  freeBytes = 0;
  /** Bytes of all used blocks. */
  usedBytes = 0;
  /** Bytes the live workspaces asked for. */
  requestedBytes = 0;
  /** Bytes of all segments. */
  reservedBytes = 0;
  /** Live (used) blocks. */
  liveBlocks = 0;
  /** Used blocks with at least one pin. */
  pinnedBlocks = 0;
  /** Bumped whenever a live block moves or memory is replaced: cached views must be rebuilt. */
  epoch = 0;
  /** Bumped by reset: every workspace handed out before it is stale. */
  generation = 0;

  constructor(granule: number, strategy: number, initialRecords = 256) {
    this.granule = granule;
    this.strategy = strategy;
    this.#capacity = initialRecords;
    this.offset = new Float64Array(initialRecords);
    this.size = new Float64Array(initialRecords);
    this.requested = new Float64Array(initialRecords);
    this.owner = new Float64Array(initialRecords);
    this.segmentOf = new Int32Array(initialRecords);
    this.prevPhys = new Int32Array(initialRecords);
    this.nextPhys = new Int32Array(initialRecords);
    this.prevFree = new Int32Array(initialRecords);
    this.nextFree = new Int32Array(initialRecords);
    this.pins = new Int32Array(initialRecords);
    this.state = new Uint8Array(initialRecords);
    this.#unused = new Int32Array(initialRecords);
    this.#unusedCount = initialRecords;
    // Hand out low indices first.
    for (let i = 0; i < initialRecords; i += 1) this.#unused[i] = initialRecords - 1 - i;
  }

  /** How many records the table holds (used or not). */
  get recordCapacity(): number {
    return this.#capacity;
  }

  // ---------------------------------------------------------------------------------------------
  // Hot path: allocate and free. Kept to bit operations and typed-array accesses; everything that
  // is rare (table growth, segments, compaction) lives below or in other modules.
  // ---------------------------------------------------------------------------------------------

  /**
   * Takes a free block of at least `need` bytes (a multiple of the granule), splitting off what is
   * left over, and returns its record; NONE when no free block fits.
   */
  allocate(need: number): number {
    let block: number;
    switch (this.strategy) {
      case STRATEGY_FIRST_FIT:
        block = this.#firstFit(need);
        break;
      case STRATEGY_EXACT_FIT:
        block = this.#exactFit(need);
        break;
      default:
        block = this.#bestFit(need);
    }
    if (block === NONE) return NONE;
    this.#take(block, need);
    return block;
  }

  /** Frees a used block, merging it with free neighbours, and files the result in its bin. */
  free(block: number): void {
    const size = this.size;
    const nextPhys = this.nextPhys;
    const prevPhys = this.prevPhys;
    const state = this.state;
    const bytes = size[block]!;
    this.segmentFree[this.segmentOf[block]!] = this.segmentFree[this.segmentOf[block]!]! + bytes;
    this.freeBytes += bytes;
    this.usedBytes -= bytes;
    this.requestedBytes -= this.requested[block]!;
    this.liveBlocks -= 1;
    this.owner[block] = 0;
    state[block] = BLOCK_FREE;

    const next = nextPhys[block]!;
    if (next !== NONE && state[next] === BLOCK_FREE) {
      this.removeFree(next);
      size[block] = bytes + size[next]!;
      const after = nextPhys[next]!;
      nextPhys[block] = after;
      if (after !== NONE) prevPhys[after] = block;
      this.dropRecord(next);
    }
    const prev = prevPhys[block]!;
    if (prev !== NONE && state[prev] === BLOCK_FREE) {
      this.removeFree(prev);
      size[prev] = size[prev]! + size[block]!;
      const after = nextPhys[block]!;
      nextPhys[prev] = after;
      if (after !== NONE) prevPhys[after] = prev;
      this.dropRecord(block);
      this.insertFree(prev);
      return;
    }
    this.insertFree(block);
  }

  #take(block: number, need: number): void {
    this.removeFree(block);
    const available = this.size[block]!;
    if (available > need) this.#splitTail(block, need, available - need);
    this.state[block] = BLOCK_USED;
    this.segmentFree[this.segmentOf[block]!] = this.segmentFree[this.segmentOf[block]!]! - need;
    this.freeBytes -= need;
    this.usedBytes += need;
    this.liveBlocks += 1;
  }

  /** Cuts `block` to `keep` bytes; the `rest` above it becomes a new free block. */
  #splitTail(block: number, keep: number, rest: number): void {
    const tail = this.newRecord();
    this.offset[tail] = this.offset[block]! + keep;
    this.size[tail] = rest;
    this.segmentOf[tail] = this.segmentOf[block]!;
    this.state[tail] = BLOCK_FREE;
    const after = this.nextPhys[block]!;
    this.prevPhys[tail] = block;
    this.nextPhys[tail] = after;
    if (after !== NONE) this.prevPhys[after] = tail;
    this.nextPhys[block] = tail;
    this.size[block] = keep;
    this.insertFree(tail);
  }

  /** The smallest of at most SCAN_LIMIT candidates of the request's bin, else of the next non-empty bin. */
  #bestFit(need: number): number {
    const bin = binIndex(need);
    const found = this.#smallestFitting(this.binHeads[bin]!, need);
    if (found !== NONE) return found;
    const larger = this.findBin(bin + 1);
    return larger === NONE ? NONE : this.#smallestFitting(this.binHeads[larger]!, need);
  }

  /** The head of the first bin whose every block fits; failing that, a fitting block of the request's own bin. */
  #firstFit(need: number): number {
    const bin = this.findBin(binIndexRoundUp(need));
    if (bin !== NONE) return this.binHeads[bin]!;
    return this.#smallestFitting(this.binHeads[binIndex(need)]!, need);
  }

  /** A block of exactly `need` bytes, else a cut from the top bin (the largest blocks). */
  #exactFit(need: number): number {
    const size = this.size;
    const nextFree = this.nextFree;
    let scanned = 0;
    for (let block = this.binHeads[binIndex(need)]!; block !== NONE && scanned < SCAN_LIMIT; block = nextFree[block]!) {
      if (size[block] === need) return block;
      scanned += 1;
    }
    if (this.levelBits === 0) return NONE;
    const level = highestBit(this.levelBits);
    const top = (level << SUBDIVISION_LOG2) | highestBit(this.binBits[level]!);
    const largest = this.#largestIn(top);
    return size[largest]! >= need ? largest : NONE;
  }

  #smallestFitting(head: number, need: number): number {
    const size = this.size;
    const nextFree = this.nextFree;
    let best = NONE;
    let bestSize = Infinity;
    let scanned = 0;
    for (let block = head; block !== NONE && scanned < SCAN_LIMIT; block = nextFree[block]!) {
      const candidate = size[block]!;
      if (candidate >= need && candidate < bestSize) {
        best = block;
        bestSize = candidate;
        if (candidate === need) break;
      }
      scanned += 1;
    }
    return best;
  }

  #largestIn(bin: number): number {
    let largest = NONE;
    let largestSize = -1;
    for (let block = this.binHeads[bin]!; block !== NONE; block = this.nextFree[block]!) {
      if (this.size[block]! > largestSize) {
        largest = block;
        largestSize = this.size[block]!;
      }
    }
    return largest;
  }

  /** The first non-empty bin at or above `from`, or NONE. */
  findBin(from: number): number {
    if (from >= BIN_COUNT) return NONE;
    let level = from >>> SUBDIVISION_LOG2;
    let bits = this.binBits[level]! & (-1 << (from & BIN_MASK));
    if (bits === 0) {
      const levels = level + 1 < 32 ? this.levelBits & (-1 << (level + 1)) : 0;
      if (levels === 0) return NONE;
      level = lowestBit(levels);
      bits = this.binBits[level]!;
    }
    return (level << SUBDIVISION_LOG2) | lowestBit(bits);
  }

  /** Files a free block at the head of its bin. */
  insertFree(block: number): void {
    const bin = binIndex(this.size[block]!);
    const head = this.binHeads[bin]!;
    this.prevFree[block] = NONE;
    this.nextFree[block] = head;
    if (head !== NONE) this.prevFree[head] = block;
    this.binHeads[bin] = block;
    const level = bin >>> SUBDIVISION_LOG2;
    this.binBits[level] = this.binBits[level]! | (1 << (bin & BIN_MASK));
    this.levelBits |= 1 << level;
  }

  /** Takes a free block out of its bin. */
  removeFree(block: number): void {
    const prev = this.prevFree[block]!;
    const next = this.nextFree[block]!;
    if (next !== NONE) this.prevFree[next] = prev;
    if (prev !== NONE) {
      this.nextFree[prev] = next;
      return;
    }
    const bin = binIndex(this.size[block]!);
    this.binHeads[bin] = next;
    if (next === NONE) {
      const level = bin >>> SUBDIVISION_LOG2;
      const bits = this.binBits[level]! & ~(1 << (bin & BIN_MASK));
      this.binBits[level] = bits;
      if (bits === 0) this.levelBits &= ~(1 << level);
    }
  }

  /** Empties every bin (compaction files the free blocks again when it is done). */
  clearBins(): void {
    this.binHeads.fill(NONE);
    this.binBits.fill(0);
    this.levelBits = 0;
  }

  /** A fresh record, growing the table when none is left. */
  newRecord(): number {
    if (this.#unusedCount === 0) this.#growTable();
    this.#unusedCount -= 1;
    const record = this.#unused[this.#unusedCount]!;
    this.pins[record] = 0;
    this.owner[record] = 0;
    this.requested[record] = 0;
    return record;
  }

  /** Returns a record to the stack of unused ones. */
  dropRecord(record: number): void {
    this.state[record] = RECORD_UNUSED;
    this.#unused[this.#unusedCount] = record;
    this.#unusedCount += 1;
  }

  // ---------------------------------------------------------------------------------------------
  // Slow path: table growth, segments, measurement.
  // ---------------------------------------------------------------------------------------------

  #growTable(): void {
    const old = this.#capacity;
    const capacity = old * 2;
    const grow = <T extends Float64Array | Int32Array | Uint8Array>(array: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(array);
      return next;
    };
    this.offset = grow(this.offset, (n) => new Float64Array(n));
    this.size = grow(this.size, (n) => new Float64Array(n));
    this.requested = grow(this.requested, (n) => new Float64Array(n));
    this.owner = grow(this.owner, (n) => new Float64Array(n));
    this.segmentOf = grow(this.segmentOf, (n) => new Int32Array(n));
    this.prevPhys = grow(this.prevPhys, (n) => new Int32Array(n));
    this.nextPhys = grow(this.nextPhys, (n) => new Int32Array(n));
    this.prevFree = grow(this.prevFree, (n) => new Int32Array(n));
    this.nextFree = grow(this.nextFree, (n) => new Int32Array(n));
    this.pins = grow(this.pins, (n) => new Int32Array(n));
    this.state = grow(this.state, (n) => new Uint8Array(n));
    const unused = new Int32Array(capacity);
    // Every old record is in use, so the stack holds only the new ones, lowest on top.
    for (let i = 0; i < capacity - old; i += 1) unused[i] = capacity - 1 - i;
    this.#unused = unused;
    this.#unusedCount = capacity - old;
    this.#capacity = capacity;
  }

  /** Adds a segment of `byteLength` bytes of `memory` from `base`, all of it one free block. */
  addSegment(memory: BackingMemory, base: number, byteLength: number, initial: boolean): Segment {
    const index = this.segments.length;
    const segment = new Segment(index, memory, base, byteLength, initial);
    this.segments.push(segment);
    if (index >= this.segmentFree.length) {
      const grown = new Float64Array(this.segmentFree.length * 2);
      grown.set(this.segmentFree);
      this.segmentFree = grown;
    }
    this.#fillSegment(segment);
    this.reservedBytes += byteLength;
    return segment;
  }

  /** Makes the whole segment one free block, filed in its bin. */
  #fillSegment(segment: Segment): void {
    const block = this.newRecord();
    this.offset[block] = 0;
    this.size[block] = segment.byteLength;
    this.segmentOf[block] = segment.index;
    this.prevPhys[block] = NONE;
    this.nextPhys[block] = NONE;
    this.state[block] = BLOCK_FREE;
    segment.first = block;
    this.insertFree(block);
    this.segmentFree[segment.index] = segment.byteLength;
    this.freeBytes += segment.byteLength;
  }

  /**
   * Drops an empty segment (one free block). Its index is never reused. `filed` says whether its
   * free block is in a bin (compaction empties the bins while it works).
   */
  removeSegment(index: number, filed: boolean): void {
    const segment = this.segments[index]!;
    const block = segment.first;
    if (filed) this.removeFree(block);
    this.dropRecord(block);
    this.segments[index] = undefined;
    this.segmentFree[index] = 0;
    this.freeBytes -= segment.byteLength;
    this.reservedBytes -= segment.byteLength;
    this.epoch += 1;
  }

  /**
   * Forgets every block: each segment of the initial reservation becomes one free block again and
   * every other segment is dropped (indices are still not reused). Every workspace handed out
   * before becomes stale.
   */
  reset(): void {
    const capacity = this.#capacity;
    this.state.fill(RECORD_UNUSED);
    for (let i = 0; i < capacity; i += 1) this.#unused[i] = capacity - 1 - i;
    this.#unusedCount = capacity;
    this.clearBins();
    this.segmentFree.fill(0);
    this.freeBytes = 0;
    this.usedBytes = 0;
    this.requestedBytes = 0;
    this.reservedBytes = 0;
    this.liveBlocks = 0;
    this.pinnedBlocks = 0;
    this.generation += 1;
    this.epoch += 1;
    for (let index = 0; index < this.segments.length; index += 1) {
      const segment = this.segments[index];
      if (segment === undefined) continue;
      if (!segment.initial) {
        this.segments[index] = undefined;
        continue;
      }
      this.#fillSegment(segment);
      this.reservedBytes += segment.byteLength;
    }
  }

  /** The size of the largest free block; O(blocks of the top bin). */
  largestFreeBlock(): number {
    if (this.levelBits === 0) return 0;
    const level = highestBit(this.levelBits);
    const top = (level << SUBDIVISION_LOG2) | highestBit(this.binBits[level]!);
    return this.size[this.#largestIn(top)]!;
  }

  /** Calls `visit` for every free block in the bins. O(free blocks). */
  forEachFree(visit: (block: number) => void): void {
    for (let bin = this.findBin(0); bin !== NONE; bin = this.findBin(bin + 1)) {
      for (let block = this.binHeads[bin]!; block !== NONE; block = this.nextFree[block]!) visit(block);
    }
  }
}
