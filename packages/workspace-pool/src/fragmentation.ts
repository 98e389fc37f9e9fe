/**
 * Fragmentation: `1 - largest free block / total free bytes`,
 * for the pool and for each segment. 0 means all free bytes form one block (any request up to the
 * free total fits); close to 1 means the free bytes are scattered in pieces too small to use.
 *
 * This module is browser compatible.
 * @module
 */
import { assertSize } from '@mem/types';
import type { BlockAllocator } from './block-allocator.js';
import { BLOCK_FREE } from './block-codes.js';

/** The free space of one segment. */
export interface SegmentFragmentation {
  /** The segment's index in the pool. */
  readonly segment: number;
  /** The segment's size in bytes. */
  readonly byteLength: number;
  /** Free bytes in the segment. */
  readonly freeBytes: number;
  /** How many free blocks the free bytes are split into. */
  readonly freeBlocks: number;
  /** The largest free block of the segment, in bytes. */
  readonly largestFreeBlock: number;
  /** `1 - largestFreeBlock / freeBytes`, 0 when nothing is free. */
  readonly fragmentation: number;
}

/** The free space of a pool, overall and per segment. */
export interface FragmentationStats {
  /** `1 - largestFreeBlock / freeBytes` over the whole pool, 0 when nothing is free. */
  readonly fragmentation: number;
  /** Free bytes in all segments. */
  readonly freeBytes: number;
  /** How many free blocks there are. */
  readonly freeBlocks: number;
  /** The largest free block of the pool, in bytes: the largest request that fits without compaction. */
  readonly largestFreeBlock: number;
  /** The same per segment, in segment order. */
  readonly segments: readonly SegmentFragmentation[];
}

/**
 * `1 - largest / free`, or 0 when `free` is 0.
 * Cost: O(1).
 * @throws MemError INVALID_ARGUMENT unless both are byte counts and `largestFreeBlock <= freeBytes`.
 *
 * @example
 * ```ts
 * import { fragmentationRatio } from '@mem/workspace-pool';
 * fragmentationRatio(256, 1024); // 0.75: the largest free block holds a quarter of the free bytes
 * ```
 */
export function fragmentationRatio(largestFreeBlock: number, freeBytes: number): number {
  assertSize(freeBytes, 'freeBytes');
  assertSize(largestFreeBlock, 'largestFreeBlock', { max: freeBytes });
  return ratio(largestFreeBlock, freeBytes);
}

/** The unchecked ratio, for the pool's own figures. @internal */
export function ratio(largestFreeBlock: number, freeBytes: number): number {
  return freeBytes === 0 ? 0 : 1 - largestFreeBlock / freeBytes;
}

/** Measures the allocator's free space per segment from its physical block lists. O(blocks). @internal */
export function measureSegments(allocator: BlockAllocator, segments: readonly number[]): SegmentFragmentation[] {
  return segments.map((index) => measureSegment(allocator, index));
}

/** Measures one segment by walking its blocks. O(blocks of the segment). @internal */
export function measureSegment(allocator: BlockAllocator, index: number): SegmentFragmentation {
  allocator.settle();
  const segment = allocator.segments[index]!;
  let freeBytes = 0;
  let freeBlocks = 0;
  let largest = 0;
  for (let block = segment.first; block !== -1; block = allocator.nextOf(block)) {
    if (allocator.stateOf(block) !== BLOCK_FREE) continue;
    const size = allocator.sizeOf(block);
    freeBytes += size;
    freeBlocks += 1;
    if (size > largest) largest = size;
  }
  return {
    segment: index,
    byteLength: segment.byteLength,
    freeBytes,
    freeBlocks,
    largestFreeBlock: largest,
    fragmentation: ratio(largest, freeBytes),
  };
}

/** Sums per-segment measurements into the pool's. O(segments). @internal */
export function combineSegments(segments: readonly SegmentFragmentation[]): FragmentationStats {
  let freeBytes = 0;
  let freeBlocks = 0;
  let largest = 0;
  for (const segment of segments) {
    freeBytes += segment.freeBytes;
    freeBlocks += segment.freeBlocks;
    if (segment.largestFreeBlock > largest) largest = segment.largestFreeBlock;
  }
  return {
    fragmentation: ratio(largest, freeBytes),
    freeBytes,
    freeBlocks,
    largestFreeBlock: largest,
    segments,
  };
}

/** The indices of the allocator's live segments, in order. @internal */
export function liveSegments(allocator: BlockAllocator): number[] {
  const indices: number[] = [];
  allocator.segments.forEach((segment, index) => {
    if (segment !== undefined) indices.push(index);
  });
  return indices;
}

/**
 * Measures the whole pool from its bins (every free block is filed in one, except while a
 * compaction runs). O(free blocks + segments).
 * @internal
 */
export function measureFragmentation(allocator: BlockAllocator): FragmentationStats {
  const indices = liveSegments(allocator);
  const count = allocator.segments.length;
  const freeBytes = new Float64Array(count);
  const freeBlocks = new Float64Array(count);
  const largest = new Float64Array(count);
  allocator.forEachFree((block) => {
    const segment = allocator.segmentOf(block);
    const size = allocator.sizeOf(block);
    freeBytes[segment] = freeBytes[segment]! + size;
    freeBlocks[segment] = freeBlocks[segment]! + 1;
    if (size > largest[segment]!) largest[segment] = size;
  });
  return combineSegments(
    indices.map((index) => ({
      segment: index,
      byteLength: allocator.segments[index]!.byteLength,
      freeBytes: freeBytes[index]!,
      freeBlocks: freeBlocks[index]!,
      largestFreeBlock: largest[index]!,
      fragmentation: ratio(largest[index]!, freeBytes[index]!),
    })),
  );
}
