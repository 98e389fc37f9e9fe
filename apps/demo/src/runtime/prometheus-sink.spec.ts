import { KvCacheManager, KvStore, KvTierConnector, MemoryKvTier, Scheduler, blockHashChain } from '@mem/paged-kv';
import { MemError } from '@mem/types';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PrometheusSink } from './prometheus-sink.js';

describe('the Prometheus sink', () => {
  it('publishes counters and gauges with labels, running collectors before a scrape', async () => {
    const registry = new Registry();
    const sink = new PrometheusSink(registry);
    const hits = sink.counter('mem_test_hits_total', 'hits', { class: '1024' });
    const level = sink.gauge('mem_test_level', 'level');
    let kept = 0;
    sink.addCollector(() => level.set(kept));
    hits.inc();
    hits.inc(2);
    kept = 7;
    sink.collect();
    const text = await registry.metrics();
    expect(text).toContain('mem_test_hits_total{class="1024"} 3');
    expect(text).toContain('mem_test_level 7');
  });

  it('exports a labelled counter at 0 before its first increment', async () => {
    const registry = new Registry();
    const sink = new PrometheusSink(registry);
    sink.counter('mem_test_hits_total', 'hits', { tier: 'local' });
    sink.counter('mem_test_hits_total', 'hits', { tier: 'global' }).inc();
    const text = await registry.metrics();
    expect(text).toContain('mem_test_hits_total{tier="local"} 0');
    expect(text).toContain('mem_test_hits_total{tier="global"} 1');
  });

  it('publishes histograms, every series from 0', async () => {
    const registry = new Registry();
    const sink = new PrometheusSink(registry);
    sink.histogram('mem_test_seconds', 'time', [0.1, 1], { pool: 'a' });
    expect(await registry.metrics()).toContain('mem_test_seconds_bucket{le="+Inf",pool="a"} 0');
    sink.histogram('mem_test_seconds', 'time', [0.1, 1], { pool: 'a' }).observe(0.5);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE mem_test_seconds histogram');
    expect(text).toContain('mem_test_seconds_bucket{le="0.1",pool="a"} 0');
    expect(text).toContain('mem_test_seconds_bucket{le="1",pool="a"} 1');
    expect(text).toContain('mem_test_seconds_count{pool="a"} 1');
    expect(() => sink.counter('mem_test_seconds', 'x', { pool: 'a' })).toThrow(/is a histogram, not a counter/);
  });

  it('rejects a name reused with another type or other label names', () => {
    const sink = new PrometheusSink(new Registry());
    sink.counter('mem_test_total', 'x', { a: '1' });
    expect(() => sink.gauge('mem_test_total', 'x', { a: '1' })).toThrow(MemError);
    expect(() => sink.counter('mem_test_total', 'x', { b: '1' })).toThrow(/labels \[a\], got \[b\]/);
    expect(() => sink.counter('mem_test_total', 'x', { a: '2' })).not.toThrow();
  });

  it('stops running a collector once it is removed', () => {
    const sink = new PrometheusSink(new Registry());
    let runs = 0;
    const remove = sink.addCollector(() => runs++);
    sink.collect();
    remove();
    sink.collect();
    expect(runs).toBe(1);
  });

  it('exposes the KV tier metrics: counters by pool and tier, a load histogram, errors by kind', async () => {
    const registry = new Registry();
    const sink = new PrometheusSink(registry);
    const store = new KvStore({ numLayers: 1, numBlocks: 8, numKvHeads: 1, blockSize: 4, headDim: 4 });
    const tier = new MemoryKvTier({ maxBytes: 1 << 16 });
    const connector = new KvTierConnector({ tier, store, model: 'm', metrics: sink });
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
    const never = {
      name: 'memory',
      hashWords: 4,
      lookup: () => Promise.resolve(0),
      load: () => new Promise<never>(() => {}),
      save: () => Promise.resolve(true),
    };
    const scheduler = new Scheduler(kv, {
      maxTokensPerStep: 16,
      metrics: sink,
      tier: { connector: never, timeoutMs: 0 },
    });
    const hashes = blockHashChain([1, 2, 3, 4, 5, 6, 7, 8, 9], 4);
    await connector.save(hashes, [0, 1]);
    await connector.lookup(hashes);
    await connector.load(hashes);
    const value = (await tier.get([connector.keyOf(hashes, 1)]))[0]!;
    value[value.length - 1]! ^= 1;
    await connector.load(hashes); // the second value is corrupt
    scheduler.submit({ tokens: [1, 2, 3, 4, 5, 6, 7, 8, 9], maxNewTokens: 1 });
    scheduler.step(); // starts a load that never answers
    scheduler.step(); // gives up on it at once (timeoutMs 0)
    sink.collect();
    const text = await registry.metrics();
    const series = (name: string): number[] =>
      [...text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))].map((match) => Number(match[2]));
    expect(text).toContain('# TYPE mem_paged_kv_tier_lookups_total counter');
    expect(text).toContain('# TYPE mem_paged_kv_tier_load_seconds histogram');
    expect(text).toContain('mem_paged_kv_tier_lookups_total{pool="paged-kv",tier="memory"} 1');
    expect(text).toContain('mem_paged_kv_tier_hit_blocks_total{pool="paged-kv",tier="memory"} 2');
    expect(text).toContain('mem_paged_kv_tier_loaded_blocks_total{pool="paged-kv",tier="memory"} 3');
    expect(text).toContain(
      `mem_paged_kv_tier_saved_bytes_total{pool="paged-kv",tier="memory"} ${2 * connector.valueBytes}`,
    );
    const buckets = series('mem_paged_kv_tier_load_seconds_bucket');
    expect(buckets).toHaveLength(13);
    expect(buckets.every((count, i) => i === 0 || count >= buckets[i - 1]!)).toBe(true); // cumulative
    expect(text).toContain('mem_paged_kv_tier_load_seconds_bucket{le="+Inf",pool="paged-kv",tier="memory"} 2');
    expect(text).toContain('mem_paged_kv_tier_load_seconds_count{pool="paged-kv",tier="memory"} 2');
    expect(series('mem_paged_kv_tier_load_seconds_sum')[0]).toBeGreaterThan(0);
    expect(text).toContain('mem_paged_kv_tier_errors_total{pool="paged-kv",tier="memory",kind="corrupt"} 1');
    expect(text).toContain('mem_paged_kv_tier_errors_total{pool="paged-kv",tier="memory",kind="timeout"} 1');
  });
});
