import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from './model-config.js';
import { generateWeights } from './model-weights.js';
import { generateReference } from './reference-model.js';
import { PRINTABLE_TOKENS, encodeText } from './tokenizer.js';

const tiny: ModelConfig = { ...DEFAULT_MODEL_CONFIG, modelDim: 32, hiddenDim: 48, maxContext: 256 };

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
