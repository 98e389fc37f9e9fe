/**
 * What every arena offers, whether it lives in one worker ({@link EpochArena}) or in shared memory
 * ({@link SharedEpochArena}): the allocation calls, the checked handle accessors and the stats.
 *
 * This module is browser compatible.
 * @module
 */

/**
 * A handle to an allocation: a plain number (a safe integer) that packs the allocation's address,
 * its length, its arena's id and the arena's generation. Creating, storing and passing one makes
 * no garbage; every access through one is checked. See `handle-layout.ts` in the sources and the
 * README for the bit layout.
 */
export type ArenaHandle = number;

/** The option names of {@link ResetOptions}. */
export const RESET_OPTIONS = ['retainBlocks'] as const;

/** Options of a reset. */
export interface ResetOptions {
  /**
   * The most regular blocks to keep for reuse; blocks beyond are dropped for the GC to free.
   * Blocks of oversized allocations are always dropped.
   * @defaultValue the arena's `retainBlocks` option (every block when that is not set)
   */
  readonly retainBlocks?: number;
}

/** A snapshot of an arena, plain and JSON-serialisable. */
export interface ArenaStats {
  /** The epoch number the arena was created or last reset with. */
  readonly epoch: number;
  /** How many times the arena has been reset (the handle carries it modulo 1024). */
  readonly generation: number;
  /** The arena's id (1 to 63), carried by its handles. */
  readonly arenaId: number;
  /** Blocks the arena holds, including blocks kept for reuse (a shared arena has one region). */
  readonly blockCount: number;
  /** Blocks allocated from in the current generation. */
  readonly blocksInUse: number;
  /** Blocks that hold one oversized allocation each. */
  readonly oversizedBlocks: number;
  /** Bytes of all blocks the arena holds (for a shared arena, the size of its region). */
  readonly totalCapacity: number;
  /**
   * Bytes taken from blocks in the current generation, alignment padding and length headers
   * included (for a shared arena, bytes handed to workers' chunks and direct allocations).
   */
  readonly bytesUsed: number;
  /** Bytes requested by the allocations of the current generation. */
  readonly bytesAllocated: number;
  /** Allocations made in the current generation. */
  readonly allocationCount: number;
  /** The allocation limit in bytes, or `null` when there is none. */
  readonly allocationLimit: number | null;
}

/**
 * The interface of {@link EpochArena} and {@link SharedEpochArena}: bump allocation with checked
 * handles. An {@link ArenaPool} holds `EpochArena`s behind it, a {@link SharedArenaPool} holds
 * `SharedEpochArena`s.
 */
export interface Arena {
  /** The arena's id (1 to 63), carried by every handle it issues. Cost: O(1). */
  readonly id: number;
  /** The epoch number of the current generation. Cost: O(1). */
  readonly epoch: number;
  /** How many times the arena has been reset. Cost: O(1). */
  readonly generation: number;
  /**
   * Allocates `size` bytes aligned to `align` (a power of two up to 4096; at least 8) and returns
   * their handle. The bytes are not zeroed: after a reset they hold an earlier generation's data.
   * Cost: a few nanoseconds for small sizes; a new block now and then.
   * @throws MemError INVALID_ARGUMENT for a bad size or alignment, OVERSIZED above 2 GiB,
   * LIMIT_EXCEEDED past the allocation limit, EXHAUSTED when memory or handle space runs out.
   */
  allocate(size: number, align?: number): ArenaHandle;
  /**
   * Allocates a copy of `bytes` (8-byte aligned) and returns its handle.
   * Cost: the allocation plus a copy of `bytes.length` bytes.
   * @throws as {@link Arena.allocate}; INVALID_ARGUMENT if `bytes` is not a `Uint8Array`.
   */
  allocateCopy(bytes: Uint8Array): ArenaHandle;
  /**
   * Allocates a copy of a key of at most 256 bytes, 16-byte aligned, and returns its handle.
   * Cost: as {@link Arena.allocateCopy}.
   * @throws MemError OVERSIZED for a key longer than 256 bytes; otherwise as {@link Arena.allocateCopy}.
   */
  allocateKey(key: Uint8Array): ArenaHandle;
  /**
   * Starts a new generation tagged `newEpoch`: every handle issued so far becomes stale and the
   * blocks are reused from their start. Cost: O(blocks), never O(allocations).
   * @throws MemError INVALID_ARGUMENT for a bad epoch or options.
   */
  reset(newEpoch: number, options?: ResetOptions): void;
  /**
   * A `Uint8Array` over the allocation's bytes, without copying. Valid until the next reset: it
   * aliases the block, so keep handles, not views, across generations.
   * Cost: the handle check plus one view object.
   * @throws MemError STALE_HANDLE, FOREIGN_HANDLE or INVALID_ARGUMENT for a bad handle.
   */
  view(handle: ArenaHandle): Uint8Array;
  /**
   * A fresh copy of the allocation's bytes.
   * Cost: the handle check plus one allocation and copy.
   * @throws as {@link Arena.view}.
   */
  copy(handle: ArenaHandle): Uint8Array;
  /**
   * Copies the allocation's bytes into `target` at `targetOffset` and returns how many were copied.
   * Cost: the handle check plus the copy; no allocation.
   * @throws as {@link Arena.view}; INVALID_ARGUMENT if `target` is not a `Uint8Array` or too short.
   */
  copyTo(handle: ArenaHandle, target: Uint8Array, targetOffset?: number): number;
  /**
   * Copies `source` into the allocation at `offset`.
   * Cost: the handle check plus the copy; no allocation.
   * @throws as {@link Arena.view}; INVALID_ARGUMENT if `source` is not a `Uint8Array` or does not fit.
   */
  write(handle: ArenaHandle, source: Uint8Array, offset?: number): void;
  /**
   * Sets every byte of the allocation to `value` (0 by default).
   * Cost: the handle check plus O(length).
   * @throws as {@link Arena.view}; INVALID_ARGUMENT if `value` is not an integer in [0, 255].
   */
  fill(handle: ArenaHandle, value?: number): void;
  /**
   * Compares the allocation's bytes with `key` in memcmp order (bytes as unsigned, then length),
   * without copying: negative, 0 or positive.
   * Cost: the handle check plus O(length); no allocation.
   * @throws as {@link Arena.view}; INVALID_ARGUMENT if `key` is not a `Uint8Array`.
   */
  compare(handle: ArenaHandle, key: Uint8Array): number;
  /**
   * Tells whether the allocation's bytes equal `key`, without copying.
   * Cost: the handle check plus O(length); no allocation.
   * @throws as {@link Arena.compare}.
   */
  equals(handle: ArenaHandle, key: Uint8Array): boolean;
  /**
   * The allocation's length in bytes.
   * Cost: the handle check.
   * @throws as {@link Arena.view}.
   */
  lengthOf(handle: ArenaHandle): number;
  /**
   * The epoch the handle was issued in (always the current one: older handles are stale).
   * Cost: the handle check.
   * @throws as {@link Arena.view}.
   */
  epochOf(handle: ArenaHandle): number;
  /**
   * Tells whether `handle` is a live handle of this arena; never throws, whatever it is given.
   * Cost: the handle check.
   */
  isValid(handle: unknown): boolean;
  /** A snapshot of the arena. Cost: O(blocks) (O(workers) for a shared arena). */
  stats(): ArenaStats;
}
