import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RecordingMetricsSink } from '@mem/types';
import { KvCacheManager } from './kv-cache-manager.js';
import { KvStore } from './kv-store.js';
import type { ScheduledRequest } from './scheduled-request.js';
import { Scheduler } from './scheduler.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

/** A running hash of a token prefix: what a real model's K/V at a position depends on. */
function prefixHashes(tokens: ArrayLike<number>): number[] {
  const out: number[] = [];
  let h = 0x811c9dc5;
  for (let i = 0; i < tokens.length; i += 1) {
    h = Math.imul(h ^ tokens[i]!, 0x01000193) >>> 0;
    out.push(h);
  }
  return out;
}

/**
 * A fake engine over a real KvStore: at position p it writes K = [token, p] and
 * V = [low and high halves of the prefix hash], as a transformer's K/V depends on the prefix. Before
 * sampling it checks every stored position of the sequence, so a wrong block (bad sharing, bad
 * copy-on-write, bad recompute) fails the test. The sampled token depends on the whole prefix.
 */
class FakeEngine {
  readonly store: KvStore;
  checkedPositions = 0;
  constructor(numBlocks: number, blockSize: number) {
    this.store = new KvStore({ numLayers: 1, numBlocks, numKvHeads: 1, blockSize, headDim: 2 });
  }
  run(scheduler: Scheduler, maxSteps = 100_000): void {
    const k = new Float32Array(2);
    const v = new Float32Array(2);
    for (let steps = 0; scheduler.hasWork; steps += 1) {
      if (steps > maxSteps) throw new Error('no progress');
      const step = scheduler.step();
      expect(step.tokens).toBeLessThanOrEqual(scheduler.maxTokensPerStep);
      const sampled = step.entries.map((entry) => {
        const tokens = entry.sequence.tokens;
        const hashes = prefixHashes(tokens);
        for (let p = entry.start; p < entry.start + entry.count; p += 1) {
          k[0] = tokens[p]!;
          k[1] = p;
          v[0] = hashes[p]! & 0xffff;
          v[1] = hashes[p]! >>> 16;
          this.store.writeToken(0, entry.sequence, p, k, v);
        }
        if (!entry.samples) return 0;
        for (let p = 0; p < tokens.length; p += 1) {
          this.store.readToken(0, entry.sequence, p, k, v);
          if (k[0] !== tokens[p] || k[1] !== p || v[0] !== (hashes[p]! & 0xffff) || v[1] !== hashes[p]! >>> 16) {
            throw new Error(`request ${entry.request.id}: wrong K/V at position ${p}`);
          }
          this.checkedPositions += 1;
        }
        return (hashes[tokens.length - 1]! % 40) + 1;
      });
      scheduler.commit(step, sampled);
    }
  }
}

interface Job {
  readonly tokens: number[];
  readonly maxNewTokens: number;
}

function jobs(count: number, seed: number): Job[] {
  let state = seed;
  const random = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  const systems = [range(1000, 13), range(2000, 9)];
  return Array.from({ length: count }, () => ({
    tokens: [...systems[random(2)]!, ...range(3000 + random(5) * 10, 1 + random(7))],
    maxNewTokens: 1 + random(14),
  }));
}

function serve(list: Job[], numBlocks: number, maxTokensPerStep: number, prefixCaching = true) {
  const blockSize = 4;
  const engine = new FakeEngine(numBlocks, blockSize);
  const kv = new KvCacheManager({ numBlocks, blockSize, prefixCaching });
  const scheduler = new Scheduler(kv, { maxTokensPerStep, maxRunning: 8 });
  const requests = list.map((job) => scheduler.submit(job));
  engine.run(scheduler);
  return { requests, kv, scheduler, engine };
}

describe('Scheduler', () => {
  it('completes every request under memory pressure, with the same outputs as without pressure', () => {
    const list = jobs(24, 42);
    const relaxed = serve(list, 400, 256);
    const tight = serve(list, 14, 32);
    expect(relaxed.scheduler.stats().preemptions).toBe(0);
    expect(tight.scheduler.stats().preemptions).toBeGreaterThan(0);
    for (const [i, request] of tight.requests.entries()) {
      expect(request.state).toBe('finished');
      expect(request.finishReason).toBe('length');
      expect(request.generated.length).toBe(list[i]!.maxNewTokens);
      expect(request.generated).toEqual(relaxed.requests[i]!.generated);
    }
    expect(tight.kv.allocator.inUseCount).toBe(0);
    expect(tight.kv.stats().sequences).toBe(0);
    expect(tight.scheduler.stats().finished).toBe(24);
    expect(tight.engine.checkedPositions).toBeGreaterThan(1000);
    expect(tight.kv.stats().prefixHitTokens).toBeGreaterThan(0);
  });

  it('completes every request for random workloads and pool sizes (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        (count, seed, spare, budget, prefixCaching) => {
          const list = jobs(count, seed);
          const needed = Math.max(...list.map((job) => Math.ceil((job.tokens.length + job.maxNewTokens - 1) / 4)));
          const { requests, kv } = serve(list, needed + spare, budget, prefixCaching);
          for (const [i, request] of requests.entries()) {
            expect(request.state).toBe('finished');
            expect(request.generated.length).toBe(list[i]!.maxNewTokens);
          }
          expect(kv.allocator.inUseCount).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('schedules running requests first and respects the token budget with chunked prefill', () => {
    const kv = new KvCacheManager({ numBlocks: 64, blockSize: 4 });
    const scheduler = new Scheduler(kv, { maxTokensPerStep: 8 });
    const a = scheduler.submit({ tokens: range(1, 10), maxNewTokens: 2 });
    const b = scheduler.submit({ tokens: range(50, 3), maxNewTokens: 2 });
    let step = scheduler.step();
    expect(step.entries.map((e) => [e.request.id, e.start, e.count, e.samples])).toEqual([[0, 0, 8, false]]);
    expect(step.admitted).toEqual([a]);
    scheduler.commit(step, []);
    step = scheduler.step();
    expect(step.entries.map((e) => [e.request.id, e.start, e.count, e.samples])).toEqual([
      [0, 8, 2, true],
      [1, 0, 3, true],
    ]);
    scheduler.commit(step, [7, 8]);
    step = scheduler.step();
    expect(step.entries.map((e) => [e.request.id, e.start, e.count])).toEqual([
      [0, 10, 1],
      [1, 3, 1],
    ]);
    const finished = scheduler.commit(step, [9, 9]);
    expect(finished).toEqual([a, b]);
    expect(a.generated).toEqual([7, 9]);
    expect(scheduler.hasWork).toBe(false);
  });

  it('preempts the most recently admitted request and puts it at the head of the waiting queue', () => {
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 2, prefixCaching: false });
    const scheduler = new Scheduler(kv, { maxTokensPerStep: 64 });
    const a = scheduler.submit({ tokens: [1, 2, 3, 4], maxNewTokens: 4 });
    const b = scheduler.submit({ tokens: [5, 6, 7, 8], maxNewTokens: 4 });
    const c = scheduler.submit({ tokens: [7], maxNewTokens: 1 });
    let step = scheduler.step(); // a and b admitted: 4 blocks, c waits
    expect(step.admitted).toEqual([a, b]);
    scheduler.commit(step, [10, 11]);
    step = scheduler.step(); // a and b each need a block: none free, b (newest) is preempted
    expect(step.preempted).toEqual([b]);
    expect(step.entries.map((e) => e.request)).toEqual([a]);
    expect(b.state).toBe('waiting');
    expect(b.preemptions).toBe(1);
    expect(scheduler.waiting).toEqual([b, c]);
    scheduler.commit(step, [12]);
    let guard = 0;
    while (scheduler.hasWork && guard++ < 100) {
      const next = scheduler.step();
      scheduler.commit(
        next,
        next.entries.map(() => 13),
      );
    }
    expect([a, b, c].map((r) => r.state)).toEqual(['finished', 'finished', 'finished']);
    expect(b.generated).toEqual([11, 13, 13, 13]);
  });

  it('finishes once the output ends with a stop sequence, never matching the prompt', () => {
    const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4 });
    const scheduler = new Scheduler(kv, { maxTokensPerStep: 64 });
    const request = scheduler.submit({
      tokens: [7, 8],
      maxNewTokens: 10,
      stopSequences: [
        [8, 9],
        [5, 6, 7],
      ],
    });
    for (const token of [9, 5, 6]) expect(scheduler.commit(scheduler.step(), [token])).toEqual([]);
    expect(scheduler.commit(scheduler.step(), [7])).toEqual([request]);
    expect(request.finishReason).toBe('stop');
    expect(request.generated).toEqual([9, 5, 6, 7]);
    expect(kv.stats().sequences).toBe(0);
  });

  it('finishes on a stop token and keeps it in the output', () => {
    const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4 });
    const scheduler = new Scheduler(kv, { maxTokensPerStep: 64 });
    const request = scheduler.submit({ tokens: [1, 2], maxNewTokens: 10, stopTokens: [0] });
    scheduler.commit(scheduler.step(), [5]);
    const finished = scheduler.commit(scheduler.step(), [0]);
    expect(finished).toEqual([request]);
    expect(request.finishReason).toBe('stop');
    expect(request.generated).toEqual([5, 0]);
  });

  it('rejects at submission a request that could never fit, with OVERSIZED', () => {
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 4 });
    const scheduler = new Scheduler(kv, { maxTokensPerStep: 64 });
    const error = expectMemError(() => scheduler.submit({ tokens: range(0, 10), maxNewTokens: 8 }), 'OVERSIZED');
    expect(error.message).toContain('needs 5 blocks');
    scheduler.submit({ tokens: range(0, 10), maxNewTokens: 7 }); // 16 computed tokens: 4 blocks, fits
    expect(scheduler.stats().waiting).toBe(1);
  });

  it('cancels waiting and running requests and releases their blocks', () => {
    const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4 });
    const scheduler = new Scheduler(kv, { maxTokensPerStep: 64, maxRunning: 1 });
    const a = scheduler.submit({ tokens: [1, 2, 3], maxNewTokens: 5 });
    const b = scheduler.submit({ tokens: [4, 5, 6], maxNewTokens: 5 });
    const step = scheduler.step();
    expectMemError(() => scheduler.cancel(a), 'IN_USE');
    scheduler.commit(step, [1]);
    scheduler.cancel(a);
    scheduler.cancel(b);
    expect(a.finishReason).toBe('cancelled');
    expect(scheduler.hasWork).toBe(false);
    expect(kv.allocator.inUseCount).toBe(0);
    expectMemError(() => scheduler.cancel(a), 'DOUBLE_FREE');
    expect(scheduler.stats().cancelled).toBe(2);
  });

  it('publishes queue lengths and preemptions', () => {
    const sink = new RecordingMetricsSink();
    const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4 });
    const scheduler = new Scheduler(kv, { maxTokensPerStep: 64, maxRunning: 1, metrics: sink });
    scheduler.submit({ tokens: [1], maxNewTokens: 2 });
    scheduler.submit({ tokens: [2], maxNewTokens: 2 });
    scheduler.commit(scheduler.step(), [3]);
    expect(sink.read('mem_paged_kv_running_requests', { pool: 'paged-kv' })).toBe(1);
    expect(sink.read('mem_paged_kv_waiting_requests', { pool: 'paged-kv' })).toBe(1);
    expect(sink.read('mem_paged_kv_scheduler_preemptions_total', { pool: 'paged-kv' })).toBe(0);
  });

  it('throws instead of spinning when blocks held outside the scheduler block all progress', () => {
    const kv = new KvCacheManager({ numBlocks: 2, blockSize: 4 });
    const outside = kv.createSequence({ tokens: range(0, 8) });
    kv.admit(outside);
    const scheduler = new Scheduler(kv, { maxTokensPerStep: 64 });
    scheduler.submit({ tokens: [1], maxNewTokens: 1 });
    expectMemError(() => scheduler.step(), 'EXHAUSTED');
    outside.release();
    scheduler.commit(scheduler.step(), [1]);
    expect(scheduler.hasWork).toBe(false);
  });

  it('ignores the sampled values of entries that do not sample, whatever they are', () => {
    const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4 });
    const scheduler = new Scheduler(kv, { maxTokensPerStep: 5 });
    const short = scheduler.submit({ tokens: [1, 2, 3], maxNewTokens: 2 });
    const long = scheduler.submit({ tokens: range(10, 8), maxNewTokens: 2 });
    const step = scheduler.step();
    expect(step.entries.map((e) => e.samples)).toEqual([true, false]); // long gets a 2-token chunk
    for (const placeholder of [-1, Number.NaN, 'x', undefined, 2 ** 40]) {
      expectMemError(() => scheduler.commit(step, [-1, placeholder] as never), 'INVALID_ARGUMENT'); // the sampling one is checked
    }
    scheduler.commit(step, [7, -1]);
    expect(short.generated).toEqual([7]);
    expect(long.sequence.computedTokens).toBe(2);
    const next = scheduler.step();
    expect(next.entries.map((e) => e.samples)).toEqual([true, false]);
    scheduler.commit(next, [8]); // nothing needed past the last sampling entry
    expect(short.state).toBe('finished');
  });

  it('refuses changes to a sequence it holds from outside with IN_USE, and completes the request', () => {
    const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4, copyBlock: () => {} });
    const scheduler = new Scheduler(kv, { maxTokensPerStep: 64 });
    const waiting = scheduler.submit({ tokens: range(0, 6), maxNewTokens: 2 });
    expectMemError(() => kv.admit(waiting.sequence), 'IN_USE');
    expectMemError(() => kv.tryAdmit(waiting.sequence), 'IN_USE');
    expectMemError(() => kv.appendTokens(waiting.sequence, [1]), 'IN_USE');
    expect(kv.blocksToAdmit(waiting.sequence)).toBe(2); // reading works
    const step = scheduler.step();
    const held = step.entries[0]!.sequence;
    for (const call of [
      () => kv.release(held),
      () => held.release(),
      () => kv.preempt(held),
      () => kv.fork(held),
      () => kv.markComputed(held, 1),
      () => kv.reserve(held, 1),
      () => kv.tryReserve(held, 1),
      () => kv.appendTokens(held, [1]),
    ]) {
      const error = expectMemError(call, 'IN_USE');
      expect(error.message).toContain('Scheduler');
    }
    expect(held.state).toBe('running');
    scheduler.commit(step, [1]);
    scheduler.commit(scheduler.step(), [2]);
    expect(waiting.state).toBe('finished');
    expect(held.released).toBe(true);
    expect(kv.allocator.inUseCount).toBe(0);
  });

  it('cancels only its own requests: a request of another scheduler over the same manager is FOREIGN_HANDLE', () => {
    const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4 });
    const mine = new Scheduler(kv, { maxTokensPerStep: 64 });
    const theirs = new Scheduler(kv, { maxTokensPerStep: 64 });
    const request = theirs.submit({ tokens: [1, 2, 3], maxNewTokens: 1 });
    expectMemError(() => mine.cancel(request), 'FOREIGN_HANDLE');
    expect(request.state).toBe('waiting');
    expect(theirs.waiting).toEqual([request]);
    theirs.commit(theirs.step(), [4]);
    expect(request.state).toBe('finished');
  });

  it('returns a step that only preempted instead of throwing, and throws EXHAUSTED without changing anything after', () => {
    const kv = new KvCacheManager({ numBlocks: 2, blockSize: 4 });
    const outside = kv.createSequence({ tokens: range(100, 4) });
    kv.admit(outside);
    const scheduler = new Scheduler(kv, { maxTokensPerStep: 64 });
    const request = scheduler.submit({ tokens: [1, 2, 3, 4], maxNewTokens: 3 });
    scheduler.commit(scheduler.step(), [5]); // its 5th token needs a second block, held outside
    const step = scheduler.step();
    expect(step.entries).toEqual([]);
    expect(step.preempted).toEqual([request]);
    scheduler.commit(step, []);
    const before = { stats: scheduler.stats(), kv: kv.stats() };
    expectMemError(() => scheduler.step(), 'EXHAUSTED');
    expect({ stats: scheduler.stats(), kv: kv.stats() }).toEqual(before);
    outside.release();
    while (scheduler.hasWork) scheduler.commit(scheduler.step(), [6]);
    expect(request.generated).toEqual([5, 6, 6]);
  });

  it('commits a step once: a committed or superseded step, empty or not, is INVALID_ARGUMENT', () => {
    const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4 });
    const scheduler = new Scheduler(kv, { maxTokensPerStep: 64 });
    const idle = scheduler.step();
    expect(idle.entries).toEqual([]);
    const superseded = scheduler.step(); // an empty step needs no commit
    expect(scheduler.commit(superseded, [])).toEqual([]);
    expectMemError(() => scheduler.commit(superseded, []), 'INVALID_ARGUMENT');
    expectMemError(() => scheduler.commit(idle, []), 'INVALID_ARGUMENT');
    expectMemError(
      () => scheduler.commit({ id: 0, entries: [], admitted: [], preempted: [], tokens: 0 }, []),
      'INVALID_ARGUMENT',
    );
  });

  describe('bad input', () => {
    it.each([
      ['not a manager', () => new Scheduler({} as never, { maxTokensPerStep: 1 })],
      ['no options', () => new Scheduler(new KvCacheManager({ numBlocks: 2 }), undefined as never)],
      ['a zero budget', () => new Scheduler(new KvCacheManager({ numBlocks: 2 }), { maxTokensPerStep: 0 })],
      ['a NaN budget', () => new Scheduler(new KvCacheManager({ numBlocks: 2 }), { maxTokensPerStep: Number.NaN })],
      [
        'a fractional maxRunning',
        () => new Scheduler(new KvCacheManager({ numBlocks: 2 }), { maxTokensPerStep: 4, maxRunning: 1.5 }),
      ],
    ])('rejects construction with %s', (_label, make) => {
      expectMemError(make, 'INVALID_ARGUMENT');
    });

    it.each([
      ['null', null],
      ['no maxNewTokens', { tokens: [1] }],
      ['zero maxNewTokens', { tokens: [1], maxNewTokens: 0 }],
      ['Infinity maxNewTokens', { tokens: [1], maxNewTokens: Infinity }],
      ['empty tokens', { tokens: [], maxNewTokens: 1 }],
      ['a bad token', { tokens: [-1], maxNewTokens: 1 }],
      ['bad stop tokens', { tokens: [1], maxNewTokens: 1, stopTokens: [0.5] }],
      ['stop sequences that are not an array', { tokens: [1], maxNewTokens: 1, stopSequences: 'ab' }],
      ['an empty stop sequence', { tokens: [1], maxNewTokens: 1, stopSequences: [[1], []] }],
      ['a bad token in a stop sequence', { tokens: [1], maxNewTokens: 1, stopSequences: [[1, -2]] }],
    ])('rejects a request with %s and keeps working', (_label, request) => {
      const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
      const scheduler = new Scheduler(kv, { maxTokensPerStep: 16 });
      expectMemError(() => scheduler.submit(request as never), 'INVALID_ARGUMENT');
      expect(scheduler.hasWork).toBe(false);
      scheduler.submit({ tokens: [1], maxNewTokens: 1 });
      scheduler.commit(scheduler.step(), [2]);
    });

    it('rejects a stale or foreign step, an uncommitted step, and bad sampled tokens', () => {
      const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
      const scheduler = new Scheduler(kv, { maxTokensPerStep: 16 });
      const request: ScheduledRequest = scheduler.submit({ tokens: [1, 2], maxNewTokens: 2 });
      const step = scheduler.step();
      expectMemError(() => scheduler.step(), 'IN_USE');
      expectMemError(() => scheduler.commit({ ...step }, [1]), 'INVALID_ARGUMENT');
      expectMemError(() => scheduler.commit(step, []), 'INVALID_ARGUMENT');
      expectMemError(() => scheduler.commit(step, [-1]), 'INVALID_ARGUMENT');
      expectMemError(() => scheduler.commit(step, ['1'] as never), 'INVALID_ARGUMENT');
      expect(request.generated).toEqual([]);
      scheduler.commit(step, [3]);
      expectMemError(() => scheduler.commit(step, [3]), 'INVALID_ARGUMENT');
      expectMemError(() => scheduler.cancel({} as never), 'INVALID_ARGUMENT');
      expect(request.generated).toEqual([3]);
    });
  });
});
