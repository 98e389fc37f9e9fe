import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { MemError, RecordingMetricsSink } from '@mem/types';
import { sha256BlockHasher } from './block-hasher.js';
import { KvCacheManager } from './kv-cache-manager.js';
import type { KvSequence } from './kv-sequence.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);
const table = (seq: KvSequence): number[] => [...seq.blockTable.subarray(0, seq.blockCount)];

/** Admits and "prefills" a sequence. */
function run(kv: KvCacheManager, tokens: number[], extraKeys?: object): KvSequence {
  const seq = kv.createSequence({ tokens, ...(extraKeys ? { extraKeys } : {}) });
  kv.admit(seq);
  kv.markComputed(seq, seq.pendingTokens);
  return seq;
}

describe('KvCacheManager: admission and prefix caching', () => {
  it('serves the longest cached prefix in whole blocks by reference and allocates the rest', () => {
    const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4 });
    const a = run(kv, range(0, 10)); // blocks: [0..3], [4..7], partial [8, 9]
    expect(a.cachedTokens).toBe(0);
    const b = kv.createSequence({ tokens: [...range(0, 8), 50, 51, 52] });
    expect(kv.blocksToAdmit(b)).toBe(1);
    expect(kv.admit(b)).toBe(3);
    expect(b.cachedTokens).toBe(8);
    expect(b.computedTokens).toBe(8);
    expect(table(b).slice(0, 2)).toEqual(table(a).slice(0, 2));
    expect(kv.allocator.refCount(table(a)[0]!)).toBe(2);
    expect(kv.allocator.refCount(table(a)[2]!)).toBe(1); // the partial block is never shared
    expect(kv.stats().prefixHitTokens).toBe(8);
    expect(kv.stats().prefixQueryTokens).toBe(21);
  });

  it('never serves the whole prompt from cache: at least the last token is computed', () => {
    const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4 });
    run(kv, range(0, 8));
    const again = kv.createSequence({ tokens: range(0, 8) });
    expect(kv.admit(again)).toBe(4);
    expect(again.cachedTokens).toBe(4);
  });

  it('resurrects soft-free blocks of a finished sequence', () => {
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
    const a = run(kv, range(0, 9));
    const blocks = table(a);
    a.release();
    expect(kv.allocator.inUseCount).toBe(0);
    const b = kv.createSequence({ tokens: range(0, 9) });
    expect(kv.blocksToAdmit(b)).toBe(3); // two resurrected, one fresh
    kv.admit(b);
    expect(table(b).slice(0, 2)).toEqual(blocks.slice(0, 2));
    expect(kv.allocator.resurrections).toBe(2);
  });

  it('registers blocks filled during decode, so a later request can reuse generated tokens', () => {
    const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4 });
    const seq = run(kv, range(0, 3));
    for (const token of [100, 101, 102, 103, 104]) {
      kv.appendTokens(seq, [token]);
      kv.reserve(seq);
      kv.markComputed(seq, 1);
    }
    // tokens 0,1,2,100 | 101,102,103,104: two full blocks
    const next = kv.createSequence({ tokens: [0, 1, 2, 100, 101, 102, 103, 104, 7] });
    kv.admit(next);
    expect(next.cachedTokens).toBe(8);
  });

  it('shares nothing with prefix caching off', () => {
    const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4, prefixCaching: false });
    run(kv, range(0, 12));
    const b = run(kv, range(0, 12));
    expect(b.cachedTokens).toBe(0);
    expect(kv.allocator.hashTableSize).toBe(0);
    expect(kv.stats().prefixHitRate).toBe(0);
  });

  it('keeps tenants with different salts apart and lets one tenant share', () => {
    const kv = new KvCacheManager({ numBlocks: 32, blockSize: 4, hasher: sha256BlockHasher });
    run(kv, range(0, 9), { salt: 'tenant-a' });
    const b = kv.createSequence({ tokens: range(0, 9), extraKeys: { salt: 'tenant-b' } });
    kv.admit(b);
    expect(b.cachedTokens).toBe(0);
    const a2 = kv.createSequence({ tokens: range(0, 9), extraKeys: { salt: 'tenant-a' } });
    kv.admit(a2);
    expect(a2.cachedTokens).toBe(8);
  });

  it('throws EXHAUSTED with the counts and changes nothing when blocks are short; tryAdmit returns -1', () => {
    const kv = new KvCacheManager({ numBlocks: 3, blockSize: 4 });
    const a = kv.createSequence({ tokens: range(0, 8) });
    kv.admit(a);
    const b = kv.createSequence({ tokens: range(100, 8) });
    const error = expectMemError(() => kv.admit(b), 'EXHAUSTED');
    expect(error.message).toBe('admitting 8 tokens needs 2 free blocks: capacity 3, free 1');
    expect(kv.tryAdmit(b)).toBe(-1);
    expect(b.state).toBe('waiting');
    expect(kv.allocator.freeCount).toBe(1);
  });

  it('preempts a running sequence: blocks freed, tokens kept, re-admission hits its own cached blocks', () => {
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
    const seq = run(kv, range(0, 10));
    kv.appendTokens(seq, [77]);
    kv.preempt(seq);
    expect(seq.state).toBe('waiting');
    expect(seq.computedTokens).toBe(0);
    expect(seq.tokenCount).toBe(11);
    expect(kv.allocator.inUseCount).toBe(0);
    expect(kv.admit(seq)).toBe(3);
    expect(seq.cachedTokens).toBe(8);
    expect([...seq.tokens]).toEqual([...range(0, 10), 77]);
  });

  it('forks a running sequence by reference and copies the shared partial block on write', () => {
    const copyBlock = vi.fn();
    const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4, copyBlock });
    const parent = run(kv, range(0, 6));
    const child = kv.fork(parent);
    expect(table(child)).toEqual(table(parent));
    kv.appendTokens(child, [9]);
    kv.reserve(child);
    expect(copyBlock).toHaveBeenCalledWith(table(parent)[1], table(child)[1]);
    kv.markComputed(child, 1);
    kv.appendTokens(parent, [8]);
    kv.reserve(parent);
    kv.markComputed(parent, 1);
    expect(copyBlock).toHaveBeenCalledTimes(1);
    expect([...child.tokens]).toEqual([...range(0, 6), 9]);
    expect([...parent.tokens]).toEqual([...range(0, 6), 8]);
    parent.release();
    child.release();
    expect(kv.allocator.inUseCount).toBe(0);
  });

  it('refuses to compute tokens whose slots were not reserved', () => {
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
    const seq = run(kv, range(0, 4));
    kv.appendTokens(seq, [5]);
    expectMemError(() => kv.markComputed(seq, 1), 'IN_USE');
    expect(kv.tryReserve(seq)).toBe(true);
    kv.markComputed(seq, 1);
    expect(seq.computedTokens).toBe(5);
  });

  it('publishes usage, queries, hits and preemptions to a metrics sink', () => {
    const sink = new RecordingMetricsSink();
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4, metrics: sink, name: 'chat' });
    const chat = { pool: 'chat' };
    run(kv, range(0, 9));
    const b = run(kv, range(0, 9));
    kv.preempt(b);
    expect(sink.read('mem_paged_kv_prefix_query_tokens_total', chat)).toBe(18);
    expect(sink.read('mem_paged_kv_prefix_hit_tokens_total', chat)).toBe(8);
    expect(sink.read('mem_paged_kv_preemptions_total', chat)).toBe(1);
    expect(sink.read('mem_paged_kv_in_use_blocks', chat)).toBe(3);
    expect(sink.read('mem_paged_kv_sequences', chat)).toBe(2);
  });
});

describe('KvCacheManager: bad input', () => {
  it.each([
    ['no options', undefined],
    ['a zero numBlocks', { numBlocks: 0 }],
    ['a NaN numBlocks', { numBlocks: Number.NaN }],
    ['a fractional blockSize', { numBlocks: 4, blockSize: 1.5 }],
    ['maxBlocksPerSequence above numBlocks', { numBlocks: 4, maxBlocksPerSequence: 5 }],
    ['a non-boolean prefixCaching', { numBlocks: 4, prefixCaching: 1 }],
    ['a bad hasher', { numBlocks: 4, hasher: {} }],
    ['a non-function copyBlock', { numBlocks: 4, copyBlock: 'x' }],
    ['a bad reuse order', { numBlocks: 4, reuseOrder: 'mru' }],
    ['an empty name', { numBlocks: 4, name: '' }],
    ['a name that is not a string', { numBlocks: 4, name: 5 }],
  ])('rejects %s', (_label, options) => {
    expectMemError(() => new KvCacheManager(options as never), 'INVALID_ARGUMENT');
  });

  it.each([
    ['null', null],
    ['no tokens', {}],
    ['empty tokens', { tokens: [] }],
    ['a negative token', { tokens: [1, -2] }],
    ['a fractional token', { tokens: [0.5] }],
    ['a token past 2^32', { tokens: [2 ** 32] }],
    ['bad extra keys', { tokens: [1], extraKeys: { salt: 3 } }],
  ])('rejects a request with %s', (_label, request) => {
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 4 });
    expectMemError(() => kv.createSequence(request as never), 'INVALID_ARGUMENT');
    expect(kv.stats().sequences).toBe(0);
  });

  it('rejects a request longer than the per-sequence limit with LIMIT_EXCEEDED, at creation and on append', () => {
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4, maxBlocksPerSequence: 2 });
    expectMemError(() => kv.createSequence({ tokens: range(0, 9) }), 'LIMIT_EXCEEDED');
    const seq = kv.createSequence({ tokens: range(0, 8) });
    expectMemError(() => kv.appendTokens(seq, [1]), 'LIMIT_EXCEEDED');
    expect(seq.tokenCount).toBe(8);
  });

  it('rejects foreign, released and wrong-state sequences', () => {
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
    const other = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
    const foreign = other.createSequence({ tokens: [1] });
    for (const call of [
      () => kv.admit(foreign),
      () => kv.tryAdmit(foreign),
      () => kv.blocksToAdmit(foreign),
      () => kv.reserve(foreign),
      () => kv.markComputed(foreign, 0),
      () => kv.appendTokens(foreign, [1]),
      () => kv.fork(foreign),
      () => kv.preempt(foreign),
      () => kv.release(foreign),
    ]) {
      expectMemError(call, 'FOREIGN_HANDLE');
    }
    expectMemError(() => kv.admit({} as never), 'INVALID_ARGUMENT');
    const waiting = kv.createSequence({ tokens: [1, 2] });
    expectMemError(() => kv.reserve(waiting), 'IN_USE');
    expectMemError(() => kv.markComputed(waiting, 1), 'IN_USE');
    expectMemError(() => kv.preempt(waiting), 'IN_USE');
    kv.admit(waiting);
    expectMemError(() => kv.admit(waiting), 'IN_USE');
    waiting.release();
    expectMemError(() => kv.admit(waiting), 'USE_AFTER_RELEASE');
    expectMemError(() => kv.appendTokens(waiting, [1]), 'USE_AFTER_RELEASE');
    expectMemError(() => waiting.tokens, 'USE_AFTER_RELEASE');
    expectMemError(() => kv.release(waiting), 'DOUBLE_FREE');
    expect(kv.allocator.inUseCount).toBe(0);
    run(kv, [1, 2, 3]); // still works
  });

  it.each([
    ['negative', -1],
    ['more than pending', 99],
    ['fractional', 0.5],
    ['NaN', Number.NaN],
    ['a string', '1'],
  ])('rejects a count that is %s', (_label, count) => {
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
    const seq = kv.createSequence({ tokens: range(0, 5) });
    kv.admit(seq);
    expectMemError(() => kv.markComputed(seq, count as number), 'INVALID_ARGUMENT');
    expectMemError(() => kv.reserve(seq, count as number), 'INVALID_ARGUMENT');
    expect(seq.computedTokens).toBe(0);
    kv.markComputed(seq, 5);
  });
});

describe('KvCacheManager against a model', () => {
  type Op =
    | { kind: 'create'; prefix: number; extra: number }
    | { kind: 'admit'; pick: number }
    | { kind: 'compute'; pick: number; count: number }
    | { kind: 'append'; pick: number; token: number }
    | { kind: 'fork'; pick: number }
    | { kind: 'preempt'; pick: number }
    | { kind: 'release'; pick: number };
  const ops: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      kind: fc.constant('create' as const),
      prefix: fc.integer({ min: 0, max: 3 }),
      extra: fc.integer({ min: 1, max: 9 }),
    }),
    fc.record({ kind: fc.constant('admit' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('compute' as const), pick: fc.nat(), count: fc.integer({ min: 1, max: 9 }) }),
    fc.record({ kind: fc.constant('append' as const), pick: fc.nat(), token: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ kind: fc.constant('fork' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('preempt' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
  );
  const prefixes = [range(0, 8), range(0, 12), range(100, 4), []];

  it('keeps every block reference count equal to the number of block tables holding it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.array(ops, { maxLength: 50 }), (numBlocks, script) => {
        const kv = new KvCacheManager({ numBlocks, blockSize: 4, copyBlock: () => {} });
        const live: KvSequence[] = [];
        const pick = (n: number): KvSequence | undefined => live[n % Math.max(1, live.length)];
        for (const op of script) {
          const seq = op.kind === 'create' ? undefined : pick(op.pick);
          try {
            switch (op.kind) {
              case 'create':
                live.push(kv.createSequence({ tokens: [...prefixes[op.prefix]!, ...range(50, op.extra)] }));
                break;
              case 'admit':
                if (seq?.state === 'waiting') kv.tryAdmit(seq);
                break;
              case 'compute':
                if (seq?.state === 'running' && kv.tryReserve(seq))
                  kv.markComputed(seq, Math.min(op.count, seq.pendingTokens));
                break;
              case 'append':
                if (seq) kv.appendTokens(seq, [op.token]);
                break;
              case 'fork':
                if (seq?.state === 'running') live.push(kv.fork(seq));
                break;
              case 'preempt':
                if (seq?.state === 'running') kv.preempt(seq);
                break;
              case 'release':
                if (seq) {
                  seq.release();
                  live.splice(live.indexOf(seq), 1);
                }
                break;
            }
          } catch (error) {
            if (!MemError.is(error, 'LIMIT_EXCEEDED')) throw error;
          }
          // Invariants: refs equal holders; no block owned without a reference; free + used = capacity.
          const holders = new Map<number, number>();
          for (const s of live) for (const b of table(s)) holders.set(b, (holders.get(b) ?? 0) + 1);
          for (let b = 0; b < numBlocks; b += 1) expect(kv.allocator.refCount(b)).toBe(holders.get(b) ?? 0);
          expect(kv.allocator.freeCount + holders.size).toBe(numBlocks);
          expect(kv.allocator.evictionOrder().length).toBe(kv.allocator.freeCount);
          for (const s of live) {
            expect(s.computedTokens).toBeLessThanOrEqual(s.tokenCount);
            if (s.state === 'waiting') expect(s.blockCount).toBe(0);
            else expect(s.blockCount * 4).toBeGreaterThanOrEqual(s.computedTokens);
            // a block this sequence is about to write is not shared unless copy-on-write will run
          }
        }
        for (const s of live) s.release();
        expect(kv.allocator.inUseCount).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});
