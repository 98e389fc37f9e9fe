import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from './model-config.js';
import { generateWeights } from './model-weights.js';
import { applyRope, argmaxAllowed, matmulRows, rmsNormRows } from './tensor-math.js';
import { WasmMatmul } from './wasm-matmul.js';

const tiny: ModelConfig = { ...DEFAULT_MODEL_CONFIG, modelDim: 32, hiddenDim: 48, maxContext: 256 };

describe('the tensor arithmetic', () => {
  it('multiplies rows by a row-major matrix', () => {
    const x = Float32Array.of(1, 2, 3, 4, 5, 6);
    const w = Float32Array.of(1, 0, 0, 0, 1, 0, 1, 1, 1, 2, 0, -1);
    const out = new Float32Array(8);
    matmulRows(out, 0, x, 0, 2, w, 4, 3);
    expect([...out]).toEqual([1, 2, 6, -1, 4, 5, 15, 2]);
  });

  it('multiplies on the WebAssembly SIMD128 kernel within float32 rounding of the loop, in chunks of rows', () => {
    const random = (i: number) => Math.sin(i * 12.9898) * 0.5;
    for (const [rows, outDim, inDim] of [
      [3, 7, 16], // 7 outputs: one group of four, three single
      [20, 5, 8192], // 8 rows per scratch chunk
      [2, 6, 6], // inDim not a multiple of 4: the loop
    ] as const) {
      const x = Float32Array.from({ length: rows * inDim }, (_, i) => random(i));
      const plain = Float32Array.from({ length: outDim * inDim }, (_, i) => random(i + 7));
      const kernel = WasmMatmul.create(plain.length)!;
      const placed = kernel.place(plain);
      expect(WasmMatmul.of(placed)).toBe(kernel);
      const expected = new Float32Array(rows * outDim + 1);
      const actual = new Float32Array(rows * outDim + 1);
      matmulRows(expected, 1, x, 0, rows, plain, outDim, inDim);
      matmulRows(actual, 1, x, 0, rows, placed, outDim, inDim);
      expect(actual[0]).toBe(0);
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < outDim; o++) {
          let magnitude = 0; // sum of |x w|: float32 sums err by a small multiple of its rounding
          for (let i = 0; i < inDim; i++) magnitude += Math.abs(x[r * inDim + i]! * plain[o * inDim + i]!);
          const at = 1 + r * outDim + o;
          expect(Math.abs(actual[at]! - expected[at]!)).toBeLessThanOrEqual(1e-5 * magnitude);
        }
      }
      if (inDim % 4 !== 0) expect(actual).toEqual(expected);
    }
  });

  it('normalises rows to unit root mean square before the gain', () => {
    const x = Float32Array.of(3, 4, 0, 0);
    const out = new Float32Array(4);
    rmsNormRows(out, x, 1, 4, Float32Array.of(1, 1, 1, 1), 0);
    const rms = Math.sqrt(out.reduce((s, v) => s + v * v, 0) / 4);
    expect(rms).toBeCloseTo(1, 6);
  });

  it('rotates without changing a head norm, and position 0 is the identity', () => {
    const weights = generateWeights(tiny);
    const x = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i + 1));
    const copy = Float32Array.from(x);
    applyRope(copy, 0, 1, 16, 0, weights.ropeCos, weights.ropeSin);
    expect(copy).toEqual(x);
    applyRope(copy, 0, 1, 16, 37, weights.ropeCos, weights.ropeSin);
    const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, a) => s + a * a, 0));
    expect(norm(copy)).toBeCloseTo(norm(x), 5);
    expect(copy).not.toEqual(x);
  });

  it('picks the largest allowed logit, the lowest index on a tie', () => {
    const logits = Float32Array.of(1, 5, 5, 9);
    expect(argmaxAllowed(logits, 0, 4, undefined)).toBe(3);
    expect(argmaxAllowed(logits, 0, 4, Uint8Array.of(1, 1, 1, 0))).toBe(1);
    expect(argmaxAllowed(logits, 1, 3, undefined)).toBe(2);
  });
});
