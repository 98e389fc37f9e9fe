import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { RecordingMetricsSink } from './metrics.js';

/** Every public method of the sink, as a collector could call it. */
const reentries: [string, (sink: RecordingMetricsSink) => unknown][] = [
  ['counter', (sink) => sink.counter('mem_inner_total', 'inner').inc()],
  ['gauge', (sink) => sink.gauge('mem_inner_free', 'inner').set(7)],
  ['addCollector', (sink) => sink.addCollector(() => {})],
  ['collect', (sink) => sink.collect()],
  ['read', (sink) => sink.read('mem_outer_total')],
];

function sinkWithOuterCounter(): RecordingMetricsSink {
  const sink = new RecordingMetricsSink();
  sink.counter('mem_outer_total', 'outer').inc(2);
  return sink;
}

describe('RecordingMetricsSink: collectors that call back into their sink', () => {
  for (const scrape of ['collect', 'read'] as const) {
    for (const [name, reenter] of reentries) {
      it(`a collector calling ${name} during ${scrape} works or throws IN_USE, and the sink stays consistent`, () => {
        const sink = sinkWithOuterCounter();
        let caught: unknown;
        const remove = sink.addCollector(() => {
          try {
            reenter(sink);
          } catch (error) {
            caught = error;
          }
        });
        if (scrape === 'collect') sink.collect();
        else sink.read('mem_outer_total');
        if (name === 'collect' || name === 'read') {
          expectMemError(() => {
            throw caught;
          }, 'IN_USE');
        } else {
          expect(caught).toBeUndefined();
        }
        remove();
        // After the scrape, the sink answers every call as usual.
        expect(sink.read('mem_outer_total')).toBe(2);
        expect(sink.collect().find((sample) => sample.name === 'mem_outer_total')?.value).toBe(2);
      });
    }
  }

  it('runs a collector added by a collector from the next scrape on, so a scrape always ends', () => {
    const sink = new RecordingMetricsSink();
    let runs = 0;
    const spawn = (): (() => void) => () => {
      runs += 1;
      sink.addCollector(spawn());
    };
    sink.addCollector(spawn());
    sink.collect();
    expect(runs).toBe(1);
    sink.collect();
    expect(runs).toBe(3);
  });

  it('still runs, this time, a collector that an earlier collector removed', () => {
    const sink = new RecordingMetricsSink();
    let secondRuns = 0;
    let removeSecond: () => void = () => {};
    sink.addCollector(() => removeSecond());
    removeSecond = sink.addCollector(() => (secondRuns += 1));
    sink.collect();
    sink.collect();
    expect(secondRuns).toBe(1);
  });

  it('scrapes again after a collector threw, and IN_USE names the method', () => {
    const sink = sinkWithOuterCounter();
    let fail = true;
    sink.addCollector(() => {
      if (fail) throw new Error('scrape failed');
    });
    expect(() => sink.read('mem_outer_total')).toThrow('scrape failed');
    fail = false;
    expect(sink.read('mem_outer_total')).toBe(2);
    sink.addCollector(() => sink.read('mem_outer_total'));
    expect(expectMemError(() => sink.collect(), 'IN_USE').message).toContain('read()');
  });
});
