/**
 * What a buffer handle calls back into: the pool instance that issued it. Internal to the package;
 * the handles ({@link IoBuffer}, {@link FrozenBuffer}) depend on this interface rather than on the
 * pool, so that the pool can create handles without an import cycle.
 *
 * This module is browser compatible.
 * @module
 */
import type { BufferTransfer } from './buffer-transfer.js';

/** The pool instance behind a handle. */
export interface BufferOwner {
  /** The pool's id, shared by every instance attached to it (foreign descriptors carry another). */
  readonly poolId: number;
  /**
   * Counts one more handle towards leak detection's next sample and, if this one is sampled, starts
   * tracking it (`handle` holds `slot`; a frozen view holds one reference). Returns whether it did.
   */
  sampleLeak(handle: object, slot: number, frozen: boolean): boolean;
  /** Hot path: gives `slot` of class `classIndex` back to this worker's cache (or further). */
  returnSlot(slot: number, classIndex: number): void;
  /** The class of `slot`. */
  classOf(slot: number): number;
  /** Stops leak tracking of a released handle. */
  untrackLeak(handle: object): void;
  /** The cached full-capacity view of `slot` in this worker. */
  viewOf(slot: number): Uint8Array;
  /** The byte offset of `slot` within its backing segment. */
  byteOffsetOf(slot: number): number;
  /** Sets the reference count of a frozen slot (1 when frozen, 0 when it becomes mutable again). */
  setReferences(slot: number, count: number): void;
  /** Adds one reference to a frozen slot. */
  retainReference(slot: number): void;
  /** Drops one reference of a frozen slot; the last one returns the slot. */
  releaseReference(slot: number): void;
  /** The reference count of a frozen slot. */
  references(slot: number): number;
  /**
   * Claims a transfer ticket bound to the buffer described by the arguments and returns its
   * descriptor (`bytes`: those of an untracked buffer, `null` for a pooled one).
   * @throws MemError LIMIT_EXCEEDED when too many transfers are in flight.
   */
  issueTransfer(
    frozen: boolean,
    slot: number,
    start: number,
    length: number,
    capacity: number,
    bytes: Uint8Array | null,
  ): BufferTransfer;
}
