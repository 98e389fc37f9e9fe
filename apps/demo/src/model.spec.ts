import { describe, expect, it } from 'vitest';
import { attendContiguous } from './contiguous-attention.js';
import { DEFAULT_MODEL_CONFIG, parameterCount, validateModelConfig, type ModelConfig } from './model-config.js';
import { generateWeights } from './model-weights.js';
import { generateReference } from './reference-model.js';
import { SeededRandom } from './seeded-random.js';
import { applyRope, argmaxAllowed, matmulRows, rmsNormRows } from './tensor-math.js';
import { PRINTABLE_TOKENS, TokenDecoder, decodeTokens, encodeText } from './tokenizer.js';

const tiny: ModelConfig = { ...DEFAULT_MODEL_CONFIG, modelDim: 32, hiddenDim: 48, maxContext: 256 };

describe('the seeded random generator', () => {
  it('repeats its stream for the same seed and differs for another', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const streamA = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(streamA);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(streamA);
  });

  it('draws normal samples with mean near 0 and variance near 1', () => {
    const random = new SeededRandom(7);
    const samples = Array.from({ length: 20_000 }, () => random.nextNormal());
    const mean = samples.reduce((s, x) => s + x, 0) / samples.length;
    const variance = samples.reduce((s, x) => s + (x - mean) ** 2, 0) / samples.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });
});

describe('the model config', () => {
  it('accepts the default and counts its parameters', () => {
    expect(() => validateModelConfig(DEFAULT_MODEL_CONFIG)).not.toThrow();
    expect(parameterCount(DEFAULT_MODEL_CONFIG)).toBeGreaterThan(50_000);
  });

  it('rejects query heads that are not a multiple of the kv heads, odd head widths and non-byte vocabularies', () => {
    expect(() => validateModelConfig({ ...DEFAULT_MODEL_CONFIG, headCount: 3 })).toThrow(/multiple of kvHeadCount/);
    expect(() => validateModelConfig({ ...DEFAULT_MODEL_CONFIG, headDim: 15 })).toThrow(/even/);
    expect(() => validateModelConfig({ ...DEFAULT_MODEL_CONFIG, vocabSize: 300 })).toThrow(/256/);
    expect(() => validateModelConfig({ ...DEFAULT_MODEL_CONFIG, layerCount: 0 })).toThrow(/layerCount/);
    expect(() => validateModelConfig({ ...DEFAULT_MODEL_CONFIG, modelDim: 1.5 })).toThrow(/modelDim/);
  });
});

describe('the weights', () => {
  it('are the same for the same seed, bit for bit, and differ for another seed', () => {
    const a = generateWeights(tiny);
    const b = generateWeights(tiny);
    const c = generateWeights({ ...tiny, seed: tiny.seed + 1 });
    expect(a.embedding).toEqual(b.embedding);
    expect(a.layers[1]!.down).toEqual(b.layers[1]!.down);
    expect(a.head).toEqual(b.head);
    expect(a.embedding).not.toEqual(c.embedding);
  });
});

describe('the tensor arithmetic', () => {
  it('multiplies rows by a row-major matrix', () => {
    const x = Float32Array.of(1, 2, 3, 4, 5, 6);
    const w = Float32Array.of(1, 0, 0, 0, 1, 0, 1, 1, 1, 2, 0, -1);
    const out = new Float32Array(8);
    matmulRows(out, 0, x, 0, 2, w, 4, 3);
    expect([...out]).toEqual([1, 2, 6, -1, 4, 5, 15, 2]);
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

describe('the reference model', () => {
  const weights = generateWeights(tiny);
  const prompt = encodeText('The quick brown fox jumps over the lazy dog. ');

  it('is deterministic: the same prompt gives the same tokens', () => {
    expect(generateReference(weights, prompt, 12, PRINTABLE_TOKENS)).toEqual(
      generateReference(weights, prompt, 12, PRINTABLE_TOKENS),
    );
  });

  it('samples only printable tokens under the printable mask', () => {
    const tokens = generateReference(weights, prompt, 40, PRINTABLE_TOKENS);
    expect(tokens).toHaveLength(40);
    for (const token of tokens) expect(PRINTABLE_TOKENS[token]).toBe(1);
  });

  it('continues a prompt the same way whether the prompt came in one pass or grew token by token', () => {
    // Generating 10 tokens from P equals generating 5 tokens from P, then 5 from P + those 5.
    const whole = generateReference(weights, prompt, 10, PRINTABLE_TOKENS);
    const head = generateReference(weights, prompt, 5, PRINTABLE_TOKENS);
    const tail = generateReference(weights, Uint8Array.from([...prompt, ...head]), 5, PRINTABLE_TOKENS);
    expect([...head, ...tail]).toEqual(whole);
  });

  it('depends on the prompt', () => {
    const other = generateReference(weights, encodeText('Completely different words, here.'), 12, PRINTABLE_TOKENS);
    expect(other).not.toEqual(generateReference(weights, prompt, 12, PRINTABLE_TOKENS));
  });

  it('rejects an empty prompt and a prompt past the context', () => {
    expect(() => generateReference(weights, [], 4)).toThrow(RangeError);
    expect(() => generateReference(weights, new Uint8Array(250), 10)).toThrow(/context/);
  });
});

describe('the byte tokenizer', () => {
  it('round-trips text with multi-byte characters, streamed one byte at a time', () => {
    const text = 'naïve café, 東京 🚀';
    const tokens = encodeText(text);
    const decoder = new TokenDecoder();
    let streamed = '';
    for (const token of tokens) streamed += decoder.push(token);
    streamed += decoder.end();
    expect(streamed).toBe(text);
    expect(decodeTokens(tokens)).toBe(text);
  });

  it('holds back an incomplete character until it completes', () => {
    const decoder = new TokenDecoder();
    const [a, b, c] = encodeText('€');
    expect(decoder.push(a!)).toBe('');
    expect(decoder.push(b!)).toBe('');
    expect(decoder.push(c!)).toBe('€');
  });
});
