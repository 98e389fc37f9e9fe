/**
 * Reference attention on the CPU for one query token: paged (reading K and V through a sequence's
 * block table) and contiguous (over `[kvHead][position][dim]` arrays), both with grouped-query
 * attention (query head `q` reads KV head `floor(q / (numQueryHeads / numKvHeads))`).
 *
 * Both compute `softmax(q . K^T * scale) . V` over positions `0 .. length - 1` in float64
 * accumulators with the same order of operations, so over float32 storage they agree to the last
 * bit; the paged version pays only one block-table read per block and head. For a causal prefill,
 * call it per query token with `length = position + 1`.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, assertInteger, describeValue, invalidArgument } from '@mem/types';
import { KvStore, checkBlockTable, type KvArray, type KvDecoder } from './kv-store.js';
import type { BlockTableView } from './paged-sequence.js';

/** Options of {@link pagedAttention} and {@link contiguousAttention}. */
export interface AttentionOptions {
  /** Query heads: a multiple of the KV heads. */
  readonly numQueryHeads: number;
  /** Score scale. @defaultValue 1 / sqrt(headDim) */
  readonly scale?: number;
  /** Where to write the `numQueryHeads * headDim` outputs. @defaultValue a new Float32Array */
  readonly out?: Float32Array;
}

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

let scores = new Float64Array(1024);
let accumulator = new Float64Array(128);
let keySlab = new Float32Array(0);
let valueSlab = new Float32Array(0);

/** Grows the scratch arrays for `length` positions, `headDim` elements and 16-bit slabs of `slab` elements. */
function scratch(length: number, headDim: number, slab: number): void {
  if (scores.length < length) scores = new Float64Array(Math.max(length, scores.length * 2));
  if (accumulator.length < headDim) accumulator = new Float64Array(headDim);
  if (keySlab.length < slab) {
    keySlab = new Float32Array(slab);
    valueSlab = new Float32Array(slab);
  }
}

interface Checked {
  readonly out: Float32Array;
  readonly scale: number;
  readonly group: number;
}

function checkAttention(
  query: Float32Array,
  options: AttentionOptions,
  numKvHeads: number,
  headDim: number,
  length: number,
  maxLength: number,
): Checked {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('options', options, 'an object with numQueryHeads');
  }
  const heads = assertInteger(options.numQueryHeads, 'options.numQueryHeads', { min: 1, max: 1 << 16 });
  if (heads % numKvHeads !== 0) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `options.numQueryHeads (${heads}) must be a multiple of the KV heads (${numKvHeads}) for grouped-query attention`,
    );
  }
  assertInteger(length, 'length', { min: 1, max: maxLength });
  const size = heads * headDim;
  if (!(query instanceof Float32Array) || query.length !== size) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `query must be a Float32Array of numQueryHeads * headDim = ${size} elements, got ${describeValue(query)}${query instanceof Float32Array ? ` of ${query.length}` : ''}`,
    );
  }
  const scale = options.scale ?? 1 / Math.sqrt(headDim);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw invalidArgument('options.scale', scale, 'a finite number');
  }
  const out = options.out ?? new Float32Array(size);
  if (!(out instanceof Float32Array) || out.length !== size) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `options.out must be a Float32Array of ${size} elements, got ${describeValue(out)}`,
    );
  }
  return { out, scale, group: heads / numKvHeads };
}

/**
 * Attention of one query token over positions `0 .. length - 1` of `sequence` in `layer` of
 * `store`, reading K and V through the block table. `query` holds `numQueryHeads * headDim`
 * elements (head-major); returns the outputs in the same layout.
 *
 * Cost: O(numQueryHeads * length * headDim); no allocation when `options.out` is given (scratch
 * is kept between calls). 16-bit stores decode each (block, head) slab before use.
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
  attendPaged(keys, values, store.decoder(), table, store, length, query, checked);
  return checked.out;
}

/**
 * Hot path of {@link pagedAttention}: per query head, the scores block by block through `table`, the
 * softmax, the weighted sum of the values block by block. Over 16-bit storage (a `decoder`) each
 * (block, head) slab is decoded into float32 scratch first; over float32 it is read in place.
 */
function attendPaged(
  keys: KvArray,
  values: KvArray,
  decoder: KvDecoder | null,
  table: Uint32Array,
  store: KvStore,
  length: number,
  query: Float32Array,
  { out, scale, group }: Checked,
): void {
  const { numKvHeads, headDim, blockSize } = store;
  const slab = blockSize * headDim;
  scratch(length, headDim, decoder === null ? 0 : slab);
  const heads = out.length / headDim;
  const s = scores;
  const acc = accumulator;
  for (let qh = 0; qh < heads; qh += 1) {
    const kvh = (qh / group) | 0;
    const qBase = qh * headDim;
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

// The two loops over positions that both attentions share: paged attention runs them once per
// block, contiguous attention once per head, in the same order of operations, so over float32
// storage the two agree to the last bit. (The softmax between them stays written out in each
// caller: as a shared function it measured about 7% slower in contiguousAttention.)

/**
 * Scores `count` consecutive positions, whose keys start at `keys[at]` one `headDim` apart, against
 * the query head at `query[qBase]`: `s[position + i] = q . k_i * scale`. Returns the largest score
 * seen, `max` included.
 */
function scoreRun(
  query: Float32Array,
  qBase: number,
  keys: Float32Array,
  at: number,
  count: number,
  headDim: number,
  scale: number,
  s: Float64Array,
  position: number,
  max: number,
): number {
  for (let i = 0; i < count; i += 1) {
    const k = at + i * headDim;
    let dot = 0;
    for (let d = 0; d < headDim; d += 1) dot += query[qBase + d]! * keys[k + d]!;
    dot *= scale;
    s[position + i] = dot;
    if (dot > max) max = dot;
  }
  return max;
}

/**
 * Adds the values of `count` consecutive positions, which start at `values[at]` one `headDim` apart,
 * to `acc`, weighted by `s[position ..]`.
 */
function accumulateRun(
  acc: Float64Array,
  s: Float64Array,
  position: number,
  values: Float32Array,
  at: number,
  count: number,
  headDim: number,
): void {
  for (let i = 0; i < count; i += 1) {
    const v = at + i * headDim;
    const weight = s[position + i]!;
    for (let d = 0; d < headDim; d += 1) acc[d]! += weight * values[v + d]!;
  }
}

/** Decodes `count` 16-bit elements of `source` from `from` into `target`, and returns `target`. */
function decode(
  decoder: KvDecoder,
  source: Uint16Array,
  from: number,
  count: number,
  target: Float32Array,
): Float32Array {
  if (typeof decoder === 'function') for (let i = 0; i < count; i += 1) target[i] = decoder(source[from + i]!);
  else for (let i = 0; i < count; i += 1) target[i] = decoder[source[from + i]!]!;
  return target;
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
 * import { contiguousAttention } from '@mem/paged-kv';
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
 * import { KvCacheManager, KvStore, gatherContiguous } from '@mem/paged-kv';
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
