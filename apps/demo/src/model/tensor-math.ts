/**
 * The arithmetic of the forward pass on Float32Array rows, shared by the paged serving path and the
 * contiguous reference so that both compute every element in the same order and agree bit for bit.
 * Values are accumulated in double precision and rounded once when stored.
 *
 * These are the hot loops of the demo: plain indexed loops over typed arrays, no allocation.
 * Runs in Node and browsers.
 * @module
 */
import { WasmMatmul } from './wasm-matmul.js';

/**
 * `out[r][o] = sum_i x[r][i] * weight[o][i]` for `rows` rows: a batch of row vectors times a
 * row-major `[outDim][inDim]` matrix. Rows start at `xOffset` and `outOffset` with strides
 * `inDim` and `outDim`. A weight placed in a {@link WasmMatmul}'s memory runs on its WebAssembly
 * SIMD128 kernel (float32 lanes); any other on the loop below (float64 accumulator).
 */
export function matmulRows(
  out: Float32Array,
  outOffset: number,
  x: Float32Array,
  xOffset: number,
  rows: number,
  weight: Float32Array,
  outDim: number,
  inDim: number,
): void {
  const kernel = WasmMatmul.of(weight);
  if (kernel !== undefined && kernel.multiply(out, outOffset, x, xOffset, rows, weight, outDim, inDim)) return;
  for (let r = 0; r < rows; r++) {
    const xBase = xOffset + r * inDim;
    const outBase = outOffset + r * outDim;
    for (let o = 0; o < outDim; o++) {
      const wBase = o * inDim;
      let sum = 0;
      for (let i = 0; i < inDim; i++) sum += x[xBase + i]! * weight[wBase + i]!;
      out[outBase + o] = sum;
    }
  }
}

/** `out[r] = x[r] / rms(x[r]) * gainVector` for `rows` rows of width `dim`. */
export function rmsNormRows(
  out: Float32Array,
  x: Float32Array,
  rows: number,
  dim: number,
  gainVector: Float32Array,
  epsilon: number,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    let squares = 0;
    for (let i = 0; i < dim; i++) squares += x[base + i]! * x[base + i]!;
    const scale = 1 / Math.sqrt(squares / dim + epsilon);
    for (let i = 0; i < dim; i++) out[base + i] = x[base + i]! * scale * gainVector[i]!;
  }
}

/** `x[i] += y[i]` for `length` elements. */
export function addInPlace(x: Float32Array, y: Float32Array, length: number): void {
  for (let i = 0; i < length; i++) x[i] = x[i]! + y[i]!;
}

/** `gate[i] = silu(gate[i]) * up[i]` for `length` elements (the SwiGLU activation). */
export function siluGate(gate: Float32Array, up: Float32Array, length: number): void {
  for (let i = 0; i < length; i++) {
    const g = gate[i]!;
    gate[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
}

/**
 * Rotates `heads` consecutive heads of width `headDim`, starting at `offset` of `x`, by the rotary
 * angles of `position` (pairs `(2i, 2i + 1)` rotate by angle `position * theta^(-2i / headDim)`).
 */
export function applyRope(
  x: Float32Array,
  offset: number,
  heads: number,
  headDim: number,
  position: number,
  cos: Float64Array,
  sin: Float64Array,
): void {
  const half = headDim / 2;
  const tableBase = position * half;
  for (let h = 0; h < heads; h++) {
    const base = offset + h * headDim;
    for (let i = 0; i < half; i++) {
      const c = cos[tableBase + i]!;
      const s = sin[tableBase + i]!;
      const a = x[base + 2 * i]!;
      const b = x[base + 2 * i + 1]!;
      x[base + 2 * i] = a * c - b * s;
      x[base + 2 * i + 1] = a * s + b * c;
    }
  }
}

/**
 * The index of the largest of `length` logits starting at `offset`, among the tokens `allowed`
 * marks with 1 (all tokens when `allowed` is undefined). Ties go to the lowest index, so greedy
 * decoding is deterministic.
 */
export function argmaxAllowed(
  logits: Float32Array,
  offset: number,
  length: number,
  allowed: Uint8Array | undefined,
): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < length; i++) {
    if (allowed !== undefined && allowed[i] === 0) continue;
    const value = logits[offset + i]!;
    if (best < 0 || value > bestValue) {
      best = i;
      bestValue = value;
    }
  }
  return best;
}
