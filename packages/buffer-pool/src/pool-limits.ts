/**
 * The hard limits of a buffer pool, in one place so that validation messages and documentation agree.
 *
 * This module is browser compatible.
 * @module
 */

/** The largest size class: one buffer must fit in one `ArrayBuffer` on every runtime (1 GiB). */
export const MAX_BUFFER_SIZE = 2 ** 30;

/**
 * The most tracked buffers a pool may have over all its classes together (2^22). Per-slot
 * bookkeeping (freelist links, reference counts, cached views) is sized for every possible slot
 * when the pool is created, about 30 bytes each.
 */
export const MAX_TRACKED_BUFFERS = 2 ** 22;

/** The largest expected parallelism (workers sharing one pool). */
export const MAX_PARALLELISM = 1024;

/** The page size `forStorage()` assumes: JavaScript cannot ask the OS, and 4 KiB is the common case. */
export const DEFAULT_PAGE_SIZE = 4096;

/** Worker caches smaller than this move single buffers to and from the global freelist, not batches. */
export const MIN_BATCH_CACHE_CAPACITY = 4;

/** Bytes of one lazily allocated backing segment of a private (non-shared) pool. */
export const PRIVATE_SEGMENT_BYTES = 2 ** 20;

/** Bytes of one backing segment of a shared pool (all allocated up front; the OS commits pages on first touch). */
export const SHARED_SEGMENT_BYTES = 2 ** 30;

/** How many transfers (buffers handed to another party by descriptor) may be in flight at once. */
export const MAX_TRANSFERS_IN_FLIGHT = 4096;
