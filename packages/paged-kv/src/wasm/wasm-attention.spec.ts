/**
 * The WebAssembly SIMD128 kernels against the JavaScript kernels: the same K/V in two stores (one
 * `kernels: 'auto'`, one `kernels: 'js'`), over head dims 32 to 256, GQA ratios 1 to 8, lengths
 * that end mid-block, forks and prefix hits sharing blocks, float32 and 16-bit storage; decode and
 * causal prefill; the choice of kernels in stats; a shared store attended from a worker.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runWorker } from '@mem/testkit';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { seededRandom } from '@mem/testkit/seeded-random';
import { KvCacheManager } from '../kv-cache-manager.js';
import type { KvSequence } from '../kv-sequence.js';
import type { KvDType } from '../kv-store-layout.js';
import { KvStore, type KvStoreOptions } from '../kv-store.js';
import { pagedAttention, pagedPrefillAttention } from '../paged-attention.js';
import { fallbackScenario } from './kernel-fallback.test-helper.js';

/** The documented tolerance: the largest difference from the float64 JavaScript kernels, for |V| <= 1. */
const TOLERANCE = 1e-5;

function maxDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i += 1) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(max) ? Infinity : max;
}

interface Twins {
  readonly wasm: KvStore;
  readonly js: KvStore;
  readonly sequences: KvSequence[];
}

/**
 * Two stores with the same contents: a parent sequence whose length ends mid-block, a request that
 * shares its prefix through the prefix cache, and a fork of the parent that diverges after a
 * copy-on-write of the shared partial block.
 */
function twins(options: KvStoreOptions, prompt: number, seed: number): Twins {
  const wasm = new KvStore({ ...options, kernels: 'auto' });
  const js = new KvStore({ ...options, kernels: 'js' });
  const { numBlocks, blockSize, numKvHeads, headDim } = options;
  const kv = new KvCacheManager({
    numBlocks,
    blockSize,
    copyBlock: (source, target) => {
      wasm.copyBlock(source, target);
      js.copyBlock(source, target);
    },
  });
  const random = seededRandom(seed);
  const k = new Float32Array(numKvHeads * headDim);
  const v = new Float32Array(numKvHeads * headDim);
  const compute = (sequence: KvSequence): void => {
    const start = kv.reserve(sequence);
    for (let p = start; p < sequence.tokenCount; p += 1) {
      for (let layer = 0; layer < options.numLayers; layer += 1) {
        for (let i = 0; i < k.length; i += 1) {
          k[i] = random() * 2 - 1;
          v[i] = random() * 2 - 1;
        }
        wasm.writeToken(layer, sequence, p, k, v);
        js.writeToken(layer, sequence, p, k, v);
      }
    }
    kv.markComputed(sequence, sequence.pendingTokens);
  };
  const prefix = Array.from({ length: prompt }, (_, i) => i + 1);
  const parent = kv.createSequence({ tokens: prefix });
  kv.admit(parent);
  compute(parent);
  const sharer = kv.createSequence({ tokens: [...prefix.slice(0, prompt - 3), 7, 8, 9, 10, 11] });
  kv.admit(sharer);
  compute(sharer);
  const child = kv.fork(parent);
  kv.appendTokens(child, [900, 901, 902]);
  compute(child);
  kv.appendTokens(parent, [42]);
  compute(parent);
  return { wasm, js, sequences: [parent, sharer, child] };
}

describe('the WebAssembly attention kernels', () => {
  it('pagedAttention equals the JavaScript kernels within 1e-5 over head dims 32-256, GQA 1-8, mid-block lengths, shared blocks and 16-bit storage', () => {
    let worst = 0;
    let cases = 0;
    const dtypes: KvDType[] = ['float32', 'float16', 'bfloat16'];
    for (const headDim of [32, 64, 96, 128, 256]) {
      for (const group of [1, 2, 3, 4, 8]) {
        const dtype = dtypes[cases % 3]!;
        const blockSize = [16, 5, 32][cases % 3]!;
        const numKvHeads = 2;
        const options = { numLayers: 2, numBlocks: 96, numKvHeads, blockSize, headDim, dtype };
        const { wasm, js, sequences } = twins(options, 37 + 13 * (cases % 5), cases + 1);
        expect(wasm.stats().kernel).toBe('wasm-simd128');
        const random = seededRandom(1000 + cases);
        const numQueryHeads = numKvHeads * group;
        const query = new Float32Array(numQueryHeads * headDim).map(() => random() * 2 - 1);
        for (const sequence of sequences) {
          for (const length of [1, blockSize - 1, blockSize + 1, sequence.tokenCount]) {
            if (length < 1 || length > sequence.tokenCount) continue;
            const ours = pagedAttention(wasm, 1, sequence, length, query, { numQueryHeads });
            const reference = pagedAttention(js, 1, sequence, length, query, { numQueryHeads });
            worst = Math.max(worst, maxDifference(ours, reference));
          }
        }
        cases += 1;
      }
    }
    expect(cases).toBe(25);
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
  });

  it('pagedPrefillAttention gives each row what pagedAttention gives it, and equals the JavaScript kernels', () => {
    for (const [headDim, group, blockSize, dtype] of [
      [64, 4, 16, 'float32'],
      [32, 1, 7, 'bfloat16'],
      [128, 8, 16, 'float16'],
    ] as const) {
      const numKvHeads = 2;
      const options = { numLayers: 1, numBlocks: 64, numKvHeads, blockSize, headDim, dtype };
      const { wasm, js, sequences } = twins(options, 150, headDim);
      const numQueryHeads = numKvHeads * group;
      const random = seededRandom(headDim);
      const [sequence] = sequences;
      const rows = 70;
      const first = sequence!.tokenCount - rows - 3; // mid-block, not at position 0
      const width = numQueryHeads * headDim;
      const queries = new Float32Array(rows * width).map(() => random() * 2 - 1);
      const ours = pagedPrefillAttention(wasm, 0, sequence!, first, rows, queries, { numQueryHeads });
      const reference = pagedPrefillAttention(js, 0, sequence!, first, rows, queries, { numQueryHeads });
      expect(maxDifference(ours, reference)).toBeLessThanOrEqual(TOLERANCE);
      for (const r of [0, 1, 33, rows - 1]) {
        const query = queries.slice(r * width, (r + 1) * width);
        const row = pagedAttention(wasm, 0, sequence!, first + r + 1, query, { numQueryHeads });
        expect(ours.slice(r * width, (r + 1) * width)).toEqual(row);
        const jsRow = pagedAttention(js, 0, sequence!, first + r + 1, query, { numQueryHeads });
        expect(reference.slice(r * width, (r + 1) * width)).toEqual(jsRow);
      }
    }
  });

  it('walks a block table longer than the kernel table area in chunks', () => {
    // 5,000 blocks of one token: the table is copied into the scratch slot 4,096 entries at a time.
    const options = { numLayers: 1, numBlocks: 5200, numKvHeads: 1, blockSize: 1, headDim: 4 };
    const { wasm, js, sequences } = twins(options, 5000, 5);
    const query = Float32Array.of(0.5, -0.25, 1, 0.75, -1, 0.5, 0.25, -0.5);
    const [sequence] = sequences;
    const ours = pagedAttention(wasm, 0, sequence!, sequence!.tokenCount, query, { numQueryHeads: 2 });
    const reference = pagedAttention(js, 0, sequence!, sequence!.tokenCount, query, { numQueryHeads: 2 });
    expect(maxDifference(ours, reference)).toBeLessThanOrEqual(TOLERANCE);
  });

  it('keeps the softmax finite when scores are large, as the running max requires', () => {
    const options = { numLayers: 1, numBlocks: 32, numKvHeads: 1, blockSize: 16, headDim: 32 };
    const { wasm, js, sequences } = twins(options, 100, 9);
    const query = new Float32Array(32).fill(40); // scores in the hundreds
    const ours = pagedAttention(wasm, 0, sequences[0]!, 100, query, { numQueryHeads: 1, scale: 1 });
    const reference = pagedAttention(js, 0, sequences[0]!, 100, query, { numQueryHeads: 1, scale: 1 });
    expect(ours.every(Number.isFinite)).toBe(true);
    expect(maxDifference(ours, reference)).toBeLessThanOrEqual(1e-4);
  });
});

describe('the choice of kernels', () => {
  const layout = { numLayers: 1, numBlocks: 4, numKvHeads: 1, blockSize: 4, headDim: 8 };

  it('KvStore.stats reports the WebAssembly kernels over a WebAssembly.Memory, and the JavaScript kernels with the reason', () => {
    const store = new KvStore(layout);
    expect(store.stats()).toMatchObject({ kernel: 'wasm-simd128', fallbackReason: null, byteLength: 1024 });
    expect(store.memory.kind).toBe('wasm-memory');
    expect(store.stats().memoryBytes).toBeGreaterThanOrEqual(1024 + 262144);
    const js = new KvStore({ ...layout, kernels: 'js' });
    expect(js.stats()).toEqual({
      kernel: 'js',
      fallbackReason: "the store was made with kernels: 'js'",
      busyFallbacks: 0,
      byteLength: 1024,
      memoryBytes: 1024,
    });
    expect(js.memory.kind).toBe('array-buffer');
    const odd = new KvStore({ ...layout, headDim: 6 });
    expect(odd.stats().kernel).toBe('js');
    expect(odd.stats().fallbackReason).toContain('multiple of 4');
    expect(JSON.parse(JSON.stringify(store.stats()))).toEqual(store.stats());
  });

  it('KvStore.stats throws USE_AFTER_RELEASE after close; new KvStore throws INVALID_ARGUMENT for an unknown kernels option', () => {
    const store = new KvStore(layout);
    store.close();
    expectMemError(() => store.stats(), 'USE_AFTER_RELEASE');
    expectMemError(() => new KvStore({ ...layout, kernels: 'gpu' as never }), 'INVALID_ARGUMENT');
    expectMemError(() => KvStore.createShared({ ...layout, kernels: 1 as never }), 'INVALID_ARGUMENT');
  });

  it('runs the JavaScript kernels for a call that finds every scratch slot of a shared store busy, and counts it', () => {
    const store = KvStore.createShared(layout);
    const js = new KvStore({ ...layout, kernels: 'js' });
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 4 });
    const sequence = kv.createSequence({ tokens: [1, 2, 3, 4, 5] });
    kv.admit(sequence);
    for (let p = 0; p < 5; p += 1) {
      const k = new Float32Array(8).map((_, i) => Math.sin(p + i));
      store.writeToken(0, sequence, p, k, k);
      js.writeToken(0, sequence, p, k, k);
    }
    const query = new Float32Array(16).map((_, i) => Math.cos(i));
    const free = pagedAttention(store, 0, sequence, 5, query, { numQueryHeads: 2 });
    // The 8 lock words sit after the K/V bytes (1,024), 64-byte aligned: hold them all, as 8 busy workers would.
    const locks = new Int32Array(store.memory.buffer, 1024, 8);
    locks.fill(1);
    const busy = pagedAttention(store, 0, sequence, 5, query, { numQueryHeads: 2 });
    locks.fill(0);
    expect(store.stats().busyFallbacks).toBe(1);
    expect(busy).toEqual(pagedAttention(js, 0, sequence, 5, query, { numQueryHeads: 2 }));
    expect(maxDifference(free, busy)).toBeLessThanOrEqual(TOLERANCE);
  });

  // V8 on x64 runs WebAssembly SIMD128 on SSE4.1: without it, the runtime has no SIMD128.
  it.runIf(process.arch === 'x64')(
    'in a runtime without SIMD128, a store runs the JavaScript kernels over an ArrayBuffer and KvStore.stats says why',
    async () => {
      const script = fileURLToPath(new URL('./kernel-fallback.test-worker.ts', import.meta.url));
      const args = ['--no-enable-sse4-1', '--conditions=@mem/source', '--import', 'tsx', script];
      const { stdout } = await promisify(execFile)(process.execPath, args);
      const child = JSON.parse(stdout) as { stats: unknown; kind: string; out: number[] };
      expect(child.stats).toMatchObject({ kernel: 'js', fallbackReason: 'this runtime has no WebAssembly SIMD128' });
      expect(child.kind).toBe('array-buffer');
      const js = new KvStore({ ...fallbackScenario.layout, kernels: 'js' });
      const kv = new KvCacheManager({ numBlocks: 8, blockSize: 16 });
      const { sequence, query } = fallbackScenario.fill(js, kv);
      expect(child.out).toEqual([...pagedAttention(js, 0, sequence, 40, query, { numQueryHeads: 4 })]);
    },
  );

  it('a worker attached to a shared store runs the WebAssembly kernels over the same memory', async () => {
    const store = KvStore.createShared({ ...layout, dtype: 'bfloat16' });
    const descriptor = store.descriptor();
    expect(descriptor.memory).toBeInstanceOf(WebAssembly.Memory);
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 4 });
    const sequence = kv.createSequence({ tokens: [1, 2, 3, 4, 5, 6, 7] });
    kv.admit(sequence);
    for (let p = 0; p < 7; p += 1) {
      const k = new Float32Array(8).map((_, i) => Math.sin(3 * p + i));
      store.writeToken(
        0,
        sequence,
        p,
        k,
        k.map((x) => -x),
      );
    }
    const query = new Float32Array(16).map((_, i) => Math.cos(i));
    const table = { blockTable: sequence.blockTable, blockCount: sequence.blockCount, blockSize: 4 };
    const answer = await runWorker<{ kernel: string; out: number[] }>(
      new URL('./wasm-attention.test-worker.ts', import.meta.url),
      { descriptor, table, query },
    );
    expect(answer.kernel).toBe('wasm-simd128');
    expect(answer.out).toEqual([...pagedAttention(store, 0, sequence, 7, query, { numQueryHeads: 2 })]);
    store.close();
  });
});

describe('pagedPrefillAttention bad input', () => {
  const store = new KvStore({ numLayers: 1, numBlocks: 4, numKvHeads: 1, blockSize: 4, headDim: 4 });
  const kv = new KvCacheManager({ numBlocks: 4, blockSize: 4 });
  const sequence = kv.createSequence({ tokens: [1, 2, 3, 4, 5] });
  kv.admit(sequence);
  const queries = new Float32Array(2 * 4);
  const options = { numQueryHeads: 1 };

  it('pagedPrefillAttention throws INVALID_ARGUMENT for a bad store, layer, position, row count, queries or options, and keeps working', () => {
    for (const call of [
      () => pagedPrefillAttention({} as never, 0, sequence, 0, 2, queries, options),
      () => pagedPrefillAttention(store, 1, sequence, 0, 2, queries, options),
      () => pagedPrefillAttention(store, 0, sequence, -1, 2, queries, options),
      () => pagedPrefillAttention(store, 0, sequence, 7, 2, queries, options), // the last row has no slot
      () => pagedPrefillAttention(store, 0, sequence, 0.5, 2, queries, options),
      () => pagedPrefillAttention(store, 0, sequence, 0, 0, queries, options),
      () => pagedPrefillAttention(store, 0, sequence, 0, Number.NaN, queries, options),
      () => pagedPrefillAttention(store, 0, sequence, 0, 3, queries, options), // queries of 2 rows
      () => pagedPrefillAttention(store, 0, sequence, 0, 2, new Float64Array(8) as never, options),
      () => pagedPrefillAttention(store, 0, sequence, 0, 2, queries, { numQueryHeads: 0 }),
      () => pagedPrefillAttention(store, 0, sequence, 0, 2, queries, { numQueryHeads: 1, out: new Float32Array(4) }),
      () =>
        pagedPrefillAttention(
          store,
          0,
          { blockTable: [0], blockCount: 1, blockSize: 4 } as never,
          0,
          2,
          queries,
          options,
        ),
    ]) {
      expectMemError(call, 'INVALID_ARGUMENT');
    }
    expect(pagedPrefillAttention(store, 0, sequence, 0, 2, queries, options)).toHaveLength(8);
  });

  it('pagedPrefillAttention throws USE_AFTER_RELEASE for a released sequence', () => {
    const other = kv.createSequence({ tokens: [1, 2] });
    kv.admit(other);
    other.release();
    expectMemError(
      () => pagedPrefillAttention(store, 0, other, 0, 1, new Float32Array(4), options),
      'USE_AFTER_RELEASE',
    );
  });
});
