/**
 * Attention of one query over keys and values stored contiguously, position after position: the
 * plain layout a serving engine without paging uses, kept here as the reference the paged path is
 * checked against.
 *
 * Runs in Node and browsers.
 * @module
 */

/** Head layout of an attention call. */
export interface HeadLayout {
  /** Query heads. */
  readonly headCount: number;
  /** Key/value heads (each serves `headCount / kvHeadCount` query heads). */
  readonly kvHeadCount: number;
  /** Width of a head. */
  readonly headDim: number;
}

/**
 * Writes into `out` (at `outOffset`, `headCount * headDim` floats) the softmax attention of the
 * query at `queryOffset` over positions `0..length-1` of `keys`/`values`, laid out
 * `[position][kvHeadCount * headDim]`. `scores` holds at least `length` entries.
 * Cost: O(length * headCount * headDim).
 */
export function attendContiguous(
  out: Float32Array,
  outOffset: number,
  query: Float32Array,
  queryOffset: number,
  keys: Float32Array,
  values: Float32Array,
  length: number,
  layout: HeadLayout,
  scores: Float64Array,
): void {
  const { headCount, kvHeadCount, headDim } = layout;
  const group = headCount / kvHeadCount;
  const kvStride = kvHeadCount * headDim;
  const scale = 1 / Math.sqrt(headDim);
  for (let h = 0; h < headCount; h++) {
    const qBase = queryOffset + h * headDim;
    const kvHeadBase = Math.floor(h / group) * headDim;
    let max = -Infinity;
    for (let p = 0; p < length; p++) {
      const kBase = p * kvStride + kvHeadBase;
      let dot = 0;
      for (let d = 0; d < headDim; d++) dot += query[qBase + d]! * keys[kBase + d]!;
      const score = dot * scale;
      scores[p] = score;
      if (score > max) max = score;
    }
    let total = 0;
    for (let p = 0; p < length; p++) {
      const weight = Math.exp(scores[p]! - max);
      scores[p] = weight;
      total += weight;
    }
    const oBase = outOffset + h * headDim;
    for (let d = 0; d < headDim; d++) {
      let sum = 0;
      for (let p = 0; p < length; p++) sum += scores[p]! * values[p * kvStride + kvHeadBase + d]!;
      out[oBase + d] = sum / total;
    }
  }
}
