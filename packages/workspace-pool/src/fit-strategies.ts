/**
 * Where an allocation is cut from: the searches of a {@link BlockAllocator}'s size bins for a free
 * block of at least `need` bytes, one per strategy, and the bin lookups they share. They read the
 * bins and records only; the allocator takes the block they return (or NONE) and changes it.
 *
 * This module is browser compatible.
 * @module
 */
import type { BlockAllocator } from './block-allocator.js';
import * as codes from './block-codes.js';
import * as record from './block-record.js';
import * as sizeBins from './size-bins.js';

// Private copies (see docs/DESIGN.md, Hot paths): a search runs on every allocation that is not a re-cut.
const NONE = codes.NONE;
const SIZE = record.SIZE;
const NEXT_FREE = record.NEXT_FREE;
const BIN_COUNT = sizeBins.BIN_COUNT;
const SUBDIVISION_LOG2 = sizeBins.SUBDIVISION_LOG2;
const binIndex = sizeBins.binIndex;
const binIndexRoundUp = sizeBins.binIndexRoundUp;
const highestBit = sizeBins.highestBit;
const lowestBit = sizeBins.lowestBit;
const BIN_MASK = (1 << SUBDIVISION_LOG2) - 1;

/**
 * How many blocks of the request's own bin best fit and exact fit look at before settling. Each
 * look is a record (a cache line) at a random place: the bound keeps a bin of thousands of free
 * blocks from costing thousands of misses.
 */
const SCAN_LIMIT = 8;

/**
 * Best fit (also under the power-of-two strategy): the smallest fitting block among a few of the
 * request's own bin, else the head of the next non-empty bin (every block there fits, and they
 * differ by at most 1/16). @internal
 */
export function findBestFit(core: BlockAllocator, need: number): number {
  const bin = binIndex(need);
  const head = core.binHeads[bin]!;
  if (head !== NONE) {
    const found = smallestFitting(core, head, need);
    if (found !== NONE) return found;
  }
  const larger = findBin(core, bin + 1);
  return larger === NONE ? NONE : core.binHeads[larger]!;
}

/** First fit: the head of the first bin whose every block fits; failing that, a fitting block of the request's own bin. @internal */
export function findFirstFit(core: BlockAllocator, need: number): number {
  const bin = findBin(core, binIndexRoundUp(need));
  if (bin !== NONE) return core.binHeads[bin]!;
  return smallestFitting(core, core.binHeads[binIndex(need)]!, need);
}

/** Exact fit: a block of exactly `need` bytes, else a cut from the top bin (the largest blocks). @internal */
export function findExactFit(core: BlockAllocator, need: number): number {
  const { u32, i32 } = core;
  let scanned = 0;
  for (let block = core.binHeads[binIndex(need)]!; block !== NONE && scanned < SCAN_LIMIT; scanned += 1) {
    if (u32[(block << 4) | SIZE] === need) return block;
    block = i32[(block << 4) | NEXT_FREE]!;
  }
  if (core.levelBits === 0) return NONE;
  const largest = largestIn(core, topBin(core));
  return u32[(largest << 4) | SIZE]! >= need ? largest : NONE;
}

/** The largest free block, or NONE when none is free. O(blocks of the top bin). @internal */
export function findLargestFree(core: BlockAllocator): number {
  return core.levelBits === 0 ? NONE : largestIn(core, topBin(core));
}

/** The first non-empty bin at or above `from`, or NONE. O(1): two bit scans. @internal */
export function findBin(core: BlockAllocator, from: number): number {
  if (from >= BIN_COUNT) return NONE;
  let level = from >>> SUBDIVISION_LOG2;
  let bits = core.binBits[level]! & (-1 << (from & BIN_MASK));
  if (bits === 0) {
    const levels = level + 1 < 32 ? core.levelBits & (-1 << (level + 1)) : 0;
    if (levels === 0) return NONE;
    level = lowestBit(levels);
    bits = core.binBits[level]!;
  }
  return (level << SUBDIVISION_LOG2) | lowestBit(bits);
}

/** The smallest block of at least `need` bytes among the first SCAN_LIMIT of the bin list from `head`, or NONE. */
function smallestFitting(core: BlockAllocator, head: number, need: number): number {
  const { u32, i32 } = core;
  let best = NONE;
  let bestSize = 0;
  let scanned = 0;
  for (let block = head; block !== NONE && scanned < SCAN_LIMIT; scanned += 1) {
    const candidate = u32[(block << 4) | SIZE]!;
    if (candidate >= need && (best === NONE || candidate < bestSize)) {
      best = block;
      bestSize = candidate;
      if (candidate === need) break;
    }
    block = i32[(block << 4) | NEXT_FREE]!;
  }
  return best;
}

/** The highest non-empty bin (the free list of the largest blocks); some bin must be non-empty. */
function topBin(core: BlockAllocator): number {
  const level = highestBit(core.levelBits);
  return (level << SUBDIVISION_LOG2) | highestBit(core.binBits[level]!);
}

/** The largest block of `bin`. O(blocks of the bin). */
function largestIn(core: BlockAllocator, bin: number): number {
  const { u32, i32 } = core;
  let largest = NONE;
  let largestSize = -1;
  for (let block = core.binHeads[bin]!; block !== NONE; block = i32[(block << 4) | NEXT_FREE]!) {
    const size = u32[(block << 4) | SIZE]!;
    if (size > largestSize) {
      largest = block;
      largestSize = size;
    }
  }
  return largest;
}
