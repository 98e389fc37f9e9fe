/**
 * The free-order comparison: a {@link BlockAllocator} (or a {@link KvCacheManager} over one) whose
 * free blocks are reused in a chosen order, to measure what the default order gains.
 *
 * This module is browser compatible.
 * @module
 */
import { BlockAllocator, type BlockAllocatorOptions } from '../block-allocator.js';
import { KvCacheManager, type KvCacheManagerOptions } from '../kv-cache-manager.js';
import type { ReuseOrder } from '../free-order.js';

export type { ReuseOrder } from '../free-order.js';

/** The reuse order to compare. */
export interface ComparisonOptions {
  /**
   * `'lru'`: the default, plain free blocks first, then soft-free blocks least recently freed first.
   * `'lifo'`: one free list, the most recently freed block first whether it caches content or not;
   * it evicts useful cached blocks, so it only serves as the comparison. @defaultValue 'lru'
   */
  readonly reuseOrder?: ReuseOrder;
}

/**
 * A {@link BlockAllocator} reusing free blocks in `options.reuseOrder`.
 * Cost: as the constructor.
 * @throws MemError INVALID_ARGUMENT as the constructor, or if `reuseOrder` is not `'lru'` or `'lifo'`.
 *
 * @example
 * ```ts
 * import { comparisonBlockAllocator } from '@mem/paged-kv/reference';
 * const lifo = comparisonBlockAllocator(16, { reuseOrder: 'lifo' });
 * lifo.free(lifo.allocate());
 * ```
 */
export function comparisonBlockAllocator(
  capacity: number,
  options: BlockAllocatorOptions & ComparisonOptions = {},
): BlockAllocator {
  return new BlockAllocator(capacity, options);
}

/**
 * A {@link KvCacheManager} whose allocator reuses free blocks in `options.reuseOrder`.
 * Cost: as the constructor.
 * @throws MemError INVALID_ARGUMENT as the constructor, or if `reuseOrder` is not `'lru'` or `'lifo'`.
 *
 * @example
 * ```ts
 * import { comparisonKvCacheManager } from '@mem/paged-kv/reference';
 * const kv = comparisonKvCacheManager({ numBlocks: 64, reuseOrder: 'lifo' });
 * kv.allocator.capacity; // 64
 * ```
 */
export function comparisonKvCacheManager(options: KvCacheManagerOptions & ComparisonOptions): KvCacheManager {
  return new KvCacheManager(options);
}
