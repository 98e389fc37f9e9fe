/**
 * The slow path of every handle check: once the fast check has failed, work out why and throw the
 * matching error. Kept apart so that the fast checks stay a few lines.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, describeValue } from '@mem/types';
import { GENERATION_MASK, decodeHandle } from './handle-layout.js';

/** What the rejection needs to know about the arena that was asked. */
export interface HandleOwner {
  /** The arena's id. */
  readonly id: number;
  /** The arena's full generation count. */
  readonly generation: number;
  /** A name for messages, such as `EpochArena #12`. */
  readonly label: string;
}

/**
 * Throws the error that explains why `handle` is not a live handle of `owner`.
 * Called only after a fast check failed: an arena's handle check, or a pool's routing by arena id.
 * @throws MemError INVALID_ARGUMENT for a non-handle or an out-of-range handle of this arena,
 * FOREIGN_HANDLE for another arena's handle, STALE_HANDLE for a handle of an earlier generation.
 */
export function rejectHandle(handle: unknown, owner: HandleOwner): never {
  const decoded = decodeHandle(handle);
  if (decoded === undefined || decoded.arenaId === 0) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `handle must be an arena handle (a safe integer issued by allocate), got ${describeValue(handle)}`,
      { details: { handle } },
    );
  }
  if (decoded.arenaId !== owner.id) {
    throw new MemError(
      'FOREIGN_HANDLE',
      `handle ${handle as number} was issued by arena #${decoded.arenaId}, not by ${owner.label}`,
      { details: { handle, arenaId: decoded.arenaId, expectedArenaId: owner.id } },
    );
  }
  const current = owner.generation & GENERATION_MASK;
  if (decoded.generation !== current) {
    // Until the counter wraps, a generation above the arena's was never issued: that is garbage.
    const neverIssued = owner.generation <= GENERATION_MASK && decoded.generation > owner.generation;
    throw new MemError(
      neverIssued ? 'INVALID_ARGUMENT' : 'STALE_HANDLE',
      neverIssued
        ? `handle ${handle as number} names generation ${decoded.generation} of ${owner.label}, which has not happened (current ${owner.generation})`
        : `handle ${handle as number} belongs to an earlier generation of ${owner.label}, which has been reset since (handle generation ${decoded.generation}, current ${current} mod 1024)`,
      { details: { handle, generation: decoded.generation, currentGeneration: owner.generation } },
    );
  }
  throw new MemError(
    'INVALID_ARGUMENT',
    `handle ${handle as number} of ${owner.label} is not an allocation in use (outside the bytes in use, or its length header does not match)`,
    { details: { handle, address: decoded.address, inlineLength: decoded.inlineLength } },
  );
}
