/**
 * The size bins of the free lists: a two-level segregated fit (as TLSF, and as the bins of
 * TensorFlow's BFC allocator). The first level is the power of two of a block's size; the second
 * splits each power of two into {@link SUBDIVISIONS} equal classes. A free block lives in the bin
 * of its size, and two bitmaps say which bins are non-empty, so finding a bin that can serve a
 * request is a few bit operations, never a walk over the free blocks.
 *
 * Sizes are byte counts below 2^32 (a segment holds at most 2^31 bytes).
 *
 * This module is browser compatible.
 * @module
 */

// The functions below use private constants, for the hot path (see docs/DESIGN.md, Hot paths).
const LOG2 = 4;
const CLASSES = 1 << LOG2;
const CLASS_MASK = CLASSES - 1;

/** log2 of the number of classes each power of two is split into. */
export const SUBDIVISION_LOG2 = LOG2;
/** How many classes each power of two is split into: a bin spans 1/16 of its power of two. */
export const SUBDIVISIONS = CLASSES;
/** How many bins there are: sizes below 16 map one to one, then 28 powers of two of 16 classes. */
export const BIN_COUNT = (32 - LOG2 + 1) * CLASSES;

/**
 * The bin of a block of `size` bytes (1 <= size < 2^32): every block in bin `i` is smaller than
 * every block in bin `i + 1`.
 */
export function binIndex(size: number): number {
  if (size < CLASSES) return size;
  const log2 = 31 - Math.clz32(size);
  return ((log2 - LOG2 + 1) << LOG2) | ((size >>> (log2 - LOG2)) & CLASS_MASK);
}

/**
 * The first bin all of whose blocks are at least `size` bytes: the bin of `size` when `size` is
 * the lower bound of its class, else the next one.
 */
export function binIndexRoundUp(size: number): number {
  if (size < CLASSES) return size;
  const log2 = 31 - Math.clz32(size);
  return binIndex(size + (1 << (log2 - LOG2)) - 1);
}

/**
 * The smallest size of each bin, and one more entry (2^32) for the end of the last bin: a size is
 * in bin `i` exactly when `BIN_FLOORS[i] <= size < BIN_FLOORS[i + 1]`. A table lookup where the
 * hot path must not call binIndex (see block-allocator.ts).
 */
export const BIN_FLOORS: Float64Array = Float64Array.from({ length: BIN_COUNT + 1 }, (_, bin) => {
  if (bin < CLASSES) return bin;
  const log2 = (bin >>> LOG2) + LOG2 - 1;
  return (CLASSES | (bin & CLASS_MASK)) * 2 ** (log2 - LOG2);
});

/** The index of the lowest set bit of a non-zero 32-bit integer. */
export function lowestBit(bits: number): number {
  return 31 - Math.clz32(bits & -bits);
}

/** The index of the highest set bit of a non-zero 32-bit integer. */
export function highestBit(bits: number): number {
  return 31 - Math.clz32(bits);
}
