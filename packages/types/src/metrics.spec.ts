import { describe, expect, it, vi } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import fc from 'fast-check';
import { describeValue } from './describe-value.js';
import type { MemError } from './mem-error.js';
import {
  RecordingMetricsSink,
  assertMetricsSink,
  mirrorCounter,
  noopMetrics,
  type Counter,
  type MetricLabels,
} from './metrics.js';

function expectInvalid(fn: () => unknown, named?: unknown): MemError {
  const error = expectMemError(fn, 'INVALID_ARGUMENT');
  if (arguments.length > 1) expect(error.message).toContain(describeValue(named));
  return error;
}

describe('noopMetrics', () => {
  it('hands out instruments that accept every call and do nothing', () => {
    const counter = noopMetrics.counter('mem_hits_total', 'hits', { class: '1024' });
    const gauge = noopMetrics.gauge('mem_bytes', 'bytes');
    expect(() => {
      counter.inc();
      counter.inc(5);
      gauge.set(3);
      gauge.inc();
      gauge.dec(2);
    }).not.toThrow();
  });

  it('allocates nothing per call: every instrument is the same object', () => {
    expect(noopMetrics.counter('a', 'a')).toBe(noopMetrics.gauge('b', 'b'));
  });

  it('never runs a collector, and returns an unregister function', () => {
    const collect = vi.fn();
    const unregister = noopMetrics.addCollector(collect);
    expect(typeof unregister).toBe('function');
    expect(() => unregister()).not.toThrow();
    expect(collect).not.toHaveBeenCalled();
  });

  it('is frozen', () => {
    expect(Object.isFrozen(noopMetrics)).toBe(true);
  });
});

describe('RecordingMetricsSink counters', () => {
  it('counts by 1 by default and by the given amount', () => {
    const sink = new RecordingMetricsSink();
    const hits = sink.counter('mem_hits_total', 'hits');
    hits.inc();
    hits.inc(4);
    hits.inc(0);
    expect(sink.read('mem_hits_total')).toBe(5);
  });

  it('returns the same series for the same name and labels, whatever the label order', () => {
    const sink = new RecordingMetricsSink();
    sink.counter('mem_hits_total', 'hits', { pool: 'a', class: '64' }).inc();
    sink.counter('mem_hits_total', 'hits', { class: '64', pool: 'a' }).inc();
    expect(sink.read('mem_hits_total', { pool: 'a', class: '64' })).toBe(2);
    expect(sink.collect()).toHaveLength(1);
  });

  it('keeps series with different labels apart', () => {
    const sink = new RecordingMetricsSink();
    sink.counter('mem_hits_total', 'hits', { class: '64' }).inc(1);
    sink.counter('mem_hits_total', 'hits', { class: '128' }).inc(2);
    sink.counter('mem_hits_total', 'hits').inc(3);
    expect(sink.read('mem_hits_total', { class: '64' })).toBe(1);
    expect(sink.read('mem_hits_total', { class: '128' })).toBe(2);
    expect(sink.read('mem_hits_total')).toBe(3);
    expect(sink.read('mem_hits_total', { class: '256' })).toBeUndefined();
  });

  it('reads undefined for a series that does not exist', () => {
    expect(new RecordingMetricsSink().read('mem_unknown_total')).toBeUndefined();
  });

  it.each([
    ['negative', -1],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a numeric string', '5'],
    ['null', null],
    ['a bigint', 5n],
  ])('rejects an increment that is %s and keeps its value', (_label, amount) => {
    const sink = new RecordingMetricsSink();
    const counter = sink.counter('mem_hits_total', 'hits');
    counter.inc(2);
    const error = expectInvalid(() => counter.inc(amount as number), amount);
    expect(error.message).toContain('mem_hits_total');
    expect(sink.read('mem_hits_total')).toBe(2);
  });

  it('has no dec or set in its type', () => {
    const counter: Counter = new RecordingMetricsSink().counter('mem_hits_total', 'hits');
    // @ts-expect-error a counter only grows
    expect(() => counter.dec).not.toThrow();
  });
});

describe('RecordingMetricsSink gauges', () => {
  it('sets, increments and decrements', () => {
    const sink = new RecordingMetricsSink();
    const bytes = sink.gauge('mem_bytes_in_use', 'bytes in use', { pool: 'main' });
    bytes.set(100);
    bytes.inc();
    bytes.inc(10);
    bytes.dec();
    bytes.dec(200);
    expect(sink.read('mem_bytes_in_use', { pool: 'main' })).toBe(-90);
  });

  it.each([
    ['NaN', Number.NaN],
    ['a numeric string', '5'],
    ['undefined passed to set', undefined],
  ])('rejects a value that is %s and keeps its value', (_label, value) => {
    const sink = new RecordingMetricsSink();
    const gauge = sink.gauge('mem_bytes', 'bytes');
    gauge.set(7);
    expectInvalid(() => gauge.set(value as number), value);
    if (value !== undefined) {
      expectInvalid(() => gauge.inc(value as number), value);
      expectInvalid(() => gauge.dec(value as number), value);
    }
    expect(sink.read('mem_bytes')).toBe(7);
  });
});

describe('RecordingMetricsSink names, labels and types', () => {
  it('rejects a gauge under a counter name with the same labels', () => {
    const sink = new RecordingMetricsSink();
    sink.counter('mem_ops', 'ops');
    const error = expectInvalid(() => sink.gauge('mem_ops', 'ops'));
    expect(error.message).toBe('metric mem_ops is a counter, not a gauge');
  });

  it('rejects a counter under a gauge name, even with other labels', () => {
    const sink = new RecordingMetricsSink();
    sink.gauge('mem_ops', 'ops', { pool: 'a' });
    const error = expectInvalid(() => sink.counter('mem_ops', 'ops', { pool: 'b' }));
    expect(error.message).toBe('metric mem_ops is a gauge, not a counter');
    expect(sink.collect()).toHaveLength(1);
  });

  it.each([
    ['empty', ''],
    ['starting with a digit', '1mem'],
    ['with a dash', 'mem-hits'],
    ['with a space', 'mem hits'],
    ['with a dot', 'mem.hits'],
    ['a number', 42],
    ['undefined', undefined],
    ['null', null],
  ])('rejects a metric name that is %s', (_label, name) => {
    const sink = new RecordingMetricsSink();
    expectInvalid(() => sink.counter(name as string, 'help'), name);
    expectInvalid(() => sink.gauge(name as string, 'help'), name);
    expect(sink.collect()).toEqual([]);
  });

  it.each(['mem_hits_total', 'a', '_x', ':colon:name', 'A9_b:c'])('accepts the metric name %s', (name) => {
    expect(() => new RecordingMetricsSink().counter(name, 'help')).not.toThrow();
  });

  it.each([
    ['a label name with a dash', { 'size-class': '64' }, 'size-class'],
    ['a label name with a colon', { 'a:b': '64' }, 'a:b'],
    ['a label name starting with a digit', { '1a': 'x' }, '1a'],
    ['a number value', { class: 64 }, 64],
    ['an undefined value', { class: undefined }, undefined],
  ])('rejects labels with %s', (_label, labels, named) => {
    const sink = new RecordingMetricsSink();
    expectInvalid(() => sink.counter('mem_hits_total', 'hits', labels as unknown as MetricLabels), named);
    expect(sink.collect()).toEqual([]);
  });

  it.each([
    ['null', null],
    ['a string', 'class=64'],
    ['an array', ['64']],
  ])('rejects labels that are %s', (_label, labels) => {
    const sink = new RecordingMetricsSink();
    expectInvalid(() => sink.gauge('mem_bytes', 'bytes', labels as unknown as MetricLabels), labels);
    expectInvalid(() => sink.read('mem_bytes', labels as unknown as MetricLabels), labels);
  });

  it('copies the labels: changing the caller object later does not move the series', () => {
    const sink = new RecordingMetricsSink();
    const labels: Record<string, string> = { class: '64' };
    sink.counter('mem_hits_total', 'hits', labels).inc();
    labels['class'] = '128';
    const [sample] = sink.collect();
    expect(sample?.labels).toEqual({ class: '64' });
    expect(Object.isFrozen(sample?.labels)).toBe(true);
  });
});

describe('RecordingMetricsSink histograms', () => {
  it('counts observations in cumulative buckets, with their sum and count, from 0', () => {
    const sink = new RecordingMetricsSink();
    const latency = sink.histogram('mem_load_seconds', 'load time', [0.01, 0.1], { tier: 'disk' });
    const read = (le: string): number | undefined => sink.read('mem_load_seconds_bucket', { tier: 'disk', le });
    expect([read('0.01'), read('0.1'), read('+Inf')]).toEqual([0, 0, 0]);
    latency.observe(0.005);
    latency.observe(0.1);
    latency.observe(3);
    expect([read('0.01'), read('0.1'), read('+Inf')]).toEqual([1, 2, 3]);
    expect(sink.read('mem_load_seconds_sum', { tier: 'disk' })).toBeCloseTo(3.105);
    expect(sink.read('mem_load_seconds_count', { tier: 'disk' })).toBe(3);
    expect(new Set(sink.collect().map((sample) => sample.type))).toEqual(new Set(['histogram']));
  });

  it('returns the same series for the same name and labels', () => {
    const sink = new RecordingMetricsSink();
    sink.histogram('mem_load_seconds', 'load time', [1]).observe(0.5);
    sink.histogram('mem_load_seconds', 'load time', [1]).observe(0.5);
    expect(sink.read('mem_load_seconds_count')).toBe(2);
  });

  it('histogram throws INVALID_ARGUMENT for bad buckets, an le label, a taken name or a bad observation', () => {
    const sink = new RecordingMetricsSink();
    for (const buckets of [[2, 1], [1, 1], [Number.NaN], [Number.POSITIVE_INFINITY], 'x', null]) {
      expectInvalid(() => sink.histogram('mem_x_seconds', 'x', buckets as unknown as number[]));
    }
    expectInvalid(() => sink.histogram('mem_x_seconds', 'x', [1], { le: '1' }));
    expectInvalid(() => sink.histogram('bad name', 'x', [1]));
    sink.counter('mem_y_seconds_count', 'y');
    expectInvalid(() => sink.histogram('mem_y_seconds', 'y', [1]));
    expect(sink.read('mem_y_seconds_bucket', { le: '+Inf' })).toBeUndefined(); // nothing registered
    const histogram = sink.histogram('mem_z_seconds', 'z', [1]);
    expectInvalid(() => histogram.observe(Number.NaN));
    expectInvalid(() => histogram.observe('1' as unknown as number), '1');
    expect(sink.read('mem_z_seconds_count')).toBe(0);
  });

  it('is offered by the noop sink too', () => {
    expect(() => noopMetrics.histogram!('mem_x_seconds', 'x', [1]).observe(2)).not.toThrow();
  });
});

describe('RecordingMetricsSink collectors', () => {
  it('runs collectors on collect and on read, in registration order', () => {
    const sink = new RecordingMetricsSink();
    const order: string[] = [];
    sink.addCollector(() => order.push('first'));
    sink.addCollector(() => order.push('second'));
    sink.collect();
    sink.read('mem_x');
    expect(order).toEqual(['first', 'second', 'first', 'second']);
  });

  it('publishes values that a collector copies in before the scrape', () => {
    const sink = new RecordingMetricsSink();
    let free = 3;
    const gauge = sink.gauge('mem_free_blocks', 'free blocks');
    sink.addCollector(() => gauge.set(free));
    expect(sink.read('mem_free_blocks')).toBe(3);
    free = 1;
    expect(sink.collect()).toEqual([
      { name: 'mem_free_blocks', help: 'free blocks', type: 'gauge', labels: {}, value: 1 },
    ]);
  });

  it('stops running a collector once removed', () => {
    const sink = new RecordingMetricsSink();
    const collect = vi.fn();
    const remove = sink.addCollector(collect);
    sink.collect();
    remove();
    sink.collect();
    sink.read('mem_x');
    expect(collect).toHaveBeenCalledTimes(1);
  });

  it('propagates what a collector throws', () => {
    const sink = new RecordingMetricsSink();
    sink.addCollector(() => {
      throw new Error('scrape failed');
    });
    expect(() => sink.collect()).toThrow('scrape failed');
  });

  it.each([
    ['null', null],
    ['an object', {}],
    ['a string', 'collect'],
  ])('rejects a collector that is %s', (_label, collect) => {
    expectInvalid(() => new RecordingMetricsSink().addCollector(collect as unknown as () => void), collect);
  });

  it('returns snapshots: changing a sample does not change the series', () => {
    const sink = new RecordingMetricsSink();
    sink.counter('mem_hits_total', 'hits').inc(2);
    const samples = sink.collect();
    (samples[0] as { value: number }).value = 99;
    expect(sink.read('mem_hits_total')).toBe(2);
    expect(JSON.parse(JSON.stringify(sink.collect()))).toEqual(sink.collect());
  });
});

describe('RecordingMetricsSink against a model (property)', () => {
  it('reads for every series the sum of its increments', () => {
    const labelSets: MetricLabels[] = [{}, { class: '64' }, { class: '128' }, { class: '64', pool: 'b' }];
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            name: fc.constantFrom('mem_a_total', 'mem_b_total'),
            labels: fc.integer({ min: 0, max: labelSets.length - 1 }),
            amount: fc.integer({ min: 0, max: 1000 }),
          }),
        ),
        (ops) => {
          const sink = new RecordingMetricsSink();
          const model = new Map<string, number>();
          for (const { name, labels, amount } of ops) {
            sink.counter(name, 'help', labelSets[labels]).inc(amount);
            const key = `${name}/${labels}`;
            model.set(key, (model.get(key) ?? 0) + amount);
          }
          for (const name of ['mem_a_total', 'mem_b_total']) {
            labelSets.forEach((labels, index) => {
              expect(sink.read(name, labels)).toBe(model.get(`${name}/${index}`));
            });
          }
          expect(sink.collect()).toHaveLength(model.size);
        },
      ),
    );
  });
});

describe('mirrorCounter', () => {
  it('adds what the running total grew by since the last call', () => {
    const sink = new RecordingMetricsSink();
    let hits = 0;
    const publishHits = mirrorCounter(sink.counter('mem_hits_total', 'hits'));
    sink.addCollector(() => publishHits(hits));
    hits += 3;
    expect(sink.read('mem_hits_total')).toBe(3);
    expect(sink.read('mem_hits_total')).toBe(3); // no growth, nothing added
    hits += 2;
    expect(sink.read('mem_hits_total')).toBe(5);
  });

  it('adds nothing when the total goes down, and counts growth after a reset from the lower total', () => {
    const sink = new RecordingMetricsSink();
    const publish = mirrorCounter(sink.counter('mem_hits_total', 'hits'));
    publish(100);
    publish(0); // the source was reset
    expect(sink.read('mem_hits_total')).toBe(100);
    publish(30);
    expect(sink.read('mem_hits_total')).toBe(130);
  });

  it('ignores totals that are not finite numbers, without throwing', () => {
    const sink = new RecordingMetricsSink();
    const publish = mirrorCounter(sink.counter('mem_hits_total', 'hits'));
    publish(4);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, '9' as unknown as number]) {
      expect(() => publish(bad)).not.toThrow();
    }
    publish(6);
    expect(sink.read('mem_hits_total')).toBe(6);
  });

  it('works with the noop sink', () => {
    expect(() => mirrorCounter(noopMetrics.counter('mem_hits_total', 'hits'))(10)).not.toThrow();
  });

  it('publishes the sum of all increases of any sequence of totals (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1_000_000 })), (totals) => {
        const sink = new RecordingMetricsSink();
        const publish = mirrorCounter(sink.counter('mem_x_total', 'x'));
        let expected = 0;
        let previous = 0;
        for (const total of totals) {
          publish(total);
          if (total > previous) expected += total - previous;
          previous = total;
        }
        expect(sink.read('mem_x_total')).toBe(expected);
      }),
    );
  });
});

describe('assertMetricsSink', () => {
  it('returns undefined or the sink it is given', () => {
    const sink = new RecordingMetricsSink();
    expect(assertMetricsSink(undefined, 'options.metrics')).toBeUndefined();
    expect(assertMetricsSink(sink, 'options.metrics')).toBe(sink);
    expect(assertMetricsSink(noopMetrics, 'options.metrics')).toBe(noopMetrics);
  });

  it('assertMetricsSink refuses what is not a sink with INVALID_ARGUMENT naming the option', () => {
    const half = { counter() {}, gauge() {} };
    for (const value of [null, 5, 'sink', {}, half, { ...half, addCollector: 1 }]) {
      const error = expectInvalid(() => assertMetricsSink(value, 'options.metrics'), value);
      expect(error.message).toContain('options.metrics');
    }
  });
});
