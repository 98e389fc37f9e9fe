import { describe, expect, it } from 'vitest';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { BufferClassStats } from './buffer-pool-stats.js';
import { PrivateFreelist } from './freelist.js';
import { WorkerCache } from './worker-cache.js';

const page = 4096;

function testPool(config: BufferPoolConfig): BufferPool {
  return new BufferPool(config, { leakDetection: 'off' });
}

function testConfig(minSize: number, maxSize: number, maxPerClass: number): BufferPoolConfig {
  return BufferPoolConfig.from({ minSize, maxSize, maxPerClass, alignment: page });
}

function classOf(pool: BufferPool, size: number): BufferClassStats {
  return pool.stats().classes[pool.config.classIndexOf(size)!]!;
}

describe('worker cache', () => {
  it('keeps the first return local and spills the overflow of a one-slot cache to the global freelist', () => {
    const pool = testPool(testConfig(page, page, 2));
    expect(pool.stats().workerCacheCapacity).toBe(1);
    const first = pool.tryAlloc(page);
    const second = pool.tryAlloc(page);
    first.release();
    expect(classOf(pool, page)).toMatchObject({ globalFree: 0, localFree: 1 });
    second.release();
    expect(classOf(pool, page)).toMatchObject({ globalFree: 1, localFree: 1 });
  });

  it('sends the overflow of a small cache straight to the global freelist, keeping the hot local buffer', () => {
    const pool = testPool(testConfig(page, page, 2));
    const first = pool.tryAlloc(page);
    const firstOffset = first.byteOffset;
    const second = pool.tryAlloc(page);
    const secondOffset = second.byteOffset;
    first.release();
    second.release();
    const reusedLocal = pool.tryAlloc(page);
    expect(reusedLocal.byteOffset).toBe(firstOffset);
    const reusedGlobal = pool.tryAlloc(page);
    expect(reusedGlobal.byteOffset).toBe(secondOffset);
    expect(classOf(pool, page).hits).toEqual({ local: 1, global: 1, new: 2 });
  });

  it('spills half of a full large cache in one batch and refills half of it in one batch', () => {
    const pool = testPool(testConfig(page, page, 16));
    const capacity = pool.stats().workerCacheCapacity;
    expect(capacity).toBe(8);
    const buffers = Array.from({ length: capacity + 1 }, () => pool.tryAlloc(page));
    for (const buffer of buffers) buffer.release();
    expect(classOf(pool, page)).toMatchObject({ localFree: capacity / 2 + 1, globalFree: capacity / 2 });

    // Drain the local half, then miss once: the global take refills the cache with a batch.
    const reused = Array.from({ length: capacity / 2 + 1 }, () => pool.tryAlloc(page));
    expect(classOf(pool, page)).toMatchObject({ localFree: 0, globalFree: capacity / 2 });
    reused.push(pool.tryAlloc(page));
    expect(classOf(pool, page)).toMatchObject({ localFree: capacity / 2 - 1, globalFree: 0 });
    expect(classOf(pool, page).hits.global).toBe(1);
    for (const buffer of reused) buffer.release();
  });

  it('stops a batch refill when the global freelist runs empty', () => {
    const global = new PrivateFreelist(1, 8);
    const cache = new WorkerCache(1, 4);
    global.put(0, 5);
    expect(cache.refill(0, global)).toBe(5);
    expect(cache.length(0)).toBe(0);
    expect(global.length(0)).toBe(0);
    expect(cache.refill(0, global)).toBe(-1);
  });

  it('sends every return of a zero-capacity cache to the global freelist', () => {
    const global = new PrivateFreelist(1, 8);
    const cache = new WorkerCache(1, 0);
    cache.spill(0, 3, global);
    expect(cache.length(0)).toBe(0);
    expect(global.length(0)).toBe(1);
    expect(cache.refill(0, global)).toBe(3);
  });

  it('keeps nothing locally when the cache is disabled', () => {
    const pool = testPool(testConfig(page, page, 2).withWorkerCacheDisabled());
    pool.tryAlloc(page).release();
    expect(pool.stats().workerCacheCapacity).toBe(0);
    expect(classOf(pool, page)).toMatchObject({ localFree: 0, globalFree: 1 });
    pool.tryAlloc(page).release();
    expect(classOf(pool, page).hits).toEqual({ local: 0, global: 1, new: 1 });
  });

  it('disables a derived cache when more workers are expected than the class has buffers to share', () => {
    const pool = testPool(testConfig(page, page, 2).withParallelism(8));
    expect(pool.stats().workerCacheCapacity).toBe(0);
    const buffers = [pool.tryAlloc(page), pool.tryAlloc(page)];
    for (const buffer of buffers) buffer.release();
    expect(classOf(pool, page)).toMatchObject({ localFree: 0, globalFree: 2 });
  });

  it('flushes every class of the local cache to the global freelists', () => {
    const pool = testPool(testConfig(page, page * 2, 8).withWorkerCacheCapacity(4));
    pool.tryAlloc(page).release();
    pool.tryAlloc(page + 1).release();
    expect(classOf(pool, page)).toMatchObject({ localFree: 1, globalFree: 0 });
    expect(classOf(pool, page * 2)).toMatchObject({ localFree: 1, globalFree: 0 });
    pool.flush();
    expect(classOf(pool, page)).toMatchObject({ localFree: 0, globalFree: 1 });
    expect(classOf(pool, page * 2)).toMatchObject({ localFree: 0, globalFree: 1 });
    pool.flush(); // nothing left: nothing moves
    expect(classOf(pool, page).globalFree).toBe(1);
  });
});
