/**
 * `@mem/buffer-pool`: a size-class I/O buffer pool with per-worker caches and a shared lock-free
 * freelist, for Node.js network and storage servers that would otherwise call `Buffer.alloc*` per
 * request. Node-only helpers (zero-copy `Buffer` conversion) are in `@mem/buffer-pool/node`.
 *
 * This module is browser compatible.
 * @module \@mem/buffer-pool
 */
export { BufferPool } from './buffer-pool.js';
export { BufferPoolConfig, type BufferPoolConfigFields, type WorkerCachePolicy } from './buffer-pool-config.js';
export type { BufferLeakReport, PoolInstanceOptions } from './buffer-pool-options.js';
export type { BufferClassHits, BufferClassStats, BufferPoolStats } from './buffer-pool-stats.js';
export { BUFFER_TRANSFER_TYPE, type BufferTransfer } from './buffer-transfer.js';
export { FrozenBuffer } from './frozen-buffer.js';
export { IoBuffer } from './io-buffer.js';
export { POOL_DESCRIPTOR_KIND, POOL_LAYOUT_VERSION, type BufferPoolDescriptor } from './pool-descriptor.js';
export type { SharedFreelistMemory } from './shared-freelist.js';
export type { SharedSegments } from './slot-memory.js';
export { DEFAULT_PAGE_SIZE, MAX_BUFFER_SIZE, MAX_TRACKED_BUFFERS, MAX_TRANSFERS_IN_FLIGHT } from './pool-limits.js';
