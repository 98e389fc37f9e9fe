import { describe, expect, it } from 'vitest';
import type { SamplingSettings } from '../server/completion-engine.js';
import { GREEDY, TokenSampler } from './token-sampler.js';

const settings = (overrides: Partial<SamplingSettings>): SamplingSettings => ({ ...GREEDY, ...overrides });

function draws(sampler: TokenSampler, logits: number[], count: number): number[] {
  return Array.from({ length: count }, () => sampler.sample(Float32Array.from(logits)));
}

describe('the token sampler', () => {
  it('decodes greedily at temperature 0, skipping tokens that are not allowed', () => {
    const allowed = Uint8Array.of(1, 1, 0, 1);
    const sampler = new TokenSampler(GREEDY, 4, allowed);
    expect(draws(sampler, [0, 2, 9, 1], 3)).toEqual([1, 1, 1]);
  });

  it('draws in proportion to the softmax at temperature 1', () => {
    const sampler = new TokenSampler(settings({ temperature: 1, seed: 11 }), 2, undefined);
    const ones = draws(sampler, [0, Math.log(3)], 4000).filter((token) => token === 1).length;
    expect(ones / 4000).toBeGreaterThan(0.72);
    expect(ones / 4000).toBeLessThan(0.78);
  });

  it('repeats its draws for a seed, and draws otherwise for another', () => {
    const logits = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7];
    const a = draws(new TokenSampler(settings({ temperature: 1, seed: 5 }), 8, undefined), logits, 32);
    const b = draws(new TokenSampler(settings({ temperature: 1, seed: 5 }), 8, undefined), logits, 32);
    const c = draws(new TokenSampler(settings({ temperature: 1, seed: 6 }), 8, undefined), logits, 32);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('draws only allowed tokens, and only from the top_p nucleus', () => {
    const allowed = Uint8Array.of(1, 0, 1, 1, 1);
    const sampler = new TokenSampler(settings({ temperature: 2, seed: 3 }), 5, allowed);
    expect(new Set(draws(sampler, [0, 5, 0, 0, 0], 500))).toEqual(new Set([0, 2, 3, 4]));
    // Probabilities 0.5, 0.3, 0.2 (tokens 2, 1, 0): top_p 0.7 keeps tokens 2 and 1.
    const nucleus = new TokenSampler(settings({ temperature: 1, topP: 0.7, seed: 3 }), 3, undefined);
    const logits = [Math.log(0.2), Math.log(0.3), Math.log(0.5)];
    expect(new Set(draws(nucleus, logits, 500))).toEqual(new Set([1, 2]));
    const top = new TokenSampler(settings({ temperature: 1, topP: 0, seed: 3 }), 3, undefined);
    expect(new Set(draws(top, logits, 100))).toEqual(new Set([2]));
  });

  it('lowers the logits of generated tokens by the presence and frequency penalties', () => {
    const presence = new TokenSampler(settings({ presencePenalty: 2 }), 3, undefined);
    expect(draws(presence, [1, 2, 0.5], 3)).toEqual([1, 0, 2]);
    const frequency = new TokenSampler(settings({ frequencyPenalty: 0.6 }), 2, undefined);
    // Token 0 leads by 1: after two draws of it (1.2 lower) token 1 leads, after one of token 1 (0.6 lower) token 0 again.
    expect(draws(frequency, [1, 0], 4)).toEqual([0, 0, 1, 0]);
  });

  it('adds the logit bias of the tokens it names', () => {
    const sampler = new TokenSampler(settings({ logitBias: new Map([[1, -100]]) }), 3, undefined);
    expect(draws(sampler, [0, 5, 1], 2)).toEqual([2, 2]);
  });
});
