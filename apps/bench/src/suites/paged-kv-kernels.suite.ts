/**
 * `@mem/paged-kv`'s attention kernels in GFLOP/s, in one process and interleaved: the WebAssembly
 * SIMD128 kernels (a store with the default kernels) against the JavaScript kernels (a store with
 * `kernels: 'js'`) and against the limit, a plain WebAssembly SIMD128 dot-product loop with four
 * f32x4 accumulators over contiguous K and V of the same size, doing the same multiply-adds
 * (`q . k` and `q . v` for every query head and position) without paging or softmax.
 *
 * Cases: decode (one query token) at 1,024 and 8,192 tokens, and a prefill chunk of 256 tokens
 * (causal), with 32 query heads over 8 KV heads of dimension 64, blocks of 16 tokens scattered
 * over the pool. FLOPs count 2 per multiply-add: `4 * heads * dim` per attended position.
 */
import { KvStore, pagedAttention, pagedPrefillAttention } from '@mem/paged-kv';
import { seededRandom } from '@mem/testkit/seeded-random';
import type { BenchContext, BenchImpl, BenchResult, Suite } from '../suite.js';
import { DOT_PRODUCT_LIMIT_WASM } from './dot-product-limit.generated.js';
import { scatteredSequence } from './scattered-sequence.js';

const NUM_QUERY_HEADS = 32;
const NUM_KV_HEADS = 8;
const HEAD_DIM = 64;
const BLOCK_SIZE = 16;
const OURS = '@mem/paged-kv (WebAssembly SIMD128)';
const JS = '@mem/paged-kv (JavaScript kernels)';
const LIMIT = 'limit: plain WebAssembly SIMD128 dot-product loop';

/** The same K/V in a store of each kind, a sequence of `length` tokens over scattered blocks, and contiguous copies for the limit. */
function workload(length: number) {
  const numBlocks = length / BLOCK_SIZE + 64;
  const layout = { numLayers: 1, numBlocks, numKvHeads: NUM_KV_HEADS, blockSize: BLOCK_SIZE, headDim: HEAD_DIM };
  const ours = new KvStore(layout);
  const js = new KvStore({ ...layout, kernels: 'js' });
  if (ours.stats().kernel !== 'wasm-simd128') throw new Error(`no WebAssembly kernels: ${ours.stats().fallbackReason}`);
  const sequence = scatteredSequence(numBlocks, BLOCK_SIZE, length);
  const next = seededRandom(length);
  const width = NUM_KV_HEADS * HEAD_DIM;
  const k = new Float32Array(width);
  const v = new Float32Array(width);
  // The limit's memory: per KV head, `length` contiguous keys then `length` contiguous values; then a query head.
  const headBytes = 2 * length * HEAD_DIM * 4;
  const memory = new WebAssembly.Memory({ initial: Math.ceil((NUM_KV_HEADS * headBytes + 65536) / 65536) });
  const contiguous = new Float32Array(memory.buffer);
  for (let p = 0; p < length; p += 1) {
    for (let i = 0; i < width; i += 1) {
      k[i] = next() * 2 - 1;
      v[i] = next() * 2 - 1;
    }
    ours.writeToken(0, sequence, p, k, v);
    js.writeToken(0, sequence, p, k, v);
    for (let h = 0; h < NUM_KV_HEADS; h += 1) {
      const base = (h * headBytes) / 4;
      contiguous.set(k.subarray(h * HEAD_DIM, (h + 1) * HEAD_DIM), base + p * HEAD_DIM);
      contiguous.set(v.subarray(h * HEAD_DIM, (h + 1) * HEAD_DIM), base + (length + p) * HEAD_DIM);
    }
  }
  return { ours, js, sequence, memory, headBytes, next };
}

/** The limit kernel over `memory`: `dotRows(q, rows, count, dim)` sums `q . row` over `count` rows. */
function limitKernel(memory: WebAssembly.Memory): (q: number, rows: number, count: number, dim: number) => number {
  const binary = atob(DOT_PRODUCT_LIMIT_WASM);
  const module = new WebAssembly.Module(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
  return new WebAssembly.Instance(module, { env: { memory } }).exports.dotRows as (
    q: number,
    rows: number,
    count: number,
    dim: number,
  ) => number;
}

/** Records GFLOP/s of each result of a case that does `flops` per operation, and our ratios to the others. */
function gflops(context: BenchContext, caseName: string, results: readonly BenchResult[], flops: number): void {
  const rate = new Map(results.map((result) => [result.impl, flops / result.nsPerOp]));
  for (const [impl, value] of rate) context.figure(`${caseName}: GFLOP/s`, impl, round(value), 'GFLOP/s');
  context.figure(`${caseName}: ours / limit`, OURS, round(rate.get(OURS)! / rate.get(LIMIT)!), 'x');
  context.figure(`${caseName}: ours / JavaScript kernels`, OURS, round(rate.get(OURS)! / rate.get(JS)!), 'x');
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

async function decode(context: BenchContext, length: number): Promise<void> {
  const { ours, js, sequence, memory, headBytes, next } = workload(length);
  const dotRows = limitKernel(memory);
  const query = new Float32Array(NUM_QUERY_HEADS * HEAD_DIM).map(() => next() * 2 - 1);
  const queryAt = NUM_KV_HEADS * headBytes;
  new Float32Array(memory.buffer, queryAt, HEAD_DIM).set(query.subarray(0, HEAD_DIM));
  const out = new Float32Array(query.length);
  const options = { numQueryHeads: NUM_QUERY_HEADS, out };
  const group = NUM_QUERY_HEADS / NUM_KV_HEADS;
  const caseName = `decode attention, ${length} tokens (${NUM_QUERY_HEADS} q heads, ${NUM_KV_HEADS} kv heads, dim ${HEAD_DIM})`;
  const impls: BenchImpl[] = [
    attend(OURS, () => pagedAttention(ours, 0, sequence, length, query, options)),
    attend(JS, () => pagedAttention(js, 0, sequence, length, query, options)),
    {
      name: LIMIT,
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) {
          for (let h = 0; h < NUM_QUERY_HEADS; h += 1) {
            const head = ((h / group) | 0) * headBytes;
            sum += dotRows(queryAt, head, length, HEAD_DIM) + dotRows(queryAt, head + headBytes / 2, length, HEAD_DIM);
          }
        }
        return sum;
      },
    },
  ];
  const results = await context.compare(caseName, impls, { samples: context.quick ? 10 : 20 });
  gflops(context, caseName, results, 4 * NUM_QUERY_HEADS * length * HEAD_DIM);
  sequence.release();
}

async function prefill(context: BenchContext, rows: number): Promise<void> {
  const { ours, js, sequence, memory, headBytes, next } = workload(rows);
  const dotRows = limitKernel(memory);
  const queries = new Float32Array(rows * NUM_QUERY_HEADS * HEAD_DIM).map(() => next() * 2 - 1);
  const queryAt = NUM_KV_HEADS * headBytes;
  new Float32Array(memory.buffer, queryAt, HEAD_DIM).set(queries.subarray(0, HEAD_DIM));
  const out = new Float32Array(queries.length);
  const options = { numQueryHeads: NUM_QUERY_HEADS, out };
  const group = NUM_QUERY_HEADS / NUM_KV_HEADS;
  const caseName = `prefill chunk of ${rows} tokens, causal (${NUM_QUERY_HEADS} q heads, ${NUM_KV_HEADS} kv heads, dim ${HEAD_DIM})`;
  const impls: BenchImpl[] = [
    attend(OURS, () => pagedPrefillAttention(ours, 0, sequence, 0, rows, queries, options)),
    attend(JS, () => pagedPrefillAttention(js, 0, sequence, 0, rows, queries, options)),
    {
      name: LIMIT,
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) {
          for (let r = 0; r < rows; r += 1) {
            for (let h = 0; h < NUM_QUERY_HEADS; h += 1) {
              const head = ((h / group) | 0) * headBytes;
              sum += dotRows(queryAt, head, r + 1, HEAD_DIM) + dotRows(queryAt, head + headBytes / 2, r + 1, HEAD_DIM);
            }
          }
        }
        return sum;
      },
    },
  ];
  const results = await context.compare(caseName, impls, { samples: context.quick ? 6 : 12 });
  gflops(context, caseName, results, 4 * NUM_QUERY_HEADS * HEAD_DIM * ((rows * (rows + 1)) / 2));
  sequence.release();
}

/** An implementation that runs `call` per iteration and keeps a value of its output. */
function attend(name: string, call: () => Float32Array): BenchImpl {
  return {
    name,
    run(iterations) {
      let sum = 0;
      for (let i = 0; i < iterations; i += 1) sum += call()[0]!;
      return sum;
    },
  };
}

const suite: Suite = {
  name: 'paged-kv-kernels',
  description:
    'paged attention in GFLOP/s: WebAssembly SIMD128 kernels vs the JavaScript kernels vs a dot-product limit',
  async run(context) {
    await decode(context, 1024);
    await decode(context, 8192);
    await prefill(context, 256);
  },
};

export default suite;
