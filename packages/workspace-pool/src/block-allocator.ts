/**
 * The block allocator under a workspace pool: blocks of segments, split on allocation, coalesced
 * with free neighbours on release, free blocks kept in size bins (as TensorFlow's BFC allocator
 * and PyTorch's caching allocator do).
 *
 * Block metadata is one table of 64-byte records in an `ArrayBuffer` (four float64 fields and eight
 * int32 fields per record, seen through two typed views), so ten thousand live workspaces cost
 * 64 bytes of metadata each, no object on the heap, and each record is one cache line: the hot
 * path touches a block, its neighbours and its bin, a handful of lines. Records of blocks that were
 * merged away are recycled through a stack.
 *
 * Ownership: the allocator owns every record; a live workspace refers to its block by record
 * index, which stays valid (the record is neither freed nor reused) until the workspace is
 * released or the pool is reset. Compaction changes a block's offset and segment, never its index.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, type BackingMemory } from '@mem/types';
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

// The record layout: float64 fields at f64[r * 8 + field], int32 fields at i32[r * 16 + field].
const F64_STRIDE = 8;
const I32_STRIDE = 16;
const RECORD_BYTES = 64;
/** Offset of the block from its segment's start. */
const OFFSET = 0;
/** Size of the block in bytes (a multiple of the granule). */
const SIZE = 1;
/** Bytes the workspace asked for (used blocks). */
const REQUESTED = 2;
/** Id of the workspace that owns the block (used blocks), 0 otherwise. */
const OWNER = 3;
/** Segment index. */
const SEGMENT = 8;
/** Neighbour below in address order, or NONE. */
const PREV_PHYS = 9;
/** Neighbour above in address order, or NONE. */
const NEXT_PHYS = 10;
/** Previous block of the same bin (free blocks), or NONE. */
const PREV_FREE = 11;
/** Next block of the same bin (free blocks), or NONE. */
const NEXT_FREE = 12;
/** Pins that hold the block in place. */
const PINS = 13;
/** RECORD_UNUSED, BLOCK_FREE or BLOCK_USED. */
const STATE = 14;
/** The bin a free block is filed in. */
const BIN = 15;

/**
 * How many blocks of the request's own bin best fit and exact fit look at before settling. Each
 * look is a record (a cache line) at a random place: the bound keeps a bin of thousands of free
 * blocks from costing thousands of misses.
 */
const SCAN_LIMIT = 8;
const FIRST_LEVELS = BIN_COUNT >> SUBDIVISION_LOG2;
const BIN_MASK = (1 << SUBDIVISION_LOG2) - 1;

/** The block allocator. @internal */
export class BlockAllocator {
  /** The record table's float64 fields. Replaced when the table grows: never cache it across a newRecord(). */
  f64: Float64Array;
  /** The record table's int32 fields, over the same bytes. */
  i32: Int32Array;
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
  /** Whether the strategy picks blocks by best fit (best fit and power of two). */
  readonly #bestFit: boolean;
  /** Free bytes in all segments. */
  freeBytes = 0;
  /** The most bytes used blocks have held (since the last reset). */
  peakUsedBytes = 0;
  /** Bytes the live workspaces asked for. */
  requestedBytes = 0;
  /** Bytes of all segments. */
  reservedBytes = 0;
  /** Live (used) blocks. */
  liveBlocks = 0;
  /** Used blocks with at least one pin. */
  pinnedBlocks = 0;
  /** Releases so far. */
  releases = 0;
  /** Bumped whenever a live block moves or memory is replaced: cached views must be rebuilt. */
  epoch = 0;
  /** Labels of live workspaces, by workspace id. */
  readonly labels = new Map<number, string>();
  /** The pool this allocator serves (what `Workspace.pool` returns). */
  owner: object = this;
  /** Called every `checkInterval` releases when set (automatic defragmentation). */
  onReleaseCheck: (() => void) | undefined = undefined;
  /** Releases between two calls of `onReleaseCheck`. */
  checkInterval = 1;
  #releasesUntilCheck = 1;

  constructor(granule: number, strategy: number, initialRecords = 256) {
    this.granule = granule;
    this.strategy = strategy;
    this.#bestFit = strategy === STRATEGY_BEST_FIT || strategy === STRATEGY_POWER_OF_TWO;
    this.#capacity = initialRecords;
    const table = new ArrayBuffer(initialRecords * RECORD_BYTES);
    this.f64 = new Float64Array(table);
    this.i32 = new Int32Array(table);
    this.#unused = new Int32Array(initialRecords);
    this.#unusedCount = initialRecords;
    // Hand out low indices first.
    for (let i = 0; i < initialRecords; i += 1) this.#unused[i] = initialRecords - 1 - i;
  }

  /** Bytes of all used blocks: the reservation less the free bytes (the blocks tile every segment). */
  get usedBytes(): number {
    return this.reservedBytes - this.freeBytes;
  }

  /** How many records the table holds (used or not). */
  get recordCapacity(): number {
    return this.#capacity;
  }

  // ---------------------------------------------------------------------------------------------
  // Hot path: allocate, free and release. Bit operations and typed-array accesses only, in a few
  // small functions that V8 inlines into the pool's acquire and the handle's release; everything
  // rare (a whole-block fit, a block changing bins, table growth, segments, compaction, errors)
  // is a call to a function below or in another module.
  // ---------------------------------------------------------------------------------------------

  /**
   * Takes a free block of at least `need` bytes (a multiple of the granule) for workspace `id`,
   * which asked for `requested` bytes, splitting off what is left over, and returns its record;
   * NONE (and nothing changed) when no free block fits.
   */
  allocate(need: number, requested: number, id: number): number {
    let block: number;
    if (this.#bestFit) {
      // Best fit inline: the smallest fitting block among a few of the request's own bin, else the
      // head of the next non-empty bin (every block there fits, and they differ by at most 1/16).
      const bin = binIndex(need);
      const head = this.binHeads[bin]!;
      block = head === NONE ? NONE : this.#smallestFitting(head, need);
      if (block === NONE) {
        const larger = this.findBin(bin + 1);
        if (larger === NONE) return NONE;
        block = this.binHeads[larger]!;
      }
    } else {
      block = this.strategy === STRATEGY_FIRST_FIT ? this.#firstFit(need) : this.#exactFit(need);
      if (block === NONE) return NONE;
    }
    const available = this.f64[block * F64_STRIDE + SIZE]!;
    const used = available === need ? this.#takeWhole(block) : this.#split(block, need, available);
    const f64 = this.f64;
    const fu = used * F64_STRIDE;
    f64[fu + REQUESTED] = requested;
    f64[fu + OWNER] = id;
    const segment = this.i32[used * I32_STRIDE + SEGMENT]!;
    this.segmentFree[segment] = this.segmentFree[segment]! - need;
    const freeBytes = this.freeBytes - need;
    this.freeBytes = freeBytes;
    this.requestedBytes += requested;
    this.liveBlocks += 1;
    if (this.reservedBytes - freeBytes > this.peakUsedBytes) this.peakUsedBytes = this.reservedBytes - freeBytes;
    return used;
  }

  /**
   * Cuts `need` bytes from the front of free `block` (of `available` bytes) into a new used record
   * linked below it; the free rest keeps its record and, unless its size crossed into another bin,
   * its place in its bin.
   */
  #split(block: number, need: number, available: number): number {
    if (this.#unusedCount === 0) this.#growTable(); // replaces the views: read them after it
    const used = this.#unused[--this.#unusedCount]!;
    const f64 = this.f64;
    const i32 = this.i32;
    const fb = block * F64_STRIDE;
    const ib = block * I32_STRIDE;
    const fu = used * F64_STRIDE;
    const iu = used * I32_STRIDE;
    const offset = f64[fb + OFFSET]!;
    const segment = i32[ib + SEGMENT]!;
    const prev = i32[ib + PREV_PHYS]!;
    f64[fu + OFFSET] = offset;
    f64[fu + SIZE] = need;
    i32[iu + SEGMENT] = segment;
    i32[iu + PREV_PHYS] = prev;
    i32[iu + NEXT_PHYS] = block;
    i32[iu + PINS] = 0;
    i32[iu + STATE] = BLOCK_USED;
    if (prev === NONE) this.segments[segment]!.first = used;
    else i32[prev * I32_STRIDE + NEXT_PHYS] = used;
    i32[ib + PREV_PHYS] = used;
    f64[fb + OFFSET] = offset + need;
    const rest = available - need;
    f64[fb + SIZE] = rest;
    if (binIndex(rest) !== i32[ib + BIN]) this.#refile(block);
    return used;
  }

  /** Takes a free block that fits exactly out of its bin, whole. */
  #takeWhole(block: number): number {
    this.removeFree(block);
    this.i32[block * I32_STRIDE + STATE] = BLOCK_USED;
    return block;
  }

  /**
   * Returns the block of workspace `id`: checks that it is still that workspace's and not pinned,
   * frees it, and runs the release check when due.
   * @throws MemError STALE_HANDLE if the block is no longer the workspace's (the pool was cleared);
   * PINNED if pinned. Nothing changes then.
   */
  release(block: number, id: number): void {
    // Only a used block has an owner (free() and reset() clear it), and ids are never reused.
    if (this.f64[block * F64_STRIDE + OWNER] !== id || this.i32[block * I32_STRIDE + PINS] !== 0) {
      this.#refuseRelease(block, id);
    }
    if (this.labels.size !== 0) this.labels.delete(id);
    this.free(block);
    this.releases += 1;
    if (this.onReleaseCheck !== undefined && --this.#releasesUntilCheck === 0) this.#runReleaseCheck();
  }

  /**
   * Frees a used block, merging it with free neighbours. A free neighbour absorbs it (the block's
   * record is dropped) and changes bin only when its new size crosses into another bin, which a
   * large free block rarely does: giving back what was just cut from it touches no bin at all.
   */
  free(block: number): void {
    const f64 = this.f64;
    const i32 = this.i32;
    const fb = block * F64_STRIDE;
    const ib = block * I32_STRIDE;
    const bytes = f64[fb + SIZE]!;
    const segment = i32[ib + SEGMENT]!;
    this.segmentFree[segment] = this.segmentFree[segment]! + bytes;
    this.freeBytes += bytes;
    this.requestedBytes -= f64[fb + REQUESTED]!;
    this.liveBlocks -= 1;
    f64[fb + OWNER] = 0;

    const prev = i32[ib + PREV_PHYS]!;
    const next = i32[ib + NEXT_PHYS]!;
    const nextIsFree = next !== NONE && i32[next * I32_STRIDE + STATE] === BLOCK_FREE;
    if (prev !== NONE && i32[prev * I32_STRIDE + STATE] === BLOCK_FREE) {
      // The free block below absorbs this one (and the free block above, if any: off the hot path).
      if (nextIsFree) {
        this.#mergeThree(prev, block, next, bytes);
        return;
      }
      const size = f64[prev * F64_STRIDE + SIZE]! + bytes;
      i32[prev * I32_STRIDE + NEXT_PHYS] = next;
      if (next !== NONE) i32[next * I32_STRIDE + PREV_PHYS] = prev;
      i32[ib + STATE] = RECORD_UNUSED;
      this.#unused[this.#unusedCount++] = block;
      f64[prev * F64_STRIDE + SIZE] = size;
      if (binIndex(size) !== i32[prev * I32_STRIDE + BIN]) this.#refile(prev);
      return;
    }
    if (nextIsFree) {
      // The free block above grows down over this one.
      const fn = next * F64_STRIDE;
      const size = f64[fn + SIZE]! + bytes;
      f64[fn + OFFSET] = f64[fb + OFFSET]!;
      i32[next * I32_STRIDE + PREV_PHYS] = prev;
      if (prev === NONE) this.segments[segment]!.first = next;
      else i32[prev * I32_STRIDE + NEXT_PHYS] = next;
      i32[ib + STATE] = RECORD_UNUSED;
      this.#unused[this.#unusedCount++] = block;
      f64[fn + SIZE] = size;
      if (binIndex(size) !== i32[next * I32_STRIDE + BIN]) this.#refile(next);
      return;
    }
    i32[ib + STATE] = BLOCK_FREE;
    this.insertFree(block);
  }

  // Slow parts of the hot path, out of line.

  /** Free `prev` absorbs `block` and free `next`: a hole between two free blocks closes. */
  #mergeThree(prev: number, block: number, next: number, bytes: number): void {
    const f64 = this.f64;
    const i32 = this.i32;
    this.removeFree(next);
    const size = f64[prev * F64_STRIDE + SIZE]! + bytes + f64[next * F64_STRIDE + SIZE]!;
    const after = i32[next * I32_STRIDE + NEXT_PHYS]!;
    i32[prev * I32_STRIDE + NEXT_PHYS] = after;
    if (after !== NONE) i32[after * I32_STRIDE + PREV_PHYS] = prev;
    this.dropRecord(next);
    this.dropRecord(block);
    f64[prev * F64_STRIDE + SIZE] = size;
    if (binIndex(size) !== i32[prev * I32_STRIDE + BIN]) this.#refile(prev);
  }

  /** Moves a filed free block whose size changed to the bin of its new size. */
  #refile(block: number): void {
    this.removeFree(block);
    this.insertFree(block);
  }

  /** Throws why `block` cannot be released by workspace `id`. */
  #refuseRelease(block: number, id: number): never {
    if (this.f64[block * F64_STRIDE + OWNER] !== id) {
      throw new MemError('STALE_HANDLE', `workspace #${id} was taken back by the pool's clear()`);
    }
    throw new MemError(
      'PINNED',
      `workspace #${id} is pinned ${this.i32[block * I32_STRIDE + PINS]} time(s): unpin() it before release()`,
    );
  }

  #runReleaseCheck(): void {
    this.#releasesUntilCheck = this.checkInterval;
    this.onReleaseCheck!();
  }

  /** The head of the first bin whose every block fits; failing that, a fitting block of the request's own bin. */
  #firstFit(need: number): number {
    const bin = this.findBin(binIndexRoundUp(need));
    if (bin !== NONE) return this.binHeads[bin]!;
    return this.#smallestFitting(this.binHeads[binIndex(need)]!, need);
  }

  /** A block of exactly `need` bytes, else a cut from the top bin (the largest blocks). */
  #exactFit(need: number): number {
    const f64 = this.f64;
    const i32 = this.i32;
    let scanned = 0;
    for (let block = this.binHeads[binIndex(need)]!; block !== NONE && scanned < SCAN_LIMIT; scanned += 1) {
      if (f64[block * F64_STRIDE + SIZE] === need) return block;
      block = i32[block * I32_STRIDE + NEXT_FREE]!;
    }
    if (this.levelBits === 0) return NONE;
    const largest = this.#largestIn(this.#topBin());
    return f64[largest * F64_STRIDE + SIZE]! >= need ? largest : NONE;
  }

  #smallestFitting(head: number, need: number): number {
    const f64 = this.f64;
    const i32 = this.i32;
    let best = NONE;
    let bestSize = Infinity;
    let scanned = 0;
    for (let block = head; block !== NONE && scanned < SCAN_LIMIT; scanned += 1) {
      const candidate = f64[block * F64_STRIDE + SIZE]!;
      if (candidate >= need && candidate < bestSize) {
        best = block;
        bestSize = candidate;
        if (candidate === need) break;
      }
      block = i32[block * I32_STRIDE + NEXT_FREE]!;
    }
    return best;
  }

  #topBin(): number {
    const level = highestBit(this.levelBits);
    return (level << SUBDIVISION_LOG2) | highestBit(this.binBits[level]!);
  }

  #largestIn(bin: number): number {
    let largest = NONE;
    let largestSize = -1;
    for (let block = this.binHeads[bin]!; block !== NONE; block = this.i32[block * I32_STRIDE + NEXT_FREE]!) {
      const size = this.f64[block * F64_STRIDE + SIZE]!;
      if (size > largestSize) {
        largest = block;
        largestSize = size;
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
    const i32 = this.i32;
    const ib = block * I32_STRIDE;
    const bin = binIndex(this.f64[block * F64_STRIDE + SIZE]!);
    const head = this.binHeads[bin]!;
    i32[ib + BIN] = bin;
    i32[ib + PREV_FREE] = NONE;
    i32[ib + NEXT_FREE] = head;
    if (head !== NONE) i32[head * I32_STRIDE + PREV_FREE] = block;
    this.binHeads[bin] = block;
    const level = bin >>> SUBDIVISION_LOG2;
    this.binBits[level] = this.binBits[level]! | (1 << (bin & BIN_MASK));
    this.levelBits |= 1 << level;
  }

  /** Takes a free block out of its bin. */
  removeFree(block: number): void {
    const i32 = this.i32;
    const ib = block * I32_STRIDE;
    const prev = i32[ib + PREV_FREE]!;
    const next = i32[ib + NEXT_FREE]!;
    if (next !== NONE) i32[next * I32_STRIDE + PREV_FREE] = prev;
    if (prev !== NONE) {
      i32[prev * I32_STRIDE + NEXT_FREE] = next;
      return;
    }
    const bin = i32[ib + BIN]!;
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

  /** A fresh record (pins, owner and requested cleared), growing the table when none is left. */
  newRecord(): number {
    if (this.#unusedCount === 0) this.#growTable();
    this.#unusedCount -= 1;
    const record = this.#unused[this.#unusedCount]!;
    this.i32[record * I32_STRIDE + PINS] = 0;
    this.f64[record * F64_STRIDE + OWNER] = 0;
    this.f64[record * F64_STRIDE + REQUESTED] = 0;
    return record;
  }

  /** Returns a record to the stack of unused ones. */
  dropRecord(record: number): void {
    this.i32[record * I32_STRIDE + STATE] = RECORD_UNUSED;
    this.#unused[this.#unusedCount] = record;
    this.#unusedCount += 1;
  }

  // ---------------------------------------------------------------------------------------------
  // Field access for the slow paths (compaction, measurement, handles' views).
  // ---------------------------------------------------------------------------------------------

  /** The block's offset from its segment's start. */
  offsetOf(block: number): number {
    return this.f64[block * F64_STRIDE + OFFSET]!;
  }

  /** Sets the block's offset. */
  setOffset(block: number, offset: number): void {
    this.f64[block * F64_STRIDE + OFFSET] = offset;
  }

  /** The block's size in bytes. */
  sizeOf(block: number): number {
    return this.f64[block * F64_STRIDE + SIZE]!;
  }

  /** Sets the block's size. */
  setSize(block: number, size: number): void {
    this.f64[block * F64_STRIDE + SIZE] = size;
  }

  /** Bytes the block's workspace asked for. */
  requestedOf(block: number): number {
    return this.f64[block * F64_STRIDE + REQUESTED]!;
  }

  /** The id of the block's workspace, 0 for none. */
  ownerOf(block: number): number {
    return this.f64[block * F64_STRIDE + OWNER]!;
  }

  /** The block's segment. */
  segmentOf(block: number): number {
    return this.i32[block * I32_STRIDE + SEGMENT]!;
  }

  /** Sets the block's segment. */
  setSegment(block: number, segment: number): void {
    this.i32[block * I32_STRIDE + SEGMENT] = segment;
  }

  /** The block below in address order, or NONE. */
  prevOf(block: number): number {
    return this.i32[block * I32_STRIDE + PREV_PHYS]!;
  }

  /** Sets the block below. */
  setPrev(block: number, prev: number): void {
    this.i32[block * I32_STRIDE + PREV_PHYS] = prev;
  }

  /** The block above in address order, or NONE. */
  nextOf(block: number): number {
    return this.i32[block * I32_STRIDE + NEXT_PHYS]!;
  }

  /** Sets the block above. */
  setNext(block: number, next: number): void {
    this.i32[block * I32_STRIDE + NEXT_PHYS] = next;
  }

  /** The block's pins. */
  pinsOf(block: number): number {
    return this.i32[block * I32_STRIDE + PINS]!;
  }

  /** Sets the block's pins. */
  setPins(block: number, pins: number): void {
    this.i32[block * I32_STRIDE + PINS] = pins;
  }

  /** RECORD_UNUSED, BLOCK_FREE or BLOCK_USED. */
  stateOf(block: number): number {
    return this.i32[block * I32_STRIDE + STATE]!;
  }

  /** Sets the block's state. */
  setState(block: number, state: number): void {
    this.i32[block * I32_STRIDE + STATE] = state;
  }

  /** Sets the interval and the hook of the release check (automatic defragmentation). */
  setReleaseCheck(interval: number, check: (() => void) | undefined): void {
    this.checkInterval = interval;
    this.#releasesUntilCheck = interval;
    this.onReleaseCheck = check;
  }

  // ---------------------------------------------------------------------------------------------
  // Slow path: table growth, segments, measurement.
  // ---------------------------------------------------------------------------------------------

  #growTable(): void {
    const old = this.#capacity;
    const capacity = old * 2;
    const table = new ArrayBuffer(capacity * RECORD_BYTES);
    new Uint8Array(table).set(new Uint8Array(this.f64.buffer));
    this.f64 = new Float64Array(table);
    this.i32 = new Int32Array(table);
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
    this.setOffset(block, 0);
    this.setSize(block, segment.byteLength);
    this.setSegment(block, segment.index);
    this.setPrev(block, NONE);
    this.setNext(block, NONE);
    this.setState(block, BLOCK_FREE);
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
   * before becomes stale (its block's owner no longer matches its id).
   */
  reset(): void {
    const capacity = this.#capacity;
    new Uint8Array(this.f64.buffer).fill(0); // every record unused, no owner
    for (let i = 0; i < capacity; i += 1) this.#unused[i] = capacity - 1 - i;
    this.#unusedCount = capacity;
    this.clearBins();
    this.segmentFree.fill(0);
    this.labels.clear();
    this.freeBytes = 0;
    this.peakUsedBytes = 0;
    this.requestedBytes = 0;
    this.reservedBytes = 0;
    this.liveBlocks = 0;
    this.pinnedBlocks = 0;
    this.releases = 0;
    this.#releasesUntilCheck = this.checkInterval;
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
    return this.sizeOf(this.#largestIn(this.#topBin()));
  }

  /** Calls `visit` for every free block in the bins. O(free blocks). */
  forEachFree(visit: (block: number) => void): void {
    for (let bin = this.findBin(0); bin !== NONE; bin = this.findBin(bin + 1)) {
      for (let block = this.binHeads[bin]!; block !== NONE; block = this.i32[block * I32_STRIDE + NEXT_FREE]!)
        visit(block);
    }
  }
}
