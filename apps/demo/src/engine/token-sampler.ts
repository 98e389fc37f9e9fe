/**
 * Choosing a request's next token from its logits: OpenAI's sampling controls (temperature, top_p,
 * presence and frequency penalties, logit bias) over the tokens the server may emit, drawn from a
 * generator seeded per request, so that a seed reproduces its completion. Temperature 0 is greedy
 * decoding, bit for bit the contiguous reference's choice.
 *
 * Runs in Node and browsers.
 * @module
 */
import { argmaxAllowed } from '../model/tensor-math.js';
import { SeededRandom } from '@mem/app-kit/seeded-random';
import type { SamplingSettings } from '../server/completion-engine.js';

/** Greedy decoding, no penalties, no bias: what a request without sampling fields gets. */
export const GREEDY: SamplingSettings = Object.freeze({
  temperature: 0,
  topP: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  logitBias: new Map<number, number>(),
  seed: undefined,
});

function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/** One request's sampler: its settings, its generator and the counts of the tokens it generated. */
export class TokenSampler {
  readonly #settings: SamplingSettings;
  readonly #allowed: Uint8Array | undefined;
  readonly #counts: Uint32Array;
  readonly #adjusts: boolean;
  #random: SeededRandom | undefined;
  readonly #order: number[] = [];
  readonly #weights: Float64Array;

  /** A sampler over `vocabSize` tokens, of which only those `allowed` marks with 1 may be drawn (all when undefined). */
  constructor(settings: SamplingSettings, vocabSize: number, allowed: Uint8Array | undefined) {
    this.#settings = settings;
    this.#allowed = allowed;
    this.#counts = new Uint32Array(vocabSize);
    this.#weights = new Float64Array(vocabSize);
    this.#adjusts = settings.presencePenalty !== 0 || settings.frequencyPenalty !== 0 || settings.logitBias.size > 0;
  }

  /**
   * Draws the next token from `logits` (its first `vocabSize` floats, which it may change in place:
   * penalties and bias are applied there) and counts it.
   * Cost: O(vocabSize), plus a sort of the allowed tokens when top_p is below 1.
   */
  sample(logits: Float32Array): number {
    if (this.#adjusts) this.#adjust(logits);
    const token =
      this.#settings.temperature === 0
        ? argmaxAllowed(logits, 0, this.#counts.length, this.#allowed)
        : this.#draw(logits, this.#settings.temperature);
    this.#counts[token]!++;
    return token;
  }

  #adjust(logits: Float32Array): void {
    const { presencePenalty, frequencyPenalty, logitBias } = this.#settings;
    const counts = this.#counts;
    for (let token = 0; token < counts.length; token++) {
      const count = counts[token]!;
      if (count > 0) logits[token] = logits[token]! - count * frequencyPenalty - presencePenalty;
    }
    for (const [token, bias] of logitBias) if (token < counts.length) logits[token] = logits[token]! + bias;
  }

  /** Softmax at `temperature` over the allowed tokens, cut to the top_p nucleus, then one draw. */
  #draw(logits: Float32Array, temperature: number): number {
    const allowed = this.#allowed;
    const weights = this.#weights;
    const order = this.#order;
    order.length = 0;
    let max = -Infinity;
    for (let token = 0; token < this.#counts.length; token++) {
      if (allowed !== undefined && allowed[token] === 0) continue;
      order.push(token);
      if (logits[token]! > max) max = logits[token]!;
    }
    let total = 0;
    for (const token of order) {
      const weight = Math.exp((logits[token]! - max) / temperature);
      weights[token] = weight;
      total += weight;
    }
    let count = order.length;
    if (this.#settings.topP < 1) {
      // Most likely first; ties by token id, so that a seed always meets the same order.
      order.sort((a, b) => weights[b]! - weights[a]! || a - b);
      const target = this.#settings.topP * total;
      let kept = 0;
      count = 0;
      while (count < order.length && (count === 0 || kept < target)) kept += weights[order[count++]!]!;
      total = kept;
    }
    this.#random ??= new SeededRandom(this.#settings.seed ?? randomSeed());
    let threshold = this.#random.nextFloat() * total;
    for (let i = 0; i < count; i++) {
      threshold -= weights[order[i]!]!;
      if (threshold < 0) return order[i]!;
    }
    return order[count - 1]!;
  }
}
