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
});
