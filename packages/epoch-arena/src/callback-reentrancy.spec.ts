import { describe, expect, it } from 'vitest';
import { collectUntil } from '@mem/testkit/collect-garbage';
import { MemError, RecordingMetricsSink, type Counter, type Gauge, type MetricLabels } from '@mem/types';
import {
  ArenaPool,
  ArenaRing,
  SharedArenaPool,
  EpochArena,
  SharedEpochArena,
  type ArenaHandle,
  type EpochGuard,
} from './index.js';

/**
 * Every callback a user gives to an arena or a pool, calling back into every public method of the
 * same object: the call works or throws a MemError, and the object is consistent afterwards.
 *
 * The callbacks: the metrics sink (its `addCollector` at construction, `gauge` and `counter` when the
 * first scrape makes the instruments, `set` and `inc` of those at every scrape) and `onGuardLeak`.
 */

type Site = 'addCollector' | 'gauge' | 'counter' | 'set' | 'inc';

/** A recording sink that runs `hook` once, the first time it reaches `armed`. */
class HookedSink extends RecordingMetricsSink {
  armed: Site | undefined;
  hook: () => void = () => {};

  fire(site: Site): void {
    if (this.armed !== site) return;
    this.armed = undefined;
    this.hook();
  }

  override addCollector(collect: () => void): () => void {
    const unregister = super.addCollector(collect);
    try {
      this.fire('addCollector');
    } catch (error) {
      unregister(); // a sink that fails to register keeps nothing
      throw error;
    }
    return unregister;
  }

  override gauge(name: string, help: string, labels?: MetricLabels): Gauge {
    const gauge = super.gauge(name, help, labels);
    this.fire('gauge');
    return {
      set: (value) => {
        gauge.set(value);
        this.fire('set');
      },
      inc: (amount) => gauge.inc(amount),
      dec: (amount) => gauge.dec(amount),
    };
  }

  override counter(name: string, help: string, labels?: MetricLabels): Counter {
    const counter = super.counter(name, help, labels);
    this.fire('counter');
    return {
      inc: (amount) => {
        counter.inc(amount);
        this.fire('inc');
      },
    };
  }
}

/** What a re-entry may call: an arena or a pool. */
type Target = EpochArena | SharedEpochArena | ArenaRing;

interface Subject {
  readonly name: string;
  make(sink: HookedSink, onGuardLeak?: () => void): Target;
}

const subjects: Subject[] = [
  { name: 'EpochArena', make: (metrics) => new EpochArena({ metrics, blockSize: 8192 }) },
  { name: 'SharedEpochArena', make: (metrics) => SharedEpochArena.createShared({ capacity: 1 << 16, metrics }) },
  {
    name: 'ArenaPool',
    make: (metrics, onGuardLeak) =>
      new ArenaPool({ ringSize: 2, metrics, leakDetection: 'paranoid', onGuardLeak, blockSize: 8192 }),
  },
  {
    name: 'SharedArenaPool',
    make: (metrics, onGuardLeak) =>
      SharedArenaPool.createShared({ ringSize: 2, capacity: 1 << 16, metrics, leakDetection: 'paranoid', onGuardLeak }),
  },
];

const KEY = new Uint8Array([1, 2, 3, 4]);

/** The public methods, each called the way a user would; `handle` is live when the re-entry starts. */
const reentries: { name: string; call: (target: Target, handle: ArenaHandle) => unknown }[] = [
  { name: 'allocate', call: (target) => target.allocate(24) },
  { name: 'allocate long', call: (target) => target.allocate(600) },
  { name: 'allocateCopy', call: (target) => target.allocateCopy(KEY) },
  { name: 'allocateKey', call: (target) => target.allocateKey(KEY) },
  { name: 'view', call: (target, handle) => target.view(handle) },
  { name: 'copy', call: (target, handle) => target.copy(handle) },
  { name: 'copyTo', call: (target, handle) => target.copyTo(handle, new Uint8Array(8)) },
  { name: 'write', call: (target, handle) => target.write(handle, KEY) },
  { name: 'fill', call: (target, handle) => target.fill(handle, 1) },
  { name: 'compare', call: (target, handle) => target.compare(handle, KEY) },
  { name: 'equals', call: (target, handle) => target.equals(handle, KEY) },
  { name: 'lengthOf', call: (target, handle) => target.lengthOf(handle) },
  { name: 'epochOf', call: (target, handle) => target.epochOf(handle) },
  { name: 'isValid', call: (target, handle) => target.isValid(handle) },
  { name: 'stats', call: (target) => target.stats() },
  { name: 'reset', call: (target) => (target instanceof ArenaRing ? undefined : target.reset(target.epoch + 1)) },
  {
    name: 'setAllocationLimit',
    call: (target) => (target instanceof EpochArena ? target.setAllocationLimit(1 << 20) : undefined),
  },
  { name: 'descriptor', call: (target) => (shared(target) ? target.descriptor() : undefined) },
  { name: 'close', call: (target) => (shared(target) ? target.close() : undefined) },
  { name: 'advanceEpoch', call: (target) => (target instanceof ArenaRing ? target.advanceEpoch() : undefined) },
  { name: 'pin and release', call: (target) => (target instanceof ArenaRing ? target.pin().release() : undefined) },
  {
    name: 'pin kept',
    call: (target) => (target instanceof ArenaRing ? kept.push(target.pin()) : undefined),
  },
  { name: 'isEpochValid', call: (target) => (target instanceof ArenaRing ? target.isEpochValid(0) : undefined) },
  { name: 'local', call: (target) => (target instanceof ArenaRing ? target.local().allocate(8) : undefined) },
  { name: 'currentArena', call: (target) => (target instanceof ArenaRing ? target.currentArena().stats() : undefined) },
  { name: 'arenaOf', call: (target, handle) => (target instanceof ArenaRing ? target.arenaOf(handle) : undefined) },
  {
    name: 'a second object on the same sink',
    call: (target) => (target instanceof EpochArena ? new EpochArena({ metrics: sinkOf.get(target) }) : undefined),
  },
];

function shared(target: Target): target is SharedEpochArena | SharedArenaPool {
  return target instanceof SharedEpochArena || target instanceof SharedArenaPool;
}

/** Moves the epoch on once, so that the next scrape has counters to increase. */
function churn(target: Target): void {
  if (target instanceof ArenaRing) target.advanceEpoch();
  else target.reset(target.epoch + 1);
}

/** Guards a re-entry kept, released by the consistency check. */
const kept: EpochGuard[] = [];
const sinkOf = new WeakMap<object, HookedSink>();

/** Runs `reentry`; returns 'ok', or the code of the MemError it threw (anything else fails the test). */
function attempt(reentry: (typeof reentries)[number], target: Target, handle: ArenaHandle): string {
  try {
    reentry.call(target, handle);
    return 'ok';
  } catch (error) {
    expect(error, reentry.name).toBeInstanceOf(MemError);
    return (error as MemError).code;
  }
}

function closed(target: Target): boolean {
  return shared(target) && target.closed;
}

/** The object still does what it promises: allocates, reads back, counts, and (a pool) pins and advances. */
function expectConsistent(target: Target, label: string): void {
  for (const guard of kept.splice(0)) guard.release();
  if (closed(target)) return;
  const handle = target.allocateCopy(KEY);
  expect([...target.view(handle)], label).toEqual([...KEY]);
  if (target instanceof ArenaRing) {
    const stats = target.stats();
    expect(stats.activeGuards, label).toBe(0);
    expect(
      stats.arenas.every(({ state }) => state !== 'reclaiming'),
      label,
    ).toBe(true);
    expect(target.isEpochValid(target.currentEpoch), label).toBe(true);
    target.pin().release();
    target.advanceEpoch();
  } else {
    expect(target.stats().allocationCount, label).toBeGreaterThan(0);
  }
}

describe('metrics sink callbacks calling back into the arena or pool they publish', () => {
  for (const subject of subjects) {
    for (const site of ['gauge', 'counter', 'set', 'inc'] as const) {
      it(`${subject.name}: every public method works or throws a MemError from the sink's ${site}, and the object stays consistent`, () => {
        const outcomes: Record<string, string> = {};
        for (const reentry of reentries) {
          const sink = new HookedSink();
          const target = subject.make(sink);
          sinkOf.set(target, sink);
          if (site === 'inc') churn(target);
          const handle = target.allocateCopy(KEY);
          sink.armed = site;
          sink.hook = () => (outcomes[reentry.name] = attempt(reentry, target, handle));
          sink.collect(); // the scrape: makes the instruments, then sets them
          expect(outcomes[reentry.name], `${reentry.name} from ${site}`).toBeDefined();
          expectConsistent(target, `${subject.name}: ${reentry.name} from ${site}`);
          sink.collect(); // the next scrape publishes again
        }
        // Only a handle made stale by the re-entry itself is refused; nothing else fails.
        for (const [name, outcome] of Object.entries(outcomes)) {
          expect(['ok', 'STALE_HANDLE', 'USE_AFTER_RELEASE'], `${name} from ${site}`).toContain(outcome);
        }
      });
    }

    it(`${subject.name}: a sink that scrapes inside addCollector sees the object complete`, () => {
      const sink = new HookedSink();
      sink.armed = 'addCollector';
      let samples = 0;
      sink.hook = () => (samples = sink.collect().length);
      const target = subject.make(sink);
      expect(samples).toBeGreaterThan(0);
      expectConsistent(target, `${subject.name}: scrape inside addCollector`);
    });
  }
});

/** Pins in its own frame and drops the guard without releasing it. */
function leakAGuard(pool: ArenaRing): void {
  pool.pin();
}

describe('onGuardLeak calling back into the pool that reports the leak', () => {
  for (const subject of subjects.filter(({ name }) => name.endsWith('ArenaPool'))) {
    it(`${subject.name}: every public method works or throws a MemError from onGuardLeak, and the pool stays consistent`, async () => {
      const outcomes: Record<string, string> = {};
      const pools = reentries.map((reentry) => {
        let handle = 0;
        const pool = subject.make(new HookedSink(), () => {
          outcomes[reentry.name] = attempt(reentry, pool, handle);
        }) as ArenaRing;
        handle = pool.allocateCopy(KEY);
        leakAGuard(pool);
        return pool;
      });
      await collectUntil(() => Object.keys(outcomes).length === reentries.length);
      expect(Object.keys(outcomes).sort()).toEqual(reentries.map(({ name }) => name).sort());
      pools.forEach((pool, index) => {
        if (!closed(pool)) expect(pool.stats().leakedGuards, reentries[index]!.name).toBe(1);
        expectConsistent(pool, `${subject.name}: ${reentries[index]!.name} from onGuardLeak`);
      });
      for (const [name, outcome] of Object.entries(outcomes))
        expect(['ok', 'USE_AFTER_RELEASE'], name).toContain(outcome);
    });
  }
});

describe('advancing onto a pinned arena makes a new arena without calling the sink', () => {
  it('a sink that advances the pool from inside a scrape works, also when the scrape meets a new arena', () => {
    const sink = new HookedSink();
    const pool = new ArenaPool({ ringSize: 1, metrics: sink });
    sink.collect();
    const guard = pool.pin();
    expect(pool.advanceEpoch()).toBe(1); // makes a second arena: no instrument made here
    sink.armed = 'gauge'; // the next scrape makes the new arena's instruments
    sink.hook = () => pool.advanceEpoch();
    sink.collect();
    expect(pool.currentEpoch).toBe(2);
    guard.release();
    expect(pool.stats()).toMatchObject({ activeGuards: 0, deferredArenas: 0, arenaCount: 2 });
  });
});

/** A sink whose `site` throws on its `failAt`-th call. */
class FailingSink extends HookedSink {
  constructor(site: Site, failAt: number) {
    super();
    let calls = 0;
    this.hook = () => {
      calls += 1;
      if (calls === failAt) throw new Error(`the sink failed at ${site} call ${failAt}`);
      this.armed = site;
    };
    this.armed = site;
  }
}

describe('a sink that throws: all or none', () => {
  it('construction with a sink whose addCollector throws fails with its error and leaves nothing behind', () => {
    const pool = SharedArenaPool.createShared({ ringSize: 2, capacity: 1 << 16 });
    const attachments = () => pool.stats().arenas.map(({ arena }) => (arena as { attachments?: number }).attachments);
    const makers: [string, (sink: HookedSink) => unknown][] = [
      ['new EpochArena', (metrics) => new EpochArena({ metrics })],
      ['SharedEpochArena.createShared', (metrics) => SharedEpochArena.createShared({ capacity: 4096, metrics })],
      ['new ArenaPool', (metrics) => new ArenaPool({ metrics })],
      ['SharedArenaPool.createShared', (metrics) => SharedArenaPool.createShared({ capacity: 4096, metrics })],
      ['SharedArenaPool.attach', (metrics) => SharedArenaPool.attach(pool.descriptor(), { metrics })],
    ];
    for (const [name, make] of makers) {
      const sink = new FailingSink('addCollector', 1);
      expect(() => make(sink), name).toThrowError('the sink failed at addCollector call 1');
      expect(sink.collect(), name).toEqual([]);
      expect(attachments(), name).toEqual([1, 1, 1]);
    }
  });

  it('a scrape whose gauge, counter, set or inc throws at any step leaves the object as it was; the next scrape publishes all', () => {
    for (const subject of subjects) {
      for (const site of ['gauge', 'counter', 'set', 'inc'] as const) {
        for (let failAt = 1; failAt <= 12; failAt += 1) {
          const label = `${subject.name}, ${site} call ${failAt}`;
          const sink = new FailingSink(site, failAt);
          const target = subject.make(sink);
          churn(target);
          const handle = target.allocateCopy(KEY);
          const before = JSON.stringify(target.stats());
          try {
            sink.collect();
          } catch (error) {
            expect(String(error), label).toContain('the sink failed');
          }
          expect(JSON.stringify(target.stats()), label).toBe(before);
          expect([...target.view(handle)], label).toEqual([...KEY]);
          sink.armed = undefined;
          const published = sink.collect().filter(({ name }) => name === 'mem_epoch_arena_allocations');
          expect(published.length, label).toBe(target instanceof ArenaRing ? target.stats().arenaCount : 1);
          expect(
            published.some(({ value }) => value === 1),
            label,
          ).toBe(true);
        }
      }
    }
  });
});
