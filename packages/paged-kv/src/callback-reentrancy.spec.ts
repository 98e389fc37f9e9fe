/**
 * Re-entrancy matrix: each user callback of the package (copy-on-write's `copyBlock` on a
 * PagedSequence and on a KvCacheManager, the block hasher, a metrics sink's instruments) calls
 * each public method of the objects it can reach, once, from inside the operation that runs it.
 * Each call must either work or throw a MemError with the documented code; the outer operation must
 * then complete correctly and every block must be owned exactly by its holders.
 */
import { describe, expect, it } from 'vitest';
import {
  MemError,
  RecordingMetricsSink,
  type Counter,
  type Gauge,
  type MetricLabels,
  type MetricsSink,
} from '@mem/types';
import { BlockAllocator } from './block-allocator.js';
import { KvCacheManager } from './kv-cache-manager.js';
import type { KvSequence } from './kv-sequence.js';
import { PagedSequence } from './paged-sequence.js';
import type { ScheduledRequest } from './scheduled-request.js';
import { Scheduler, type SchedulerStep } from './scheduler.js';
import { Hook, expectOwnership, hookedHasher } from './kv-state.test-helper.js';

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

/** A call made from inside a callback, and what it must do: work, or throw a MemError with that code. */
interface Row<F> {
  readonly call: string;
  readonly run: (fixture: F) => unknown;
  readonly expected: 'works' | 'IN_USE';
}

/** Runs a row's call and names its outcome; anything but a MemError fails the test. */
function outcomeOf<F>(fixture: F, row: Row<F>): string {
  try {
    row.run(fixture);
    return 'works';
  } catch (error) {
    if (error instanceof MemError) return error.code;
    throw error;
  }
}

// -------------------------------------------------------------------------------------------------
// PagedSequence: copyBlock calls back while `seq` copies three shared blocks and takes a new one.

interface PagedFixture {
  readonly hook: Hook;
  readonly blocks: BlockAllocator;
  /** The sequence being written (a fork). */
  readonly seq: PagedSequence;
  /** The sequence it was forked from: it still shares the blocks being copied. */
  readonly other: PagedSequence;
  /** Every live sequence and every block held outside sequences, for the ownership check. */
  readonly live: PagedSequence[];
  readonly extra: number[];
}

function pagedFixture(): PagedFixture {
  const hook = new Hook();
  const blocks = new BlockAllocator(32);
  const other = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 8, copyBlock: () => hook.fire() });
  other.appendTokens(6);
  other.ensureWritable(7);
  const seq = other.fork();
  return { hook, blocks, seq, other, live: [seq, other], extra: [] };
}

const drop = (f: PagedFixture, s: PagedSequence): void => void f.live.splice(f.live.indexOf(s), 1);

const pagedRows: Row<PagedFixture>[] = [
  { call: 'seq.ensureCapacity', run: (f) => f.seq.ensureCapacity(20), expected: 'IN_USE' },
  { call: 'seq.ensureWritable', run: (f) => f.seq.ensureWritable(1), expected: 'IN_USE' },
  { call: 'seq.appendTokens', run: (f) => f.seq.appendTokens(1), expected: 'IN_USE' },
  {
    call: 'seq.attachCachedBlock',
    run: (f) => {
      const block = f.blocks.allocate();
      f.extra.push(block);
      f.seq.attachCachedBlock(block);
    },
    expected: 'IN_USE',
  },
  { call: 'seq.fork', run: (f) => f.seq.fork(), expected: 'IN_USE' },
  { call: 'seq.clear', run: (f) => f.seq.clear(), expected: 'IN_USE' },
  { call: 'seq.release', run: (f) => f.seq.release(), expected: 'IN_USE' },
  { call: 'seq.slotOf', run: (f) => f.seq.slotOf(0), expected: 'works' },
  {
    call: 'seq getters',
    run: (f) => [f.seq.length, f.seq.blockCount, f.seq.writableLength, f.seq.capacityTokens, f.seq.released],
    expected: 'works',
  },
  { call: 'other.appendTokens', run: (f) => f.other.appendTokens(3), expected: 'works' },
  { call: 'other.ensureWritable', run: (f) => f.other.ensureWritable(9), expected: 'works' },
  { call: 'other.ensureCapacity', run: (f) => f.other.ensureCapacity(30), expected: 'works' },
  { call: 'other.fork', run: (f) => f.live.push(f.other.fork()), expected: 'works' },
  { call: 'other.clear', run: (f) => f.other.clear(), expected: 'works' },
  {
    call: 'other.release',
    run: (f) => {
      f.other.release();
      drop(f, f.other);
    },
    expected: 'works',
  },
  {
    call: 'other.attachCachedBlock',
    run: (f) => {
      f.other.clear();
      f.other.attachCachedBlock(f.blocks.allocate());
    },
    expected: 'works',
  },
  {
    call: 'blocks.allocateMany (every free block)',
    run: (f) => f.extra.push(...f.blocks.allocateMany(f.blocks.freeCount)),
    expected: 'works',
  },
  { call: 'blocks.allocate', run: (f) => f.extra.push(f.blocks.allocate()), expected: 'works' },
  { call: 'blocks.clearPrefixCache', run: (f) => f.blocks.clearPrefixCache(), expected: 'works' },
  { call: 'blocks.stats', run: (f) => f.blocks.stats(), expected: 'works' },
];

describe('PagedSequence: copyBlock calling back in', () => {
  for (const row of pagedRows) {
    it(`copyBlock of seq.appendTokens calling ${row.call}: ${row.expected}, and the append completes`, () => {
      const f = pagedFixture();
      let outcome = 'not called';
      f.hook.arm(0, 1, () => (outcome = outcomeOf(f, row)));
      expect(f.seq.appendTokens(11)).toBe(6); // three copies and a new block
      expect(outcome).toBe(row.expected);
      expect(f.seq.length).toBe(17);
      expect(f.seq.blockCount).toBe(5);
      for (let i = 1; i < 5; i += 1) expect(f.blocks.refCount(f.seq.blockTable[i]!)).toBe(1);
      expectOwnership(f.blocks, f.live, f.extra);
    });
  }
});

// -------------------------------------------------------------------------------------------------
// KvCacheManager: copyBlock calls back while kv.reserve(seq) copies; the hasher calls back while
// kv.admit(waiting) or kv.markComputed hashes.

interface KvFixture {
  readonly hook: Hook;
  readonly kv: KvCacheManager;
  /** A running fork, reserving 7 tokens over 3 shared blocks (its copy-on-write runs copyBlock). */
  readonly seq: KvSequence;
  /** The sequence it was forked from. */
  readonly other: KvSequence;
  /** A waiting sequence of 17 tokens (its admission hashes 4 blocks). */
  readonly waiting: KvSequence;
  readonly live: KvSequence[];
}

function kvFixture(): KvFixture {
  const hook = new Hook();
  const kv = new KvCacheManager({
    numBlocks: 32,
    blockSize: 4,
    hasher: hookedHasher(hook),
    copyBlock: () => hook.fire(),
  });
  const other = kv.createSequence({ tokens: range(1, 6) });
  kv.admit(other);
  kv.markComputed(other, 6);
  kv.appendTokens(other, range(10, 7));
  kv.reserve(other);
  const seq = kv.fork(other);
  const waiting = kv.createSequence({ tokens: range(100, 17) });
  return { hook, kv, seq, other, waiting, live: [seq, other, waiting] };
}

const release = (f: KvFixture, s: KvSequence): void => {
  f.kv.release(s);
  f.live.splice(f.live.indexOf(s), 1);
};

/** Calls on the sequence the callback runs for: the changing ones throw IN_USE. */
function ownRows(target: (f: KvFixture) => KvSequence, changes: 'IN_USE' | 'works'): Row<KvFixture>[] {
  return [
    { call: 'kv.reserve', run: (f) => f.kv.reserve(target(f)), expected: changes },
    { call: 'kv.tryReserve', run: (f) => f.kv.tryReserve(target(f)), expected: changes },
    { call: 'kv.markComputed', run: (f) => f.kv.markComputed(target(f), 0), expected: changes },
    { call: 'kv.fork', run: (f) => f.live.push(f.kv.fork(target(f))), expected: changes },
    { call: 'kv.preempt', run: (f) => f.kv.preempt(target(f)), expected: changes },
    { call: 'kv.release', run: (f) => release(f, target(f)), expected: changes },
    {
      call: 'sequence.release',
      run: (f) => {
        const s = target(f);
        s.release();
        f.live.splice(f.live.indexOf(s), 1);
      },
      expected: changes,
    },
    { call: 'sequence.slotOf', run: (f) => target(f).slotOf(0), expected: 'works' },
    {
      call: 'sequence getters',
      run: (f) => [target(f).tokens, target(f).state, target(f).blockCount, target(f).pendingTokens],
      expected: 'works',
    },
  ];
}

const copyRows: Row<KvFixture>[] = [
  ...ownRows((f) => f.seq, 'IN_USE'),
  { call: 'kv.appendTokens (seq)', run: (f) => f.kv.appendTokens(f.seq, [9]), expected: 'works' },
  ...ownRows((f) => f.other, 'works').map((row) => ({ ...row, call: `${row.call} (other)` })),
  { call: 'kv.admit (waiting)', run: (f) => f.kv.admit(f.waiting), expected: 'works' },
  { call: 'kv.tryAdmit (waiting)', run: (f) => f.kv.tryAdmit(f.waiting), expected: 'works' },
  { call: 'kv.blocksToAdmit (waiting)', run: (f) => f.kv.blocksToAdmit(f.waiting), expected: 'works' },
  { call: 'kv.createSequence', run: (f) => f.live.push(f.kv.createSequence({ tokens: [1] })), expected: 'works' },
  { call: 'kv.stats', run: (f) => f.kv.stats(), expected: 'works' },
];

describe('KvCacheManager: copyBlock calling back in', () => {
  for (const row of copyRows) {
    it(`copyBlock of kv.reserve calling ${row.call}: ${row.expected}, and the reservation completes`, () => {
      const f = kvFixture();
      let outcome = 'not called';
      f.hook.arm(0, 1, () => (outcome = outcomeOf(f, row)));
      expect(f.kv.reserve(f.seq)).toBe(6);
      expect(outcome).toBe(row.expected);
      expect(f.seq.paged.writableLength).toBe(13);
      for (let i = 1; i < 4; i += 1) expect(f.kv.allocator.refCount(f.seq.blockTable[i]!)).toBe(1);
      expectOwnership(
        f.kv.allocator,
        f.live.map((s) => s.paged),
      );
    });
  }
});

/** From inside the hasher every changing call throws IN_USE; reading works. */
const hasherRows: Row<KvFixture>[] = [
  ...ownRows((f) => f.other, 'IN_USE').map((row) => ({ ...row, call: `${row.call} (a running sequence)` })),
  { call: 'kv.appendTokens', run: (f) => f.kv.appendTokens(f.other, [9]), expected: 'IN_USE' },
  { call: 'kv.admit (waiting)', run: (f) => f.kv.admit(f.waiting), expected: 'IN_USE' },
  { call: 'kv.tryAdmit (waiting)', run: (f) => f.kv.tryAdmit(f.waiting), expected: 'IN_USE' },
  { call: 'kv.blocksToAdmit (waiting)', run: (f) => f.kv.blocksToAdmit(f.waiting), expected: 'IN_USE' },
  { call: 'kv.createSequence', run: (f) => f.live.push(f.kv.createSequence({ tokens: [1] })), expected: 'works' },
  { call: 'kv.stats', run: (f) => f.kv.stats(), expected: 'works' },
  { call: 'kv.allocator.stats', run: (f) => f.kv.allocator.stats(), expected: 'works' },
];

describe('KvCacheManager: the hasher calling back in', () => {
  for (const row of hasherRows) {
    it(`the hasher of kv.admit calling ${row.call}: ${row.expected}, and the admission completes`, () => {
      const f = kvFixture();
      let outcome = 'not called';
      f.hook.arm(0, 2, () => (outcome = outcomeOf(f, row)));
      expect(f.kv.admit(f.waiting)).toBe(17);
      expect(outcome).toBe(row.expected);
      expect(f.waiting.state).toBe('running');
      expect(f.waiting.blockCount).toBe(5);
      expect(f.waiting.paged.writableLength).toBe(17);
      f.kv.markComputed(f.waiting, 17);
      const again = f.kv.createSequence({ tokens: range(100, 17) });
      f.live.push(again);
      expect(f.kv.blocksToAdmit(again)).toBe(1); // the digests made around the call are right: 4 blocks hit
      expectOwnership(
        f.kv.allocator,
        f.live.map((s) => s.paged),
      );
    });

    it(`the hasher of kv.markComputed calling ${row.call}: ${row.expected}, and the computation completes`, () => {
      const f = kvFixture();
      f.kv.admit(f.waiting);
      f.kv.appendTokens(f.waiting, [1, 2, 3]); // 20 tokens: computing them fills block 4, which is hashed then
      f.kv.reserve(f.waiting);
      let outcome = 'not called';
      f.hook.arm(0, 1, () => (outcome = outcomeOf(f, row)));
      f.kv.markComputed(f.waiting, 20);
      expect(f.hook.calls).toBe(1);
      expect(outcome).toBe(row.expected);
      expect(f.waiting.computedTokens).toBe(20);
      expect(f.kv.allocator.hashTableSize).toBe(5 + 1); // the fork's parent registered one block
      expectOwnership(
        f.kv.allocator,
        f.live.map((s) => s.paged),
      );
    });
  }
});

// -------------------------------------------------------------------------------------------------
// Scheduler: the hasher calls back while step() admits, commit() fills blocks, or submit() salts.

interface SchedulerFixture {
  readonly hook: Hook;
  readonly kv: KvCacheManager;
  readonly scheduler: Scheduler;
  readonly requests: ScheduledRequest[];
  step: SchedulerStep | null;
}

function schedulerFixture(): SchedulerFixture {
  const hook = new Hook();
  const kv = new KvCacheManager({ numBlocks: 32, blockSize: 4, hasher: hookedHasher(hook) });
  const scheduler = new Scheduler(kv, { maxTokensPerStep: 64 });
  const f: SchedulerFixture = { hook, kv, scheduler, requests: [], step: null };
  f.requests.push(scheduler.submit({ tokens: range(0, 12), maxNewTokens: 4 }));
  const first = scheduler.step();
  scheduler.commit(first, [5]); // request 0 decodes
  f.requests.push(scheduler.submit({ tokens: range(50, 12), maxNewTokens: 2 }));
  return f;
}

const schedulerRows: Row<SchedulerFixture>[] = [
  { call: 'scheduler.step', run: (f) => (f.step = f.scheduler.step()), expected: 'IN_USE' },
  {
    call: 'scheduler.commit',
    run: (f) => f.scheduler.commit(f.step ?? ({ entries: [] } as never), []),
    expected: 'IN_USE',
  },
  { call: 'scheduler.cancel', run: (f) => f.scheduler.cancel(f.requests[1]!), expected: 'IN_USE' },
  {
    call: 'scheduler.submit',
    run: (f) => f.requests.push(f.scheduler.submit({ tokens: [7, 8], maxNewTokens: 1 })),
    expected: 'works',
  },
  {
    call: 'scheduler reads',
    run: (f) => [f.scheduler.stats(), f.scheduler.hasWork, f.scheduler.waiting, f.scheduler.running],
    expected: 'works',
  },
  { call: 'kv.release of a held sequence', run: (f) => f.kv.release(f.requests[0]!.sequence), expected: 'IN_USE' },
  { call: 'kv.stats', run: (f) => f.kv.stats(), expected: 'works' },
];

/** Drains the scheduler; every request must finish. */
function drain(f: SchedulerFixture): void {
  f.hook.arm();
  for (let guard = 0; f.scheduler.hasWork; guard += 1) {
    expect(guard).toBeLessThan(100);
    const step = f.scheduler.step();
    f.scheduler.commit(
      step,
      step.entries.map(() => 3),
    );
  }
  for (const request of f.requests) expect(request.state).toBe('finished');
  expect(f.kv.allocator.inUseCount).toBe(0);
}

describe('Scheduler: the hasher calling back in', () => {
  for (const row of schedulerRows) {
    it(`the hasher of scheduler.step calling ${row.call}: ${row.expected}, and the step completes`, () => {
      const f = schedulerFixture();
      let outcome = 'not called';
      f.hook.arm(0, 1, () => (outcome = outcomeOf(f, row)));
      const step = f.scheduler.step();
      expect(outcome).toBe(row.expected);
      expect(step.admitted).toContain(f.requests[1]);
      f.scheduler.commit(
        step,
        step.entries.map(() => 3),
      );
      drain(f);
    });

    it(`the hasher of scheduler.commit calling ${row.call}: ${row.expected}, and the commit completes`, () => {
      const f = schedulerFixture();
      const step = f.scheduler.step();
      f.step = step;
      let outcome = 'not called';
      f.hook.arm(0, 1, () => (outcome = outcomeOf(f, row)));
      f.scheduler.commit(
        step,
        step.entries.map(() => 3),
      );
      expect(outcome).toBe(row.expected);
      expect(f.requests[1]!.generated).toEqual([3]);
      drain(f);
    });
  }

  it.each([
    ['scheduler.step', (f: SchedulerFixture) => f.scheduler.commit(f.scheduler.step(), [1, 1])],
    ['scheduler.cancel', (f: SchedulerFixture) => f.scheduler.cancel(f.requests[1]!)],
    [
      'scheduler.submit',
      (f: SchedulerFixture) => f.requests.push(f.scheduler.submit({ tokens: [1], maxNewTokens: 1 })),
    ],
  ])('the hasher of scheduler.submit (a salted request) may call %s, and the submission completes', (_label, call) => {
    const f = schedulerFixture();
    let outcome = 'not called';
    f.hook.arm(0, 1, () => (outcome = outcomeOf(f, { call: _label, run: call, expected: 'works' })));
    const salted = f.scheduler.submit({ tokens: [1, 2, 3], maxNewTokens: 2, extraKeys: { salt: 'a' } });
    f.requests.push(salted);
    expect(outcome).toBe('works');
    expect(f.scheduler.waiting).toContain(salted);
    drain({ ...f, requests: f.requests.filter((r) => r.state !== 'cancelled') });
  });
});

// -------------------------------------------------------------------------------------------------
// Metrics: a sink whose instruments call back into the objects they report on.

/** A sink whose gauges run `onSet` (once per collection) before recording. */
class CallingSink implements MetricsSink {
  readonly inner = new RecordingMetricsSink();
  onSet: (() => void) | undefined;
  counter(name: string, help: string, labels?: MetricLabels): Counter {
    return this.inner.counter(name, help, labels);
  }
  gauge(name: string, help: string, labels?: MetricLabels): Gauge {
    const gauge = this.inner.gauge(name, help, labels);
    return {
      set: (value) => {
        const call = this.onSet;
        this.onSet = undefined;
        call?.();
        gauge.set(value);
      },
      inc: (amount) => gauge.inc(amount),
      dec: (amount) => gauge.dec(amount),
    };
  }
  addCollector(collect: () => void): () => void {
    return this.inner.addCollector(collect);
  }
}

describe('metrics sinks calling back in', () => {
  it.each([
    ['kv.allocator.allocate and free', (kv: KvCacheManager) => kv.allocator.free(kv.allocator.allocate())],
    [
      'kv.admit and kv.release',
      (kv: KvCacheManager) =>
        kv.release((kv.admit(kv.createSequence({ tokens: range(0, 9) })), kv.createSequence({ tokens: [1] }))),
    ],
    ['kv.allocator.clearPrefixCache', (kv: KvCacheManager) => kv.allocator.clearPrefixCache()],
    ['kv.stats', (kv: KvCacheManager) => kv.stats()],
  ])('a gauge of a KvCacheManager may call %s during collection', (_label, call) => {
    const sink = new CallingSink();
    const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4, metrics: sink });
    const seq = kv.createSequence({ tokens: range(0, 9) });
    kv.admit(seq);
    sink.onSet = () => call(kv);
    sink.inner.collect();
    expect(sink.onSet).toBeUndefined();
    const samples = sink.inner.collect();
    const inUse = samples.find((s) => s.name === 'mem_paged_kv_in_use_blocks')!.value;
    expect(inUse).toBe(kv.allocator.inUseCount);
    seq.release();
  });

  it('a gauge of a Scheduler may step and commit it during collection', () => {
    const sink = new CallingSink();
    const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4 });
    const scheduler = new Scheduler(kv, { maxTokensPerStep: 16, metrics: sink });
    const request = scheduler.submit({ tokens: [1, 2, 3], maxNewTokens: 1 });
    sink.onSet = () => scheduler.commit(scheduler.step(), [4]);
    sink.inner.collect();
    expect(request.state).toBe('finished');
    expect(sink.inner.read('mem_paged_kv_finished_requests_total', { pool: 'paged-kv' })).toBe(1);
  });
});
