/**
 * Plain attention over contiguous K/V (`[kvHead][position][dim]`), and a gather from the paged
 * store into that layout: the reference `pagedAttention` is checked and measured against.
 * Both share their loops with `pagedAttention`'s JavaScript kernels, so over float32 storage those
 * agree with it to the last bit (the WebAssembly kernels within 1e-5).
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, assertInteger, describeValue, invalidArgument } from '@mem/types';
import {
  accumulateRun,
  accumulator,
  checkAttention,
  scoreRun,
  scores,
  scratch,
  type AttentionOptions,
} from '../attention-kernel.js';
import { KvStore, checkBlockTable } from '../kv-store.js';
import type { BlockTableView } from '../paged-sequence.js';

/** Contiguous K and V of one layer and one sequence: `[kvHead][position][dim]`, float32. */
export interface ContiguousKv {
  /** Keys, `numKvHeads * maxLength * headDim` elements. */
  readonly keys: Float32Array;
  /** Values, laid out as `keys`. */
  readonly values: Float32Array;
  /** KV heads. */
  readonly numKvHeads: number;
  /** Elements per head. */
  readonly headDim: number;
  /** Positions per head in the arrays (the reserved length). */
  readonly maxLength: number;
}

function checkContiguous(kv: ContiguousKv): void {
  const candidate = kv as Partial<ContiguousKv> | null;
  if (candidate === null || typeof candidate !== 'object') {
    throw new MemError('INVALID_ARGUMENT', `kv must be a ContiguousKv object, got ${describeValue(kv)}`);
  }
  const numKvHeads = assertInteger(candidate.numKvHeads, 'kv.numKvHeads', { min: 1, max: 4096 });
  const headDim = assertInteger(candidate.headDim, 'kv.headDim', { min: 1, max: 65536 });
  const maxLength = assertInteger(candidate.maxLength, 'kv.maxLength', { min: 1 });
  const size = numKvHeads * maxLength * headDim;
  for (const name of ['keys', 'values'] as const) {
    const array = candidate[name];
    if (!(array instanceof Float32Array) || array.length < size) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `kv.${name} must be a Float32Array of at least numKvHeads * maxLength * headDim = ${size} elements, got ${describeValue(array)}`,
      );
    }
  }
}

/**
 * Plain attention of one query token over positions `0 .. length - 1` of contiguous K/V
 * (`[kvHead][position][dim]`), with grouped-query attention: the reference the paged version is
 * checked and measured against.
 * Cost: O(numQueryHeads * length * headDim).
 * @throws MemError INVALID_ARGUMENT for a malformed `kv`, length, query or options.
 *
 * @example
 * ```ts
 * import { contiguousAttention } from '@mem/paged-kv/reference';
 * const kv = { keys: new Float32Array([1, 0, 0, 1]), values: new Float32Array([1, 2, 3, 4]), numKvHeads: 1, headDim: 2, maxLength: 2 };
 * contiguousAttention(kv, 2, new Float32Array([1, 0]), { numQueryHeads: 1 });
 * ```
 */
export function contiguousAttention(
  kv: ContiguousKv,
  length: number,
  query: Float32Array,
  options: AttentionOptions,
): Float32Array {
  checkContiguous(kv);
  const { keys, values, numKvHeads, headDim, maxLength } = kv;
  const { out, scale, group } = checkAttention(query, options, numKvHeads, headDim, length, maxLength);
  scratch(length, headDim, 0);
  const heads = out.length / headDim;
  const s = scores;
  const acc = accumulator;
  for (let qh = 0; qh < heads; qh += 1) {
    const kvh = (qh / group) | 0;
    const qBase = qh * headDim;
    const headBase = kvh * maxLength * headDim;
    const max = scoreRun(query, qBase, keys, headBase, length, headDim, scale, s, 0, -Infinity);
    let sum = 0;
    for (let j = 0; j < length; j += 1) {
      const e = Math.exp(s[j]! - max);
      s[j] = e;
      sum += e;
    }
    acc.fill(0, 0, headDim);
    accumulateRun(acc, s, 0, values, headBase, length, headDim);
    for (let d = 0; d < headDim; d += 1) out[qBase + d] = acc[d]! / sum;
  }
  return out;
}

/**
 * Copies positions `0 .. length - 1` of `sequence` in `layer` out of the paged store into
 * contiguous float32 arrays (`[kvHead][position][dim]`, `maxLength = length`): for checking and
 * for engines that want a contiguous view.
 * Cost: O(numKvHeads * length * headDim), allocates the arrays.
 * @throws MemError INVALID_ARGUMENT for a bad store, layer, sequence or length.
 * @throws MemError USE_AFTER_RELEASE if `sequence` was released.
 *
 * @example
 * ```ts
 * import { KvCacheManager, KvStore } from '@mem/paged-kv';
 * import { gatherContiguous } from '@mem/paged-kv/reference';
 * const store = new KvStore({ numLayers: 1, numBlocks: 8, numKvHeads: 1, blockSize: 4, headDim: 2 });
 * const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
 * const seq = kv.createSequence({ tokens: [1, 2] });
 * kv.admit(seq);
 * gatherContiguous(store, 0, seq, 2).keys.length; // 4
 * ```
 */
export function gatherContiguous(
  store: KvStore,
  layer: number,
  sequence: BlockTableView,
  length: number,
): ContiguousKv {
  if (!(store instanceof KvStore)) {
    throw invalidArgument('store', store, 'a KvStore');
  }
  store.keys(layer);
  checkBlockTable(sequence, store.blockSize, store.numBlocks);
  assertInteger(length, 'length', { min: 1, max: Math.max(1, sequence.blockCount * store.blockSize) });
  const { numKvHeads, headDim } = store;
  const keys = new Float32Array(numKvHeads * length * headDim);
  const values = new Float32Array(numKvHeads * length * headDim);
  const k = new Float32Array(numKvHeads * headDim);
  const v = new Float32Array(numKvHeads * headDim);
  for (let position = 0; position < length; position += 1) {
    store.readToken(layer, sequence, position, k, v);
    for (let h = 0; h < numKvHeads; h += 1) {
      keys.set(k.subarray(h * headDim, (h + 1) * headDim), (h * length + position) * headDim);
      values.set(v.subarray(h * headDim, (h + 1) * headDim), (h * length + position) * headDim);
    }
  }
  return { keys, values, numKvHeads, headDim, maxLength: length };
}
