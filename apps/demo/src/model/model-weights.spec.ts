import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from './model-config.js';
import { generateWeights } from './model-weights.js';

const tiny: ModelConfig = { ...DEFAULT_MODEL_CONFIG, modelDim: 32, hiddenDim: 48, maxContext: 256 };

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
