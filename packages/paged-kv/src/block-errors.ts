/**
 * The errors of a `BlockAllocator`: a block index out of range, no free block, a second free, a
 * use of a free block, one reference too many.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, invalidArgument } from '@mem/types';

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
export function overflow(block: number, limit: number): MemError {
  return new MemError('LIMIT_EXCEEDED', `block ${block} already has ${limit} references, the most a block can have`, {
    details: { block, limit },
  });
}

/** The error of argument `name` that is not a block index of an allocator of `capacity` blocks. */
export function badBlock(value: unknown, name: string, capacity: number): MemError {
  return invalidArgument(name, value, `a block index (an integer in [0, ${capacity - 1}])`);
}

/** The error of an allocation of `requested` blocks when only `free` of `capacity` are free. */
export function exhausted(requested: number, capacity: number, free: number): MemError {
  return new MemError(
    'EXHAUSTED',
    `cannot allocate ${requested} block${requested === 1 ? '' : 's'}: capacity ${capacity}, free ${free}`,
    { details: { requested, capacity, free } },
  );
}
