import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { KvCacheManager } from './kv-cache-manager.js';
import type { KvSequence } from './kv-sequence.js';
import { KvStore } from './kv-store.js';
import { PagedSequence } from './paged-sequence.js';
import { pagedAttention } from './paged-attention.js';
import { contiguousAttention, gatherContiguous } from './reference/contiguous-attention.js';
import { fromBfloat16, fromFloat16, toBfloat16, toFloat16 } from './half-float.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

/** Deterministic pseudo-random floats in [-1, 1). */
function randoms(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 31 - 1;
  };
}

/** The textbook definition, independent of both implementations: float64, per head, over [position][head][dim]. */
function naiveAttention(
  keys: number[][][],
  values: number[][][],
  query: Float32Array,
  numQueryHeads: number,
  headDim: number,
  length: number,
): number[] {
  const numKvHeads = keys[0]![0]!.length / headDim;
  const group = numQueryHeads / numKvHeads;
  const out: number[] = [];
  for (let qh = 0; qh < numQueryHeads; qh += 1) {
    const kvh = Math.floor(qh / group);
    const scores = [];
    for (let p = 0; p < length; p += 1) {
      let dot = 0;
      for (let d = 0; d < headDim; d += 1) dot += query[qh * headDim + d]! * keys[p]![0]![kvh * headDim + d]!;
      scores.push(dot / Math.sqrt(headDim));
    }
    const max = Math.max(...scores);
    const weights = scores.map((s) => Math.exp(s - max));
    const sum = weights.reduce((a, b) => a + b, 0);
    for (let d = 0; d < headDim; d += 1) {
      let acc = 0;
      for (let p = 0; p < length; p += 1) acc += weights[p]! * values[p]![0]![kvh * headDim + d]!;
      out.push(acc / sum);
    }
  }
  return out;
}

interface Shape {
  numKvHeads: number;
  group: number;
  headDim: number;
  blockSize: number;
}

/**
 * Builds sequences in a shared store: a parent with a cached prefix, a second request sharing that
 * prefix through the prefix cache, and a fork of the parent that diverges (copy-on-write). Writes
 * K/V as a function of (sequence content, position), so shared positions hold equal values.
 */
function scenario(shape: Shape, prefix: number, suffixes: number[], seed: number) {
  const { numKvHeads, headDim, blockSize } = shape;
  const store = new KvStore({ numLayers: 2, numBlocks: 256, numKvHeads, blockSize, headDim });
  const kv = new KvCacheManager({ numBlocks: 256, blockSize, copyBlock: (s, t) => store.copyBlock(s, t) });
  const width = numKvHeads * headDim;
  const vectors = new Map<string, [Float32Array, Float32Array]>();
  const random = randoms(seed);
  const vectorFor = (tokens: ArrayLike<number>, position: number, layer: number): [Float32Array, Float32Array] => {
    const key = `${layer}:${Array.prototype.slice.call(tokens, 0, position + 1).join(',')}`;
    let pair = vectors.get(key);
    if (!pair) {
      pair = [new Float32Array(width).map(() => random()), new Float32Array(width).map(() => random())];
      vectors.set(key, pair);
    }
    return pair;
  };
  const computeAll = (seq: KvSequence): void => {
    const start = kv.reserve(seq);
    const tokens = seq.tokens;
    for (let p = start; p < seq.tokenCount; p += 1) {
      for (let layer = 0; layer < 2; layer += 1) {
        const [k, v] = vectorFor(tokens, p, layer);
        store.writeToken(layer, seq, p, k, v);
      }
    }
    kv.markComputed(seq, seq.pendingTokens);
  };
  const base = Array.from({ length: prefix }, (_, i) => i + 1);
  const sequences: KvSequence[] = [];
  const parent = kv.createSequence({ tokens: [...base, ...Array.from({ length: suffixes[0]! }, (_, i) => 500 + i)] });
  kv.admit(parent);
  computeAll(parent);
  sequences.push(parent);
  const sharer = kv.createSequence({ tokens: [...base, ...Array.from({ length: suffixes[1]! }, (_, i) => 700 + i)] });
  kv.admit(sharer);
  computeAll(sharer);
  sequences.push(sharer);
  const child = kv.fork(parent);
  kv.appendTokens(
    child,
    Array.from({ length: suffixes[2]! }, (_, i) => 900 + i),
  );
  computeAll(child);
  kv.appendTokens(parent, [42]);
  computeAll(parent);
  sequences.push(child);
  // Expected K/V per position, from the definition.
  const expected = (seq: KvSequence, layer: number) => {
    const keys: number[][][] = [];
    const values: number[][][] = [];
    for (let p = 0; p < seq.tokenCount; p += 1) {
      const [k, v] = vectorFor(seq.tokens, p, layer);
      keys.push([[...k]]);
      values.push([[...v]]);
    }
    return { keys, values };
  };
  return { store, kv, sequences, expected };
}

describe('pagedAttention', () => {
  it('equals contiguous and textbook attention within 1e-5 over random shapes, shared prefixes and forks', () => {
    fc.assert(
      fc.property(
        fc.record({
          numKvHeads: fc.integer({ min: 1, max: 3 }),
          group: fc.integer({ min: 1, max: 4 }),
          headDim: fc.integer({ min: 1, max: 16 }),
          blockSize: fc.integer({ min: 1, max: 8 }),
        }),
        fc.integer({ min: 0, max: 40 }),
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 3, maxLength: 3 }),
        fc.integer({ min: 1, max: 2 ** 30 }),
        (shape, prefix, suffixes, seed) => {
          const { store, kv, sequences, expected } = scenario(shape, prefix, suffixes, seed);
          const numQueryHeads = shape.numKvHeads * shape.group;
          const random = randoms(seed + 1);
          // the sharer really shares the prefix's full blocks with the parent
          const sharedBlocks = Math.floor(Math.min(prefix, prefix + suffixes[1]! - 1) / shape.blockSize);
          for (let b = 0; b < sharedBlocks; b += 1) {
            expect(sequences[1]!.blockTable[b]).toBe(sequences[0]!.blockTable[b]);
          }
          for (const seq of sequences) {
            for (const layer of [0, 1]) {
              const truth = expected(seq, layer);
              for (const length of [1, Math.ceil(seq.tokenCount / 2), seq.tokenCount]) {
                const query = new Float32Array(numQueryHeads * shape.headDim).map(() => random());
                const paged = pagedAttention(store, layer, seq, length, query, { numQueryHeads });
                const contiguous = contiguousAttention(gatherContiguous(store, layer, seq, length), length, query, {
                  numQueryHeads,
                });
                const naive = naiveAttention(truth.keys, truth.values, query, numQueryHeads, shape.headDim, length);
                for (let i = 0; i < paged.length; i += 1) {
                  expect(Math.abs(paged[i]! - contiguous[i]!)).toBeLessThanOrEqual(1e-5);
                  expect(Math.abs(paged[i]! - naive[i]!)).toBeLessThanOrEqual(1e-5);
                }
              }
            }
          }
          for (const seq of sequences) seq.release();
          expect(kv.allocator.inUseCount).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reads 16-bit stores within the format precision of float32 attention', () => {
    for (const dtype of ['float16', 'bfloat16'] as const) {
      const shape = { numLayers: 1, numBlocks: 16, numKvHeads: 2, blockSize: 4, headDim: 8 };
      const wide = new KvStore(shape);
      const narrow = new KvStore({ ...shape, dtype });
      const kv = new KvCacheManager({ numBlocks: 16, blockSize: 4 });
      const seq = kv.createSequence({ tokens: Array.from({ length: 21 }, (_, i) => i) });
      kv.admit(seq);
      const random = randoms(9);
      for (let p = 0; p < 21; p += 1) {
        const k = new Float32Array(16).map(() => random());
        const v = new Float32Array(16).map(() => random());
        wide.writeToken(0, seq, p, k, v);
        narrow.writeToken(0, seq, p, k, v);
      }
      const query = new Float32Array(32).map(() => random());
      const a = pagedAttention(wide, 0, seq, 21, query, { numQueryHeads: 4 });
      const b = pagedAttention(narrow, 0, seq, 21, query, { numQueryHeads: 4 });
      const tolerance = dtype === 'float16' ? 2e-3 : 2e-2;
      for (let i = 0; i < a.length; i += 1) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(tolerance);
      expect(narrow.byteLength).toBe(wide.byteLength / 2);
    }
  });

  it('writes into a given out array and accepts a custom scale', () => {
    const store = new KvStore({ numLayers: 1, numBlocks: 4, numKvHeads: 1, blockSize: 2, headDim: 2 });
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 2 });
    const seq = kv.createSequence({ tokens: [1, 2, 3] });
    kv.admit(seq);
    store.writeToken(0, seq, 0, new Float32Array([1, 0]), new Float32Array([1, 0]));
    store.writeToken(0, seq, 1, new Float32Array([0, 1]), new Float32Array([0, 1]));
    const out = new Float32Array(2);
    expect(pagedAttention(store, 0, seq, 2, new Float32Array([1, 0]), { numQueryHeads: 1, scale: 0, out })).toBe(out);
    expect([...out]).toEqual([0.5, 0.5]); // scale 0: uniform weights
  });

  describe('bad input', () => {
    const store = new KvStore({ numLayers: 1, numBlocks: 4, numKvHeads: 2, blockSize: 2, headDim: 2 });
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 2 });
    const seq = kv.createSequence({ tokens: [1, 2, 3] });
    kv.admit(seq);
    const query = new Float32Array(4);
    it.each([
      ['a store that is not a KvStore', () => pagedAttention({} as never, 0, seq, 1, query, { numQueryHeads: 2 })],
      ['a layer out of range', () => pagedAttention(store, 1, seq, 1, query, { numQueryHeads: 2 })],
      ['a sequence without block table', () => pagedAttention(store, 0, {} as never, 1, query, { numQueryHeads: 2 })],
      ['a length of 0', () => pagedAttention(store, 0, seq, 0, query, { numQueryHeads: 2 })],
      ['a length past the blocks', () => pagedAttention(store, 0, seq, 5, query, { numQueryHeads: 2 })],
      ['a NaN length', () => pagedAttention(store, 0, seq, Number.NaN, query, { numQueryHeads: 2 })],
      [
        'query heads not a multiple of KV heads',
        () => pagedAttention(store, 0, seq, 1, new Float32Array(6), { numQueryHeads: 3 }),
      ],
      ['a query of the wrong size', () => pagedAttention(store, 0, seq, 1, new Float32Array(3), { numQueryHeads: 2 })],
      [
        'a query that is not a Float32Array',
        () => pagedAttention(store, 0, seq, 1, [0, 0, 0, 0] as never, { numQueryHeads: 2 }),
      ],
      ['a NaN scale', () => pagedAttention(store, 0, seq, 1, query, { numQueryHeads: 2, scale: Number.NaN })],
      [
        'an out of the wrong size',
        () => pagedAttention(store, 0, seq, 1, query, { numQueryHeads: 2, out: new Float32Array(1) }),
      ],
      ['no options', () => pagedAttention(store, 0, seq, 1, query, undefined as never)],
      [
        'a block size other than the store',
        () =>
          pagedAttention(store, 0, { ...seq, blockTable: seq.blockTable, blockCount: 1, blockSize: 4 }, 1, query, {
            numQueryHeads: 2,
          }),
      ],
      [
        'a block table entry past the store',
        () =>
          pagedAttention(store, 0, { blockTable: new Uint32Array([9]), blockCount: 1, blockSize: 2 }, 1, query, {
            numQueryHeads: 2,
          }),
      ],
      [
        'a contiguous kv that is too small',
        () =>
          contiguousAttention(
            { keys: new Float32Array(1), values: new Float32Array(1), numKvHeads: 1, headDim: 2, maxLength: 2 },
            1,
            new Float32Array(2),
            { numQueryHeads: 1 },
          ),
      ],
      [
        'a contiguous kv with a zero head dim',
        () =>
          contiguousAttention(
            { keys: new Float32Array(4), values: new Float32Array(4), numKvHeads: 1, headDim: 0, maxLength: 2 },
            1,
            new Float32Array(2),
            { numQueryHeads: 1 },
          ),
      ],
      [
        'a contiguous length past maxLength',
        () =>
          contiguousAttention(
            { keys: new Float32Array(4), values: new Float32Array(4), numKvHeads: 1, headDim: 2, maxLength: 2 },
            3,
            new Float32Array(2),
            { numQueryHeads: 1 },
          ),
      ],
    ])('rejects %s with INVALID_ARGUMENT', (_label, call) => {
      expectMemError(call, 'INVALID_ARGUMENT');
      expect(pagedAttention(store, 0, seq, 3, query, { numQueryHeads: 2 }).length).toBe(4);
    });
  });
});

describe('KvStore', () => {
  it('lays out K and V as [block][kvHead][slot][dim] and writes through the block table', () => {
    const store = new KvStore({ numLayers: 2, numBlocks: 4, numKvHeads: 2, blockSize: 2, headDim: 3 });
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 2 });
    kv.allocator.allocate(); // the sequence starts at block 1
    const seq = kv.createSequence({ tokens: [1, 2, 3] });
    kv.admit(seq);
    store.writeToken(1, seq, 2, new Float32Array([1, 2, 3, 4, 5, 6]), new Float32Array([7, 8, 9, 10, 11, 12]));
    const block = seq.blockTable[1]!;
    const keys = store.keys(1);
    expect([...keys.subarray(store.offsetOf(block, 0, 0), store.offsetOf(block, 0, 0) + 3)]).toEqual([1, 2, 3]);
    expect([...keys.subarray(store.offsetOf(block, 1, 0), store.offsetOf(block, 1, 0) + 3)]).toEqual([4, 5, 6]);
    expect(store.values(1)[store.offsetOf(block, 1, 0) + 2]).toBe(12);
    expect(store.keys(0)[store.offsetOf(block, 0, 0)]).toBe(0);
    const k = new Float32Array(6);
    const v = new Float32Array(6);
    store.readToken(1, seq, 2, k, v);
    expect([...v]).toEqual([7, 8, 9, 10, 11, 12]);
    expect(store.byteLength).toBe(2 * 2 * 4 * 2 * 2 * 3 * 4);
  });

  it('copies a block in every layer for copy-on-write', () => {
    const store = new KvStore({ numLayers: 2, numBlocks: 3, numKvHeads: 1, blockSize: 2, headDim: 1 });
    const table = { blockTable: new Uint32Array([0]), blockCount: 1, blockSize: 2 };
    store.writeToken(0, table, 1, new Float32Array([5]), new Float32Array([6]));
    store.writeToken(1, table, 0, new Float32Array([7]), new Float32Array([8]));
    store.copyBlock(0, 2);
    expect([...store.keys(0)]).toEqual([0, 5, 0, 0, 0, 5]);
    expect([...store.values(1)]).toEqual([8, 0, 0, 0, 8, 0]);
  });

  it('can live in a SharedArrayBuffer', () => {
    const store = KvStore.createShared({ numLayers: 1, numBlocks: 2, numKvHeads: 1, blockSize: 2, headDim: 2 });
    expect(store.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it.each([
    ['no options', undefined],
    ['zero layers', { numLayers: 0, numBlocks: 2, numKvHeads: 1, blockSize: 2, headDim: 2 }],
    ['a NaN block count', { numLayers: 1, numBlocks: Number.NaN, numKvHeads: 1, blockSize: 2, headDim: 2 }],
    ['a fractional head dim', { numLayers: 1, numBlocks: 2, numKvHeads: 1, blockSize: 2, headDim: 1.5 }],
    ['an unknown dtype', { numLayers: 1, numBlocks: 2, numKvHeads: 1, blockSize: 2, headDim: 2, dtype: 'int8' }],
    [
      'the removed shared option',
      { numLayers: 1, numBlocks: 2, numKvHeads: 1, blockSize: 2, headDim: 2, shared: true },
    ],
    [
      'a size too large for one buffer',
      { numLayers: 4096, numBlocks: 1 << 24, numKvHeads: 64, blockSize: 64, headDim: 256 },
    ],
  ])('rejects %s', (_label, options) => {
    expectMemError(() => new KvStore(options as never), 'INVALID_ARGUMENT');
  });

  it('rejects bad writes and reads, and keeps working', () => {
    const store = new KvStore({ numLayers: 1, numBlocks: 2, numKvHeads: 1, blockSize: 2, headDim: 2 });
    const table = { blockTable: new Uint32Array([1, 0]), blockCount: 1, blockSize: 2 };
    const vector = new Float32Array(2);
    for (const call of [
      () => store.writeToken(1, table, 0, vector, vector),
      () => store.writeToken(0, table, 2, vector, vector), // past the valid blocks
      () => store.writeToken(0, table, -1, vector, vector),
      () => store.writeToken(0, table, 0, new Float32Array(3), vector),
      () => store.writeToken(0, table, 0, vector, [0, 0] as never),
      () => store.writeToken(0, { ...table, blockCount: 3 }, 0, vector, vector),
      () => store.readToken(0, table, 0, new Float32Array(1), vector),
      () => store.copyBlock(0, 2),
      () => store.copyBlock(-1, 0),
      () => store.offsetOf(2, 0, 0),
      () => store.keys(Number.NaN),
    ]) {
      expectMemError(call, 'INVALID_ARGUMENT');
    }
    store.writeToken(0, table, 1, new Float32Array([3, 4]), vector);
    expect([...store.keys(0).subarray(6, 8)]).toEqual([3, 4]);
  });
});

describe('a released sequence', () => {
  /** A store, a manager and a sequence with K/V written at positions 0..2, then released. */
  function released() {
    const store = new KvStore({ numLayers: 1, numBlocks: 8, numKvHeads: 1, blockSize: 4, headDim: 2 });
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
    const seq = kv.createSequence({ tokens: [1, 2, 3] });
    kv.admit(seq);
    const vector = new Float32Array([1, 2]);
    for (let p = 0; p < 3; p += 1) store.writeToken(0, seq, p, vector, vector);
    seq.release();
    const next = kv.createSequence({ tokens: [4, 5, 6] });
    kv.admit(next); // the released blocks have a new owner
    return { store, kv, seq, next, vector };
  }

  it('gives USE_AFTER_RELEASE to KvStore.writeToken, KvStore.readToken, pagedAttention, gatherContiguous and slotOf', () => {
    const { store, seq, next, vector } = released();
    const before = [...store.keys(0)];
    const error = expectMemError(() => store.writeToken(0, seq, 0, vector, vector), 'USE_AFTER_RELEASE');
    expect(error.message).toContain('released');
    expectMemError(() => store.readToken(0, seq, 0, vector, vector), 'USE_AFTER_RELEASE');
    expectMemError(() => pagedAttention(store, 0, seq, 1, vector, { numQueryHeads: 1 }), 'USE_AFTER_RELEASE');
    expectMemError(() => gatherContiguous(store, 0, seq, 1), 'USE_AFTER_RELEASE');
    expectMemError(() => seq.slotOf(0), 'USE_AFTER_RELEASE');
    expect([...store.keys(0)]).toEqual(before); // the next owner's slots were not touched
    expect(next.slotOf(0)).toBe(next.blockTable[0]! * 4);
  });

  it('gives USE_AFTER_RELEASE for a released PagedSequence and for any view that says it is released', () => {
    const { store, kv, vector } = released();
    const paged = new PagedSequence(kv.allocator, { blockSize: 4, maxBlocksPerSequence: 2 });
    paged.appendTokens(2);
    store.writeToken(0, paged, 1, vector, vector);
    paged.release();
    expectMemError(() => store.writeToken(0, paged, 1, vector, vector), 'USE_AFTER_RELEASE');
    expectMemError(() => paged.slotOf(0), 'USE_AFTER_RELEASE');
    const view = { blockTable: new Uint32Array([0]), blockCount: 1, blockSize: 4, released: true };
    expectMemError(() => store.readToken(0, view, 0, vector, vector), 'USE_AFTER_RELEASE');
    expectMemError(() => pagedAttention(store, 0, view, 1, vector, { numQueryHeads: 1 }), 'USE_AFTER_RELEASE');
  });
});

describe('writes into computed positions', () => {
  it('KvStore.writeToken throws IN_USE below computedTokens, so a kept entry or a fork cannot change shared K/V', () => {
    const store = new KvStore({ numLayers: 1, numBlocks: 8, numKvHeads: 1, blockSize: 2, headDim: 2 });
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 2, copyBlock: (s, t) => store.copyBlock(s, t) });
    const first = kv.createSequence({ tokens: [1, 2, 3] });
    kv.admit(first);
    for (let p = 0; p < 3; p += 1) store.writeToken(0, first, p, new Float32Array([p, p]), new Float32Array([p, p]));
    kv.markComputed(first, 3);
    const second = kv.createSequence({ tokens: [1, 2, 9] });
    kv.admit(second); // block 0 (positions 0, 1) is shared with the first sequence
    expect(second.blockTable[0]).toBe(first.blockTable[0]);
    const child = kv.fork(first);
    const before = [...store.keys(0)];
    for (const [seq, position] of [
      [first, 0],
      [first, 2],
      [second, 1],
      [child, 0],
      [child, 2],
    ] as const) {
      expectMemError(() => store.writeToken(0, seq, position, new Float32Array(2), new Float32Array(2)), 'IN_USE');
    }
    expect([...store.keys(0)]).toEqual(before);
    store.writeToken(0, second, 2, new Float32Array([9, 9]), new Float32Array([9, 9])); // its pending position
  });
});

describe('16-bit conversions', () => {
  it('round-trips values exactly representable in float16 and bfloat16', () => {
    for (const value of [0, 1, -2, 0.5, 65504, 2 ** -24, -(2 ** -14), 1.5]) {
      expect(fromFloat16(toFloat16(value))).toBe(value);
    }
    for (const value of [0, 1, -2, 0.5, 2 ** 100, 2 ** -126, -1.5]) expect(fromBfloat16(toBfloat16(value))).toBe(value);
  });

  it('rounds to nearest even and saturates to infinity', () => {
    expect(fromFloat16(toFloat16(1 + 2 ** -11))).toBe(1); // tie: even
    expect(fromFloat16(toFloat16(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9); // tie: even up
    expect(fromFloat16(toFloat16(1e6))).toBe(Infinity);
    expect(fromFloat16(toFloat16(-1e6))).toBe(-Infinity);
    expect(fromFloat16(toFloat16(2 ** -30))).toBe(0);
    expect(Number.isNaN(fromFloat16(toFloat16(Number.NaN)))).toBe(true);
    expect(Number.isNaN(fromBfloat16(toBfloat16(Number.NaN)))).toBe(true);
    expect(fromBfloat16(toBfloat16(1 + 2 ** -8))).toBe(1);
  });

  it('keeps every float16 value when converting from its float32 value', () => {
    for (let bits = 0; bits < 65536; bits += 1) {
      const value = fromFloat16(bits);
      if (Number.isNaN(value)) continue;
      expect(toFloat16(value)).toBe(bits);
    }
  });
});
