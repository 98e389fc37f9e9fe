import { describe, expect, it } from 'vitest';
import { attendContiguous } from './contiguous-attention.js';
import { SeededRandom } from '@mem/app-kit/seeded-random';

describe('contiguous attention', () => {
  it('matches a textbook softmax attention with grouped query heads', () => {
    const layout = { headCount: 4, kvHeadCount: 2, headDim: 8 };
    const random = new SeededRandom(3);
    const length = 11;
    const query = Float32Array.from({ length: 32 }, () => random.nextNormal());
    const keys = Float32Array.from({ length: length * 16 }, () => random.nextNormal());
    const values = Float32Array.from({ length: length * 16 }, () => random.nextNormal());
    const out = new Float32Array(32);
    attendContiguous(out, 0, query, 0, keys, values, length, layout, new Float64Array(length));
    for (let h = 0; h < 4; h++) {
      const g = Math.floor(h / 2);
      const scores = Array.from({ length }, (_, p) => {
        let dot = 0;
        for (let d = 0; d < 8; d++) dot += query[h * 8 + d]! * keys[p * 16 + g * 8 + d]!;
        return Math.exp(dot / Math.sqrt(8));
      });
      const total = scores.reduce((s, v) => s + v, 0);
      for (let d = 0; d < 8; d++) {
        const expected = scores.reduce((s, w, p) => s + (w / total) * values[p * 16 + g * 8 + d]!, 0);
        expect(out[h * 8 + d]).toBeCloseTo(expected, 5);
      }
    }
  });
});
