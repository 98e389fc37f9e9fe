import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvStore, KvTierConnector, blockHashChain } from '@mem/paged-kv';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '@mem/testkit/redis-server';
import { RedisKvTier } from './redis-kv-tier.js';

const LAYOUT = { numLayers: 2, numBlocks: 80, numKvHeads: 2, blockSize: 4, headDim: 8 } as const;
const HASHES = blockHashChain(
  Array.from({ length: 64 * 4 + 1 }, (_, i) => (i * 7919) % 1000),
  4,
);

/** A store whose block `b` holds values derived from `b`. */
function filledStore(): KvStore {
  const store = new KvStore(LAYOUT);
  for (let layer = 0; layer < LAYOUT.numLayers; layer += 1) {
    store.keys(layer).forEach((_, i, array) => (array[i] = i * 0.5 + layer));
    store.values(layer).forEach((_, i, array) => (array[i] = -i - layer));
  }
  return store;
}

function blockBytes(store: KvStore, block: number): number[] {
  const size = store.blockElements;
  return [0, 1].flatMap((layer) => [
    ...store.keys(layer).subarray(block * size, (block + 1) * size),
    ...store.values(layer).subarray(block * size, (block + 1) * size),
  ]);
}

const BLOCKS = Array.from({ length: 64 }, (_, i) => i);

async function roundTrip(tier: RedisKvTier, model: string): Promise<KvTierConnector> {
  const source = filledStore();
  const writer = new KvTierConnector({ tier, store: source, model });
  await writer.save(HASHES, BLOCKS);
  const target = new KvStore(LAYOUT);
  const reader = new KvTierConnector({ tier, store: target, model });
  expect(await reader.lookup(HASHES)).toBe(64);
  const loaded = await reader.load(HASHES);
  expect(loaded.count).toBe(64);
  for (let i = 0; i < 64; i += 1) loaded.write(i, 79 - i);
  for (const i of [0, 31, 63]) expect(blockBytes(target, 79 - i)).toEqual(blockBytes(source, i));
  expect(writer.stats().errors).toMatchObject({ save: 0 });
  return reader;
}

describe('RedisKvTier on a single Redis', () => {
  let redis: RedisServer;
  let tier: RedisKvTier;
  beforeAll(async () => {
    redis = await startRedis({ maxmemory: '4mb' });
    tier = await RedisKvTier.connect({ url: redis.url, commandTimeoutMs: 300 });
  });
  afterAll(async () => {
    await tier?.close();
    await redis?.close();
  });

  it('saves 64 blocks and loads them back byte for byte into other blocks', async () => {
    expect(tier.cluster).toBe(false);
    await roundTrip(tier, 'single');
    expect(Number(await redis.cli('dbsize'))).toBeGreaterThanOrEqual(64);
  });

  it('answers a lookup up to the first block Redis lacks, and a load up to the first it cannot deliver', async () => {
    const reader = await roundTrip(tier, 'holes');
    await redis.cli('del', reader.keyOf(HASHES, 20));
    expect(await reader.lookup(HASHES)).toBe(20);
    await redis.cli('setrange', reader.keyOf(HASHES, 10), '200', 'x');
    expect((await reader.load(HASHES)).count).toBe(10);
    expect(reader.stats().errors.corrupt).toBe(1);
  });

  it('loses whole blocks to Redis eviction past maxmemory, never half a block', async () => {
    const store = filledStore();
    const connector = new KvTierConnector({ tier, store, model: 'evicted' });
    for (let round = 0; round < 60; round += 1) {
      const hashes = blockHashChain(
        Array.from({ length: 64 * 4 + 1 }, (_, i) => round * 100_000 + i),
        4,
      );
      await connector.save(hashes, BLOCKS);
    }
    expect(Number((await redis.cli('info', 'stats')).match(/evicted_keys:(\d+)/)![1])).toBeGreaterThan(0);
    const loaded = await connector.load(HASHES); // the first chain: mostly evicted
    expect(loaded.count).toBeLessThan(64);
    expect(connector.stats().errors).toMatchObject({ short: 0, corrupt: 0, layout: 0 });
  });

  it('fails fast while Redis is down or paused, counting it, and works again when it is back', async () => {
    const store = filledStore();
    const connector = new KvTierConnector({ tier, store, model: 'faults' });
    await redis.cli('client', 'pause', '1500', 'ALL');
    expect(await connector.lookup(HASHES)).toBe(0); // the command timed out
    await new Promise((resolve) => setTimeout(resolve, 1600));
    await redis.stop();
    expect(await connector.lookup(HASHES)).toBe(0);
    await connector.save(HASHES.slice(0, 4), [0]);
    expect(connector.stats().errors).toMatchObject({ lookup: 2, save: 1 });
    expect(tier.stats().connectionErrors).toBeGreaterThan(0);
    await redis.start();
    let found = 0;
    for (let attempt = 0; attempt < 100 && found === 0; attempt += 1) {
      await connector.save(HASHES.slice(0, 4), [0]);
      found = await connector.lookup(HASHES.slice(0, 4));
      if (found === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(found).toBe(1);
  });

  it('connect throws INVALID_ARGUMENT for bad options and NOT_FOUND when Redis cannot be reached', async () => {
    for (const options of [
      undefined,
      null,
      {},
      { url: 'http://x' },
      { url: redis.url, commandTimeoutMs: -1 },
      { url: redis.url, x: 1 },
    ]) {
      await expect(RedisKvTier.connect(options as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    await expect(RedisKvTier.connect({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 500 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});

describe('RedisKvTier over TLS (rediss://)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis({ tls: true });
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('saves and loads blocks through a TLS connection with a private CA and a client certificate', async () => {
    const { cert, key } = redis.certificate!;
    const tier = await RedisKvTier.connect({ url: redis.tlsUrl!, tls: { ca: cert, cert, key: Buffer.from(key) } });
    try {
      await roundTrip(tier, 'tls');
    } finally {
      await tier.close();
    }
  });

  it('connect throws NOT_FOUND when the server certificate is not trusted or no client certificate is given, INVALID_ARGUMENT for bad tls options', async () => {
    const { cert, key } = redis.certificate!;
    for (const tls of [undefined, { cert, key }, { ca: cert }]) {
      await expect(
        RedisKvTier.connect({ url: redis.tlsUrl!, connectTimeoutMs: 2000, ...(tls && { tls }) }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    for (const options of [
      { url: redis.url, tls: { ca: cert } },
      { url: redis.tlsUrl!, tls: { ca: 1 } },
      { url: redis.tlsUrl!, tls: { passphrase: 'x' } },
      { url: redis.tlsUrl!, tls: null },
    ]) {
      await expect(RedisKvTier.connect(options as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
  });
});

describe('RedisKvTier on a Redis Cluster of 3 masters', () => {
  let cluster: RedisCluster;
  let tier: RedisKvTier;
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, maxmemory: '16mb' });
    tier = await RedisKvTier.connect({ url: cluster.urls[1]!, commandTimeoutMs: 500 });
  });
  afterAll(async () => {
    await tier?.close();
    await cluster?.close();
  });

  it('finds the cluster from one node and spreads the blocks over every master', async () => {
    expect(tier.cluster).toBe(true);
    await roundTrip(tier, 'cluster');
    const sizes = await Promise.all([0, 1, 2].map((i) => cluster.cli(i, 'dbsize')));
    for (const size of sizes) expect(Number(size)).toBeGreaterThan(5);
  });

  it('loads the leading blocks the other masters hold while one is down, counts it, and uses it again when back', async () => {
    const reader = await roundTrip(tier, 'node-down');
    const held = await Promise.all(
      [0, 1, 2].map(async (node) => new Set((await cluster.cli(node, 'keys', `${reader.keyPrefix}*`)).split('\n'))),
    );
    const down = (held.findIndex((keys) => keys.has(reader.keyOf(HASHES, 0))) + 1) % 3; // not the first block's
    const leading = BLOCKS.findIndex((i) => held[down]!.has(reader.keyOf(HASHES, i)));
    expect(leading).toBeGreaterThan(0);
    await cluster.stopNode(down);
    const loaded = await reader.load(HASHES);
    expect(loaded.count).toBe(leading);
    expect(reader.stats().errors.load).toBe(1);
    expect(await reader.lookup(HASHES)).toBe(0);
    expect(reader.stats().errors.lookup).toBe(1);
    await cluster.startNode(down);
    let found = 0;
    for (let attempt = 0; attempt < 100 && found < 64; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await reader.save(HASHES, BLOCKS);
      found = await reader.lookup(HASHES);
    }
    expect(found).toBe(64);
  });
});
