import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { RecordingMetricsSink } from '@mem/types';
import { blockHashChain } from '../block-hash-chain.js';
import { sha256BlockHasher } from '../block-hasher.js';
import { KvStore } from '../kv-store.js';
import type { KvBlockTier } from './kv-connector.js';
import { KvTierConnector } from './kv-tier-connector.js';
import { KV_TIER_ERROR_KINDS } from './kv-tier-stats.js';
import { MemoryKvTier } from './memory-kv-tier.js';

const LAYOUT = { numLayers: 2, numBlocks: 8, numKvHeads: 2, blockSize: 4, headDim: 4 } as const;
const HASHES = blockHashChain(
  Array.from({ length: 16 }, (_, i) => i + 1),
  4,
);

function fill(store: KvStore, block: number, seed: number): void {
  for (let layer = 0; layer < store.numLayers; layer += 1) {
    const size = store.blockElements;
    store.keys(layer).fill(seed + layer, block * size, (block + 1) * size);
    store.values(layer).fill(-seed - layer, block * size, (block + 1) * size);
  }
}

function blockBytes(store: KvStore, block: number): number[] {
  const size = store.blockElements;
  return [0, 1].flatMap((layer) => [
    ...store.keys(layer).subarray(block * size, (block + 1) * size),
    ...store.values(layer).subarray(block * size, (block + 1) * size),
  ]);
}

function setup(dtype: 'float32' | 'float16' = 'float32') {
  const tier = new MemoryKvTier({ maxBytes: 1 << 20 });
  const store = new KvStore({ ...LAYOUT, dtype });
  const connector = new KvTierConnector({ tier, store, model: 'm' });
  return { tier, store, connector };
}

describe('KvTierConnector', () => {
  it('saves blocks and loads them back into other blocks byte for byte', async () => {
    const { store, connector } = setup();
    fill(store, 2, 10);
    fill(store, 5, 20);
    await connector.save(HASHES.slice(0, 8), [2, 5]);
    expect(await connector.lookup(HASHES)).toBe(2);
    const loaded = await connector.load(HASHES);
    expect(loaded.count).toBe(2);
    loaded.write(0, 6);
    loaded.write(1, 7);
    expect(blockBytes(store, 6)).toEqual(blockBytes(store, 2));
    expect(blockBytes(store, 7)).toEqual(blockBytes(store, 5));
    expect(connector.stats()).toMatchObject({
      lookups: 1,
      lookupBlocks: 4,
      hitBlocks: 2,
      loadedBlocks: 2,
      savedBlocks: 2,
    });
    expect(connector.stats().loadedBytes).toBe(2 * connector.valueBytes);
  });

  it('names the model, the hasher, the layout and the chained hash in every key', () => {
    const { connector } = setup('float16');
    expect(connector.keyOf(HASHES, 1)).toBe(
      `mem-kv/1/m/murmur3-128/l2.h2.d4.b4.float16/${[...HASHES.subarray(4, 8)].map((w) => w.toString(16).padStart(8, '0')).join('')}`,
    );
    const store = new KvStore(LAYOUT);
    const sha = new KvTierConnector({
      tier: new MemoryKvTier({ maxBytes: 1024 }),
      store,
      model: 'm',
      hasher: sha256BlockHasher,
    });
    expect(sha.keyPrefix).toBe('mem-kv/1/m/sha-256/l2.h2.d4.b4.float32/');
  });

  it('treats a short value, a value of another layout and a corrupt one as misses, each counted', async () => {
    const { tier, store, connector } = setup();
    fill(store, 1, 3);
    await connector.save(HASHES.slice(0, 12), [1, 1, 1]);
    const keys = [0, 1, 2].map((i) => connector.keyOf(HASHES, i));
    const [first, second, third] = (await tier.get(keys)) as Uint8Array[];
    await tier.set([{ key: keys[0]!, value: first!.subarray(0, first!.length - 4) }]);
    expect((await connector.load(HASHES)).count).toBe(0);
    const other = new KvTierConnector({ tier, store: new KvStore({ ...LAYOUT, headDim: 2 }), model: 'm' });
    await other.save(HASHES.slice(0, 4), [0]);
    await tier.set([{ key: keys[0]!, value: (await tier.get([other.keyOf(HASHES, 0)]))[0]! }]);
    expect((await connector.load(HASHES)).count).toBe(0);
    await tier.set([{ key: keys[0]!, value: second! }]); // block 1's value under block 0's key
    expect((await connector.load(HASHES)).count).toBe(0);
    third![200]! ^= 1;
    await tier.set([{ key: keys[0]!, value: first! }]);
    expect((await connector.load(HASHES)).count).toBe(2);
    expect(connector.stats().errors).toMatchObject({ short: 1, layout: 1, corrupt: 2 });
  });

  it('loads a value that arrives at an unaligned offset', async () => {
    const { tier, store, connector } = setup();
    fill(store, 3, 7);
    await connector.save(HASHES.slice(0, 4), [3]);
    const key = connector.keyOf(HASHES, 0);
    const value = (await tier.get([key]))[0]!;
    const shifted = new Uint8Array(value.length + 1).subarray(1);
    shifted.set(value);
    await tier.set([{ key, value: shifted }]);
    const loaded = await connector.load(HASHES.slice(0, 4));
    loaded.write(0, 4);
    expect(blockBytes(store, 4)).toEqual(blockBytes(store, 3));
  });

  it('uses the leading values a tier answered for when it failed for a later one, counting it', async () => {
    const { tier, store, connector } = setup();
    fill(store, 1, 3);
    await connector.save(HASHES, [1, 1, 1, 1]);
    const failing: KvBlockTier = {
      name: 'memory',
      lookup: (keys) => tier.lookup(keys),
      get: async (keys) => {
        const values: (Uint8Array | null | Error)[] = [...(await tier.get(keys))];
        values[2] = new Error('the node of this key is down');
        return values;
      },
      set: (entries) => tier.set(entries),
    };
    const reader = new KvTierConnector({ tier: failing, store, model: 'm' });
    const loaded = await reader.load(HASHES);
    expect(loaded.count).toBe(2);
    loaded.write(1, 6);
    expect(blockBytes(store, 6)).toEqual(blockBytes(store, 1));
    expect(reader.stats()).toMatchObject({ loadedBlocks: 2, errors: { load: 1, missing: 0 } });
  });

  it('publishes lookups, hits, bytes, a load-latency histogram and every error kind from 0, labelled with pool and tier', async () => {
    const sink = new RecordingMetricsSink();
    const tier = new MemoryKvTier({ maxBytes: 1 << 20 });
    const connector = new KvTierConnector({
      tier,
      store: new KvStore(LAYOUT),
      model: 'm',
      metrics: sink,
      pool: 'chat',
    });
    const labels = { pool: 'chat', tier: 'memory' };
    for (const kind of KV_TIER_ERROR_KINDS) {
      expect(sink.read('mem_paged_kv_tier_errors_total', { ...labels, kind }), kind).toBe(0);
    }
    expect(sink.read('mem_paged_kv_tier_load_seconds_count', labels)).toBe(0);
    await connector.save(HASHES.slice(0, 4), [0]);
    await connector.lookup(HASHES);
    await connector.load(HASHES);
    sink.collect();
    expect(sink.read('mem_paged_kv_tier_lookups_total', labels)).toBe(1);
    expect(sink.read('mem_paged_kv_tier_hit_blocks_total', labels)).toBe(1);
    expect(sink.read('mem_paged_kv_tier_loaded_bytes_total', labels)).toBe(connector.valueBytes);
    expect(sink.read('mem_paged_kv_tier_saved_bytes_total', labels)).toBe(connector.valueBytes);
    expect(sink.read('mem_paged_kv_tier_load_seconds_bucket', { ...labels, le: '+Inf' })).toBe(1);
    expect(sink.read('mem_paged_kv_tier_load_seconds_count', labels)).toBe(1);
    expect(sink.read('mem_paged_kv_tier_errors_total', { ...labels, kind: 'short' })).toBe(0);
    expect(sink.collect().every((sample) => sample.labels.pool === 'chat')).toBe(true);
    const unnamed = new RecordingMetricsSink();
    new KvTierConnector({ tier, store: new KvStore(LAYOUT), model: 'm', metrics: unnamed });
    expect(unnamed.read('mem_paged_kv_tier_lookups_total', { pool: 'paged-kv', tier: 'memory' })).toBe(0);
  });

  it('new KvTierConnector throws INVALID_ARGUMENT for a bad tier, store, model or option', () => {
    const store = new KvStore(LAYOUT);
    const tier = new MemoryKvTier({ maxBytes: 1024 });
    const closed = new KvStore(LAYOUT);
    closed.close();
    for (const options of [
      undefined,
      null,
      { tier: {}, store, model: 'm' },
      { tier, store: {}, model: 'm' },
      { tier, store: closed, model: 'm' },
      { tier, store, model: '' },
      { tier, store, model: 'a/b' },
      { tier, store, model: 'has space' },
      { tier, store, model: 'm', hasher: {} },
      { tier, store, model: 'm', extra: 1 },
      { tier, store, model: 'm', pool: '' },
      { tier, store, model: 'm', pool: 1 },
    ]) {
      expectMemError(() => new KvTierConnector(options as never), 'INVALID_ARGUMENT');
    }
  });

  it('lookup, load, save and keyOf throw INVALID_ARGUMENT for digests that are not whole or blocks that do not pair up', () => {
    const { connector } = setup();
    for (const hashes of [null, [1, 2, 3, 4], new Uint32Array(3), new Int32Array(4)]) {
      expectMemError(() => connector.lookup(hashes as never), 'INVALID_ARGUMENT');
      expectMemError(() => connector.load(hashes as never), 'INVALID_ARGUMENT');
      expectMemError(() => connector.save(hashes as never, [0]), 'INVALID_ARGUMENT');
      expectMemError(() => connector.keyOf(hashes as never, 0), 'INVALID_ARGUMENT');
    }
    expectMemError(() => connector.keyOf(HASHES, 4), 'INVALID_ARGUMENT');
    expectMemError(() => connector.keyOf(HASHES, -1), 'INVALID_ARGUMENT');
    for (const blocks of [[], [0, 1], [8], [-1], [0.5], null]) {
      expectMemError(() => connector.save(HASHES.slice(0, 4), blocks as never), 'INVALID_ARGUMENT');
    }
    expect(connector.stats().savedBlocks).toBe(0);
  });
});

describe('MemoryKvTier', () => {
  it('evicts the least recently used values past its byte budget', async () => {
    const tier = new MemoryKvTier({ maxBytes: 30 });
    await tier.set(['a', 'b', 'c'].map((key) => ({ key, value: new Uint8Array(10) })));
    await tier.get(['a']);
    await tier.set([{ key: 'd', value: new Uint8Array(10) }]);
    expect(await tier.lookup(['a', 'c', 'd'])).toBe(3);
    expect(await tier.lookup(['b'])).toBe(0);
    expect(tier.bytes).toBe(30);
    await tier.set([{ key: 'huge', value: new Uint8Array(31) }]);
    expect(await tier.lookup(['huge'])).toBe(0);
  });

  it('new MemoryKvTier throws INVALID_ARGUMENT without a byte budget', () => {
    for (const options of [
      undefined,
      null,
      {},
      { maxBytes: 0 },
      { maxBytes: -1 },
      { maxBytes: 1.5 },
      { maxBytes: 1, x: 1 },
    ]) {
      expectMemError(() => new MemoryKvTier(options as never), 'INVALID_ARGUMENT');
    }
  });
});
