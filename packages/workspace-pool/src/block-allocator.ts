// Over 400 lines for one concept: the block table, with the hot path and the record bookkeeping it shares, stays in one class (see docs/DESIGN.md, Hot paths).
/**
 * The block allocator under a workspace pool: blocks of segments, split on allocation, coalesced
 * with free neighbours on release, free blocks kept in size bins (as TensorFlow's BFC allocator
 * and PyTorch's caching allocator do).
 *
 * Block metadata is one table of 64-byte records in an `ArrayBuffer` (sixteen 32-bit words per
 * record, seen as unsigned and signed words, two of them holding the owner as a float64), so ten
 * thousand live workspaces cost 64 bytes of metadata each, no object on the heap, and each record
 * is one cache line: the hot path touches a block, its neighbours and its bin, a handful of lines.
 * Records of blocks that were merged away are recycled through a stack.
 *
 * Ownership: the allocator owns every record; a live workspace refers to its block by record
 * index, which stays valid (the record is neither freed nor reused) until the workspace is
 * released or the pool is reset. Compaction changes a block's offset and segment, never its index.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError } from '@mem/types';
import { releaseMemory, type SegmentMemory } from './device-memory.js';
import { Segment } from './segment.js';
import * as codes from './block-codes.js';
import * as record from './block-record.js';
import * as sizeBins from './size-bins.js';
import { findBestFit, findBin, findExactFit, findFirstFit, findLargestFree } from './fit-strategies.js';

// Private copies of the codes and of what the hot path uses from size-bins (see docs/DESIGN.md, Hot paths).
const NONE = codes.NONE;
/** NONE as the u32 view reads it. */
const NONE_U32 = NONE >>> 0;
const RECORD_UNUSED = codes.RECORD_UNUSED;
const BLOCK_FREE = codes.BLOCK_FREE;
const BLOCK_USED = codes.BLOCK_USED;
const STRATEGY_BEST_FIT = codes.STRATEGY_BEST_FIT;
const STRATEGY_FIRST_FIT = codes.STRATEGY_FIRST_FIT;
const STRATEGY_POWER_OF_TWO = codes.STRATEGY_POWER_OF_TWO;
const BIN_COUNT = sizeBins.BIN_COUNT;
const BIN_FLOORS = sizeBins.BIN_FLOORS;
const SUBDIVISION_LOG2 = sizeBins.SUBDIVISION_LOG2;
const binIndex = sizeBins.binIndex;

// Bits of releaseExtras.
const LABELS = 1;
const CHECK = 2;

// Private copies of the record fields (see block-record.ts).
const RECORD_BYTES = record.RECORD_BYTES;
const OFFSET = record.OFFSET;
const SIZE = record.SIZE;
const REQUESTED = record.REQUESTED;
const SEGMENT = record.SEGMENT;
const PREV_PHYS = record.PREV_PHYS;
const NEXT_PHYS = record.NEXT_PHYS;
const PREV_FREE = record.PREV_FREE;
const NEXT_FREE = record.NEXT_FREE;
const PINS = record.PINS;
const STATE = record.STATE;
const BIN = record.BIN;
const OWNER = record.OWNER;

const FIRST_LEVELS = BIN_COUNT >> SUBDIVISION_LOG2;
const BIN_MASK = (1 << SUBDIVISION_LOG2) - 1;

/**
 * The block allocator.
 *
 * The members the hot path uses (`pending`, `freeBlocks`, the byte counters, `refile` and the
 * release helpers) are plain rather than `#private`: V8 compiles an access to a private member
 * into more bytecode (a context load and a keyed access), and its inlining budget is counted in
 * bytecode (see allocate()). The class is internal to the package either way.
 * @internal
 */
export class BlockAllocator {
  /** The record table as unsigned words (sizes, offsets). Replaced when the table grows: never keep it across a newRecord(). */
  u32: Uint32Array;
  /** The record table as signed words (indices, codes), over the same bytes. */
  i32: Int32Array;
  /** The record table as float64 (the owner ids), over the same bytes. */
  f64: Float64Array;
  #capacity: number;
  #unused: Int32Array;
  #unusedCount: number;

  /** The first free block of each bin, or NONE. */
  readonly binHeads = new Int32Array(BIN_COUNT).fill(NONE);
  /** Per first level, a bit per non-empty bin. */
  readonly binBits = new Int32Array(FIRST_LEVELS);
  /** A bit per first level that has a non-empty bin. */
  levelBits = 0;
  /** Free blocks filed in the bins. */
  freeBlocks = 0;

  /** Every segment by index; released segments leave a hole (indices are never reused). */
  readonly segments: (Segment | undefined)[] = [];

  /** The size granule and alignment of every block. */
  readonly granule: number;
  /** One of the STRATEGY_* codes. */
  readonly strategy: number;
  /** Whether the strategy picks blocks by best fit (best fit and power of two). */
  readonly #bestFit: boolean;
  /**
   * Free bytes in all segments, and bytes the live workspaces asked for, as if the pending block
   * were still lent: release() leaves both to whoever settles or re-cuts the block (one update a
   * pair instead of two), and the getters below add the pending block back.
   */
  unsettledFreeBytes = 0;
  unsettledRequestedBytes = 0;
  /** The most bytes used blocks have held (since the last reset). */
  peakUsedBytes = 0;
  /** Bytes of all segments. */
  reservedBytes = 0;
  /** Used blocks with at least one pin. */
  pinnedBlocks = 0;
  /** Workspaces with a smaller id were lent before the last reset(): their blocks are gone. */
  firstLiveId = 1;
  /** Releases so far. */
  releases = 0;
  /** Bumped whenever a live block moves or memory is replaced: cached views must be rebuilt. */
  epoch = 0;
  /** Labels of live workspaces, by workspace id: set them with setLabel(). */
  readonly labels = new Map<number, string>();
  /**
   * Non-zero while release() has more to do than free the block: labels to forget (LABELS) or a
   * release check to count down (CHECK). One test on the hot path for both rare features.
   */
  releaseExtras = 0;
  /** The pool this allocator serves (what `Workspace.pool` returns). */
  owner: object = this;
  /** Called every `checkInterval` releases when set (automatic defragmentation). */
  onReleaseCheck: (() => void) | undefined = undefined;
  /** Releases between two calls of `onReleaseCheck`. */
  checkInterval = 1;
  #releasesUntilCheck = 1;
  /** The block released last and not merged yet, or NONE: see settle(). */
  pending = NONE;

  constructor(granule: number, strategy: number, initialRecords = 256) {
    this.granule = granule;
    this.strategy = strategy;
    this.#bestFit = strategy === STRATEGY_BEST_FIT || strategy === STRATEGY_POWER_OF_TWO;
    this.#capacity = initialRecords;
    const table = new ArrayBuffer(initialRecords * RECORD_BYTES);
    this.u32 = new Uint32Array(table);
    this.i32 = new Int32Array(table);
    this.f64 = new Float64Array(table);
    this.#unused = new Int32Array(initialRecords);
    this.#unusedCount = initialRecords;
    // Hand out low indices first.
    for (let i = 0; i < initialRecords; i += 1) this.#unused[i] = initialRecords - 1 - i;
  }

  /** Free bytes in all segments. */
  get freeBytes(): number {
    const pending = this.pending;
    return pending === NONE ? this.unsettledFreeBytes : this.unsettledFreeBytes + this.u32[(pending << 4) | SIZE]!;
  }

  /** Bytes the live workspaces asked for. */
  get requestedBytes(): number {
    const pending = this.pending;
    return pending === NONE
      ? this.unsettledRequestedBytes
      : this.unsettledRequestedBytes - this.u32[(pending << 4) | REQUESTED]!;
  }

  /** Bytes of all used blocks: the reservation less the free bytes (the blocks tile every segment). */
  get usedBytes(): number {
    return this.reservedBytes - this.freeBytes;
  }

  // ---------------------------------------------------------------------------------------------
  // Hot path: release and allocate. Bit operations and typed-array accesses only; everything rare
  // (a whole-block fit, a block changing bins, table growth, segments, compaction, errors) is a
  // call to a function below or in another module.
  //
  // Deferred coalescing: release() checks the block, counts the release and leaves the block as
  // the pending one (the byte counters still count it as lent until it is settled or re-cut); the
  // merge with its free neighbours happens at the next allocate() (or the next release, or the
  // first inspection: see settle()). Scratch memory is given back and taken again in turn, and
  // when the allocation would cut its block from the very free block the pending one merges into
  // (LIFO scratch: the block just given back and the free space above it), allocate() re-cuts the
  // pending block in place, with the exact result of the merge and the cut (same records, same
  // bins). Nothing outside can tell: every reader of blocks, bins or segments settles first.
  // ---------------------------------------------------------------------------------------------

  /**
   * Takes a free block of at least `need` bytes (a multiple of the granule) for workspace `id`,
   * which asked for `requested` bytes, splitting off what is left over, and returns its record;
   * NONE (with the pending block settled and nothing else changed) when no free block fits.
   *
   * This function holds only the steady state of scratch taken and given back in turn: the pending
   * block's neighbour above is the only free block in the pool, so settling and then allocating
   * (under every strategy: one block fits) would merge the two and cut the allocation from the
   * front of the merge: this re-cuts the pending block in place instead, with the same records and
   * bins (the cut goes to the record just freed, the top of the unused stack).
   *
   * Kept small on purpose: V8 inlines a function of at most 460 bytes of bytecode, and at most 920
   * into one caller, so this, `acquire`, the handle's constructor and the release path all fit
   * into the caller's loop (no call a pair); every other case is a call to #allocateSettled.
   */
  allocate(need: number, requested: number, id: number): number {
    const block = this.pending;
    if (block !== NONE && this.freeBlocks === 1) {
      // Every read goes through the u32 view (NONE reads as NONE_U32): one typed array fewer to
      // load and check on the path that matters most.
      const u32 = this.u32;
      const b = block << 4;
      const next = u32[b | NEXT_PHYS]!;
      const n = next << 4;
      // With one free block, a free neighbour above means no free neighbour below.
      if (next !== NONE_U32 && u32[n | STATE] === BLOCK_FREE) {
        const size = u32[b | SIZE]!;
        const rest = u32[n | SIZE]! + size - need;
        if (rest > 0) {
          // Re-cut in place: the neighbour absorbs the block and gives the first `need` bytes back.
          // The counters still count the pending block as lent: one update each for the swap.
          this.pending = NONE;
          const freeBytes = this.unsettledFreeBytes + size - need;
          this.unsettledFreeBytes = freeBytes;
          this.unsettledRequestedBytes += requested - u32[b | REQUESTED]!;
          u32[b | SIZE] = need;
          u32[b | REQUESTED] = requested;
          this.f64[(block << 3) | OWNER] = id;
          u32[n | OFFSET] = u32[b | OFFSET]! + need;
          u32[n | SIZE] = rest;
          const filed = u32[n | BIN]!;
          if (rest < BIN_FLOORS[filed]! || rest >= BIN_FLOORS[filed + 1]!) this.refile(next);
          const used = this.reservedBytes - freeBytes;
          if (used > this.peakUsedBytes) this.peakUsedBytes = used;
          return block;
        }
      }
    }
    return this.#allocateSettled(need, requested, id);
  }

  /** allocate() past its re-cut: settles the pending block, then searches the bins. */
  #allocateSettled(need: number, requested: number, id: number): number {
    this.settle();
    let block = this.#bestFit
      ? findBestFit(this, need)
      : this.strategy === STRATEGY_FIRST_FIT
        ? findFirstFit(this, need)
        : findExactFit(this, need);
    if (block === NONE) return NONE;
    const available = this.u32[(block << 4) | SIZE]!;
    block = available === need ? this.#takeWhole(block) : this.#split(block, need, available);
    this.u32[(block << 4) | REQUESTED] = requested;
    this.f64[(block << 3) | OWNER] = id;
    const freeBytes = this.unsettledFreeBytes - need;
    this.unsettledFreeBytes = freeBytes;
    this.unsettledRequestedBytes += requested;
    const used = this.reservedBytes - freeBytes;
    if (used > this.peakUsedBytes) this.peakUsedBytes = used;
    return block;
  }

  /**
   * Cuts `need` bytes from the front of free `block` (of `available` bytes) into a new used record
   * linked below it; the free rest keeps its record and, unless its size crossed into another bin,
   * its place in its bin.
   */
  #split(block: number, need: number, available: number): number {
    if (this.#unusedCount === 0) this.#growTable(); // replaces the views: read them after it
    const used = this.#unused[--this.#unusedCount]!;
    const u32 = this.u32;
    const i32 = this.i32;
    const b = block << 4;
    const u = used << 4;
    const offset = u32[b | OFFSET]!;
    const segment = i32[b | SEGMENT]!;
    const prev = i32[b | PREV_PHYS]!;
    // Records come off the unused stack with no pins (only unpinned blocks are freed or dropped).
    u32[u | OFFSET] = offset;
    u32[u | SIZE] = need;
    i32[u | SEGMENT] = segment;
    i32[u | PREV_PHYS] = prev;
    i32[u | NEXT_PHYS] = block;
    i32[u | STATE] = BLOCK_USED;
    if (prev === NONE) this.segments[segment]!.first = used;
    else i32[(prev << 4) | NEXT_PHYS] = used;
    i32[b | PREV_PHYS] = used;
    u32[b | OFFSET] = (offset + need) >>> 0;
    const rest = (available - need) >>> 0;
    u32[b | SIZE] = rest;
    if (binIndex(rest) !== i32[b | BIN]) this.refile(block);
    return used;
  }

  /** Takes a free block that fits exactly out of its bin, whole. */
  #takeWhole(block: number): number {
    this.removeFree(block);
    this.i32[(block << 4) | STATE] = BLOCK_USED;
    return block;
  }

  /**
   * Returns the block of workspace `id`: checks that the workspace was lent since the last reset
   * and that its block is not pinned, and leaves the block pending (merged with its free
   * neighbours, and its bytes counted free, at the next allocation or inspection). Returns whether
   * afterRelease() is due (labels or a release check in use): the caller marks its handle released
   * first, because the release check may defragment and call the pool's logger, which must find
   * the handle released. Returning the flag keeps the handle's release small enough to inline.
   * @throws MemError STALE_HANDLE if the workspace was lent before the last reset (the pool was
   * cleared); PINNED if pinned. Nothing changes then.
   */
  release(block: number, id: number): boolean {
    // Both checks read fields of this object only, unless some block is pinned: ids grow, so an
    // id below firstLiveId names a workspace lent before reset(), and pinnedBlocks counts pins.
    if (id < this.firstLiveId || (this.pinnedBlocks !== 0 && this.i32[(block << 4) | PINS] !== 0)) {
      this.refuseRelease(block, id);
    }
    this.releases += 1;
    if (this.pending !== NONE) this.settle();
    this.pending = block;
    return this.releaseExtras !== 0;
  }

  /** Labels the workspace `id` (shown in memory maps; forgotten at its release). */
  setLabel(id: number, label: string): void {
    this.labels.set(id, label);
    this.releaseExtras |= LABELS;
  }

  /** What release() does beyond freeing, when labels or a release check are in use. */
  afterRelease(id: number): void {
    if ((this.releaseExtras & LABELS) !== 0 && this.labels.delete(id) && this.labels.size === 0) {
      this.releaseExtras &= ~LABELS;
    }
    if (this.onReleaseCheck !== undefined && --this.#releasesUntilCheck === 0) this.#runReleaseCheck();
  }

  /**
   * Merges the pending block (if any) with its free neighbours, as release does at once in an
   * allocator without deferral. Every reader of blocks, bins or segments (measurement, snapshots,
   * compaction, segment changes) calls it first. Cost: O(1).
   */
  settle(): void {
    const block = this.pending;
    if (block === NONE) return;
    this.pending = NONE;
    const u32 = this.u32;
    const i32 = this.i32;
    const b = block << 4;
    const bytes = u32[b | SIZE]!;
    this.unsettledFreeBytes += bytes;
    this.unsettledRequestedBytes -= u32[b | REQUESTED]!;
    const prev = i32[b | PREV_PHYS]!;
    const next = i32[b | NEXT_PHYS]!;
    const nextIsFree = next !== NONE && i32[(next << 4) | STATE] === BLOCK_FREE;
    if (prev !== NONE && i32[(prev << 4) | STATE] === BLOCK_FREE) {
      if (nextIsFree) {
        this.#mergeThree(prev, block, next, bytes);
        return;
      }
      // The free block below absorbs this one.
      const p = prev << 4;
      const size = (u32[p | SIZE]! + bytes) >>> 0;
      i32[p | NEXT_PHYS] = next;
      if (next !== NONE) i32[(next << 4) | PREV_PHYS] = prev;
      this.dropRecord(block);
      u32[p | SIZE] = size;
      if (binIndex(size) !== i32[p | BIN]) this.refile(prev);
      return;
    }
    if (nextIsFree) {
      // The free block above grows down over this one.
      const n = next << 4;
      const size = (u32[n | SIZE]! + bytes) >>> 0;
      u32[n | OFFSET] = u32[b | OFFSET]!;
      u32[n | SIZE] = size;
      i32[n | PREV_PHYS] = prev;
      if (prev === NONE) this.segments[i32[b | SEGMENT]!]!.first = next;
      else i32[(prev << 4) | NEXT_PHYS] = next;
      this.dropRecord(block);
      if (binIndex(size) !== i32[n | BIN]) this.refile(next);
      return;
    }
    i32[b | STATE] = BLOCK_FREE;
    this.insertFree(block);
  }

  // Slow parts of the hot path, out of line.

  /** Free `prev` absorbs `block` and free `next`: a hole between two free blocks closes. */
  #mergeThree(prev: number, block: number, next: number, bytes: number): void {
    const u32 = this.u32;
    const i32 = this.i32;
    this.removeFree(next);
    const size = (u32[(prev << 4) | SIZE]! + bytes + u32[(next << 4) | SIZE]!) >>> 0;
    const after = i32[(next << 4) | NEXT_PHYS]!;
    i32[(prev << 4) | NEXT_PHYS] = after;
    if (after !== NONE) i32[(after << 4) | PREV_PHYS] = prev;
    this.dropRecord(next);
    this.dropRecord(block);
    u32[(prev << 4) | SIZE] = size;
    if (binIndex(size) !== i32[(prev << 4) | BIN]) this.refile(prev);
  }

  /** Moves a filed free block whose size changed to the bin of its new size. */
  refile(block: number): void {
    this.removeFree(block);
    this.insertFree(block);
  }

  /** Throws why `block` cannot be released by workspace `id`. */
  refuseRelease(block: number, id: number): never {
    if (id < this.firstLiveId) {
      throw new MemError('STALE_HANDLE', `workspace #${id} was taken back by the pool's clear()`);
    }
    throw new MemError(
      'PINNED',
      `workspace #${id} is pinned ${this.i32[(block << 4) | PINS]} time(s): unpin() it before release()`,
    );
  }

  #runReleaseCheck(): void {
    this.#releasesUntilCheck = this.checkInterval;
    this.onReleaseCheck!();
  }

  /** Files a free block at the head of its bin. */
  insertFree(block: number): void {
    const i32 = this.i32;
    const b = block << 4;
    const bin = binIndex(this.u32[(block << 4) | SIZE]!);
    const head = this.binHeads[bin]!;
    i32[b | BIN] = bin;
    i32[b | PREV_FREE] = NONE;
    i32[b | NEXT_FREE] = head;
    if (head !== NONE) i32[(head << 4) | PREV_FREE] = block;
    this.binHeads[bin] = block;
    const level = bin >>> SUBDIVISION_LOG2;
    this.binBits[level] = this.binBits[level]! | (1 << (bin & BIN_MASK));
    this.levelBits |= 1 << level;
    this.freeBlocks += 1;
  }

  /** Takes a free block out of its bin. */
  removeFree(block: number): void {
    const i32 = this.i32;
    const b = block << 4;
    this.freeBlocks -= 1;
    const prev = i32[b | PREV_FREE]!;
    const next = i32[b | NEXT_FREE]!;
    if (next !== NONE) i32[(next << 4) | PREV_FREE] = prev;
    if (prev !== NONE) {
      i32[(prev << 4) | NEXT_FREE] = next;
      return;
    }
    const bin = i32[b | BIN]!;
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
    this.freeBlocks = 0;
    this.binHeads.fill(NONE);
    this.binBits.fill(0);
    this.levelBits = 0;
  }

  /** A fresh record (pins, owner and requested cleared), growing the table when none is left. */
  newRecord(): number {
    if (this.#unusedCount === 0) this.#growTable();
    this.#unusedCount -= 1;
    const record = this.#unused[this.#unusedCount]!;
    this.i32[(record << 4) | PINS] = 0;
    this.f64[(record << 3) | OWNER] = 0;
    this.u32[(record << 4) | REQUESTED] = 0;
    return record;
  }

  /** Returns a record to the stack of unused ones. */
  dropRecord(record: number): void {
    this.i32[(record << 4) | STATE] = RECORD_UNUSED;
    this.#unused[this.#unusedCount] = record;
    this.#unusedCount += 1;
  }

  // ---------------------------------------------------------------------------------------------
  // Field access for the slow paths (compaction, measurement, handles' views).
  // ---------------------------------------------------------------------------------------------

  /** The block's offset from its segment's start. */
  offsetOf(block: number): number {
    return this.u32[(block << 4) | OFFSET]!;
  }

  /** Sets the block's offset. */
  setOffset(block: number, offset: number): void {
    this.u32[(block << 4) | OFFSET] = offset;
  }

  /** The block's size in bytes. */
  sizeOf(block: number): number {
    return this.u32[(block << 4) | SIZE]!;
  }

  /** Sets the block's size. */
  setSize(block: number, size: number): void {
    this.u32[(block << 4) | SIZE] = size;
  }

  /** Bytes the block's workspace asked for. */
  requestedOf(block: number): number {
    return this.u32[(block << 4) | REQUESTED]!;
  }

  /** The id of the block's workspace, 0 for none. */
  ownerOf(block: number): number {
    return this.f64[(block << 3) | OWNER]!;
  }

  /** The block's segment. */
  segmentOf(block: number): number {
    return this.i32[(block << 4) | SEGMENT]!;
  }

  /** Sets the block's segment. */
  setSegment(block: number, segment: number): void {
    this.i32[(block << 4) | SEGMENT] = segment;
  }

  /** The block below in address order, or NONE. */
  prevOf(block: number): number {
    return this.i32[(block << 4) | PREV_PHYS]!;
  }

  /** Sets the block below. */
  setPrev(block: number, prev: number): void {
    this.i32[(block << 4) | PREV_PHYS] = prev;
  }

  /** The block above in address order, or NONE. */
  nextOf(block: number): number {
    return this.i32[(block << 4) | NEXT_PHYS]!;
  }

  /** Sets the block above. */
  setNext(block: number, next: number): void {
    this.i32[(block << 4) | NEXT_PHYS] = next;
  }

  /** The block's pins. */
  pinsOf(block: number): number {
    return this.i32[(block << 4) | PINS]!;
  }

  /** Sets the block's pins. */
  setPins(block: number, pins: number): void {
    this.i32[(block << 4) | PINS] = pins;
  }

  /** RECORD_UNUSED, BLOCK_FREE or BLOCK_USED. */
  stateOf(block: number): number {
    return this.i32[(block << 4) | STATE]!;
  }

  /** Sets the block's state. */
  setState(block: number, state: number): void {
    this.i32[(block << 4) | STATE] = state;
  }

  /** Sets the interval and the hook of the release check (automatic defragmentation). */
  setReleaseCheck(interval: number, check: (() => void) | undefined): void {
    this.checkInterval = interval;
    this.#releasesUntilCheck = interval;
    this.onReleaseCheck = check;
    this.releaseExtras = check === undefined ? this.releaseExtras & ~CHECK : this.releaseExtras | CHECK;
  }

  // ---------------------------------------------------------------------------------------------
  // Slow path: table growth, segments, measurement.
  // ---------------------------------------------------------------------------------------------

  #growTable(): void {
    const old = this.#capacity;
    const capacity = old * 2;
    const table = new ArrayBuffer(capacity * RECORD_BYTES);
    new Uint8Array(table).set(new Uint8Array(this.u32.buffer));
    this.u32 = new Uint32Array(table);
    this.i32 = new Int32Array(table);
    this.f64 = new Float64Array(table);
    const unused = new Int32Array(capacity);
    // Every old record is in use, so the stack holds only the new ones, lowest on top.
    for (let i = 0; i < capacity - old; i += 1) unused[i] = capacity - 1 - i;
    this.#unused = unused;
    this.#unusedCount = capacity - old;
    this.#capacity = capacity;
  }

  /** Adds a segment of `byteLength` bytes of `memory` from `base`, all of it one free block. */
  addSegment(memory: SegmentMemory, base: number, byteLength: number, initial: boolean): Segment {
    this.settle();
    const index = this.segments.length;
    const segment = new Segment(index, memory, base, byteLength, initial);
    this.segments.push(segment);
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
    this.unsettledFreeBytes += segment.byteLength;
  }

  /**
   * Drops an empty segment (one free block). Its index is never reused. `filed` says whether its
   * free block is in a bin (compaction empties the bins while it works).
   */
  removeSegment(index: number, filed: boolean): void {
    this.settle();
    const segment = this.segments[index]!;
    const block = segment.first;
    if (filed) this.removeFree(block);
    this.dropRecord(block);
    this.segments[index] = undefined;
    releaseMemory(segment.memory);
    this.unsettledFreeBytes -= segment.byteLength;
    this.reservedBytes -= segment.byteLength;
    this.epoch += 1;
  }

  /**
   * Forgets every block: each segment of the initial reservation becomes one free block again and
   * every other segment is dropped (indices are still not reused). Every workspace lent before
   * becomes stale: `firstLiveId`, the id of the next workspace, is above all of theirs.
   */
  reset(firstLiveId: number): void {
    this.firstLiveId = firstLiveId;
    this.pending = NONE;
    const capacity = this.#capacity;
    new Uint8Array(this.u32.buffer).fill(0); // every record unused, no owner
    for (let i = 0; i < capacity; i += 1) this.#unused[i] = capacity - 1 - i;
    this.#unusedCount = capacity;
    this.clearBins();
    this.labels.clear();
    this.releaseExtras &= ~LABELS;
    this.unsettledFreeBytes = 0;
    this.peakUsedBytes = 0;
    this.unsettledRequestedBytes = 0;
    this.reservedBytes = 0;
    this.pinnedBlocks = 0;
    this.releases = 0;
    this.#releasesUntilCheck = this.checkInterval;
    this.epoch += 1;
    for (let index = 0; index < this.segments.length; index += 1) {
      const segment = this.segments[index];
      if (segment === undefined) continue;
      if (!segment.initial) {
        this.segments[index] = undefined;
        releaseMemory(segment.memory);
        continue;
      }
      this.#fillSegment(segment);
      this.reservedBytes += segment.byteLength;
    }
  }

  /** The size of the largest free block; O(blocks of the top bin). */
  largestFreeBlock(): number {
    this.settle();
    if (this.levelBits === 0) return 0;
    return this.sizeOf(findLargestFree(this));
  }

  /** Calls `visit` for every free block in the bins. O(free blocks). */
  forEachFree(visit: (block: number) => void): void {
    this.settle();
    for (let bin = findBin(this, 0); bin !== NONE; bin = findBin(this, bin + 1)) {
      for (let block = this.binHeads[bin]!; block !== NONE; block = this.i32[(block << 4) | NEXT_FREE]!) visit(block);
    }
  }
}
