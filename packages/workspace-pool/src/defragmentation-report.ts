/**
 * What a defragmentation did, in figures a user can check against two memory-map snapshots.
 *
 * This module is browser compatible.
 * @module
 */
import type { CompactionResult } from './compaction.js';
import { combineSegments, type FragmentationStats, type SegmentFragmentation } from './fragmentation.js';

/** Why a defragmentation ran. */
export type DefragmentationTrigger = 'manual' | 'threshold' | 'miss';

/**
 * How a defragmentation ended.
 *
 * - `compacted`: free space was gathered; `reclaimedBytes` is above 0.
 * - `already-compact`: there was no fragmentation and no empty expansion segment: nothing to do.
 * - `blocked-by-pins`: fragmentation remains and pinned workspaces are what keeps it (they
 *   cannot move, or nothing else could move past them); `reclaimedBytes` is 0.
 * - `no-fit`: fragmentation remains only across segments, and no workspace of a later segment fits
 *   in the free space of an earlier one; `reclaimedBytes` is 0.
 */
export type DefragmentationOutcome = 'compacted' | 'already-compact' | 'blocked-by-pins' | 'no-fit';

/** One segment's free space before and after a defragmentation. */
export interface SegmentDefragmentation {
  /** The segment's index in the pool. */
  readonly segment: number;
  /** The segment's size in bytes. */
  readonly byteLength: number;
  /** Whether the segment was compacted (a miss compacts one segment only). */
  readonly compacted: boolean;
  /** Whether the segment was empty and released to the runtime (its `after` figures are then 0). */
  readonly released: boolean;
  /** Fragmentation of the segment before. */
  readonly fragmentationBefore: number;
  /** Fragmentation of the segment after. */
  readonly fragmentationAfter: number;
  /** Largest free block of the segment before, in bytes. */
  readonly largestFreeBlockBefore: number;
  /** Largest free block of the segment after, in bytes. */
  readonly largestFreeBlockAfter: number;
  /** Free bytes of the segment before. */
  readonly freeBytesBefore: number;
  /** Free bytes of the segment after. */
  readonly freeBytesAfter: number;
}

/**
 * The report of one defragmentation.
 *
 * **Reclaimed bytes**, defined so that you can check them: for every segment, the growth of its
 * largest free block (0 if it did not grow), summed, plus the bytes of the segments released to the
 * runtime:
 *
 * `reclaimedBytes = Σ max(0, s.largestFreeBlockAfter - s.largestFreeBlockBefore) over segments s not released + bytesReleased`
 *
 * It is the room won for requests larger than what fitted before, plus memory given back. When
 * the pool was fragmented and something could move, it is above 0; when nothing could be done, it
 * is 0 and `outcome` says why.
 */
export interface DefragmentationReport {
  /** Why it ran. */
  readonly trigger: DefragmentationTrigger;
  /** How it ended. */
  readonly outcome: DefragmentationOutcome;
  /** One sentence for logs: what happened, or why nothing could. */
  readonly message: string;
  /** Pool fragmentation (`1 - largest free block / free bytes`) before. */
  readonly fragmentationBefore: number;
  /** Pool fragmentation after: 0.0 after a full pass with nothing pinned in a one-segment pool. */
  readonly fragmentationAfter: number;
  /** The pool's largest free block before, in bytes. */
  readonly largestFreeBlockBefore: number;
  /** The pool's largest free block after, in bytes. */
  readonly largestFreeBlockAfter: number;
  /** Free bytes before. */
  readonly freeBytesBefore: number;
  /** Free bytes after (lower by the bytes released). */
  readonly freeBytesAfter: number;
  /** Free blocks before. */
  readonly freeBlocksBefore: number;
  /** Free blocks after. */
  readonly freeBlocksAfter: number;
  /** Free blocks that merged into others: `freeBlocksBefore - freeBlocksAfter` (never negative). */
  readonly blocksCoalesced: number;
  /** Workspaces moved (one moved twice counts twice). */
  readonly workspacesMoved: number;
  /** Bytes copied to move them. */
  readonly bytesMoved: number;
  /** Workspaces pinned when the defragmentation ran. */
  readonly pinnedWorkspaces: number;
  /** Moves that pinned workspaces prevented (a pinned workspace that would have moved). */
  readonly movesBlockedByPins: number;
  /** Empty expansion segments released to the runtime. */
  readonly segmentsReleased: number;
  /** Bytes of those segments. */
  readonly bytesReleased: number;
  /** Reclaimed bytes, as defined above. */
  readonly reclaimedBytes: number;
  /** Wall-clock duration in milliseconds. */
  readonly durationMs: number;
  /** Per segment, in order (released ones included, marked). */
  readonly segments: readonly SegmentDefragmentation[];
}

/** Builds the report from the measurement before and the compaction's result. @internal */
export function buildReport(
  trigger: DefragmentationTrigger,
  before: FragmentationStats,
  compaction: CompactionResult,
  pinnedWorkspaces: number,
  durationMs: number,
): DefragmentationReport {
  const afterBySegment = new Map(compaction.after.map((segment) => [segment.segment, segment]));
  const released = new Set(compaction.releasedSegments);
  const segments: SegmentDefragmentation[] = [];
  const remaining: SegmentFragmentation[] = [];
  let reclaimed = compaction.bytesReleased;
  for (const old of before.segments) {
    const isReleased = released.has(old.segment);
    const now = afterBySegment.get(old.segment) ?? (isReleased ? undefined : old);
    if (now !== undefined) remaining.push(now);
    const largestAfter = now?.largestFreeBlock ?? 0;
    if (!isReleased && largestAfter > old.largestFreeBlock) reclaimed += largestAfter - old.largestFreeBlock;
    segments.push({
      segment: old.segment,
      byteLength: old.byteLength,
      compacted: afterBySegment.has(old.segment) || isReleased,
      released: isReleased,
      fragmentationBefore: old.fragmentation,
      fragmentationAfter: now?.fragmentation ?? 0,
      largestFreeBlockBefore: old.largestFreeBlock,
      largestFreeBlockAfter: largestAfter,
      freeBytesBefore: old.freeBytes,
      freeBytesAfter: now?.freeBytes ?? 0,
    });
  }
  const after = combineSegments(remaining);
  const wasFragmented = before.fragmentation > 0 || before.segments.some((segment) => segment.fragmentation > 0);
  const outcome: DefragmentationOutcome =
    reclaimed > 0
      ? 'compacted'
      : !wasFragmented
        ? 'already-compact'
        : compaction.pinnedInTheWay > 0
          ? 'blocked-by-pins'
          : 'no-fit';
  return {
    trigger,
    outcome,
    message: describeOutcome(outcome, before, after, compaction, reclaimed),
    fragmentationBefore: before.fragmentation,
    fragmentationAfter: after.fragmentation,
    largestFreeBlockBefore: before.largestFreeBlock,
    largestFreeBlockAfter: after.largestFreeBlock,
    freeBytesBefore: before.freeBytes,
    freeBytesAfter: after.freeBytes,
    freeBlocksBefore: before.freeBlocks,
    freeBlocksAfter: after.freeBlocks,
    blocksCoalesced: Math.max(0, before.freeBlocks - after.freeBlocks),
    workspacesMoved: compaction.workspacesMoved,
    bytesMoved: compaction.bytesMoved,
    pinnedWorkspaces,
    movesBlockedByPins: compaction.pinnedInTheWay,
    segmentsReleased: compaction.releasedSegments.length,
    bytesReleased: compaction.bytesReleased,
    reclaimedBytes: reclaimed,
    durationMs,
    segments,
  };
}

function describeOutcome(
  outcome: DefragmentationOutcome,
  before: FragmentationStats,
  after: FragmentationStats,
  compaction: CompactionResult,
  reclaimed: number,
): string {
  const ratio = (value: number): string => value.toFixed(3);
  switch (outcome) {
    case 'compacted':
      return (
        `reclaimed ${reclaimed} bytes: fragmentation ${ratio(before.fragmentation)} -> ${ratio(after.fragmentation)}, ` +
        `largest free block ${before.largestFreeBlock} -> ${after.largestFreeBlock} bytes, ` +
        `${compaction.workspacesMoved} workspaces (${compaction.bytesMoved} bytes) moved, ` +
        `${compaction.releasedSegments.length} segments (${compaction.bytesReleased} bytes) released`
      );
    case 'already-compact':
      return `nothing to do: the free space (${before.freeBytes} bytes) is already one block per segment and no expansion segment is empty`;
    case 'blocked-by-pins':
      return (
        `nothing reclaimed: pinned workspaces prevented ${compaction.pinnedInTheWay} moves and keep ` +
        `fragmentation at ${ratio(after.fragmentation)} (unpin them and defragment again)`
      );
    case 'no-fit':
      return (
        `nothing reclaimed: the free space is split across segments (fragmentation ${ratio(after.fragmentation)}) ` +
        `and no workspace of a later segment fits in the free space of an earlier one`
      );
  }
}
