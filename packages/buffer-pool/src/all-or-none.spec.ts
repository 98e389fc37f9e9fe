/**
 * All-or-none: every operation that runs the caller's code midway (the metrics sink while an
 * instance is created or attached, and during a scrape; the collector's unregister function in
 * `close()`; the getters of an adopt descriptor, of an attach descriptor, of a write source) is
 * run with that code throwing at each of its steps in turn. The operation then throws that error
 * and changes nothing: the pool's state, its free slots, its transfers in flight and the sink's
 * collectors are as before, and the same operation succeeds afterwards.
 */
import { describe, expect, it } from 'vitest';
import { RecordingMetricsSink, type Counter, type Gauge, type MetricsSink } from '@mem/types';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { BufferTransfer } from './buffer-transfer.js';
import type { IoBuffer } from './io-buffer.js';

const page = 4096;
const config = BufferPoolConfig.from({
  minSize: page,
  maxSize: 2 * page,
  maxPerClass: 8,
  alignment: page,
}).withWorkerCacheCapacity(4);

class Boom extends Error {}

/** A real sink whose `failAt`-th call (counting every method and instrument call) throws. */
class FailingSink implements MetricsSink {
  readonly recording = new RecordingMetricsSink();
  calls = 0;
  active = 0;
  constructor(public failAt = Infinity) {}
  /** Makes the `step`-th call from now throw. */
  failIn(step: number): void {
    this.failAt = this.calls + step;
  }
  #step(): void {
    this.calls += 1;
    if (this.calls === this.failAt) throw new Boom(`call ${this.calls}`);
  }
  counter(name: string, help: string, labels?: Record<string, string>): Counter {
    this.#step();
    const counter = this.recording.counter(name, help, labels);
    return { inc: (amount) => (this.#step(), counter.inc(amount)) };
  }
  gauge(name: string, help: string, labels?: Record<string, string>): Gauge {
    this.#step();
    const gauge = this.recording.gauge(name, help, labels);
    return {
      set: (value) => (this.#step(), gauge.set(value)),
      inc: (amount) => gauge.inc(amount),
      dec: (amount) => gauge.dec(amount),
    };
  }
  addCollector(collect: () => void): () => void {
    this.#step();
    const remove = this.recording.addCollector(collect);
    this.active += 1;
    return () => {
      this.#step();
      this.active -= 1;
      remove();
    };
  }
}

/** What must not change: per class, created, free (global and local), in use; and the transfers in flight. */
function state(pool: BufferPool): unknown {
  const stats = pool.stats();
  return {
    classes: stats.classes.map(({ created, globalFree, localFree, inUse }) => ({
      created,
      globalFree,
      localFree,
      inUse,
    })),
    transfersInFlight: stats.transfersInFlight,
  };
}

/** A pool with a little of everything: buffers out, buffers cached, a transfer in flight. */
function busyPool(
  shared: boolean,
  metrics?: MetricsSink,
): { pool: BufferPool; kept: IoBuffer[]; pending: BufferTransfer } {
  const pool = shared
    ? BufferPool.createShared(config, { leakDetection: 'off', metrics })
    : new BufferPool(config, { leakDetection: 'off', metrics });
  const kept = [pool.alloc(page), pool.alloc(2 * page)];
  pool.alloc(page).release();
  const moving = pool.alloc(page);
  moving.write([1, 2, 3]);
  return { pool, kept, pending: moving.transfer() };
}

/**
 * Runs `run` with a sink failing at each of its calls in turn (after a run that counts them), and
 * `afterFailure` after each failed run; returns how many calls a run makes.
 */
function eachFailingCall(run: (sink: FailingSink) => void, afterFailure: (sink: FailingSink) => void): number {
  const probe = new FailingSink();
  run(probe);
  for (let failAt = 1; failAt <= probe.calls; failAt += 1) {
    const sink = new FailingSink(failAt);
    expect(() => run(sink)).toThrow(Boom);
    afterFailure(sink);
  }
  return probe.calls;
}

describe('all-or-none when the caller code throws midway', () => {
  it('BufferPool.attach with a metrics sink failing at any call attaches nothing and leaves the pool as it was', () => {
    const { pool, pending } = busyPool(true);
    const before = state(pool);
    const calls = eachFailingCall(
      (sink) => void BufferPool.attach(pool.descriptor(), { leakDetection: 'off', metrics: sink }),
      (sink) => {
        expect(sink.active).toBe(0);
        expect(state(pool)).toEqual(before);
      },
    );
    expect(calls).toBeGreaterThan(10);
    const adopted = pool.adopt(pending) as IoBuffer;
    expect([...adopted.bytes]).toEqual([1, 2, 3]);
  });

  it('new BufferPool with a metrics sink failing at any call creates nothing and registers no collector', () => {
    for (const shared of [false, true]) {
      eachFailingCall(
        (sink) =>
          void (shared
            ? BufferPool.createShared(config, { leakDetection: 'off', metrics: sink })
            : new BufferPool(config, { leakDetection: 'off', metrics: sink })),
        (sink) => expect(sink.active).toBe(0),
      );
    }
  });

  for (const shared of [false, true]) {
    const mode = shared ? 'shared' : 'private';

    it(`BufferPool.close with an unregister function that throws stays open, then closes on a second call (${mode})`, () => {
      const sink = new FailingSink();
      const { pool, kept } = busyPool(shared, sink);
      sink.failIn(1);
      const before = state(pool);
      expect(() => pool.close()).toThrow(Boom);
      expect(pool.closed).toBe(false);
      expect(state(pool)).toEqual(before);
      expect(sink.active).toBe(1);
      pool.alloc(page).release();
      pool.close();
      expect(pool.closed).toBe(true);
      expect(sink.active).toBe(0);
      for (const buffer of kept) buffer.release();
    });

    it(`a scrape whose instruments fail at any call changes nothing, and the next scrape publishes exact totals (${mode})`, () => {
      const sink = new FailingSink();
      const { pool } = busyPool(shared, sink);
      // Each scrape publishes a grown hit count (one more call) as well as the gauges.
      const scrape = (): void => {
        pool.alloc(page).release();
        sink.recording.collect();
      };
      scrape(); // publishes everything counted since the pool was created
      const calls = sink.calls;
      scrape();
      const perScrape = sink.calls - calls;
      const before = state(pool);
      for (let step = 1; step <= perScrape; step += 1) {
        sink.failIn(step);
        expect(scrape).toThrow(Boom);
      }
      sink.failAt = Infinity;
      expect(state(pool)).toEqual(before);
      const local = pool.stats().classes[0]!.hits.local;
      expect(
        sink.recording.read('mem_buffer_pool_hits_total', {
          pool: 'buffer-pool',
          size_class: String(page),
          tier: 'local',
        }),
      ).toBe(local);
      expect(sink.recording.read('mem_buffer_pool_buffers', { pool: 'buffer-pool', size_class: String(page) })).toBe(
        pool.stats().classes[0]!.created,
      );
    });

    it(`BufferPool.adopt of a descriptor whose getters throw at any field adopts nothing (${mode})`, () => {
      const { pool, pending } = busyPool(shared);
      const before = state(pool);
      for (const failing of Object.keys(pending)) {
        const posted = { ...pending };
        Object.defineProperty(posted, failing, {
          get: () => {
            throw new Boom(failing);
          },
        });
        expect(() => pool.adopt(posted)).toThrow(Boom);
        expect(state(pool)).toEqual(before);
      }
      expect([...(pool.adopt(pending) as IoBuffer).bytes]).toEqual([1, 2, 3]);
    });

    it(`IoBuffer.write of an array whose getter throws at any index writes nothing (${mode})`, () => {
      const { kept } = busyPool(shared);
      const buffer = kept[0]!;
      buffer.capacityBytes.fill(0x33);
      buffer.write([7]);
      for (let failing = 0; failing < 5; failing += 1) {
        const source = [1, 2, 3, 4, 5];
        Object.defineProperty(source, failing, {
          get: () => {
            throw new Boom(String(failing));
          },
        });
        expect(() => buffer.write(source)).toThrow(Boom);
        expect(buffer.length).toBe(1);
        expect(buffer.capacityBytes.subarray(1).every((byte) => byte === 0x33)).toBe(true);
      }
      expect(buffer.write([1, 2, 3, 4, 5])).toBe(6);
    });
  }

  it('BufferPool.attach of a descriptor whose getters throw at any field attaches nothing', () => {
    const { pool } = busyPool(true);
    const descriptor = pool.descriptor();
    const before = state(pool);
    for (const failing of Object.keys(descriptor)) {
      const posted = { ...descriptor };
      Object.defineProperty(posted, failing, {
        get: () => {
          throw new Boom(failing);
        },
      });
      expect(() => BufferPool.attach(posted)).toThrow(Boom);
      expect(state(pool)).toEqual(before);
    }
    BufferPool.attach(descriptor).close();
  });
});
