import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { KvCacheManager } from '../kv-cache-manager.js';
import { Scheduler } from '../scheduler.js';
import { sha256BlockHasher } from '../block-hasher.js';
import { blockHashChain } from '../block-hash-chain.js';
import type { KvBlockTier, KvConnector, KvLoadedBlocks } from './kv-connector.js';
import { KvTierConnector } from './kv-tier-connector.js';
import { MemoryKvTier } from './memory-kv-tier.js';
import { generate, prompt, runToEnd, toyServer, type ToyServer } from './toy-engine.test-helper.js';

function tieredServer(
  tier: KvBlockTier,
  numBlocks = 64,
  tierOptions: object = {},
): ToyServer & { connector: KvTierConnector } {
  let connector!: KvTierConnector;
  const server = toyServer(numBlocks, {}, (store) => {
    connector = new KvTierConnector({ tier, store, model: 'toy' });
    return { connector, ...tierOptions };
  });
  return { ...server, connector };
}

/** What a server without a tier generates for `prompts` (the reference tokens). */
async function reference(prompts: number[][], maxNewTokens = 6): Promise<number[][]> {
  return generate(toyServer(64), prompts, maxNewTokens);
}

const SHARED = prompt(1, 40);
const FOLLOW_UP = [...SHARED, ...prompt(2, 9)];

describe('Scheduler with a KV tier', () => {
  it('loads the prefix another server saved, prefills only the rest, and samples the same tokens', async () => {
    const tier = new MemoryKvTier({ maxBytes: 1 << 20 });
    const first = tieredServer(tier);
    await generate(first, [SHARED]);
    expect(first.connector.stats().savedBlocks).toBeGreaterThanOrEqual(10);

    const second = tieredServer(tier);
    const request = second.scheduler.submit({ tokens: FOLLOW_UP, maxNewTokens: 6 });
    const planned = second.scheduler.step();
    expect(planned.entries).toHaveLength(0);
    expect(request.state).toBe('loading');
    expect(second.scheduler.stats().loading).toBe(1);
    await runToEnd(second);
    expect(request.generated).toEqual((await reference([FOLLOW_UP]))[0]);
    expect(second.kv.stats().tierHitTokens).toBe(40);
    expect(second.kv.stats().prefixHitTokens).toBe(0);
    expect(second.connector.stats()).toMatchObject({ loads: 1, loadedBlocks: 10 });
  });

  it('keeps running other requests while one is loading', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const memory = new MemoryKvTier({ maxBytes: 1 << 20 });
    const slow: KvBlockTier = {
      name: 'slow',
      lookup: (keys) => memory.lookup(keys),
      get: async (keys) => (await gate, memory.get(keys)),
      set: (e) => memory.set(e),
    };
    await generate(tieredServer(memory), [SHARED]);
    const server = tieredServer(slow);
    const short = server.scheduler.submit({ tokens: [1, 2, 3], maxNewTokens: 4 });
    const loading = server.scheduler.submit({ tokens: FOLLOW_UP, maxNewTokens: 6 });
    for (let i = 0; i < 4; i += 1) {
      const step = server.scheduler.step();
      expect(step.entries.map((entry) => entry.request)).toEqual([short]);
      server.scheduler.commit(step, [5]);
      expect(loading.state).toBe('loading');
    }
    expect(short.state).toBe('finished');
    release();
    await runToEnd(server);
    expect(loading.generated).toEqual((await reference([FOLLOW_UP]))[0]);
    expect(server.kv.stats().tierHitTokens).toBe(40);
  });

  it('starts the load of a request waiting behind a long prefill in the first step, so it overlaps', async () => {
    const tier = new MemoryKvTier({ maxBytes: 1 << 20 });
    await generate(tieredServer(tier), [SHARED]);
    const server = tieredServer(tier);
    const long = server.scheduler.submit({ tokens: prompt(3, 200), maxNewTokens: 2 });
    server.scheduler.step(); // the tier has none of it
    await server.scheduler.whenTierSettles();
    const behind = server.scheduler.submit({ tokens: FOLLOW_UP, maxNewTokens: 6 });
    const step = server.scheduler.step();
    expect(step.entries.map((entry) => entry.request)).toEqual([long]); // the budget went to the long prompt
    expect(behind.state).toBe('loading');
    expect(server.connector.stats().loads).toBe(2); // the long prompt's, then this one's
    await server.scheduler.whenTierSettles();
    expect(behind.state).toBe('waiting');
    server.scheduler.commit(step, [0]);
    await runToEnd(server);
    expect(behind.generated).toEqual((await reference([FOLLOW_UP]))[0]);
    expect(server.kv.stats().tierHitTokens).toBe(40);
  });

  it('offers the blocks of a failed save again, and saves them once the tier works', async () => {
    const memory = new MemoryKvTier({ maxBytes: 1 << 20 });
    let down = true;
    const flaky: KvBlockTier = {
      name: 'flaky',
      lookup: (keys) => memory.lookup(keys),
      get: (keys) => memory.get(keys),
      set: (entries) => (down ? Promise.reject(new Error('down')) : memory.set(entries)),
    };
    const server = tieredServer(flaky);
    await generate(server, [SHARED]);
    await server.connector.flush();
    expect(server.connector.stats()).toMatchObject({ savedBlocks: 0, errors: { save: 2 } });
    down = false;
    await generate(server, [FOLLOW_UP]); // its prefix is served from the local cache, and saved now
    await server.connector.flush();
    expect(server.kv.stats().prefixHitTokens).toBe(40);
    expect(server.connector.stats().savedBlocks).toBe(13);
    const other = tieredServer(memory);
    expect(await generate(other, [FOLLOW_UP])).toEqual(await reference([FOLLOW_UP]));
    expect(other.kv.stats().tierHitTokens).toBe(48);
  });

  it('recomputes from a value corrupted in the middle of the chain, counting it, with the same tokens', async () => {
    const tier = new MemoryKvTier({ maxBytes: 1 << 20 });
    const first = tieredServer(tier);
    await generate(first, [SHARED]);
    const key = first.connector.keyOf(blockHashChain(SHARED, 4), 4);
    const value = (await tier.get([key]))[0]!;
    value[value.length - 3]! ^= 0x40;

    const second = tieredServer(tier);
    expect(await generate(second, [FOLLOW_UP])).toEqual(await reference([FOLLOW_UP]));
    expect(second.kv.stats().tierHitTokens).toBe(16);
    expect(second.connector.stats().errors.corrupt).toBe(1);
  });

  it('recomputes what a value evicted mid-chain would have served, counting the blocks not delivered', async () => {
    const memory = new MemoryKvTier({ maxBytes: 1 << 20 });
    await generate(tieredServer(memory), [SHARED]);
    let evictedKey = '';
    const evicting: KvBlockTier = {
      name: 'evicting',
      lookup: (keys) => memory.lookup(keys),
      get: (keys) => {
        evictedKey = keys[6]!;
        memory.delete(evictedKey);
        return memory.get(keys);
      },
      set: (entries) => memory.set(entries),
    };
    const server = tieredServer(evicting);
    expect(await generate(server, [FOLLOW_UP])).toEqual(await reference([FOLLOW_UP]));
    expect(evictedKey).not.toBe('');
    expect(server.kv.stats().tierHitTokens).toBe(24);
    expect(server.connector.stats()).toMatchObject({ loadBlocks: 12, loadedBlocks: 6, errors: { missing: 1 } });
  });

  it('admits without the tier when it does not answer in time, and drops its late answer', async () => {
    const never: KvConnector = {
      name: 'never',
      hashWords: 4,
      lookup: () => new Promise<number>(() => {}),
      load: () => new Promise<KvLoadedBlocks>(() => {}),
      save: () => Promise.resolve(true),
    };
    const server = toyServer(64, { tier: { connector: never, timeoutMs: 0 } });
    expect(await generate(server, [FOLLOW_UP])).toEqual(await reference([FOLLOW_UP]));
    expect(server.scheduler.stats()).toMatchObject({ tierTimeouts: 1, loading: 0 });
  });

  it('counts a connector that throws or rejects, and recomputes', async () => {
    const failing: KvConnector = {
      name: 'failing',
      hashWords: 4,
      lookup: () => Promise.reject(new Error('down')),
      load: () => {
        throw new Error('down');
      },
      save: () => Promise.reject(new Error('down')),
    };
    const server = toyServer(64, { tier: { connector: failing } });
    expect(await generate(server, [FOLLOW_UP, SHARED])).toEqual(await reference([FOLLOW_UP, SHARED]));
    expect(server.scheduler.stats().tierRejections).toBeGreaterThanOrEqual(3);
  });

  it('counts a tier that fails as errors of the connector, never rejecting', async () => {
    const broken: KvBlockTier = {
      name: 'broken',
      lookup: () => Promise.reject(new Error('connection refused')),
      get: () => Promise.reject(new Error('connection refused')),
      set: () => Promise.reject(new Error('connection refused')),
    };
    const server = tieredServer(broken);
    expect(await generate(server, [FOLLOW_UP])).toEqual(await reference([FOLLOW_UP]));
    await server.connector.save(new Uint32Array(4), [0]);
    expect(server.connector.stats().errors).toMatchObject({ load: 1, save: 3 });
    expect(server.scheduler.stats().tierRejections).toBe(0);
  });

  it('saves blocks the local cache evicts (write-back), for another server to load', async () => {
    const tier = new MemoryKvTier({ maxBytes: 1 << 20 });
    const small = tieredServer(tier, 12, { writeThrough: false, writeBack: true });
    await generate(small, [SHARED]);
    expect(small.connector.stats().savedBlocks).toBe(0);
    await generate(small, [prompt(9, 40)]); // needs the blocks SHARED left cached: evicts them
    expect(small.connector.stats().savedBlocks).toBe(11);

    const other = tieredServer(tier);
    expect(await generate(other, [FOLLOW_UP])).toEqual(await reference([FOLLOW_UP]));
    expect(other.kv.stats().tierHitTokens).toBe(40);
  });

  it('does not save again the blocks it saved already (served from the local cache)', async () => {
    const tier = new MemoryKvTier({ maxBytes: 1 << 20 });
    const server = tieredServer(tier, 64, { writeBack: true });
    await generate(server, [SHARED]);
    expect(server.connector.stats().savedBlocks).toBe(11); // 45 computed tokens
    await generate(server, [FOLLOW_UP]);
    expect(server.kv.stats().prefixHitTokens).toBe(40);
    expect(server.connector.stats().savedBlocks).toBe(11 + 3); // 54 computed tokens, 10 blocks shared
  });

  it('cancels a loading request: its late answer is dropped and every block is free', async () => {
    let answer!: () => void;
    const pending: KvConnector = {
      name: 'pending',
      hashWords: 4,
      lookup: () => Promise.resolve(0),
      load: () => new Promise<KvLoadedBlocks>((resolve) => (answer = () => resolve({ count: 0, write() {} }))),
      save: () => Promise.resolve(true),
    };
    const server = toyServer(64, { tier: { connector: pending } });
    const request = server.scheduler.submit({ tokens: FOLLOW_UP, maxNewTokens: 3 });
    server.scheduler.step();
    expect(request.state).toBe('loading');
    server.scheduler.cancel(request);
    answer();
    await server.scheduler.whenTierSettles();
    expect(request.state).toBe('cancelled');
    expect(server.scheduler.stats()).toMatchObject({ loading: 0, waiting: 0, running: 0 });
    expect(server.kv.allocator.inUseCount).toBe(0);
  });

  it('new Scheduler throws INVALID_ARGUMENT for a tier it cannot use', () => {
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
    const connector: KvConnector = {
      name: 'c',
      hashWords: 4,
      lookup: () => Promise.resolve(0),
      load: () => Promise.resolve({ count: 0, write() {} }),
      save: () => Promise.resolve(true),
    };
    for (const tier of [
      null,
      5,
      {},
      { connector: {} },
      { connector, timeoutMs: -1 },
      { connector, writeBack: 'yes' },
    ]) {
      expectMemError(() => new Scheduler(kv, { maxTokensPerStep: 8, tier: tier as never }), 'INVALID_ARGUMENT');
    }
    const sha = new KvCacheManager({ numBlocks: 8, blockSize: 4, hasher: sha256BlockHasher });
    expectMemError(() => new Scheduler(sha, { maxTokensPerStep: 8, tier: { connector } }), 'INVALID_ARGUMENT');
    const uncached = new KvCacheManager({ numBlocks: 8, blockSize: 4, prefixCaching: false });
    expectMemError(() => new Scheduler(uncached, { maxTokensPerStep: 8, tier: { connector } }), 'INVALID_ARGUMENT');
  });
});
