/**
 * `@mem/buffer-pool`: A size-class I/O buffer pool with per-worker caches and a shared lock-free freelist.
 *
 * This module is browser compatible.
 * @module
 */
export {};
