import { describe, expect, it } from 'vitest';
import { RecordingMetricsSink } from '@mem/types';
import { BlockAllocator } from './block-allocator.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

/** A 64-bit seed-style hash as a digest of `words` words (the value in the first two words). */
function digest(value: number, words = 4): Uint32Array {
  const out = new Uint32Array(words);
  out[0] = value >>> 0;
  out[1] = Math.floor(value / 0x100000000);
  return out;
}

const BAD_BLOCKS: [string, unknown][] = [
  ['negative', -1],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['fractional', 1.5],
  ['huge', 2 ** 53],
  ['out of range', 4],
  ['a string', '1'],
  ['null', null],
  ['undefined', undefined],
  ['an object', {}],
];

describe('BlockAllocator: the seed cases', () => {
  it('allocates blocks in order, fails when exhausted, and reuses the most recently freed plain block first', () => {
    const a = new BlockAllocator(4);
    expect(a.freeCount).toBe(4);
    expect([a.allocate(), a.allocate(), a.allocate(), a.allocate()]).toEqual([0, 1, 2, 3]);
    expectMemError(() => a.allocate(), 'EXHAUSTED');
    expect(a.freeCount).toBe(0);
    a.freeMany([1, 3]);
    expect(a.freeCount).toBe(2);
    expect(a.allocate()).toBe(3);
    expect(a.allocate()).toBe(1);
  });

  it('takes all blocks of allocateMany or none', () => {
    const a = new BlockAllocator(3);
    a.allocate();
    a.allocate();
    expectMemError(() => a.allocateMany(2), 'EXHAUSTED');
    expect(a.freeCount).toBe(1);
  });

  it('tracks the peak in use, which never decreases', () => {
    const a = new BlockAllocator(8);
    const blocks = a.allocateMany(5);
    expect(a.peakInUse).toBe(5);
    a.freeMany(blocks);
    expect(a.peakInUse).toBe(5);
    a.allocateMany(3);
    expect(a.peakInUse).toBe(5);
  });

  it('starts an allocated block at reference count 1', () => {
    const a = new BlockAllocator(4);
    expect(a.refCount(a.allocate())).toBe(1);
  });

  it('increments the count on acquire', () => {
    const a = new BlockAllocator(4);
    const b = a.allocate();
    a.acquire(b);
    a.acquire(b);
    expect(a.refCount(b)).toBe(3);
  });

  it('does not release a block while references remain', () => {
    const a = new BlockAllocator(4);
    const b = a.allocate();
    a.acquire(b);
    a.free(b);
    expect(a.refCount(b)).toBe(1);
    expect(a.freeCount).toBe(3);
  });

  it('releases a block when the last reference goes', () => {
    const a = new BlockAllocator(4);
    const b = a.allocate();
    a.acquire(b);
    a.free(b);
    a.free(b);
    expect(a.refCount(b)).toBe(0);
    expect(a.freeCount).toBe(4);
  });

  it('keeps single-reference allocate and free as before prefix caching', () => {
    const a = new BlockAllocator(2);
    const b = a.allocate();
    expect(a.freeCount).toBe(1);
    a.free(b);
    expect(a.freeCount).toBe(2);
    expect(a.refCount(b)).toBe(0);
    expect(a.allocate()).toBe(b);
  });

  it('acquires and releases in bulk', () => {
    const a = new BlockAllocator(8);
    const blocks = a.allocateMany(3);
    a.acquireMany(blocks);
    for (const b of blocks) expect(a.refCount(b)).toBe(2);
    a.freeMany(blocks);
    expect(a.freeCount).toBe(5);
    a.freeMany(blocks);
    expect(a.freeCount).toBe(8);
  });

  it('acquires a live block by hash, adding a reference', () => {
    const a = new BlockAllocator(4);
    const b = a.allocate();
    const h = digest(0xdeadbeef);
    a.registerBlockHash(b, h);
    expect(a.hashTableSize).toBe(1);
    expect(a.tryAcquireByHash(h)).toBe(b);
    expect(a.refCount(b)).toBe(2);
  });

  it('resurrects a soft-free block by hash with one reference, off the free order', () => {
    const a = new BlockAllocator(4);
    const b = a.allocate();
    const h = digest(0xabcd1234);
    a.registerBlockHash(b, h);
    a.free(b);
    expect(a.freeCount).toBe(4);
    expect(a.refCount(b)).toBe(0);
    expect(a.tryAcquireByHash(h)).toBe(b);
    expect(a.refCount(b)).toBe(1);
    expect(a.freeCount).toBe(3);
    expect(a.evictionOrder()).not.toContain(b);
  });

  it('misses an unknown hash without side effects', () => {
    const a = new BlockAllocator(4);
    const b = a.allocate();
    a.registerBlockHash(b, digest(1));
    expect(a.tryAcquireByHash(digest(99))).toBe(-1);
    expect(a.refCount(b)).toBe(1);
  });

  it('evicts the stale hash of a soft-free block when it is reused (the seed order)', () => {
    const a = new BlockAllocator(2, { reuseOrder: 'lifo' });
    const b1 = a.allocate();
    const h = digest(0x1234);
    a.registerBlockHash(b1, h);
    a.free(b1);
    expect(a.hashTableSize).toBe(1);
    expect(a.allocate()).toBe(b1); // LIFO reuses b1
    expect(a.hashTableSize).toBe(0);
    expect(a.tryAcquireByHash(h)).toBe(-1);
    expect(a.evictions).toBe(1);
  });

  it('evicts the stale hash of a soft-free block once no plain block is left (LRU order)', () => {
    const a = new BlockAllocator(2);
    const b1 = a.allocate();
    const h = digest(0x1234);
    a.registerBlockHash(b1, h);
    a.free(b1);
    expect(a.allocate()).toBe(1); // the never-cached block first: b1 stays cached
    expect(a.tryAcquireByHash(h)).toBe(b1);
    a.free(b1);
    a.free(1);
    expect(a.allocate()).toBe(1);
    expect(a.allocate()).toBe(b1); // now reused, and its hash evicted
    expect(a.hashTableSize).toBe(0);
    expect(a.tryAcquireByHash(h)).toBe(-1);
  });

  it('replaces a block hash when registering a new one', () => {
    const a = new BlockAllocator(4);
    const b = a.allocate();
    a.registerBlockHash(b, digest(1));
    a.registerBlockHash(b, digest(2));
    expect(a.hashTableSize).toBe(1);
    expect(a.tryAcquireByHash(digest(1))).toBe(-1);
    expect(a.tryAcquireByHash(digest(2))).toBe(b);
  });
});

describe('BlockAllocator: eviction order', () => {
  it('uses never-cached blocks first, then soft-free blocks least recently freed first', () => {
    const a = new BlockAllocator(6);
    const blocks = a.allocateMany(6);
    for (const b of [0, 1, 2]) a.registerBlockHash(b, digest(100 + b));
    a.free(2);
    a.free(0);
    a.free(4);
    a.free(1);
    a.free(5);
    expect(a.evictionOrder()).toEqual([5, 4, 2, 0, 1]);
    expect(a.cachedFreeCount).toBe(3);
    expect([a.allocate(), a.allocate(), a.allocate()]).toEqual([5, 4, 2]);
    expect(a.tryAcquireByHash(digest(102))).toBe(-1);
    expect(a.tryAcquireByHash(digest(100))).toBe(0);
    expect(blocks.length).toBe(6);
  });

  it('frees a sequence tail first so that its last block is evicted first', () => {
    const a = new BlockAllocator(4);
    const table = a.allocateMany(4);
    table.forEach((b, i) => a.registerBlockHash(b, digest(10 + i)));
    a.freeSequence(table);
    expect(a.evictionOrder()).toEqual([3, 2, 1, 0]);
  });

  it('frees a sequence head first in the seed order, which also evicts its tail first', () => {
    const a = new BlockAllocator(4, { reuseOrder: 'lifo' });
    const table = a.allocateMany(4);
    a.freeSequence(table, 3);
    expect(a.evictionOrder()).toEqual([2, 1, 0]);
    expect(a.refCount(3)).toBe(1);
  });

  it('removes a resurrected block from the middle of the order and puts it back at the newest end', () => {
    const a = new BlockAllocator(4);
    const table = a.allocateMany(4);
    table.forEach((b, i) => a.registerBlockHash(b, digest(10 + i)));
    a.freeMany([0, 1, 2, 3]);
    expect(a.tryAcquireByHash(digest(11))).toBe(1);
    expect(a.evictionOrder()).toEqual([0, 2, 3]);
    a.free(1);
    expect(a.evictionOrder()).toEqual([0, 2, 3, 1]);
    expect(a.resurrections).toBe(1);
  });

  it('keeps the live holder of a duplicate hash and gives a soft-free holder s hash to the new block', () => {
    const a = new BlockAllocator(4);
    const [x, y, z] = a.allocateMany(3);
    expect(a.registerBlockHash(x!, digest(7))).toBe(true);
    expect(a.registerBlockHash(y!, digest(7))).toBe(false); // x is live: it keeps the hash
    expect(a.blockHash(y!)).toBeNull();
    a.free(x!); // soft-free
    expect(a.registerBlockHash(z!, digest(7))).toBe(true); // z is live: it takes over
    expect(a.blockHash(x!)).toBeNull();
    expect(a.cachedFreeCount).toBe(0);
    expect(a.evictionOrder()[0]).toBe(x); // demoted to a plain free block, reused first
    expect(a.findBlockByHash(digest(7))).toBe(z);
  });

  it('drops every hash with clearPrefixCache and makes soft-free blocks plain', () => {
    const a = new BlockAllocator(3);
    const [x, y] = a.allocateMany(2);
    a.registerBlockHash(x!, digest(1));
    a.registerBlockHash(y!, digest(2));
    a.free(x!);
    expect(a.clearPrefixCache()).toBe(2);
    expect(a.hashTableSize).toBe(0);
    expect(a.cachedFreeCount).toBe(0);
    expect(a.tryAcquireByHash(digest(1))).toBe(-1);
    expect(a.evictionOrder()).toEqual([x, 2]);
  });

  it('finds every hash after many insertions and deletions that collide in the index', () => {
    const a = new BlockAllocator(64, { hashWords: 1 });
    const keyOf = new Map<number, number>(); // block -> key, for every block holding a hash
    const live: number[] = [];
    const gone: number[] = [];
    let key = 1;
    let seed = 7;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let round = 0; round < 3000; round += 1) {
      if (a.freeCount > 0 && (live.length === 0 || random(3) > 0)) {
        const b = a.allocate();
        const evicted = keyOf.get(b);
        if (evicted !== undefined) gone.push(evicted);
        const k = key++ * 64; // every key shares its low six bits
        expect(a.registerBlockHash(b, new Uint32Array([k]))).toBe(true);
        keyOf.set(b, k);
        live.push(b);
      } else {
        const [b] = live.splice(random(live.length), 1);
        a.free(b!);
      }
      if (round % 50 === 0) {
        for (const [b, k] of keyOf) if (!gone.includes(k)) expect(a.findBlockByHash(new Uint32Array([k]))).toBe(b);
        for (const k of gone.slice(-20)) expect(a.findBlockByHash(new Uint32Array([k]))).toBe(-1);
      }
    }
    expect(a.evictions).toBeGreaterThan(100);
  });
});

describe('BlockAllocator: errors', () => {
  it('names capacity and free count when exhausted', () => {
    const a = new BlockAllocator(3);
    a.allocate();
    const error = expectMemError(() => a.allocateMany(3), 'EXHAUSTED');
    expect(error.message).toBe('cannot allocate 3 blocks: capacity 3, free 2');
    a.allocateMany(2);
    expect(expectMemError(() => a.allocate(), 'EXHAUSTED').message).toBe('cannot allocate 1 block: capacity 3, free 0');
  });

  it('throws DOUBLE_FREE on a second free, and freeMany with a block listed once too often changes nothing', () => {
    const a = new BlockAllocator(4);
    const b = a.allocate();
    a.free(b);
    expectMemError(() => a.free(b), 'DOUBLE_FREE');
    const c = a.allocate();
    const d = a.allocate();
    a.registerBlockHash(d, digest(9));
    const order = a.evictionOrder();
    expectMemError(() => a.freeMany([d, c, c]), 'DOUBLE_FREE');
    expectMemError(() => a.freeSequence([c, c, d]), 'DOUBLE_FREE');
    expectMemError(() => a.freeMany([d, c, 99]), 'INVALID_ARGUMENT');
    expect(a.evictionOrder()).toEqual(order);
    expect(a.cachedFreeCount).toBe(0);
    expect(a.refCount(c)).toBe(1);
    expect(a.refCount(d)).toBe(1);
    expect(a.freeCount).toBe(2);
  });

  it('throws LIMIT_EXCEEDED instead of wrapping the reference count', () => {
    const a = new BlockAllocator(2);
    const b = a.allocate();
    for (let i = 1; i < BlockAllocator.MAX_REF_COUNT; i += 1) a.acquire(b);
    expect(a.refCount(b)).toBe(65535);
    expectMemError(() => a.acquire(b), 'LIMIT_EXCEEDED');
    expectMemError(() => a.acquireMany([b]), 'LIMIT_EXCEEDED');
    a.registerBlockHash(b, digest(5));
    expectMemError(() => a.tryAcquireByHash(digest(5)), 'LIMIT_EXCEEDED');
    expect(a.refCount(b)).toBe(65535);
    a.free(b);
    a.acquire(b);
  });

  it('refuses to acquire or tag a free block', () => {
    const a = new BlockAllocator(2);
    expectMemError(() => a.acquire(0), 'USE_AFTER_RELEASE');
    expectMemError(() => a.acquireMany([0]), 'USE_AFTER_RELEASE');
    expectMemError(() => a.registerBlockHash(1, digest(1)), 'USE_AFTER_RELEASE');
  });

  it('acquireMany changes nothing when one block of the list fails', () => {
    const a = new BlockAllocator(3);
    const [x] = a.allocateMany(1);
    expectMemError(() => a.acquireMany([x!, 2]), 'USE_AFTER_RELEASE');
    expect(a.refCount(x!)).toBe(1);
  });

  it.each([
    ['zero', 0],
    ['negative', -1],
    ['fractional', 2.5],
    ['NaN', Number.NaN],
    ['Infinity', Infinity],
    ['huge', 2 ** 40],
    ['a string', '8'],
  ])('rejects a capacity that is %s', (_label, capacity) => {
    expectMemError(() => new BlockAllocator(capacity as number), 'INVALID_ARGUMENT');
  });

  it.each([
    ['a bad hashWords', { hashWords: 0 }],
    ['an empty name', { name: '' }],
    ['a fractional hashWords', { hashWords: 1.5 }],
    ['an unknown reuse order', { reuseOrder: 'fifo' }],
    ['options that are not an object', 5],
  ])('rejects %s', (_label, options) => {
    expectMemError(() => new BlockAllocator(4, options as never), 'INVALID_ARGUMENT');
  });

  describe.each(BAD_BLOCKS)('with a block index that is %s', (_label, block) => {
    const entryPoints: [string, (a: BlockAllocator) => unknown][] = [
      ['free', (a) => a.free(block as number)],
      ['acquire', (a) => a.acquire(block as number)],
      ['refCount', (a) => a.refCount(block as number)],
      ['registerBlockHash', (a) => a.registerBlockHash(block as number, digest(1))],
      ['blockHash', (a) => a.blockHash(block as number)],
      ['acquireMany', (a) => a.acquireMany([0, block as number])],
      ['freeMany', (a) => a.freeMany([0, block as number])],
      ['freeSequence', (a) => a.freeSequence([0, block as number])],
    ];
    it.each(entryPoints)('%s throws INVALID_ARGUMENT and the allocator still works', (_name, call) => {
      const a = new BlockAllocator(4);
      a.allocate();
      expectMemError(() => call(a), 'INVALID_ARGUMENT');
      expect(a.refCount(0)).toBe(1);
      expect(a.freeCount).toBe(3);
      expect(a.allocate()).toBe(1);
    });
  });

  it.each([
    ['not an array', 5],
    ['null', null],
    ['a string', 'abc'],
  ])('rejects a block list that is %s', (_label, list) => {
    const a = new BlockAllocator(4);
    for (const call of [
      () => a.acquireMany(list as never),
      () => a.freeMany(list as never),
      () => a.freeSequence(list as never),
    ]) {
      expectMemError(call, 'INVALID_ARGUMENT');
    }
  });

  it.each([
    ['negative', -1],
    ['too many', 5],
    ['fractional', 1.5],
    ['NaN', Number.NaN],
    ['a string', '2'],
  ])('rejects an allocateMany count that is %s and takes nothing', (_label, count) => {
    const a = new BlockAllocator(4);
    expectMemError(() => a.allocateMany(count as number), 'INVALID_ARGUMENT');
    expect(a.freeCount).toBe(4);
  });

  it('rejects an out array that is too small or not a Uint32Array, and fills one that fits', () => {
    const a = new BlockAllocator(4);
    expectMemError(() => a.allocateMany(2, new Uint32Array(1)), 'INVALID_ARGUMENT');
    expectMemError(() => a.allocateMany(2, [0, 0] as never), 'INVALID_ARGUMENT');
    expectMemError(() => a.allocateMany(2, new Uint32Array(3), 2), 'INVALID_ARGUMENT');
    expect(a.freeCount).toBe(4);
    const out = new Uint32Array(3);
    expect(a.allocateMany(2, out, 1)).toBe(out);
    expect([...out]).toEqual([0, 0, 1]);
  });

  it.each([
    ['not a Uint32Array', [1, 2, 3, 4]],
    ['too short for one digest', new Uint32Array(3)],
    ['a Float64Array', new Float64Array(4)],
    ['null', null],
  ])('rejects hashes that are %s', (_label, hashes) => {
    const a = new BlockAllocator(4);
    const b = a.allocate();
    for (const call of [
      () => a.registerBlockHash(b, hashes as never),
      () => a.tryAcquireByHash(hashes as never),
      () => a.findBlockByHash(hashes as never),
    ]) {
      expectMemError(call, 'INVALID_ARGUMENT');
    }
    expect(a.hashTableSize).toBe(0);
  });

  it.each([
    ['negative', -1],
    ['past the last digest', 2],
    ['fractional', 0.5],
    ['NaN', Number.NaN],
  ])('rejects a digest index that is %s', (_label, index) => {
    const a = new BlockAllocator(4);
    const b = a.allocate();
    const hashes = new Uint32Array(8);
    expectMemError(() => a.registerBlockHash(b, hashes, index as number), 'INVALID_ARGUMENT');
    expectMemError(() => a.tryAcquireByHash(hashes, index as number), 'INVALID_ARGUMENT');
    expect(a.registerBlockHash(b, hashes, 1)).toBe(true);
  });
});

describe('BlockAllocator: stats and metrics', () => {
  it('reports counts in stats() as plain JSON', () => {
    const a = new BlockAllocator(4);
    const [x, y] = a.allocateMany(2);
    a.registerBlockHash(x!, digest(1));
    a.free(x!);
    const stats = a.stats();
    expect(stats).toEqual({
      capacity: 4,
      inUse: 1,
      free: 3,
      cachedFree: 1,
      hashedBlocks: 1,
      peakInUse: 2,
      usage: 0.25,
      evictions: 0,
      resurrections: 0,
      reuseOrder: 'lru',
    });
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
    expect(y).toBe(1);
  });

  it('publishes usage and evictions to a metrics sink on collection', () => {
    const sink = new RecordingMetricsSink();
    const a = new BlockAllocator(2, { metrics: sink });
    const x = a.allocate();
    a.registerBlockHash(x, digest(3));
    a.free(x);
    a.allocate();
    a.allocate();
    expect(sink.read('mem_paged_kv_in_use_blocks', { pool: 'paged-kv' })).toBe(2);
    expect(sink.read('mem_paged_kv_usage_ratio', { pool: 'paged-kv' })).toBe(1);
    expect(sink.read('mem_paged_kv_evictions_total', { pool: 'paged-kv' })).toBe(1);
  });
});
