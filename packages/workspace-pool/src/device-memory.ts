/**
 * Segment memory that JavaScript cannot view, such as a GPU buffer: the pool carves it and
 * compacts it as it does an `ArrayBuffer`, but its bytes move by commands the memory queues
 * (`copyBufferToBuffer` on a GPU), and workspaces in it have no byte views.
 *
 * This module is browser compatible.
 * @module
 */
import { BackingMemory, invalidArgument, type BackingKind } from '@mem/types';

/**
 * Memory on a device that a pool's segment can live in. `@mem/workspace-pool/webgpu` makes these
 * over GPU buffers; implement it for other devices. Offsets are bytes from the start of the memory.
 */
export interface DeviceMemory {
  /** What memory it is, shown in memory maps (`'gpu-buffer'`). */
  readonly kind: string;
  /** Its size in bytes. */
  readonly byteLength: number;
  /** Whether {@link DeviceMemory.copyFrom} can copy from `source` (the same device). */
  canCopyFrom(source: DeviceMemory): boolean;
  /**
   * Queues a copy of `size` bytes from `from` in `source` to `to` in this memory. Copies run in the
   * order they were queued; the ranges may overlap when `source` is this memory (compaction only
   * moves bytes down: `to < from`).
   */
  copyFrom(source: DeviceMemory, from: number, to: number, size: number): void;
  /** Runs the copies queued so far (compaction calls it once, when it is done). */
  flush(): void;
  /**
   * Fills `size` bytes from `offset` with zeros (an `acquire` with `zero: true`). It may clear up
   * to the end of the workspace's block (at least the pool's alignment) to round `size` up.
   */
  zero(offset: number, size: number): void;
  /** Frees the memory: its segment was dropped by defragmentation or `clear()`. */
  release(): void;
}

/** The memory a segment lives in. */
export type SegmentMemory = BackingMemory | DeviceMemory;

/** What a memory map calls the memory of a segment. */
export type SegmentKind = BackingKind | (string & {});

/** Whether `memory` is device memory (not viewable from JavaScript). @internal */
export function isDeviceMemory(memory: SegmentMemory): memory is DeviceMemory {
  return !(memory instanceof BackingMemory);
}

/** Whether what a segment provider returned is device memory: the methods the pool calls. @internal */
export function looksLikeDeviceMemory(value: unknown): value is DeviceMemory {
  const memory = value as Partial<DeviceMemory> | null;
  return (
    memory !== null &&
    typeof memory === 'object' &&
    typeof memory.byteLength === 'number' &&
    typeof memory.kind === 'string' &&
    ['canCopyFrom', 'copyFrom', 'flush', 'zero', 'release'].every(
      (name) => typeof (memory as Record<string, unknown>)[name] === 'function',
    )
  );
}

/** Whether bytes can move from memory `source` to memory `target`. @internal */
export function canMove(source: SegmentMemory, target: SegmentMemory): boolean {
  if (!isDeviceMemory(source) && !isDeviceMemory(target)) return true;
  return isDeviceMemory(source) && isDeviceMemory(target) && target.canCopyFrom(source);
}

/**
 * Copies `size` bytes from `from` in `source` to `to` in `target` (`copyWithin` within one backing
 * memory). Device memory queues the copy until {@link finishMoves}. @internal
 */
export function moveBytes(source: SegmentMemory, from: number, target: SegmentMemory, to: number, size: number): void {
  if (isDeviceMemory(target)) {
    target.copyFrom(source as DeviceMemory, from, to, size);
  } else if (source === target) {
    target.bytes().copyWithin(to, from, from + size);
  } else {
    target.bytes().set((source as BackingMemory).bytes().subarray(from, from + size), to);
  }
}

/** Runs the copies queued in the device memories among `memories`. @internal */
export function finishMoves(memories: Iterable<SegmentMemory>): void {
  for (const memory of memories) if (isDeviceMemory(memory)) memory.flush();
}

/** Frees dropped device memory (backing memory is left to the garbage collector). @internal */
export function releaseMemory(memory: SegmentMemory): void {
  if (isDeviceMemory(memory)) memory.release();
}

/** Zeroes `size` bytes at `offset` of `memory`. @internal */
export function zeroBytes(memory: SegmentMemory, offset: number, size: number): void {
  if (isDeviceMemory(memory)) memory.zero(offset, size);
  else memory.bytes().fill(0, offset, offset + size);
}

/** The error for a byte view of a workspace in device memory. @internal */
export function noView(id: number, kind: string): Error {
  return invalidArgument(
    `workspace #${id}`,
    kind,
    'in memory JavaScript can view: it lives in device memory; bind it through its segment (gpuBinding)',
  );
}
