import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_CONFIG, parameterCount, validateModelConfig } from './model-config.js';

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
