/**
 * All or none: every multi-step operation of the package that runs a user callback (copy-on-write's
 * `copyBlock`, the block hasher, a metrics sink) is run with the callback throwing on each of its
 * calls in turn. The call must throw the callback's error and leave block tables, reference counts,
 * free order, prefix-cache digests, sequences, queues and stats exactly as they were; the same call
 * with a working callback must then end exactly where it ends without the failure.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemError, RecordingMetricsSink, type Counter, type Gauge, type MetricsSink } from '@mem/types';
import { BlockAllocator } from './block-allocator.js';
import type { ReuseOrder } from './free-order.js';
import { KvCacheManager } from './kv-cache-manager.js';
import type { KvSequence } from './kv-sequence.js';
import { PagedSequence } from './paged-sequence.js';
import type { ScheduledRequest } from './scheduled-request.js';
import { Scheduler } from './scheduler.js';
import {
  Hook,
  InjectedFailure,
  allocatorState,
  expectOwnership,
  hookedHasher,
  managerState,
  pagedState,
  schedulerState,
} from './kv-state.test-helper.js';

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

/**
 * Runs `operation` on fresh fixtures with the hook failing on call 1, 2, ... until a run needs no
 * more calls than that. Each failed run must throw the injected failure and change nothing
 * (`state` equal before and after); retried with a working hook it must end where a run that never
 * failed ends. Returns how many calls the operation makes.
 */
function failEachCall<F>(
  make: () => F,
  hook: (fixture: F) => Hook,
  operation: (fixture: F) => unknown,
  state: (fixture: F) => object,
): number {
  const clean = make();
  hook(clean).arm();
  operation(clean);
  const calls = hook(clean).calls;
  expect(calls).toBeGreaterThan(0);
  for (let failAt = 1; failAt <= calls; failAt += 1) {
    const fixture = make();
    const before = state(fixture);
    hook(fixture).arm(failAt);
    expect(() => operation(fixture), `failing on call ${failAt}`).toThrow(InjectedFailure);
    expect(state(fixture), `state after failing on call ${failAt}`).toEqual(before);
    hook(fixture).arm();
    operation(fixture);
    expect(state(fixture), `state after retrying call ${failAt}`).toEqual(state(clean));
  }
  return calls;
}

describe('PagedSequence copy-on-write with a copyBlock that throws', () => {
  /** A parent with blocks 0..3 (length 6, prepared to 13) and a fork sharing all four. */
  function forkedPair(reuseOrder: ReuseOrder = 'lru') {
    const hook = new Hook();
    const blocks = new BlockAllocator(16, { reuseOrder });
    const parent = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 8, copyBlock: () => hook.fire() });
    parent.appendTokens(6);
    parent.ensureWritable(7);
    const child = parent.fork();
    return { hook, blocks, parent, child };
  }
  type Pair = ReturnType<typeof forkedPair>;
  const state = ({ blocks, parent, child }: Pair) => ({
    blocks: allocatorState(blocks, { peak: false }),
    parent: pagedState(parent),
    child: pagedState(child),
  });

  const writes: [string, (p: Pair) => unknown][] = [
    ['appendTokens over three shared blocks', (p) => p.child.appendTokens(7)],
    ['appendTokens over three shared blocks and a new one', (p) => p.child.appendTokens(11)],
    ['ensureWritable of the parent', (p) => p.parent.ensureWritable(10)],
  ];
  for (const reuseOrder of ['lru', 'lifo'] as const) {
    it.each(writes)(
      `changes nothing when copyBlock throws on any call (${reuseOrder} order): %s`,
      (_label, operation) => {
        expect(
          failEachCall(
            () => forkedPair(reuseOrder),
            (p) => p.hook,
            operation,
            state,
          ),
        ).toBe(3);
      },
    );
  }

  it('ends with every block owned once after copying, and the shared blocks back with their other holder', () => {
    const pair = forkedPair();
    pair.child.appendTokens(11);
    expectOwnership(pair.blocks, [pair.parent, pair.child]);
    for (let i = 1; i < pair.child.blockCount; i += 1) expect(pair.blocks.refCount(pair.child.blockTable[i]!)).toBe(1);
  });

  it('evicts a soft-free block it took as a copy target when the copy throws, and nothing else', () => {
    const hook = new Hook();
    const blocks = new BlockAllocator(4);
    const parent = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 4, copyBlock: () => hook.fire() });
    parent.appendTokens(2);
    const child = parent.fork();
    const filler = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 4 });
    filler.appendTokens(12);
    const digests = [...filler.blockTable.subarray(0, 3)].map((block, i) => {
      const digest = new Uint32Array([i + 1, 7, 7, 7]);
      blocks.registerBlockHash(block, digest);
      return { block, digest };
    });
    filler.release(); // three soft-free cached blocks; no plain free block is left
    const target = blocks.evictionOrder()[0]!;
    const before = { blocks: allocatorState(blocks, { peak: false }), child: pagedState(child) };
    hook.arm(1);
    expect(() => child.appendTokens(1)).toThrow(InjectedFailure);
    // The target may hold half a copy: its digest is gone, so no request can be served its bytes.
    expect(blocks.blockHash(target)).toBeNull();
    for (const { block, digest } of digests) {
      expect(blocks.findBlockByHash(digest)).toBe(block === target ? -1 : block);
    }
    expect(blocks.evictions).toBe(1);
    expect(pagedState(child)).toEqual(before.child);
    expectOwnership(blocks, [parent, child]);
  });
});

describe('KvCacheManager with callbacks that throw', () => {
  /** A manager whose hasher and copyBlock share one hook. */
  function manager(numBlocks = 16) {
    const hook = new Hook();
    const kv = new KvCacheManager({
      numBlocks,
      blockSize: 4,
      hasher: hookedHasher(hook),
      copyBlock: () => hook.fire(),
    });
    return { hook, kv };
  }

  /** A running sequence with 6 computed and 7 reserved tokens (blocks 0..3), and its fork. */
  function forked() {
    const fixture = manager();
    const { kv } = fixture;
    const parent = kv.createSequence({ tokens: range(1, 6) });
    kv.admit(parent);
    kv.markComputed(parent, 6);
    kv.appendTokens(parent, range(10, 7));
    kv.reserve(parent);
    const child = kv.fork(parent);
    return { ...fixture, parent, child, all: [parent, child] };
  }

  /** Two released sequences left their blocks cached; `seq` shares two of them and waits. */
  function cachedPrefix() {
    const fixture = manager();
    const { kv } = fixture;
    for (const tokens of [range(0, 9), range(100, 13)]) {
      const done = kv.createSequence({ tokens });
      kv.admit(done);
      kv.markComputed(done, done.pendingTokens);
      done.release();
    }
    const live = kv.createSequence({ tokens: range(100, 13) });
    kv.admit(live); // three blocks live and shared by reference
    const seq = kv.createSequence({ tokens: [...range(0, 8), ...range(50, 9)] });
    return { ...fixture, live, seq, all: [live, seq] };
  }
  type Cached = ReturnType<typeof cachedPrefix>;

  it.each([
    ['reserve', (f: ReturnType<typeof forked>) => f.kv.reserve(f.child)],
    ['tryReserve', (f: ReturnType<typeof forked>) => f.kv.tryReserve(f.child)],
  ])('%s changes nothing when copyBlock throws on any copy', (_label, operation) => {
    const calls = failEachCall(
      forked,
      (f) => f.hook,
      operation,
      (f) => managerState(f.kv, f.all, { peak: false }),
    );
    expect(calls).toBe(3);
  });

  it.each([
    ['admit', (f: Cached) => f.kv.admit(f.seq)],
    ['tryAdmit', (f: Cached) => f.kv.tryAdmit(f.seq)],
    ['blocksToAdmit', (f: Cached) => f.kv.blocksToAdmit(f.seq)],
  ])('%s changes nothing when the hasher throws on any block (lookup, resurrection)', (_label, operation) => {
    const calls = failEachCall(
      cachedPrefix,
      (f) => f.hook,
      operation,
      (f) => managerState(f.kv, f.all),
    );
    expect(calls).toBe(4);
  });

  it('markComputed changes nothing when the hasher throws on any filled block (prefix-cache insert)', () => {
    const make = () => {
      const fixture = cachedPrefix();
      fixture.kv.admit(fixture.seq);
      fixture.kv.appendTokens(fixture.seq, [1, 2, 3, 4]); // 21 tokens: block 4 fills too
      fixture.kv.reserve(fixture.seq);
      return fixture;
    };
    const calls = failEachCall(
      make,
      (f) => f.hook,
      (f) => f.kv.markComputed(f.seq, f.seq.pendingTokens),
      (f) => managerState(f.kv, f.all),
    );
    expect(calls).toBe(1); // blocks 0..3 were hashed on admission; block 4 is new
  });

  it('createSequence creates nothing when the hasher throws on its extra keys', () => {
    const make = () => ({ ...manager(), created: [] as KvSequence[] });
    const calls = failEachCall(
      make,
      (f) => f.hook,
      (f) =>
        f.created.push(
          f.kv.createSequence({
            tokens: range(0, 9),
            extraKeys: { salt: 'tenant', multimodal: [{ hash: 'image', offset: 2, length: 3 }] },
          }),
        ),
      (f) => ({ kv: managerState(f.kv, f.created), created: f.created.length }),
    );
    expect(calls).toBe(2);
  });
});

describe('Scheduler with a hasher that throws', () => {
  function scheduler() {
    const hook = new Hook();
    const kv = new KvCacheManager({ numBlocks: 24, blockSize: 4, hasher: hookedHasher(hook) });
    const sched = new Scheduler(kv, { maxTokensPerStep: 64, maxRunning: 4 });
    const requests: ScheduledRequest[] = [];
    return { hook, kv, scheduler: sched, requests };
  }
  type Fixture = ReturnType<typeof scheduler>;
  const cycle = (f: Fixture): void => {
    const step = f.scheduler.step();
    f.scheduler.commit(
      step,
      step.entries.map((e) => e.request.id + 1),
    );
  };

  /** One request decoding, two waiting whose prompts need hashing (one shares two cached blocks). */
  function busy(): Fixture {
    const f = scheduler();
    f.requests.push(f.scheduler.submit({ tokens: range(0, 13), maxNewTokens: 5 }));
    cycle(f);
    f.requests.push(f.scheduler.submit({ tokens: [...range(0, 8), ...range(100, 6)], maxNewTokens: 3 }));
    f.requests.push(f.scheduler.submit({ tokens: range(200, 11), maxNewTokens: 3 }));
    return f;
  }

  it('step changes nothing when the hasher throws on any admission it plans', () => {
    const calls = failEachCall(
      busy,
      (f) => f.hook,
      (f) => f.scheduler.step(),
      (f) => schedulerState(f.scheduler, f.requests),
    );
    expect(calls).toBe(5);
  });

  it('commit changes nothing when the hasher throws on any block the step filled', () => {
    const make = (): Fixture & { step: ReturnType<Scheduler['step']> } => {
      const f = scheduler();
      for (const tokens of [range(0, 12), range(50, 8), range(80, 16)]) {
        f.requests.push(f.scheduler.submit({ tokens, maxNewTokens: 2 }));
      }
      return { ...f, step: f.scheduler.step() };
    };
    const calls = failEachCall(
      make,
      (f) => f.hook,
      (f) => f.scheduler.commit(f.step, [7, 8, 9]),
      (f) => schedulerState(f.scheduler, f.requests),
    );
    expect(calls).toBe(3); // admission hashed all but each prompt's last full block
  });

  it('submit queues nothing when the hasher throws on its salt', () => {
    const calls = failEachCall(
      scheduler,
      (f) => f.hook,
      (f) => f.requests.push(f.scheduler.submit({ tokens: [1, 2], maxNewTokens: 1, extraKeys: { salt: 's' } })),
      (f) => ({ state: schedulerState(f.scheduler, f.requests), count: f.requests.length }),
    );
    expect(calls).toBe(1);
  });
});

/** A metrics sink that fails on its `failAt`-th call and counts the collectors left registered. */
class FailingSink implements MetricsSink {
  readonly inner = new RecordingMetricsSink();
  readonly hook = new Hook();
  registered = 0;
  counter(name: string, help: string): Counter {
    this.hook.fire();
    return this.inner.counter(name, help);
  }
  gauge(name: string, help: string): Gauge {
    this.hook.fire();
    return this.inner.gauge(name, help);
  }
  addCollector(collect: () => void): () => void {
    this.hook.fire();
    const remove = this.inner.addCollector(collect);
    this.registered += 1;
    return () => {
      this.registered -= 1;
      remove();
    };
  }
}

describe('constructors with a metrics sink that throws', () => {
  it.each([
    ['BlockAllocator', (metrics: MetricsSink) => new BlockAllocator(8, { metrics })],
    ['KvCacheManager', (metrics: MetricsSink) => new KvCacheManager({ numBlocks: 8, metrics })],
    [
      'Scheduler',
      (metrics: MetricsSink) => new Scheduler(new KvCacheManager({ numBlocks: 8 }), { maxTokensPerStep: 8, metrics }),
    ],
  ])('new %s leaves no collector registered when the sink throws on any call', (_label, construct) => {
    const clean = new FailingSink();
    construct(clean);
    const calls = clean.hook.calls;
    for (let failAt = 1; failAt <= calls; failAt += 1) {
      const sink = new FailingSink();
      sink.hook.arm(failAt);
      expect(() => construct(sink)).toThrow(InjectedFailure);
      expect(sink.registered, `collectors left after failing on call ${failAt}`).toBe(0);
      expect(sink.inner.collect()).toEqual(sink.inner.collect()); // and collecting runs no stale collector
    }
    expect(clean.registered).toBeGreaterThan(0);
  });
});

describe('failure injection against a reference that never fails (property)', () => {
  type Op =
    | { kind: 'create'; prompt: number; extra: number; salted: boolean; failAt: number }
    | {
        kind: 'admit' | 'tryAdmit' | 'blocksToAdmit' | 'reserve' | 'fork' | 'preempt' | 'release';
        pick: number;
        failAt: number;
      }
    | { kind: 'compute'; pick: number; count: number; failAt: number }
    | { kind: 'append'; pick: number; count: number; failAt: number };
  const pick = fc.nat();
  /** No failure, or a failure on one of the first digests of the call (the first one most often). */
  const failAt = fc.oneof(
    { weight: 1, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.constant(1) },
    { weight: 1, arbitrary: fc.integer({ min: 2, max: 4 }) },
  );
  const ops: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('create' as const),
        prompt: fc.nat(3),
        extra: fc.integer({ min: 1, max: 9 }),
        salted: fc.boolean(),
        failAt,
      }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constantFrom('admit', 'tryAdmit', 'blocksToAdmit', 'reserve', 'fork', 'preempt', 'release' as const),
        pick,
        failAt,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('compute' as const),
        pick,
        count: fc.integer({ min: 1, max: 9 }),
        failAt,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('append' as const),
        pick,
        count: fc.integer({ min: 1, max: 6 }),
        failAt,
      }),
    },
  );
  const prompts = [range(0, 4), range(0, 6), range(100, 2), []];

  /** A manager, its live sequences and its hook. */
  class Side {
    readonly hook = new Hook();
    readonly kv: KvCacheManager;
    readonly live: KvSequence[] = [];
    constructor(numBlocks: number) {
      this.kv = new KvCacheManager({
        numBlocks,
        blockSize: 2,
        hasher: hookedHasher(this.hook),
        copyBlock: () => {},
      });
    }
    /**
     * Expands each `compute` into an admission and a reservation that do not fail, then the
     * computation, so that scripts reach blocks filled by computation (prefix-cache inserts) often.
     */
    static expand(script: Op[]): Op[] {
      return script.flatMap((op): Op[] =>
        op.kind === 'compute'
          ? [
              { kind: 'tryAdmit' as const, pick: op.pick, failAt: 0 },
              { kind: 'reserve' as const, pick: op.pick, failAt: 0 },
              op,
            ]
          : [op],
      );
    }
    /** Runs `op`; returns its result or its MemError code. */
    apply(op: Op): unknown {
      const kv = this.kv;
      const seq = op.kind === 'create' ? undefined : this.live[op.pick % Math.max(1, this.live.length)];
      try {
        switch (op.kind) {
          case 'create':
            this.live.push(
              kv.createSequence({
                tokens: [...prompts[op.prompt]!, ...range(50, op.extra)],
                ...(op.salted ? { extraKeys: { salt: 'tenant' } } : {}),
              }),
            );
            return 'created';
          case 'admit':
          case 'tryAdmit':
          case 'blocksToAdmit':
          case 'reserve':
          case 'preempt':
            return seq && kv[op.kind](seq);
          case 'fork':
            if (seq) this.live.push(kv.fork(seq));
            return 'forked';
          case 'release':
            if (seq) {
              seq.release();
              this.live.splice(this.live.indexOf(seq), 1);
            }
            return 'released';
          case 'compute':
            return seq && kv.markComputed(seq, Math.min(op.count, seq.pendingTokens));
          case 'append':
            return seq && kv.appendTokens(seq, range(7, op.count));
        }
      } catch (error) {
        if (error instanceof InjectedFailure) throw error;
        if (error instanceof MemError) return error.code;
        throw error;
      }
    }
  }

  it('a manager whose hasher throws at random ends every call as if the failed calls never happened', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 14 }), fc.array(ops, { maxLength: 50 }), (numBlocks, script) => {
        const flaky = new Side(numBlocks);
        const reference = new Side(numBlocks);
        for (const op of Side.expand(script)) {
          const before = managerState(flaky.kv, flaky.live);
          flaky.hook.arm(op.failAt);
          let outcome: unknown;
          try {
            outcome = flaky.apply(op);
          } catch (error) {
            expect(error).toBeInstanceOf(InjectedFailure);
            expect(managerState(flaky.kv, flaky.live)).toEqual(before);
            continue;
          }
          reference.hook.arm();
          expect(reference.apply(op)).toEqual(outcome);
          expect(managerState(flaky.kv, flaky.live)).toEqual(managerState(reference.kv, reference.live));
          expectOwnership(flaky.kv.allocator, flaky.live);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a scheduler whose hasher throws at random ends every call as if the failed calls never happened', () => {
    type SchedOp =
      | { kind: 'submit'; prompt: number; extra: number; maxNew: number; failAt: number }
      | { kind: 'step' | 'commit'; failAt: number }
      | { kind: 'cancel'; pick: number; failAt: number };
    const schedOps: fc.Arbitrary<SchedOp> = fc.oneof(
      fc.record({
        kind: fc.constant('submit' as const),
        prompt: fc.nat(3),
        extra: fc.integer({ min: 1, max: 9 }),
        maxNew: fc.integer({ min: 1, max: 6 }),
        failAt,
      }),
      fc.record({ kind: fc.constantFrom('step', 'commit' as const), failAt }),
      fc.record({ kind: fc.constant('cancel' as const), pick, failAt }),
    );
    class SchedSide {
      readonly hook = new Hook();
      readonly scheduler: Scheduler;
      readonly requests: ScheduledRequest[] = [];
      step: ReturnType<Scheduler['step']> | null = null;
      constructor(numBlocks: number) {
        const kv = new KvCacheManager({ numBlocks, blockSize: 4, hasher: hookedHasher(this.hook) });
        this.scheduler = new Scheduler(kv, { maxTokensPerStep: 12, maxRunning: 3 });
      }
      apply(op: SchedOp): unknown {
        try {
          switch (op.kind) {
            case 'submit':
              this.requests.push(
                this.scheduler.submit({
                  tokens: [...prompts[op.prompt]!, ...range(60, op.extra)],
                  maxNewTokens: op.maxNew,
                }),
              );
              return 'submitted';
            case 'step':
              this.step = this.scheduler.step();
              return this.step.entries.map((e) => [e.request.id, e.start, e.count]);
            case 'commit': {
              if (this.step === null) return 'nothing';
              const finished = this.scheduler.commit(
                this.step,
                this.step.entries.map((e) => (e.sequence.tokenCount * 7) % 13),
              );
              this.step = null;
              return finished.map((r) => r.id);
            }
            case 'cancel': {
              const request = this.requests[op.pick % Math.max(1, this.requests.length)];
              return request && this.scheduler.cancel(request);
            }
          }
        } catch (error) {
          if (error instanceof InjectedFailure) throw error;
          if (error instanceof MemError) return error.code;
          throw error;
        }
      }
    }
    fc.assert(
      fc.property(fc.integer({ min: 6, max: 16 }), fc.array(schedOps, { maxLength: 60 }), (numBlocks, script) => {
        const flaky = new SchedSide(numBlocks);
        const reference = new SchedSide(numBlocks);
        for (const op of script) {
          const before = schedulerState(flaky.scheduler, flaky.requests);
          flaky.hook.arm(op.failAt);
          let outcome: unknown;
          try {
            outcome = flaky.apply(op);
          } catch (error) {
            expect(error).toBeInstanceOf(InjectedFailure);
            expect(schedulerState(flaky.scheduler, flaky.requests)).toEqual(before);
            continue;
          }
          reference.hook.arm();
          expect(reference.apply(op)).toEqual(outcome);
          expect(schedulerState(flaky.scheduler, flaky.requests)).toEqual(
            schedulerState(reference.scheduler, reference.requests),
          );
        }
      }),
      { numRuns: 150 },
    );
  });
});
