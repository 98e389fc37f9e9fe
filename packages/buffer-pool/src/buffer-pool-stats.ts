/**
 * The JSON snapshot `BufferPool.stats()` returns.
 *
 * This module is browser compatible.
 * @module
 */
import type { LeakDetectionLevel } from '@mem/types';

/** Where allocations of one class were served from (counted by this pool instance). */
export interface BufferClassHits {
  /** From this worker's local cache: the hot path. */
  readonly local: number;
  /** From the global freelist, on a local miss. */
  readonly global: number;
  /** By creating a new tracked buffer, when both were empty. */
  readonly new: number;
}

/** One size class in a {@link BufferPoolStats} snapshot. */
export interface BufferClassStats {
  /** The class's buffer size in bytes. */
  readonly size: number;
  /** The most tracked buffers the class may create. */
  readonly maxBuffers: number;
  /** Tracked buffers created so far (pool-wide in a shared pool). */
  readonly created: number;
  /** Free buffers in the global freelist (pool-wide). */
  readonly globalFree: number;
  /** Free buffers in this worker's local cache. */
  readonly localFree: number;
  /**
   * `created - globalFree - localFree`: buffers held by their owners. In a shared pool this also
   * counts buffers parked in other workers' local caches.
   */
  readonly inUse: number;
  /** Allocations this instance could not serve because the class was at `maxBuffers` with nothing free. */
  readonly exhausted: number;
  /** Where this instance's allocations of the class came from. */
  readonly hits: BufferClassHits;
}

/** A plain, JSON-serialisable snapshot of a pool instance. */
export interface BufferPoolStats {
  /** Whether the pool lives in SharedArrayBuffers (workers can attach). */
  readonly shared: boolean;
  /** Whether this instance was closed. */
  readonly closed: boolean;
  /** The leak detection level of this instance. */
  readonly leakDetection: LeakDetectionLevel;
  /** Free buffers each class may keep in this worker's local cache. */
  readonly workerCacheCapacity: number;
  /** Bytes of backing memory allocated (for a shared pool: reserved up front). */
  readonly reservedBytes: number;
  /** Requests larger than `maxSize`. */
  readonly oversized: number;
  /** Requests smaller than `poolMinSize`, served untracked by design. */
  readonly bypassed: number;
  /** Untracked buffers handed out by `alloc`/`allocZeroed` because the request was oversized or its class exhausted. */
  readonly fallbacks: number;
  /** Pooled buffers or views garbage-collected without release (reported and recovered). */
  readonly leaks: number;
  /** Buffers transferred by descriptor and not adopted yet (pool-wide). */
  readonly transfersInFlight: number;
  /** One entry per size class, smallest first. */
  readonly classes: readonly BufferClassStats[];
}
