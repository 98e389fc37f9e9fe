/**
 * The plain reference: one sequence at a time, its keys and values in one contiguous array per
 * layer, no paging, no pools, no batching. `npm run demo -- --verify` requires the serving path to
 * produce exactly the tokens this produces.
 *
 * Runs in Node and browsers.
 * @module
 */
import { attendContiguous } from './contiguous-attention.js';
import { kvWidth } from './model-config.js';
import type { ModelWeights } from './model-weights.js';
import { argmaxAllowed } from './tensor-math.js';
import {
  forward,
  scratchLayout,
  type AttentionBackend,
  type ForwardBatch,
  type ForwardScratch,
} from './transformer.js';

class ContiguousKv implements AttentionBackend {
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  readonly #scores: Float64Array;

  constructor(readonly weights: ModelWeights) {
    const { layerCount, maxContext } = weights.config;
    const width = kvWidth(weights.config);
    this.keys = Array.from({ length: layerCount }, () => new Float32Array(maxContext * width));
    this.values = Array.from({ length: layerCount }, () => new Float32Array(maxContext * width));
    this.#scores = new Float64Array(maxContext);
  }

  attend(layer: number, batch: ForwardBatch, scratch: ForwardScratch): void {
    const { config } = this.weights;
    const width = kvWidth(config);
    const queryDim = config.headCount * config.headDim;
    const keys = this.keys[layer]!;
    const values = this.values[layer]!;
    for (let r = 0; r < batch.rows; r++) {
      const position = batch.positions[r]!;
      keys.set(scratch.key.subarray(r * width, (r + 1) * width), position * width);
      values.set(scratch.value.subarray(r * width, (r + 1) * width), position * width);
    }
    for (let r = 0; r < batch.rows; r++) {
      const length = batch.positions[r]! + 1;
      attendContiguous(
        scratch.attention,
        r * queryDim,
        scratch.query,
        r * queryDim,
        keys,
        values,
        length,
        config,
        this.#scores,
      );
    }
  }
}

function allocateScratch(weights: ModelWeights, rows: number): ForwardScratch {
  const layout = scratchLayout(weights.config, rows, 1);
  return {
    hidden: new Float32Array(layout.hidden),
    normed: new Float32Array(layout.normed),
    query: new Float32Array(layout.query),
    key: new Float32Array(layout.key),
    value: new Float32Array(layout.value),
    attention: new Float32Array(layout.attention),
    projection: new Float32Array(layout.projection),
    gate: new Float32Array(layout.gate),
    up: new Float32Array(layout.up),
    logits: new Float32Array(layout.logits),
  };
}

/**
 * Greedy completion of `prompt` by `maxTokens` tokens sampled among `allowed` (every token when
 * undefined), computed the plain way: the whole prompt in one pass, then one token per pass.
 * Cost: O((prompt + maxTokens)^2) attention plus O(prompt + maxTokens) projections; allocates its
 * own buffers.
 * @throws RangeError if the prompt is empty or prompt plus completion exceed the model's context.
 */
export function generateReference(
  weights: ModelWeights,
  prompt: ArrayLike<number>,
  maxTokens: number,
  allowed?: Uint8Array,
): number[] {
  const { maxContext, vocabSize } = weights.config;
  if (prompt.length === 0) throw new RangeError('prompt must hold at least one token');
  if (prompt.length + maxTokens > maxContext) {
    throw new RangeError(`prompt (${prompt.length}) + maxTokens (${maxTokens}) exceed the context of ${maxContext}`);
  }
  const kv = new ContiguousKv(weights);
  const promptScratch = allocateScratch(weights, prompt.length);
  const stepScratch = allocateScratch(weights, 1);
  const positions = Array.from({ length: prompt.length }, (_, i) => i);
  forward(
    weights,
    { rows: prompt.length, tokens: prompt, positions, logitRows: [prompt.length - 1], logitCount: 1 },
    promptScratch,
    kv,
  );
  const out: number[] = [];
  let next = argmaxAllowed(promptScratch.logits, 0, vocabSize, allowed);
  while (out.length < maxTokens) {
    out.push(next);
    if (out.length === maxTokens) break;
    const position = prompt.length + out.length - 1;
    forward(
      weights,
      { rows: 1, tokens: [next], positions: [position], logitRows: [0], logitCount: 1 },
      stepScratch,
      kv,
    );
    next = argmaxAllowed(stepScratch.logits, 0, vocabSize, allowed);
  }
  return out;
}
