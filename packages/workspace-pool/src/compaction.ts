/**
 * Compaction: the part of defragmentation that moves memory. Live, unpinned workspaces slide
 * toward the start of their segment (`copyWithin`, so the bytes move exactly), pinned ones stay
 * where they are, and the free bytes between them merge into one block per stretch. In a full
 * pass, workspaces then move from later segments into holes of earlier ones (and from above a
 * pinned workspace into the gap below it), so that free space gathers at the end of the pool and
 * emptied expansion segments can be released.
 *
 * Bytes move through `moveBytes`: `copyWithin` in backing memory, and in device memory (GPU
 * buffers) copies the memory queues and runs once the compaction is done; a workspace moves only
 * between memories that can copy between them.
 *
 * The free blocks of the segments being compacted leave their bins for the duration and are filed
 * again at the end; no allocation can happen in between (the pool is single-threaded, and the
 * coordinator runs it inside one worker).
 *
 * This module is browser compatible.
 * @module
 */
import type { BlockAllocator } from './block-allocator.js';
import { BLOCK_FREE, BLOCK_USED, NONE } from './block-codes.js';
import { canMove, finishMoves, moveBytes } from './device-memory.js';
import { measureSegment, type SegmentFragmentation } from './fragmentation.js';
import type { Segment } from './segment.js';

/**
 * Decides, at the moment a workspace is about to move, whether it may, beyond its pins: the
 * coordinator uses it for pins that live in shared memory (another thread's). When
 * `tryBeginMove` returns true, the workspace is held against pinning until `endMove`.
 * @internal
 */
export interface MoveGuard {
  /** Whether the workspace `owner` may move now. */
  tryBeginMove(owner: number): boolean;
  /** The workspace `owner` now lives at `byteOffset` of segment `segment`'s memory. */
  endMove(owner: number, segment: number, byteOffset: number): void;
  /** Whether the workspace `owner` is pinned elsewhere now (for memory maps). */
  isPinned(owner: number): boolean;
  /** How many workspaces are pinned elsewhere now (for stats and reports). */
  pinnedCount(): number;
}

/** What a compaction did. @internal */
export interface CompactionResult {
  /** Workspaces that moved (one that moved twice counts twice). */
  workspacesMoved: number;
  /** Bytes copied. */
  bytesMoved: number;
  /** Moves refused because the workspace was pinned. */
  pinnedInTheWay: number;
  /** Segments released, by index. */
  releasedSegments: number[];
  /** Bytes of the released segments. */
  bytesReleased: number;
  /** The compacted segments after compaction (released ones excluded). */
  after: SegmentFragmentation[];
}

/** Options of {@link compact}. @internal */
export interface CompactionOptions {
  /** The segments to compact, in ascending order. */
  readonly segments: readonly number[];
  /** Whether workspaces may move to earlier segments and into gaps below pinned ones. */
  readonly migrate: boolean;
  /** Whether empty segments outside the initial reservation are released. */
  readonly release: boolean;
  /** Pins kept elsewhere (shared memory), if any. */
  readonly guard: MoveGuard | undefined;
}

/**
 * Compacts the given segments. Cost: O(blocks of those segments + holes x movable blocks when
 * migrating) plus the bytes copied.
 * @internal
 */
export function compact(allocator: BlockAllocator, options: CompactionOptions): CompactionResult {
  allocator.settle();
  const result: CompactionResult = {
    workspacesMoved: 0,
    bytesMoved: 0,
    pinnedInTheWay: 0,
    releasedSegments: [],
    bytesReleased: 0,
    after: [],
  };
  const segments = options.segments.map((index) => allocator.segments[index]!);
  for (const segment of segments) unfileSegment(allocator, segment);
  for (const segment of segments) slide(allocator, segment, options.guard, result);
  if (options.migrate) migrate(allocator, segments, options.guard, result);
  finishMoves(segments.map((segment) => segment.memory));
  for (const segment of segments) {
    if (options.release && !segment.initial && isEmpty(allocator, segment)) {
      allocator.removeSegment(segment.index, false);
      result.releasedSegments.push(segment.index);
      result.bytesReleased += segment.byteLength;
      continue;
    }
    refileSegment(allocator, segment);
    result.after.push(measureSegment(allocator, segment.index));
  }
  if (result.workspacesMoved > 0) allocator.epoch += 1;
  return result;
}

/** Whether the segment is one free block (nothing lives in it). */
function isEmpty(allocator: BlockAllocator, segment: Segment): boolean {
  const first = segment.first;
  return allocator.stateOf(first) === BLOCK_FREE && allocator.sizeOf(first) === segment.byteLength;
}

/** Takes the free blocks of a segment out of their bins. */
function unfileSegment(allocator: BlockAllocator, segment: Segment): void {
  for (let block = segment.first; block !== NONE; block = allocator.nextOf(block)) {
    if (allocator.stateOf(block) === BLOCK_FREE) allocator.removeFree(block);
  }
}

/** Files the free blocks of a segment in their bins again. */
function refileSegment(allocator: BlockAllocator, segment: Segment): void {
  for (let block = segment.first; block !== NONE; block = allocator.nextOf(block)) {
    if (allocator.stateOf(block) === BLOCK_FREE) allocator.insertFree(block);
  }
}

/**
 * Slides the used blocks of a segment down over the free space below them, in address order, and
 * rebuilds the segment's block list: one free block below each pinned block that could not move
 * down to the cursor, and one at the end. Free records are dropped before any is created, so the
 * table never grows here.
 */
function slide(
  allocator: BlockAllocator,
  segment: Segment,
  guard: MoveGuard | undefined,
  result: CompactionResult,
): void {
  const t = allocator;
  const base = segment.base;
  let cursor = 0;
  let last = NONE;
  let block = segment.first;
  segment.first = NONE;
  const link = (record: number): void => {
    t.setPrev(record, last);
    if (last === NONE) segment.first = record;
    else t.setNext(last, record);
    last = record;
  };
  while (block !== NONE) {
    const next = t.nextOf(block);
    if (t.stateOf(block) === BLOCK_FREE) {
      t.dropRecord(block);
      block = next;
      continue;
    }
    const from = t.offsetOf(block);
    const size = t.sizeOf(block);
    if (from !== cursor) {
      if (t.pinsOf(block) === 0 && (guard === undefined || guard.tryBeginMove(t.ownerOf(block)))) {
        moveBytes(segment.memory, base + from, segment.memory, base + cursor, size);
        t.setOffset(block, cursor);
        result.workspacesMoved += 1;
        result.bytesMoved += size;
        guard?.endMove(t.ownerOf(block), segment.index, base + cursor);
      } else {
        result.pinnedInTheWay += 1;
        link(freeRecord(t, segment.index, cursor, from - cursor));
        cursor = from;
      }
    }
    link(block);
    cursor += size;
    block = next;
  }
  if (cursor < segment.byteLength) link(freeRecord(t, segment.index, cursor, segment.byteLength - cursor));
  t.setNext(last, NONE);
}

function freeRecord(allocator: BlockAllocator, segment: number, offset: number, size: number): number {
  const record = allocator.newRecord();
  allocator.setOffset(record, offset);
  allocator.setSize(record, size);
  allocator.setSegment(record, segment);
  allocator.setState(record, BLOCK_FREE);
  return record;
}

/**
 * Moves used blocks, from the last segment's highest address down, into the first hole below
 * them that fits: a hole of an earlier segment, or a gap below a pinned block of the same
 * segment. Segments that lost blocks slide again.
 */
function migrate(
  allocator: BlockAllocator,
  segments: readonly Segment[],
  guard: MoveGuard | undefined,
  result: CompactionResult,
): void {
  const t = allocator;
  // Holes in (segment, offset) order. A lone segment with a lone hole (its tail, above every
  // block) has nothing to receive: skip the walk.
  const holes: number[] = [];
  for (const segment of segments) {
    for (let block = segment.first; block !== NONE; block = t.nextOf(block)) {
      if (t.stateOf(block) === BLOCK_FREE) holes.push(block);
    }
  }
  if (holes.length === 0 || (segments.length === 1 && holes.length === 1)) return;
  const order = new Map(segments.map((segment, position) => [segment.index, position]));
  const lost = new Set<Segment>();
  for (let position = segments.length - 1; position >= 0; position -= 1) {
    const source = segments[position]!;
    const used: number[] = [];
    for (let block = source.first; block !== NONE; block = t.nextOf(block)) {
      if (t.stateOf(block) === BLOCK_USED) used.push(block);
    }
    for (let k = used.length - 1; k >= 0; k -= 1) {
      const block = used[k]!;
      const size = t.sizeOf(block);
      const hole = firstHoleBelow(t, segments, holes, order, position, t.offsetOf(block), size);
      if (hole === -1) continue;
      if (t.pinsOf(block) !== 0 || (guard !== undefined && !guard.tryBeginMove(t.ownerOf(block)))) {
        result.pinnedInTheWay += 1;
        continue;
      }
      const target = holes[hole]!;
      const destination = segments[order.get(t.segmentOf(target))!]!;
      moveInto(t, block, source, target, destination);
      result.workspacesMoved += 1;
      result.bytesMoved += size;
      guard?.endMove(t.ownerOf(block), destination.index, destination.base + t.offsetOf(block));
      if (t.sizeOf(target) === 0) {
        unlink(t, target, destination);
        t.dropRecord(target);
        holes.splice(hole, 1);
      }
      lost.add(source);
    }
  }
  for (const segment of lost) slide(t, segment, guard, result);
}

/** The index in `holes` of the first hole below (segment position, offset) with room for `size`, or -1. */
function firstHoleBelow(
  t: BlockAllocator,
  segments: readonly Segment[],
  holes: readonly number[],
  order: ReadonlyMap<number, number>,
  position: number,
  offset: number,
  size: number,
): number {
  for (let i = 0; i < holes.length; i += 1) {
    const hole = holes[i]!;
    const holePosition = order.get(t.segmentOf(hole))!;
    if (holePosition > position || (holePosition === position && t.offsetOf(hole) >= offset)) return -1;
    if (t.sizeOf(hole) >= size && canMove(segments[position]!.memory, segments[holePosition]!.memory)) return i;
  }
  return -1;
}

/**
 * Copies used `block` to the start of free `target` (in `destination`), leaves a free record where
 * it was, and links it in front of `target`, which shrinks by the block's size.
 */
function moveInto(t: BlockAllocator, block: number, source: Segment, target: number, destination: Segment): void {
  const size = t.sizeOf(block);
  const from = source.base + t.offsetOf(block);
  const to = destination.base + t.offsetOf(target);
  moveBytes(source.memory, from, destination.memory, to, size);
  // A free record takes the block's place in the source.
  const vacated = t.newRecord();
  t.setOffset(vacated, t.offsetOf(block));
  t.setSize(vacated, size);
  t.setSegment(vacated, source.index);
  t.setState(vacated, BLOCK_FREE);
  const before = t.prevOf(block);
  const after = t.nextOf(block);
  t.setPrev(vacated, before);
  t.setNext(vacated, after);
  if (before === NONE) source.first = vacated;
  else t.setNext(before, vacated);
  if (after !== NONE) t.setPrev(after, vacated);
  // The block goes in front of the target hole.
  const below = t.prevOf(target);
  t.setPrev(block, below);
  t.setNext(block, target);
  if (below === NONE) destination.first = block;
  else t.setNext(below, block);
  t.setPrev(target, block);
  t.setOffset(block, t.offsetOf(target));
  t.setSegment(block, destination.index);
  t.setOffset(target, t.offsetOf(target) + size);
  t.setSize(target, t.sizeOf(target) - size);
}

function unlink(t: BlockAllocator, record: number, segment: Segment): void {
  const before = t.prevOf(record);
  const after = t.nextOf(record);
  if (before === NONE) segment.first = after;
  else t.setNext(before, after);
  if (after !== NONE) t.setPrev(after, before);
}
