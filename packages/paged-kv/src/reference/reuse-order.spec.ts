import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { blockHashChain } from '../block-hash-chain.js';
import { comparisonBlockAllocator, comparisonKvCacheManager } from './reuse-order.js';

describe('the free-order comparison', () => {
  it("comparisonBlockAllocator in 'lifo' order reuses the most recently freed block even when it caches content", () => {
    const blocks = comparisonBlockAllocator(2, { reuseOrder: 'lifo' });
    const a = blocks.allocate();
    const b = blocks.allocate();
    blocks.registerBlockHash(a, blockHashChain([1, 2], 2), 0);
    blocks.free(a);
    blocks.free(b);
    expect(blocks.allocate()).toBe(b);
    expect(blocks.allocate()).toBe(a);
    expect(blocks.evictions).toBe(1);
  });

  it('comparisonBlockAllocator in the default order keeps the cached block for last', () => {
    const blocks = comparisonBlockAllocator(2);
    const a = blocks.allocate();
    const b = blocks.allocate();
    blocks.registerBlockHash(a, blockHashChain([1, 2], 2), 0);
    blocks.free(b);
    blocks.free(a);
    expect(blocks.allocate()).toBe(b);
    expect(blocks.evictions).toBe(0);
  });

  it('comparisonBlockAllocator throws INVALID_ARGUMENT for an unknown reuse order', () => {
    expectMemError(() => comparisonBlockAllocator(2, { reuseOrder: 'mru' as never }), 'INVALID_ARGUMENT');
  });

  it('comparisonKvCacheManager throws INVALID_ARGUMENT for an unknown reuse order, and builds a lifo manager', () => {
    expectMemError(() => comparisonKvCacheManager({ numBlocks: 4, reuseOrder: 'fifo' as never }), 'INVALID_ARGUMENT');
    expect(comparisonKvCacheManager({ numBlocks: 4, reuseOrder: 'lifo' }).allocator.reuseOrder).toBe('lifo');
  });
});
