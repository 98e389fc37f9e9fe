/**
 * Re-entrancy matrix: every place where a pool runs its caller's code (the metrics sink's methods,
 * the instruments during a scrape, the collector's unregister function, `onLeak`, and the getters
 * of the values it reads: an adopt descriptor, a write source, an attach descriptor) calls back
 * into every public method of the same pool. Each call must work or throw a MemError, the outer
 * operation must finish (or throw a MemError), and afterwards the pool is consistent: every live
 * buffer holds its own bytes, and once everything is given back every slot comes out exactly once.
 */
import { describe, expect, it } from 'vitest';
import { collectUntil } from '@mem/testkit/collect-garbage';
import { MemError, RecordingMetricsSink, type Counter, type Gauge, type MetricsSink } from '@mem/types';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { BufferTransfer } from './buffer-transfer.js';
import type { BufferPoolDescriptor } from './pool-descriptor.js';
import type { FrozenBuffer } from './frozen-buffer.js';
import { IoBuffer } from './io-buffer.js';

const page = 4096;
const config = BufferPoolConfig.from({
  minSize: page,
  maxSize: page,
  maxPerClass: 16,
  alignment: page,
}).withWorkerCacheCapacity(4);

/** What the test holds: buffers and views with the byte each of them is filled with, and transfers. */
interface World {
  readonly pool: BufferPool;
  /** The pool's descriptor (shared pools), to attach after the pool closed. */
  readonly descriptor: BufferPoolDescriptor | undefined;
  readonly instances: BufferPool[];
  readonly held: { handle: IoBuffer | FrozenBuffer; fill: number }[];
  readonly pending: BufferTransfer[];
  /** The buffer the outer operation works on, if any (a re-entrant release targets it). */
  target: IoBuffer | undefined;
  nextFill: number;
}

type Method = (world: World) => void;

function keep(world: World, buffer: IoBuffer): void {
  const fill = (world.nextFill += 1);
  buffer.capacityBytes.fill(fill);
  buffer.length = 8;
  world.held.push({ handle: buffer, fill });
}

/** A held mutable buffer other than the target, if there is one. */
function anotherBuffer(world: World): { handle: IoBuffer; fill: number } | undefined {
  return world.held.find((entry) => entry.handle instanceof IoBuffer && entry.handle !== world.target) as
    { handle: IoBuffer; fill: number } | undefined;
}

const methods: Record<string, Method> = {
  alloc: (world) => keep(world, world.pool.alloc(page)),
  tryAlloc: (world) => keep(world, world.pool.tryAlloc(page)),
  allocZeroed: (world) => keep(world, world.pool.allocZeroed(8)),
  tryAllocZeroed: (world) => keep(world, world.pool.tryAllocZeroed(8)),
  adopt: (world) => {
    const descriptor = world.pending.at(-1);
    if (!descriptor) return;
    const adopted = world.pool.adopt(descriptor) as IoBuffer;
    world.pending.pop();
    keep(world, adopted);
  },
  flush: (world) => world.pool.flush(),
  descriptor: (world) => void world.pool.descriptor(),
  close: (world) => world.pool.close(),
  stats: (world) => void world.pool.stats(),
  attach: (world) => {
    if (world.descriptor) world.instances.push(BufferPool.attach(world.descriptor, { leakDetection: 'off' }));
  },
  release: (world) => {
    const entry = world.target ? world.held.find((e) => e.handle === world.target) : anotherBuffer(world);
    if (!entry) return;
    entry.handle.release();
    world.held.splice(world.held.indexOf(entry), 1);
    // The slot gets its next owner at once (the local cache is a stack): its bytes are checked.
    if (!world.pool.closed) keep(world, world.pool.alloc(page));
  },
  freeze: (world) => {
    const entry = anotherBuffer(world);
    if (entry) world.held[world.held.indexOf(entry)] = { handle: entry.handle.freeze(), fill: entry.fill };
  },
  transfer: (world) => {
    const entry = anotherBuffer(world);
    if (!entry) return;
    world.pending.push(entry.handle.transfer());
    world.held.splice(world.held.indexOf(entry), 1);
  },
  write: (world) => {
    const entry = anotherBuffer(world);
    if (entry) entry.handle.write(new Uint8Array(8).fill(entry.fill));
  },
};

/** Calls `method` once from inside a callback, recording a MemError instead of letting it out. */
function reenter(world: World, method: Method, outcomes: string[]): void {
  try {
    method(world);
    outcomes.push('ok');
  } catch (error) {
    if (!(error instanceof MemError)) throw error;
    outcomes.push(error.code);
  }
}

/** A sink whose methods (and, with `during: 'scrape'`, whose instruments) run `hook` once. */
class HookedSink implements MetricsSink {
  readonly recording = new RecordingMetricsSink();
  constructor(
    readonly during: 'counter' | 'gauge' | 'addCollector' | 'scrape' | 'unregister',
    readonly hook: () => void,
  ) {}
  #fired = false;
  #fire(when: HookedSink['during']): void {
    if (when !== this.during || this.#fired) return;
    this.#fired = true;
    this.hook();
  }
  counter(name: string, help: string, labels?: Record<string, string>): Counter {
    this.#fire('counter');
    const counter = this.recording.counter(name, help, labels);
    return { inc: (amount) => (this.#fire('scrape'), counter.inc(amount)) };
  }
  gauge(name: string, help: string, labels?: Record<string, string>): Gauge {
    this.#fire('gauge');
    const gauge = this.recording.gauge(name, help, labels);
    return {
      set: (value) => (this.#fire('scrape'), gauge.set(value)),
      inc: (amount) => gauge.inc(amount),
      dec: (amount) => gauge.dec(amount),
    };
  }
  addCollector(collect: () => void): () => void {
    this.#fire('addCollector');
    const remove = this.recording.addCollector(collect);
    return () => {
      this.#fire('unregister');
      remove();
    };
  }
}

function world(shared: boolean, options: Record<string, unknown> = {}): World {
  const pool = shared
    ? BufferPool.createShared(config, { leakDetection: 'off', ...options })
    : new BufferPool(config, { leakDetection: 'off', ...options });
  const state: World = {
    pool,
    descriptor: shared ? pool.descriptor() : undefined,
    instances: [pool],
    held: [],
    pending: [],
    target: undefined,
    nextFill: 0,
  };
  for (let i = 0; i < 3; i += 1) keep(state, pool.alloc(page));
  const spare = pool.alloc(page);
  spare.write([0xee]);
  state.pending.push(spare.transfer());
  return state;
}

/** Live buffers hold their bytes; after giving everything back, every slot comes out exactly once. */
function expectConsistent(state: World): void {
  for (const { handle, fill } of state.held) {
    const bytes = handle instanceof IoBuffer ? handle.capacityBytes : handle.bytes;
    expect(bytes.every((byte) => byte === fill)).toBe(true);
  }
  const { pool, descriptor } = state;
  const fresh = descriptor ? BufferPool.attach(descriptor, { leakDetection: 'off' }) : pool.closed ? undefined : pool;
  for (const { handle } of state.held) handle.release();
  if (!fresh) {
    // A closed private pool adopts nothing: what is in flight stays out, the rest is back.
    expect(pool.stats().classes[0]!.inUse).toBe(state.pending.length);
    return;
  }
  for (const pending of state.pending) fresh.adopt(pending).release();
  for (const instance of state.instances) if (instance !== fresh) instance.close();
  const all = Array.from({ length: config.maxPerClass }, () => fresh.tryAlloc(page));
  expect(new Set(all.map((buffer) => buffer.byteOffset)).size).toBe(config.maxPerClass);
  expect(all.every((buffer) => buffer.isPooled)).toBe(true);
  for (const buffer of all) buffer.release();
}

/** Checks the outcomes of the calls made from callbacks: each worked or threw one of `allowed`. */
function expectAnswered(outcomes: string[], allowed: readonly string[] = []): void {
  expect(outcomes).toHaveLength(1);
  expect(['ok', ...allowed]).toContain(outcomes[0]);
}

const names = Object.keys(methods);

describe.each(names)('re-entering %s', (name) => {
  const method = methods[name]!;
  // descriptor() of a private pool, and anything on a pool the callback closed, answer with their codes.
  const allowed = ['USE_AFTER_RELEASE', 'INVALID_ARGUMENT'];

  for (const during of ['counter', 'gauge', 'addCollector'] as const) {
    it(`from the metrics sink's ${during}() while an instance attaches`, () => {
      const state = world(true);
      const outcomes: string[] = [];
      const sink = new HookedSink(during, () => reenter(state, method, outcomes));
      state.instances.push(BufferPool.attach(state.pool.descriptor(), { leakDetection: 'off', metrics: sink }));
      expectAnswered(outcomes, allowed);
      expectConsistent(state);
    });
  }

  for (const shared of [false, true]) {
    const mode = shared ? 'shared' : 'private';

    it(`from an instrument during a scrape (${mode})`, () => {
      const outcomes: string[] = [];
      const sink = new HookedSink('scrape', () => reenter(state, method, outcomes));
      const state = world(shared, { metrics: sink });
      sink.recording.collect();
      sink.recording.collect();
      expectAnswered(outcomes, allowed);
      expectConsistent(state);
    });

    it(`from the collector's unregister function during close() (${mode})`, () => {
      const outcomes: string[] = [];
      const sink = new HookedSink('unregister', () => reenter(state, method, outcomes));
      const state = world(shared, { metrics: sink });
      state.pool.close();
      expect(state.pool.closed).toBe(true);
      expectAnswered(outcomes, allowed);
      expectConsistent(state);
    });

    it(`from onLeak after a leaked buffer was recovered (${mode})`, async () => {
      const outcomes: string[] = [];
      const state: World = world(shared, {
        leakDetection: 'paranoid',
        onLeak: () => reenter(state, method, outcomes),
      });
      (() => state.pool.alloc(page).write([1]))(); // leaked
      await collectUntil(() => outcomes.length > 0, { attempts: 60, pauseMs: 5 });
      expectAnswered(outcomes, allowed);
      expectConsistent(state);
    });

    it(`from a getter of the descriptor adopt reads (${mode})`, () => {
      const state = world(shared);
      const outcomes: string[] = [];
      const buffer = state.pool.alloc(page);
      buffer.write([0xab]);
      const descriptor = buffer.transfer();
      const posted = { ...descriptor };
      Object.defineProperty(posted, 'ticket', {
        enumerable: true,
        get: () => {
          if (outcomes.length === 0) reenter(state, method, outcomes);
          return descriptor.ticket;
        },
      });
      let adopted: IoBuffer | undefined;
      try {
        adopted = state.pool.adopt(posted) as IoBuffer;
      } catch (error) {
        expect(MemError.is(error, 'USE_AFTER_RELEASE')).toBe(true);
        state.pending.push(descriptor);
      }
      if (adopted) {
        expect([...adopted.bytes]).toEqual([0xab]);
        state.held.push({ handle: adopted.freeze(), fill: 0xab });
      }
      expectAnswered(outcomes, allowed);
      expectConsistent(state);
    });

    it(`from a getter of the array write reads (${mode})`, () => {
      const state = world(shared);
      const outcomes: string[] = [];
      const entry = state.held[0]!;
      const buffer = entry.handle as IoBuffer;
      state.target = buffer;
      const source = new Array<number>(8).fill(entry.fill);
      Object.defineProperty(source, 3, {
        get: () => {
          reenter(state, method, outcomes);
          return entry.fill;
        },
      });
      try {
        expect(buffer.write(source)).toBe(16);
      } catch (error) {
        // The callback released the very buffer being written.
        expect(MemError.is(error, 'USE_AFTER_RELEASE')).toBe(true);
        expect(buffer.released).toBe(true);
      }
      state.target = undefined;
      expectAnswered(outcomes, allowed);
      expectConsistent(state);
    });
  }

  it('from a getter of the descriptor attach reads', () => {
    const state = world(true);
    const outcomes: string[] = [];
    const descriptor = state.pool.descriptor();
    const posted = { ...descriptor };
    Object.defineProperty(posted, 'config', {
      enumerable: true,
      get: () => {
        if (outcomes.length === 0) reenter(state, method, outcomes);
        return descriptor.config;
      },
    });
    state.instances.push(BufferPool.attach(posted, { leakDetection: 'off' }));
    expectAnswered(outcomes, allowed);
    expectConsistent(state);
  });
});
