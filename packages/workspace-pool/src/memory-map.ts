/**
 * The memory map of a pool: every segment and every block in address order, with its state and
 * owner, as a plain JSON-serialisable value (PyTorch users know this as the memory snapshot).
 * `renderMemoryMap` draws it.
 *
 * This module is browser compatible.
 * @module
 */
import type { BlockAllocator } from './block-allocator.js';
import { BLOCK_FREE, NONE } from './block-codes.js';
import type { MoveGuard } from './compaction.js';
import type { SegmentKind } from './device-memory.js';
import { ratio } from './fragmentation.js';

/** The state of a block in a memory map. */
export type MemoryMapBlockState = 'free' | 'used' | 'pinned';

/** One block of a segment. */
export interface MemoryMapBlock {
  /** Offset from the segment's start, in bytes. */
  readonly offset: number;
  /** Size of the block in bytes. */
  readonly size: number;
  /** Free, used, or used and pinned. */
  readonly state: MemoryMapBlockState;
  /** The id of the workspace that owns it (`Workspace.id`), `null` for a free block. */
  readonly owner: number | null;
  /** The bytes the workspace asked for (at most `size`), `null` for a free block. */
  readonly requested: number | null;
  /** The workspace's label, `null` when none or free. */
  readonly label: string | null;
}

/** One segment of a pool. */
export interface MemoryMapSegment {
  /** The segment's index in the pool. */
  readonly index: number;
  /** Its size in bytes. */
  readonly byteLength: number;
  /** What memory it is. */
  readonly kind: SegmentKind;
  /** Whether it belongs to the initial reservation (never released). */
  readonly initial: boolean;
  /** Bytes of used blocks. */
  readonly bytesInUse: number;
  /** Bytes of free blocks. */
  readonly bytesFree: number;
  /** The largest free block, in bytes. */
  readonly largestFreeBlock: number;
  /** `1 - largestFreeBlock / bytesFree` (0 when nothing is free). */
  readonly fragmentation: number;
  /** Its blocks in address order; they tile the segment exactly. */
  readonly blocks: readonly MemoryMapBlock[];
}

/** A pool's memory map at one moment. */
export interface MemoryMapSnapshot {
  /** The pool's name. */
  readonly pool: string;
  /** The alignment (and size granule) of every block. */
  readonly alignment: number;
  /** Bytes of all segments. */
  readonly bytesReserved: number;
  /** Bytes of all used blocks. */
  readonly bytesInUse: number;
  /** Bytes of all free blocks. */
  readonly bytesFree: number;
  /** The largest free block of the pool, in bytes. */
  readonly largestFreeBlock: number;
  /** `1 - largestFreeBlock / bytesFree` over the pool. */
  readonly fragmentation: number;
  /** Live workspaces. */
  readonly liveWorkspaces: number;
  /** The live segments, in order. */
  readonly segments: readonly MemoryMapSegment[];
}

/** Reads the allocator's blocks into a snapshot. O(blocks). @internal */
export function takeSnapshot(
  allocator: BlockAllocator,
  pool: string,
  labels: ReadonlyMap<number, string>,
  guard: MoveGuard | undefined,
): MemoryMapSnapshot {
  allocator.settle();
  const segments: MemoryMapSegment[] = [];
  let bytesInUse = 0;
  let bytesFree = 0;
  let largest = 0;
  let live = 0;
  for (const segment of allocator.segments) {
    if (segment === undefined) continue;
    const blocks: MemoryMapBlock[] = [];
    let used = 0;
    let free = 0;
    let segmentLargest = 0;
    for (let block = segment.first; block !== NONE; block = allocator.nextOf(block)) {
      const size = allocator.sizeOf(block);
      if (allocator.stateOf(block) === BLOCK_FREE) {
        free += size;
        if (size > segmentLargest) segmentLargest = size;
        blocks.push({
          offset: allocator.offsetOf(block),
          size,
          state: 'free',
          owner: null,
          requested: null,
          label: null,
        });
        continue;
      }
      used += size;
      live += 1;
      const owner = allocator.ownerOf(block);
      blocks.push({
        offset: allocator.offsetOf(block),
        size,
        state: allocator.pinsOf(block) > 0 || guard?.isPinned(owner) === true ? 'pinned' : 'used',
        owner,
        requested: allocator.requestedOf(block),
        label: labels.get(owner) ?? null,
      });
    }
    bytesInUse += used;
    bytesFree += free;
    if (segmentLargest > largest) largest = segmentLargest;
    segments.push({
      index: segment.index,
      byteLength: segment.byteLength,
      kind: segment.memory.kind,
      initial: segment.initial,
      bytesInUse: used,
      bytesFree: free,
      largestFreeBlock: segmentLargest,
      fragmentation: ratio(segmentLargest, free),
      blocks,
    });
  }
  return {
    pool,
    alignment: allocator.granule,
    bytesReserved: allocator.reservedBytes,
    bytesInUse,
    bytesFree,
    largestFreeBlock: largest,
    fragmentation: ratio(largest, bytesFree),
    liveWorkspaces: live,
    segments,
  };
}
