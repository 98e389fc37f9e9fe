/**
 * Every callback a pool calls (its logger for each kind of entry, its segment source, its metrics
 * sink during a scrape, a getter of acquire's options) calls back into the pool, once per public
 * method: the call works or throws a MemError, the operation that ran the callback completes as
 * documented, and the pool keeps every invariant: each live workspace owns one block, its id is
 * unique, and its bytes are its own. Then every multi-step operation meets a callback that throws
 * at each of its steps: it completes or changes nothing.
 */
import {
  BackingMemory,
  MemError,
  RecordingMetricsSink,
  type Counter,
  type Gauge,
  type MetricLabels,
  type MetricsSink,
} from '@mem/types';
import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { checkMemoryMap, fillPattern, firstPatternMismatch } from './pool-invariants.test-helper.js';
import type { WorkspaceConfigOptions } from './workspace-config.js';
import { WorkspacePool } from './workspace-pool.js';
import type { WorkspaceLogEntry, WorkspacePoolOptions } from './workspace-pool-options.js';
import type { Workspace } from './workspace.js';

const KiB = 1024;

/** A sink whose instruments call `hook` whenever the pool's collector publishes through them. */
class HookedSink implements MetricsSink {
  readonly recording = new RecordingMetricsSink();
  hook: (() => void) | undefined;

  counter(name: string, help: string, labels?: MetricLabels): Counter {
    const counter = this.recording.counter(name, help, labels);
    return { inc: (amount) => (this.hook?.(), counter.inc(amount)) };
  }

  gauge(name: string, help: string, labels?: MetricLabels): Gauge {
    const gauge = this.recording.gauge(name, help, labels);
    return {
      set: (value) => (this.hook?.(), gauge.set(value)),
      inc: (amount) => gauge.inc(amount),
      dec: (amount) => gauge.dec(amount),
    };
  }

  addCollector(collect: () => void): () => void {
    return this.recording.addCollector(collect);
  }
}

/** A pool, the workspaces a case holds, and a way to run a callback once, at the moment under test. */
interface World {
  readonly pool: WorkspacePool;
  /** Live workspaces lent before the case, each filled with the pattern of its id. */
  readonly others: Workspace[];
  /** Runs the operation under test; returns the workspace it lent, if any. */
  trigger(): Workspace | undefined;
}

/** The callback under test runs `reenter` once, when armed. */
interface Site {
  readonly name: string;
  /** Whether the callback runs after the operation lent its workspace (a clear() then takes it back too). */
  readonly afterLending?: boolean;
  build(reenter: () => void): World;
}

function lend(pool: WorkspacePool, count: number, size: number): Workspace[] {
  return Array.from({ length: count }, () => {
    const workspace = pool.acquire(size);
    fillPattern(workspace.bytes(), workspace.id);
    return workspace;
  });
}

/** Calls `reenter` from the callback only while `armed` says so, and only once. */
function once(reenter: () => void): { arm(): void; fire(): void } {
  let armed = false;
  return {
    arm: () => (armed = true),
    fire: () => {
      if (!armed) return;
      armed = false;
      reenter();
    },
  };
}

function loggerSite(
  name: string,
  config: WorkspaceConfigOptions,
  matches: (entry: WorkspaceLogEntry) => boolean,
  prepare: (pool: WorkspacePool) => { others: Workspace[]; trigger(): Workspace | undefined },
): Site {
  return {
    name,
    afterLending: true,
    build(reenter) {
      const gate = once(reenter);
      const pool: WorkspacePool = new WorkspacePool(config, {
        logger: (entry) => {
          if (matches(entry)) gate.fire();
        },
      });
      const { others, trigger } = prepare(pool);
      return {
        pool,
        others,
        trigger: () => {
          gate.arm();
          return trigger();
        },
      };
    },
  };
}

const sites: Site[] = [
  loggerSite(
    'the logger, on the expand entry of an acquire',
    { initialSize: 8 * KiB, maxSize: 1 << 20, defragmentOnMiss: false },
    (entry) => entry.event === 'expand',
    (pool) => ({ others: lend(pool, 2, 2 * KiB), trigger: () => pool.acquire(8 * KiB) }),
  ),
  loggerSite(
    'the logger, on the defragment entry of an acquire that missed',
    { initialSize: 16 * KiB, maxSize: 1 << 20 },
    (entry) => entry.event === 'defragment' && entry.report?.trigger === 'miss',
    (pool) => {
      const all = lend(pool, 4, 4 * KiB);
      all[0]!.release();
      all[2]!.release();
      return { others: [all[1]!, all[3]!], trigger: () => pool.acquire(6 * KiB) };
    },
  ),
  loggerSite(
    'the logger, on the defragment entry of a release over the threshold',
    {
      initialSize: 16 * KiB,
      maxSize: 1 << 20,
      enableDefragmentation: true,
      defragThreshold: 0.1,
      defragCheckInterval: 1,
    },
    (entry) => entry.event === 'defragment' && entry.report?.trigger === 'threshold',
    (pool) => {
      const all = lend(pool, 4, 4 * KiB);
      all[0]!.release();
      return {
        others: [all[1]!, all[3]!],
        trigger: () => {
          all[2]!.release();
          return undefined;
        },
      };
    },
  ),
  loggerSite(
    'the logger, on the entry of defragment()',
    { initialSize: 16 * KiB, maxSize: 1 << 20 },
    (entry) => entry.event === 'defragment' && entry.report?.trigger === 'manual',
    (pool) => {
      const all = lend(pool, 4, 4 * KiB);
      all[0]!.release();
      all[2]!.release();
      return {
        others: [all[1]!, all[3]!],
        trigger: () => {
          pool.defragment();
          return undefined;
        },
      };
    },
  ),
  {
    name: 'the segment source, while the pool grows',
    build(reenter) {
      const gate = once(reenter);
      const pool = new WorkspacePool(
        { initialSize: 8 * KiB, maxSize: 1 << 20, defragmentOnMiss: false },
        {
          segmentSource: (byteLength) => {
            gate.fire();
            return BackingMemory.allocate(byteLength);
          },
        },
      );
      const others = lend(pool, 2, 2 * KiB);
      return { pool, others, trigger: () => (gate.arm(), pool.acquire(8 * KiB)) };
    },
  },
  {
    name: 'the metrics sink, during a scrape',
    build(reenter) {
      const gate = once(reenter);
      const sink = new HookedSink();
      const pool = new WorkspacePool({ initialSize: 16 * KiB, maxSize: 1 << 20 }, { metrics: sink });
      sink.hook = () => gate.fire();
      const others = lend(pool, 2, 2 * KiB);
      return { pool, others, trigger: () => (gate.arm(), sink.recording.collect(), undefined) };
    },
  },
  {
    name: 'a getter of acquire’s options',
    build(reenter) {
      const pool = new WorkspacePool({ initialSize: 16 * KiB, maxSize: 1 << 20 });
      const others = lend(pool, 2, 2 * KiB);
      const options = {
        get label() {
          reenter();
          return 'outer';
        },
      };
      return { pool, others, trigger: () => pool.acquire(KiB, options) };
    },
  },
];

/** A public method of the pool or of one of its workspaces, called from inside a callback. */
interface Reentry {
  readonly name: string;
  call(world: World, lent: Workspace[]): void;
}

const reentries: Reentry[] = [
  { name: 'acquire', call: (world, lent) => lent.push(world.pool.acquire(512)) },
  {
    name: 'acquire with options',
    call: (world, lent) => lent.push(world.pool.acquire(300, { label: 'inner', zero: true })),
  },
  { name: 'acquire that grows the pool', call: (world, lent) => lent.push(world.pool.acquire(64 * KiB)) },
  { name: 'release of another workspace', call: (world) => world.others.shift()!.release() },
  { name: 'pool.release of another workspace', call: (world) => world.pool.release(world.others.shift()!) },
  { name: 'pin of another workspace', call: (world) => void world.others[0]!.pin() },
  { name: 'defragment', call: (world) => void world.pool.defragment() },
  { name: 'clear', call: (world) => world.pool.clear() },
  { name: 'stats', call: (world) => void world.pool.stats() },
  { name: 'snapshot', call: (world) => void world.pool.snapshot() },
  { name: 'fragmentation and fragmentationRatio', call: (world) => void world.pool.fragmentation().fragmentation },
  { name: 'bytes of another workspace', call: (world) => void world.others[0]!.bytes()[0] },
];

/** What a re-entry must do where it cannot simply work. */
function expectedCode(site: Site, reentry: Reentry): string | undefined {
  if (site.name.startsWith('the segment source') && reentry.name === 'acquire that grows the pool') return 'IN_USE';
  return undefined;
}

/** Checks every invariant of the pool against the workspaces the test holds. */
function checkConsistent(pool: WorkspacePool, held: Workspace[], label: string): void {
  const live = held.filter((workspace) => !workspace.released && !workspace.stale);
  const snapshot = pool.snapshot();
  checkMemoryMap(snapshot);
  const owners = snapshot.segments
    .flatMap((segment) => segment.blocks.map((block) => block.owner))
    .filter((id) => id !== null);
  expect(
    owners.sort((a, b) => a! - b!),
    `${label}: the blocks' owners are the live workspaces`,
  ).toEqual(live.map((workspace) => workspace.id).sort((a, b) => a - b));
  expect(pool.stats().liveWorkspaces, label).toBe(live.length);
  for (const workspace of live) {
    const mismatch = firstPatternMismatch(workspace.bytes(), workspace.id);
    expect(mismatch, `${label}: workspace #${workspace.id} keeps its bytes`).toBe(-1);
  }
}

describe('callbacks that call back into the pool', () => {
  for (const site of sites) {
    describe(site.name, () => {
      it.each(reentries.map((reentry) => [reentry.name, reentry] as const))(
        're-entered by %s: works or throws a MemError, and the pool stays consistent',
        (_, reentry) => {
          const lent: Workspace[] = [];
          let thrown: unknown;
          let calls = 0;
          const world: World = site.build(() => {
            calls += 1;
            try {
              reentry.call(world, lent);
            } catch (error) {
              thrown = error;
            }
          });
          const held = [...world.others];
          const outer = world.trigger();
          expect(calls, 'the callback ran').toBe(1);
          const code = expectedCode(site, reentry);
          if (code === undefined) expect(thrown, `${reentry.name} from ${site.name}`).toBeUndefined();
          else
            expect(MemError.is(thrown, code as never), `${reentry.name} from ${site.name} throws ${code}`).toBe(true);
          if (outer !== undefined) {
            // The outer acquire lent its own workspace: live (unless the callback cleared the pool).
            expect(outer.released, 'the outer workspace is not released').toBe(false);
            expect(outer.stale).toBe(reentry.name === 'clear' && site.afterLending === true);
            for (const inner of lent) expect(inner.id, 'ids are never shared').not.toBe(outer.id);
            held.push(outer);
          }
          held.push(...lent);
          for (const workspace of held) {
            if (!workspace.released && !workspace.stale) fillPattern(workspace.bytes(), workspace.id);
          }
          checkConsistent(world.pool, held, `${site.name} / ${reentry.name}`);
          // Moves keep each workspace's bytes its own; then the pool still serves.
          for (const workspace of held) while (workspace.pinCount > 0) workspace.unpin();
          world.pool.defragment();
          checkConsistent(world.pool, held, `${site.name} / ${reentry.name}, defragmented`);
          const after = world.pool.acquire(100);
          held.push(after);
          fillPattern(after.bytes(), after.id);
          checkConsistent(world.pool, held, `${site.name} / ${reentry.name}, then an acquire`);
        },
      );
    });
  }

  it('finds a released workspace released when a logger re-releases it during its release check (DOUBLE_FREE)', () => {
    const releasing: Workspace[] = [];
    let thrown: unknown;
    const pool: WorkspacePool = new WorkspacePool(
      { initialSize: 16 * KiB, enableDefragmentation: true, defragThreshold: 0.1, defragCheckInterval: 1 },
      {
        logger: () => {
          try {
            releasing[0]?.release();
          } catch (error) {
            thrown = error;
          }
        },
      },
    );
    const all = lend(pool, 4, 4 * KiB);
    all[0]!.release();
    releasing.push(all[2]!);
    all[2]!.release(); // over the threshold: defragments and logs
    expect(MemError.is(thrown, 'DOUBLE_FREE')).toBe(true);
    expect(pool.stats()).toMatchObject({ releases: 2, liveWorkspaces: 2 });
    checkConsistent(pool, all, 'after a re-release from the logger');
  });

  it('refuses an acquire from the segment source that would grow the pool again (acquire IN_USE)', () => {
    let thrown: unknown;
    let nested: Workspace | undefined;
    const pool: WorkspacePool = new WorkspacePool(
      { initialSize: 4 * KiB, maxSize: 1 << 20, defragmentOnMiss: false },
      {
        segmentSource: (byteLength, index) => {
          if (index === 1) {
            try {
              pool.acquire(64 * KiB);
            } catch (error) {
              thrown = error;
            }
            nested = pool.acquire(KiB); // what fits is served
          }
          return BackingMemory.allocate(byteLength);
        },
      },
    );
    const outer = pool.acquire(8 * KiB);
    expect(MemError.is(thrown, 'IN_USE')).toBe(true);
    expect(nested!.id).not.toBe(outer.id);
    expect(pool.stats()).toMatchObject({ segments: 2, expansions: 1, liveWorkspaces: 2 });
    for (const workspace of [outer, nested!]) fillPattern(workspace.bytes(), workspace.id);
    checkConsistent(pool, [outer, nested!], 'after a segment source acquired');
  });

  it('gives the workspace of a logger that acquires on an expansion its own id and room (acquire)', () => {
    let inner: Workspace | undefined;
    let armed = true;
    const pool: WorkspacePool = new WorkspacePool(
      { initialSize: 4 * KiB, maxSize: 1 << 20, defragmentOnMiss: false },
      {
        logger: (entry) => {
          if (entry.event !== 'expand' || !armed) return;
          armed = false;
          inner = pool.acquire(4 * KiB);
        },
      },
    );
    const first = pool.acquire(4 * KiB);
    const outer = pool.acquire(4 * KiB); // grows the pool by 4 KiB; the logger wants 4 KiB more
    expect(outer.released).toBe(false);
    expect(inner!.id).not.toBe(outer.id);
    for (const workspace of [first, outer, inner!]) fillPattern(workspace.bytes(), workspace.id);
    checkConsistent(pool, [first, outer, inner!], 'after a logger acquired on an expansion');
  });
});

describe('multi-step operations whose callback throws at each step', () => {
  /** Calls `failAt` (1-based) of every callback call throws; the others pass. */
  function failing(failAt: number): { step(): void; calls(): number } {
    let calls = 0;
    return {
      step: () => {
        calls += 1;
        if (calls === failAt) throw new Error(`callback ${calls} failed`);
      },
      calls: () => calls,
    };
  }

  it('acquire that compacts on a miss, then grows: done, or nothing but the documented compaction (acquire EXHAUSTED)', () => {
    // The steps, in order: the segment source, then (once the call is done) the logger on the
    // miss's compaction and the logger on the expansion.
    for (let failAt = 1; failAt <= 3; failAt += 1) {
      const callbacks = failing(failAt);
      const entries: string[] = [];
      const pool = new WorkspacePool(
        { initialSize: 16 * KiB, maxSize: 1 << 20 },
        {
          logger: (entry) => {
            entries.push(entry.event);
            callbacks.step();
          },
          segmentSource: (byteLength, index) => {
            if (index > 0) callbacks.step();
            return BackingMemory.allocate(byteLength);
          },
        },
      );
      const all = lend(pool, 4, 4 * KiB);
      all[0]!.release();
      all[2]!.release();
      all[1]!.pin(); // splits the free space: the compaction cannot make 6 KiB, so the pool grows
      const kept = [all[1]!, all[3]!];
      const before = pool.stats();
      if (failAt === 1) {
        expectMemError(() => pool.acquire(6 * KiB), 'EXHAUSTED', `failing at step ${failAt}`);
        expect(pool.stats()).toMatchObject({
          acquisitions: before.acquisitions,
          liveWorkspaces: 2,
          segments: 1,
          expansions: 0,
          misses: 0,
          bytesReserved: before.bytesReserved,
          defragmentations: 1, // the documented exception: the compaction stays done
        });
        expect(entries).toEqual(['defragment']); // logged once the call failed
        checkConsistent(pool, kept, `acquire failing at step ${failAt}`);
        expect(pool.acquire(KiB).id, 'a failed acquire uses no id').toBe(before.acquisitions + 1);
      } else {
        const workspace = pool.acquire(6 * KiB);
        fillPattern(workspace.bytes(), workspace.id);
        expect(entries).toEqual(['defragment', 'expand']);
        checkConsistent(pool, [...kept, workspace], `acquire with the logger failing at step ${failAt}`);
        expect(pool.stats()).toMatchObject({ expansions: 1, defragmentations: 1, segments: 2, misses: 1 });
      }
      expect(callbacks.calls()).toBeGreaterThanOrEqual(failAt);
    }
  });

  it('acquire that grows without compacting changes nothing when its segment source fails (acquire EXHAUSTED, INVALID_ARGUMENT, LIMIT_EXCEEDED)', () => {
    for (const [refusal, code] of [
      [
        () => {
          throw new Error('no memory');
        },
        'EXHAUSTED',
      ],
      [() => ({ memory: 'none' }), 'INVALID_ARGUMENT'],
      [
        () => {
          throw new MemError('LIMIT_EXCEEDED', 'the host says no');
        },
        'LIMIT_EXCEEDED',
      ],
    ] as const) {
      let grow = false;
      const pool = new WorkspacePool(
        { initialSize: 8 * KiB, maxSize: 1 << 20, defragmentOnMiss: false },
        {
          segmentSource: (byteLength) => (grow ? (refusal() as never) : BackingMemory.allocate(byteLength)),
        },
      );
      const kept = lend(pool, 2, 2 * KiB);
      const [stats, snapshot] = [pool.stats(), pool.snapshot()];
      grow = true;
      expectMemError(() => pool.acquire(16 * KiB), code);
      expect(pool.stats()).toEqual(stats);
      expect(pool.snapshot()).toEqual(snapshot);
      checkConsistent(pool, kept, `a segment source failing with ${code}`);
    }
  });

  it('release and defragment complete whatever their logger throws (release, defragment)', () => {
    let thrown = 0;
    const pool = new WorkspacePool(
      { initialSize: 16 * KiB, enableDefragmentation: true, defragThreshold: 0.1, defragCheckInterval: 1 },
      {
        logger: () => {
          thrown += 1;
          throw new Error('log sink down');
        },
      },
    );
    const all = lend(pool, 4, 4 * KiB);
    all[0]!.release();
    all[2]!.release(); // over the threshold: defragments, and the logger throws
    expect(all[2]!.released).toBe(true);
    expect(pool.stats()).toMatchObject({ releases: 2, defragmentations: 1, fragmentation: 0 });
    checkConsistent(pool, all, 'a release whose logger threw');
    all[3]!.release();
    expect(pool.defragment().outcome).toBe('already-compact'); // logged, and the logger threw
    expect(thrown).toBe(2);
    checkConsistent(pool, all, 'a defragmentation whose logger threw');
  });

  it('a constructor whose segment source or metrics sink fails at any step throws and lends nothing (new WorkspacePool EXHAUSTED)', () => {
    for (let failAt = 1; failAt <= 3; failAt += 1) {
      const callbacks = failing(failAt);
      const options: WorkspacePoolOptions = {
        segmentSource: (byteLength) => (callbacks.step(), BackingMemory.allocate(byteLength)),
      };
      expectMemError(
        () => new WorkspacePool({ initialSize: 3 * 64 * KiB, maxSegmentSize: 64 * KiB }, options),
        'EXHAUSTED',
        `segment ${failAt}`,
      );
    }
    for (let failAt = 1; failAt <= 11; failAt += 1) {
      const callbacks = failing(failAt);
      const recording = new RecordingMetricsSink();
      const sink: MetricsSink = {
        counter: (...args) => (callbacks.step(), recording.counter(...args)),
        gauge: (...args) => (callbacks.step(), recording.gauge(...args)),
        addCollector: (collect) => (callbacks.step(), recording.addCollector(collect)),
      };
      expect(() => new WorkspacePool({}, { metrics: sink }), `instrument ${failAt}`).toThrow(
        `callback ${failAt} failed`,
      );
    }
  });
});
