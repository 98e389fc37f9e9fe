/**
 * Attention on the CPU, reading K and V through a sequence's block table, with grouped-query
 * attention (query head `q` reads KV head `floor(q / (numQueryHeads / numKvHeads))`): for one query
 * token (decode), or for a chunk of consecutive query tokens with a causal mask (prefill).
 *
 * It computes `softmax(q . K^T * scale) . V` over positions `0 .. length - 1`. Over a store that
 * runs the WebAssembly SIMD128 kernels (`store.stats().kernel`), in float32 with an online softmax
 * (a running max per query head); elsewhere in JavaScript with float64 accumulators, paying one
 * block-table read per block and head. The two agree within the tolerance the README gives. The
 * contiguous reference the JavaScript kernel is checked against lives at `@mem/paged-kv/reference`.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, assertInteger, invalidArgument } from '@mem/types';
import {
  accumulateRun,
  accumulator,
  checkAttention,
  decode,
  keySlab,
  scoreRun,
  scores,
  scratch,
  valueSlab,
  type AttentionOptions,
  type Checked,
} from './attention-kernel.js';
import { KvStore, checkBlockTable, type KvArray, type KvDecoder } from './kv-store.js';
import type { BlockTableView } from './paged-sequence.js';

export type { AttentionOptions } from './attention-kernel.js';

/**
 * Attention of one query token over positions `0 .. length - 1` of `sequence` in `layer` of
 * `store`, reading K and V through the block table. `query` holds `numQueryHeads * headDim`
 * elements (head-major); returns the outputs in the same layout.
 *
 * Cost: O(numQueryHeads * length * headDim); no allocation when `options.out` is given (scratch
 * is kept between calls). The WebAssembly kernels convert 16-bit storage as they read it; the
 * JavaScript kernels decode each (block, head) slab before use.
 * @throws MemError INVALID_ARGUMENT for a bad store, layer, sequence, length (1 ..
 * blockCount * blockSize), query, head count (a multiple of the KV heads), scale or out.
 * @throws MemError USE_AFTER_RELEASE if `sequence` was released.
 *
 * @example
 * ```ts
 * import { KvCacheManager, KvStore, pagedAttention } from '@mem/paged-kv';
 * const store = new KvStore({ numLayers: 1, numBlocks: 8, numKvHeads: 1, blockSize: 4, headDim: 2 });
 * const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
 * const seq = kv.createSequence({ tokens: [1, 2, 3] });
 * kv.admit(seq);
 * for (let p = 0; p < 3; p += 1) store.writeToken(0, seq, p, new Float32Array([p, 1]), new Float32Array([p, p]));
 * const out = pagedAttention(store, 0, seq, 3, new Float32Array([1, 0, 0, 1]), { numQueryHeads: 2 });
 * ```
 */
export function pagedAttention(
  store: KvStore,
  layer: number,
  sequence: BlockTableView,
  length: number,
  query: Float32Array,
  options: AttentionOptions,
): Float32Array {
  if (!(store instanceof KvStore)) {
    throw invalidArgument('store', store, 'a KvStore');
  }
  const keys = store.keys(layer);
  const values = store.values(layer);
  const table = checkBlockTable(sequence, store.blockSize, store.numBlocks);
  const { numKvHeads, headDim, blockSize } = store;
  const checked = checkAttention(
    query,
    options,
    numKvHeads,
    headDim,
    length,
    Math.max(1, sequence.blockCount * blockSize),
  );
  if (sequence.blockCount === 0) {
    throw new MemError('INVALID_ARGUMENT', 'the sequence has no block: nothing to attend to');
  }
  const { out, scale } = checked;
  const kernel = store.kernel();
  if (kernel === null || !kernel.attend(layer, table, 1, length, query, out.length / headDim, scale, out)) {
    attendPaged(keys, values, store.decoder(), table, store, length, query, checked, 0);
  }
  return out;
}

/**
 * Attention of `rows` consecutive query tokens of a prefill chunk, with a causal mask: row `r`
 * (at position `firstPosition + r`) attends positions `0 .. firstPosition + r` of `sequence` in
 * `layer` of `store`, through the block table, so the chunk's own K/V must be written first.
 * `queries` holds `rows * numQueryHeads * headDim` elements (row-major, head-major within a row);
 * returns the outputs in the same layout. Each row's output equals {@link pagedAttention} of that
 * row with `length = firstPosition + r + 1`, within the kernels' tolerance; the WebAssembly
 * kernels read each K/V block once for all the rows and heads that share it.
 *
 * Cost: O(numQueryHeads * rows * (firstPosition + rows) * headDim); no allocation when
 * `options.out` is given.
 * @throws MemError INVALID_ARGUMENT for a bad store, layer, sequence, position or row count (the
 * last row's position must have a slot: below blockCount * blockSize), queries, head count (a
 * multiple of the KV heads), scale or out.
 * @throws MemError USE_AFTER_RELEASE if `sequence` was released.
 *
 * @example
 * ```ts
 * import { KvCacheManager, KvStore, pagedPrefillAttention } from '@mem/paged-kv';
 * const store = new KvStore({ numLayers: 1, numBlocks: 8, numKvHeads: 1, blockSize: 4, headDim: 4 });
 * const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4 });
 * const seq = kv.createSequence({ tokens: [1, 2, 3, 4, 5] });
 * kv.admit(seq);
 * for (let p = 0; p < 5; p += 1) store.writeToken(0, seq, p, new Float32Array(4).fill(p), new Float32Array(4).fill(p));
 * // 5 rows (positions 0..4), 2 query heads of 4 elements each
 * const out = pagedPrefillAttention(store, 0, seq, 0, 5, new Float32Array(5 * 2 * 4).fill(0.5), { numQueryHeads: 2 });
 * ```
 */
export function pagedPrefillAttention(
  store: KvStore,
  layer: number,
  sequence: BlockTableView,
  firstPosition: number,
  rows: number,
  queries: Float32Array,
  options: AttentionOptions,
): Float32Array {
  if (!(store instanceof KvStore)) {
    throw invalidArgument('store', store, 'a KvStore');
  }
  const keys = store.keys(layer);
  const values = store.values(layer);
  const table = checkBlockTable(sequence, store.blockSize, store.numBlocks);
  const { numKvHeads, headDim, blockSize } = store;
  const slots = sequence.blockCount * blockSize;
  assertInteger(firstPosition, 'firstPosition', { min: 0, max: Math.max(0, slots - 1) });
  assertInteger(rows, 'rows', { min: 1, max: Math.max(1, slots - firstPosition) });
  const checked = checkAttention(queries, options, numKvHeads, headDim, 1, 1, rows);
  if (sequence.blockCount === 0) {
    throw new MemError('INVALID_ARGUMENT', 'the sequence has no block: nothing to attend to');
  }
  const { out, scale } = checked;
  const heads = out.length / rows / headDim;
  const kernel = store.kernel();
  if (kernel === null || !kernel.attend(layer, table, rows, firstPosition + 1, queries, heads, scale, out)) {
    const decoder = store.decoder();
    for (let r = 0; r < rows; r += 1) {
      attendPaged(keys, values, decoder, table, store, firstPosition + r + 1, queries, checked, r * heads * headDim);
    }
  }
  return out;
}

/**
 * Hot path of the JavaScript kernel: per query head of the row whose query and output start at
 * `row`, the scores block by block through `table`, the softmax, the weighted sum of the values
 * block by block. Over 16-bit storage (a `decoder`) each (block, head) slab is decoded into float32
 * scratch first; over float32 it is read in place.
 */
function attendPaged(
  keys: KvArray,
  values: KvArray,
  decoder: KvDecoder | null,
  table: Uint32Array,
  store: KvStore,
  length: number,
  query: Float32Array,
  { out, scale, group, rows }: Checked,
  row: number,
): void {
  const { numKvHeads, headDim, blockSize } = store;
  const slab = blockSize * headDim;
  scratch(length, headDim, decoder === null ? 0 : slab);
  const heads = out.length / rows / headDim;
  const s = scores;
  const acc = accumulator;
  for (let qh = 0; qh < heads; qh += 1) {
    const kvh = (qh / group) | 0;
    const qBase = row + qh * headDim;
    let max = -Infinity;
    for (let b = 0, position = 0; position < length; b += 1, position += blockSize) {
      const count = Math.min(blockSize, length - position);
      const at = (table[b]! * numKvHeads + kvh) * slab;
      if (decoder === null) {
        max = scoreRun(query, qBase, keys as Float32Array, at, count, headDim, scale, s, position, max);
      } else {
        const decoded = decode(decoder, keys as Uint16Array, at, count * headDim, keySlab);
        max = scoreRun(query, qBase, decoded, 0, count, headDim, scale, s, position, max);
      }
    }
    let sum = 0;
    for (let j = 0; j < length; j += 1) {
      const e = Math.exp(s[j]! - max);
      s[j] = e;
      sum += e;
    }
    acc.fill(0, 0, headDim);
    for (let b = 0, position = 0; position < length; b += 1, position += blockSize) {
      const count = Math.min(blockSize, length - position);
      const at = (table[b]! * numKvHeads + kvh) * slab;
      if (decoder === null) {
        accumulateRun(acc, s, position, values as Float32Array, at, count, headDim);
      } else {
        const decoded = decode(decoder, values as Uint16Array, at, count * headDim, valueSlab);
        accumulateRun(acc, s, position, decoded, 0, count, headDim);
      }
    }
    for (let d = 0; d < headDim; d += 1) out[qBase + d] = acc[d]! / sum;
  }
}
