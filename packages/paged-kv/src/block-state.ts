/**
 * The per-block state word of a `BlockAllocator`: one Int32 per block holding its reference
 * count, where it waits while free, and whether it carries a digest, so that a block's state costs
 * one memory read. The reference counts live here; the free order and the hash index keep their
 * own bits of the same word up to date.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError } from '@mem/types';

/** Bits 0-15: the reference count (0 = free). */
export const REFS = 0xffff;
/** Bits 16-17 = 1: a free block on the plain free stack. */
export const IN_STACK = 1 << 16;
/** Bits 16-17 = 2: a free block in the list of the free order. */
export const IN_LIST = 2 << 16;
/** Bits 16-17: where a free block waits. */
export const WHERE = 3 << 16;
/** Bit 18: the block carries a digest (it is in the hash index). */
export const HASHED = 1 << 18;

/** The largest reference count a block can have: the counts are 16-bit and never wrap. */
export const MAX_REF_COUNT = REFS;

/** The error of a second free of a block with no reference. */
export function doubleFree(block: number): MemError {
  return new MemError('DOUBLE_FREE', `block ${block} has no reference left to free (double free)`, {
    details: { block },
  });
}

/** The error of `action` on a free block. */
export function notLive(block: number, action: string): MemError {
  return new MemError('USE_AFTER_RELEASE', `${action} block ${block}, which is free (reference count 0)`, {
    details: { block },
  });
}

/** The error of one reference too many. */
export function overflow(block: number): MemError {
  return new MemError(
    'LIMIT_EXCEEDED',
    `block ${block} already has ${MAX_REF_COUNT} references, the most a block can have`,
    { details: { block, limit: MAX_REF_COUNT } },
  );
}
