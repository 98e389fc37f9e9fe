import { describe, expect, it } from 'vitest';
import { RecordingMetricsSink } from '@mem/types';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { BufferClassStats } from './buffer-pool-stats.js';
import type { IoBuffer } from './io-buffer.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

const page = 4096;

function testConfig(minSize: number, maxSize: number, maxPerClass: number): BufferPoolConfig {
  return BufferPoolConfig.from({ minSize, maxSize, maxPerClass, alignment: page });
}

function testPool(config: BufferPoolConfig): BufferPool {
  return new BufferPool(config, { leakDetection: 'off' });
}

function classOf(pool: BufferPool, size: number): BufferClassStats {
  return pool.stats().classes[pool.config.classIndexOf(size)!]!;
}

/** Tracked buffers of the class held by their owners. */
function allocated(pool: BufferPool, size: number): number {
  return classOf(pool, size).inUse;
}

/** Free tracked buffers of the class visible to this worker. */
function available(pool: BufferPool, size: number): number {
  const stats = classOf(pool, size);
  return stats.globalFree + stats.localFree;
}

describe('BufferPool', () => {
  it('allocates a buffer of length 0 and at least the requested capacity, and takes it back', () => {
    const pool = testPool(testConfig(page, page * 4, 2));
    const buffer = pool.tryAlloc(page);
    expect(buffer.capacity).toBeGreaterThanOrEqual(page);
    expect(buffer.length).toBe(0);
    expect(buffer.isPooled).toBe(true);
    buffer.release();
    const again = pool.tryAlloc(page);
    expect(again.capacity).toBeGreaterThanOrEqual(page);
    expect(again.length).toBe(0);
  });

  it('rounds requests up to the next size class', () => {
    const pool = testPool(testConfig(page, page * 4, 10));
    expect(pool.tryAlloc(page).capacity).toBe(page);
    expect(pool.tryAlloc(page + 1).capacity).toBe(page * 2);
    expect(pool.tryAlloc(page * 3).capacity).toBe(page * 4);
    expect(pool.tryAlloc(0).capacity).toBe(page);
    expect(pool.tryAlloc(1).capacity).toBe(page);
  });

  it('hands out views into large backings it owns, never an ArrayBuffer per request', () => {
    const pool = testPool(testConfig(page, page, 64));
    const buffers = Array.from({ length: 64 }, () => pool.tryAlloc(page));
    const backings = new Set(buffers.map((buffer) => buffer.arrayBuffer));
    expect(backings.size).toBe(1);
    expect([...backings][0]!.byteLength).toBe(64 * page);
    expect(new Set(buffers.map((buffer) => buffer.byteOffset)).size).toBe(64);
    const reserved = pool.stats().reservedBytes;
    for (const buffer of buffers) buffer.release();
    for (let i = 0; i < 1000; i += 1) pool.alloc(page).release();
    expect(pool.stats().reservedBytes).toBe(reserved);
  });

  it('gives zeroed buffers of the requested length', () => {
    const pool = testPool(testConfig(page, page * 4, 2));
    const buffer = pool.allocZeroed(100);
    expect(buffer.length).toBe(100);
    expect(buffer.bytes.every((byte) => byte === 0)).toBe(true);
    const strict = pool.tryAllocZeroed(page);
    expect(strict.isPooled).toBe(true);
    expect(strict.length).toBe(page);
    expect(strict.bytes.every((byte) => byte === 0)).toBe(true);
  });

  it('falls back to an untracked zeroed buffer when the class is exhausted', () => {
    const pool = testPool(testConfig(page, page, 1));
    const pooled = pool.tryAlloc(page);
    const buffer = pool.allocZeroed(100);
    expect(buffer.isPooled).toBe(false);
    expect(buffer.length).toBe(100);
    expect(buffer.capacity).toBe(page);
    expect(buffer.bytes.every((byte) => byte === 0)).toBe(true);
    pooled.release();
  });

  it('re-zeroes a dirty reused buffer, over the requested range only', () => {
    const pool = testPool(testConfig(page, page, 1));
    const first = pool.allocZeroed(page);
    expect(first.isPooled).toBe(true);
    first.capacityBytes.fill(0xab);
    first.release();
    const second = pool.allocZeroed(page);
    expect(second.isPooled).toBe(true);
    expect(second.length).toBe(page);
    expect(second.bytes.every((byte) => byte === 0)).toBe(true);
    second.capacityBytes.fill(0xcd);
    second.release();
    const partial = pool.tryAllocZeroed(100);
    expect(partial.bytes.every((byte) => byte === 0)).toBe(true);
    expect(partial.capacityBytes[100]).toBe(0xcd);
    expect(partial.capacityBytes[page - 1]).toBe(0xcd);
  });

  it('bypasses the pool for requests smaller than poolMinSize', () => {
    const pool = testPool(
      BufferPoolConfig.from({ poolMinSize: 512, minSize: 512, maxSize: 1024, maxPerClass: 2, alignment: 128 }),
    );
    const small = pool.tryAlloc(200);
    expect(small.isPooled).toBe(false);
    expect(small.capacity).toBe(200);
    const zeroed = pool.tryAllocZeroed(200);
    expect(zeroed.isPooled).toBe(false);
    expect(zeroed.length).toBe(200);
    expect(zeroed.bytes.every((byte) => byte === 0)).toBe(true);
    const pooled = pool.tryAlloc(512);
    expect(pooled.isPooled).toBe(true);
    expect(pooled.capacity).toBe(512);
    expect(pool.stats().bypassed).toBe(2);
    expect(classOf(pool, 512).created).toBe(1);
  });

  it('creates every buffer up front when prefilled', () => {
    const pool = testPool(testConfig(page, page, 5).withPrefill(true));
    expect(classOf(pool, page).created).toBe(5);
    expect(classOf(pool, page).globalFree).toBe(5);
    expect(pool.stats().reservedBytes).toBe(5 * page);
    const buffers = Array.from({ length: 5 }, () => pool.tryAlloc(page));
    expectMemError(() => pool.tryAlloc(page), 'EXHAUSTED');
    expect(classOf(pool, page).hits.new).toBe(0);
    for (const buffer of buffers) buffer.release();
  });

  it('serves the largest class of the storage preset out of the box', () => {
    const pool = testPool(BufferPoolConfig.forStorage());
    const buffer = pool.tryAlloc(8 * 1024 * 1024);
    expect(buffer.capacity).toBe(8 * 1024 * 1024);
    buffer.release();
  });

  it('recovers from exhaustion when a buffer comes back', () => {
    const pool = testPool(testConfig(page, page, 3));
    const first = pool.tryAlloc(page);
    const second = pool.tryAlloc(page);
    const third = pool.tryAlloc(page);
    expectMemError(() => pool.tryAlloc(page), 'EXHAUSTED');
    first.release();
    const fourth = pool.tryAlloc(page);
    expectMemError(() => pool.tryAlloc(page), 'EXHAUSTED');
    second.release();
    third.release();
    fourth.release();
    expect(allocated(pool, page)).toBe(0);
    expect(available(pool, page)).toBe(3);
    const fifth = pool.tryAlloc(page);
    expect(available(pool, page)).toBe(2);
    expect(classOf(pool, page).exhausted).toBe(2);
    fifth.release();
  });

  it('throws OVERSIZED and EXHAUSTED from tryAlloc and tryAllocZeroed', () => {
    const pool = testPool(testConfig(page, page, 2));
    const oversized = expectMemError(() => pool.tryAlloc(page * 10), 'OVERSIZED');
    expect(oversized.message).toBe('capacity 40960 exceeds the largest size class (maxSize 4096)');
    expectMemError(() => pool.tryAllocZeroed(page * 10), 'OVERSIZED');
    const held = [pool.tryAllocZeroed(page), pool.tryAllocZeroed(page)];
    const exhausted = expectMemError(() => pool.tryAlloc(page), 'EXHAUSTED');
    expect(exhausted.message).toBe('the 4096-byte class has all 2 buffers in use (capacity 4096)');
    expectMemError(() => pool.tryAllocZeroed(page), 'EXHAUSTED');
    expect(pool.stats().oversized).toBe(2);
    for (const buffer of held) buffer.release();
  });

  it('falls back to aligned untracked buffers when exhausted or oversized, without touching the counts', () => {
    const pool = testPool(testConfig(page, page, 2));
    const first = pool.tryAlloc(page);
    const second = pool.tryAlloc(page);
    expect(first.isPooled && second.isPooled).toBe(true);
    const exhausted = pool.alloc(page);
    expect(exhausted.isPooled).toBe(false);
    expect(exhausted.byteOffset % page).toBe(0);
    const oversized = pool.alloc(page * 10);
    expect(oversized.isPooled).toBe(false);
    expect(oversized.capacity).toBe(page * 10);
    expect(oversized.byteOffset % page).toBe(0);
    expect(pool.alloc(10).capacity).toBe(page); // at least minSize
    expect(allocated(pool, page)).toBe(2);
    exhausted.release();
    oversized.release();
    expect(allocated(pool, page)).toBe(2);
    expect(pool.stats().fallbacks).toBe(3);
    first.release();
    second.release();
    expect(allocated(pool, page)).toBe(0);
  });

  it('tells pooled buffers from untracked ones', () => {
    const pool = testPool(testConfig(page, page, 2));
    expect(pool.tryAlloc(page).isPooled).toBe(true);
    expect(pool.alloc(page * 10).isPooled).toBe(false);
    expect(pool.tryAlloc(page).freeze().isPooled).toBe(true);
    expect(pool.alloc(page * 10).freeze().isPooled).toBe(false);
  });

  it('aligns the base of every pooled buffer', () => {
    const storage = testPool(BufferPoolConfig.forStorage().withAlignment(page));
    const network = testPool(BufferPoolConfig.forNetwork().withAlignment(64));
    for (const [pool, alignment] of [
      [storage, page],
      [network, 64],
    ] as const) {
      const buffers: IoBuffer[] = [];
      for (let i = 0; i < 20; i += 1) buffers.push(pool.tryAlloc(100 + i * 1000));
      for (const buffer of buffers) expect(buffer.byteOffset % alignment).toBe(0);
      for (const buffer of buffers) buffer.release();
    }
  });

  it('keeps buffers that are out when the pool closes usable, and takes their release safely', () => {
    const pool = testPool(testConfig(page, page, 2));
    const buffer = pool.tryAlloc(page);
    buffer.write(new Uint8Array(100).fill(7));
    const frozen = buffer.freeze();
    const mutable = pool.tryAlloc(page);
    pool.close();
    expect(frozen.length).toBe(100);
    expect(frozen.bytes.every((byte) => byte === 7)).toBe(true);
    mutable.capacityBytes[0] = 1;
    frozen.release();
    mutable.release();
    expect(pool.closed).toBe(true);
    expect(allocated(pool, page)).toBe(0);
  });

  it('drops its free buffers when it closes, and refuses allocations afterwards', () => {
    const pool = testPool(testConfig(page, page, 4));
    const buffers = [pool.tryAlloc(page), pool.tryAlloc(page), pool.tryAlloc(page)];
    buffers[0]!.release();
    buffers[1]!.release();
    pool.close();
    const stats = classOf(pool, page);
    expect(stats.globalFree + stats.localFree).toBe(0);
    expect(stats.inUse).toBe(1);
    expect(pool.stats().closed).toBe(true);
    for (const action of [
      () => pool.alloc(page),
      () => pool.tryAlloc(page),
      () => pool.allocZeroed(page),
      () => pool.tryAllocZeroed(page),
    ]) {
      expect(expectMemError(action, 'USE_AFTER_RELEASE').message).toBe('BufferPool was used after close()');
    }
    pool.close(); // a second close does nothing
    buffers[2]!.release();
    expect(classOf(pool, page).inUse).toBe(0);
  });

  it('closes at the end of a using block', () => {
    let escaped: BufferPool | undefined;
    {
      using pool = testPool(testConfig(page, page, 2));
      escaped = pool;
      using buffer = pool.alloc(page);
      expect(buffer.isPooled).toBe(true);
    }
    expect(escaped.closed).toBe(true);
  });

  it('refuses to share a pool that was not created shared', () => {
    expectMemError(() => testPool(testConfig(page, page, 2)).descriptor(), 'INVALID_ARGUMENT');
  });

  it('accepts a plain object of configuration fields, and defaults to the network preset', () => {
    expect(new BufferPool({ maxSize: 4096 }).config.classSizes).toEqual([1024, 2048, 4096]);
    expect(new BufferPool().config.toJSON()).toEqual(BufferPoolConfig.forNetwork().toJSON());
    expectMemError(() => new BufferPool({ minSize: 4096, maxSize: 1024 }), 'INVALID_ARGUMENT');
    expectMemError(() => new BufferPool(BufferPoolConfig.forNetwork().withMaxSize(512)), 'INVALID_ARGUMENT');
  });

  it('publishes created, free, hit, exhausted, oversized and fallback counts to its metrics sink', () => {
    const sink = new RecordingMetricsSink();
    const pool = new BufferPool(testConfig(page, page * 2, 2), { name: 'io', metrics: sink, leakDetection: 'off' });
    const size_class = String(page);
    const io = { pool: 'io' };
    const first = pool.tryAlloc(page); // new
    first.release();
    pool.tryAlloc(page).release(); // local
    const held = [pool.tryAlloc(page), pool.tryAlloc(page)]; // local, new
    pool.alloc(page); // exhausted: fallback
    pool.alloc(page * 8); // oversized: fallback
    for (const buffer of held) buffer.release();
    expect(sink.read('mem_buffer_pool_buffers', { ...io, size_class })).toBe(2);
    expect(sink.read('mem_buffer_pool_hits_total', { ...io, size_class, tier: 'new' })).toBe(2);
    expect(sink.read('mem_buffer_pool_hits_total', { ...io, size_class, tier: 'local' })).toBe(2);
    expect(sink.read('mem_buffer_pool_hits_total', { ...io, size_class, tier: 'global' })).toBe(0);
    expect(sink.read('mem_buffer_pool_exhausted_total', { ...io, size_class })).toBe(1);
    expect(sink.read('mem_buffer_pool_oversized_total', io)).toBe(1);
    expect(sink.read('mem_buffer_pool_fallbacks_total', io)).toBe(2);
    expect(sink.read('mem_buffer_pool_free_buffers', { ...io, size_class, where: 'local' })).toBe(1);
    expect(sink.read('mem_buffer_pool_free_buffers', { ...io, size_class, where: 'global' })).toBe(1);
    expect(sink.read('mem_buffer_pool_buffers', { ...io, size_class: String(page * 2) })).toBe(0);
    // Counters keep growing between scrapes, and a closed pool stops publishing.
    pool.tryAlloc(page).release();
    expect(sink.read('mem_buffer_pool_hits_total', { ...io, size_class, tier: 'local' })).toBe(3);
    pool.close();
    expect(() => sink.collect()).not.toThrow();
  });

  it("labels its series with the pool's name, 'buffer-pool' by default", () => {
    const sink = new RecordingMetricsSink();
    const pool = new BufferPool(testConfig(page, page * 2, 2), { metrics: sink, leakDetection: 'off' });
    pool.tryAlloc(page).release();
    expect(
      sink.read('mem_buffer_pool_hits_total', { pool: 'buffer-pool', size_class: String(page), tier: 'new' }),
    ).toBe(1);
    expect(sink.read('mem_buffer_pool_oversized_total', { pool: 'buffer-pool' })).toBe(0);
    pool.close();
  });

  it('gives a JSON snapshot of its state', () => {
    const pool = testPool(testConfig(page, page * 2, 4));
    const held = pool.tryAlloc(page * 2);
    pool.tryAlloc(page).release();
    const stats = pool.stats();
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
    expect(stats).toMatchObject({
      shared: false,
      closed: false,
      leakDetection: 'off',
      workerCacheCapacity: 2,
      oversized: 0,
      bypassed: 0,
      fallbacks: 0,
      leaks: 0,
      transfersInFlight: 0,
    });
    expect(stats.classes).toEqual([
      {
        size: page,
        maxBuffers: 4,
        created: 1,
        globalFree: 0,
        localFree: 1,
        inUse: 0,
        exhausted: 0,
        hits: { local: 0, global: 0, new: 1 },
      },
      {
        size: page * 2,
        maxBuffers: 4,
        created: 1,
        globalFree: 0,
        localFree: 0,
        inUse: 1,
        exhausted: 0,
        hits: { local: 0, global: 0, new: 1 },
      },
    ]);
    held.release();
  });
});
