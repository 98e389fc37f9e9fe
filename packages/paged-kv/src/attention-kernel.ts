/**
 * The arithmetic both attentions share: argument checks, scratch arrays kept between calls, and the
 * two loops over positions (scores, then the weighted sum of values). Paged attention's JavaScript
 * kernel runs the loops once per block and contiguous attention once per head, in the same order of
 * operations, so over float32 storage the two agree to the last bit. The softmax between the loops stays written
 * out in each caller (written out twice on purpose: see docs/DESIGN.md, Hot paths).
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, assertInteger, describeValue, invalidArgument } from '@mem/types';
import type { KvDecoder } from './kv-store.js';

/** Options of {@link pagedAttention} (and of the reference `contiguousAttention`). */
export interface AttentionOptions {
  /** Query heads: a multiple of the KV heads. */
  readonly numQueryHeads: number;
  /** Score scale. @defaultValue 1 / sqrt(headDim) */
  readonly scale?: number;
  /** Where to write the `numQueryHeads * headDim` outputs. @defaultValue a new Float32Array */
  readonly out?: Float32Array;
}

export let scores = new Float64Array(1024);
export let accumulator = new Float64Array(128);
export let keySlab = new Float32Array(0);
export let valueSlab = new Float32Array(0);

/** Grows the scratch arrays for `length` positions, `headDim` elements and 16-bit slabs of `slab` elements. */
export function scratch(length: number, headDim: number, slab: number): void {
  if (scores.length < length) scores = new Float64Array(Math.max(length, scores.length * 2));
  if (accumulator.length < headDim) accumulator = new Float64Array(headDim);
  if (keySlab.length < slab) {
    keySlab = new Float32Array(slab);
    valueSlab = new Float32Array(slab);
  }
}

/** What {@link checkAttention} returns. */
export interface Checked {
  readonly out: Float32Array;
  readonly scale: number;
  readonly group: number;
  /** Query rows in `query` and `out`. */
  readonly rows: number;
}

/** Checks the arguments common to the attentions (`rows` query rows of `numQueryHeads * headDim`). */
export function checkAttention(
  query: Float32Array,
  options: AttentionOptions,
  numKvHeads: number,
  headDim: number,
  length: number,
  maxLength: number,
  rows = 1,
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
  const size = rows * heads * headDim;
  if (!(query instanceof Float32Array) || query.length !== size) {
    const name = rows === 1 ? 'query' : 'queries';
    const shape = rows === 1 ? 'numQueryHeads * headDim' : 'rows * numQueryHeads * headDim';
    throw new MemError(
      'INVALID_ARGUMENT',
      `${name} must be a Float32Array of ${shape} = ${size} elements, got ${describeValue(query)}${query instanceof Float32Array ? ` of ${query.length}` : ''}`,
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
  return { out, scale, group: heads / numKvHeads, rows };
}

/**
 * Scores `count` consecutive positions, whose keys start at `keys[at]` one `headDim` apart, against
 * the query head at `query[qBase]`: `s[position + i] = q . k_i * scale`. Returns the largest score
 * seen, `max` included.
 */
export function scoreRun(
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
export function accumulateRun(
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
export function decode(
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
