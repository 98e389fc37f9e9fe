/**
 * The layout of a block record in the allocator's table: sixteen 32-bit words per record, field
 * `F` of record `r` at word `(r << 4) | F` of the u32 view (sizes and offsets, which reach 2^31) or
 * of the i32 view (indices and codes), and the owner id as float64 `(r << 3) | OWNER` (ids outgrow
 * 32 bits in a long-lived pool). Shifts and ors instead of multiplications and additions: V8
 * compiles them without overflow checks, and 32-bit fields keep the hot path in integer registers
 * (float64 sizes cost conversions on every step). Words 11, 14 and 15 are unused.
 *
 * The modules that read records keep private copies of the fields they use (see docs/DESIGN.md,
 * Hot paths).
 *
 * This module is browser compatible.
 * @module
 */

/** Bytes of one record: sixteen 32-bit words, one cache line. @internal */
export const RECORD_BYTES = 64;
/** Offset of the block from its segment's start (u32). @internal */
export const OFFSET = 0;
/** Size of the block in bytes, a multiple of the granule (u32). @internal */
export const SIZE = 1;
/** Bytes the workspace asked for, used blocks (u32). @internal */
export const REQUESTED = 2;
/** Segment index (i32). @internal */
export const SEGMENT = 3;
/** Neighbour below in address order, or NONE (i32). @internal */
export const PREV_PHYS = 4;
/** Neighbour above in address order, or NONE (i32). @internal */
export const NEXT_PHYS = 5;
/** Previous block of the same bin (free blocks), or NONE (i32). @internal */
export const PREV_FREE = 6;
/** Next block of the same bin (free blocks), or NONE (i32). @internal */
export const NEXT_FREE = 7;
/** Pins that hold the block in place (i32). @internal */
export const PINS = 8;
/** RECORD_UNUSED, BLOCK_FREE or BLOCK_USED (i32). @internal */
export const STATE = 9;
/** The bin a free block is filed in (i32). @internal */
export const BIN = 10;
/** Id of the workspace that owns the block (used blocks), 0 otherwise: float64 index `(record << 3) | OWNER` (words 12-13). @internal */
export const OWNER = 6;
