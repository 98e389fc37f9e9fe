/**
 * The shape of the demo's transformer: a byte-level decoder (vocabulary of 256 bytes) with
 * RMSNorm, rotary position embeddings, grouped-query attention and a SiLU-gated MLP, as the small
 * Llama-style models are built.
 *
 * Runs in Node and browsers.
 * @module
 */

/** Sizes of the model. Every dimension is a positive integer. */
export interface ModelConfig {
  /** Number of token ids: 256, one per byte. */
  readonly vocabSize: number;
  /** Width of the residual stream. */
  readonly modelDim: number;
  /** Number of transformer blocks. */
  readonly layerCount: number;
  /** Query heads per layer. */
  readonly headCount: number;
  /** Key/value heads per layer (grouped-query attention: `headCount` is a multiple of it). */
  readonly kvHeadCount: number;
  /** Width of one head; `headCount * headDim` is the attention width. */
  readonly headDim: number;
  /** Hidden width of the MLP. */
  readonly hiddenDim: number;
  /** Longest sequence (prompt plus completion) the model accepts. */
  readonly maxContext: number;
  /** Base of the rotary position embedding's frequencies. */
  readonly ropeTheta: number;
  /** Epsilon of RMSNorm. */
  readonly normEpsilon: number;
  /** The seed the weights are generated from. */
  readonly seed: number;
}

/**
 * The demo's default model: 2 layers, 4 query heads over 2 KV heads of width 16, a 64-wide residual
 * stream. About 100 K weights: small enough that a 2-core machine serves a chat trace in seconds,
 * large enough that attention over long shared prompts dominates, which is what prefix caching saves.
 */
export const DEFAULT_MODEL_CONFIG: ModelConfig = Object.freeze({
  vocabSize: 256,
  modelDim: 64,
  layerCount: 2,
  headCount: 4,
  kvHeadCount: 2,
  headDim: 16,
  hiddenDim: 160,
  maxContext: 4096,
  ropeTheta: 10_000,
  normEpsilon: 1e-5,
  seed: 0x5eed,
});

/** Checks that every size of `config` is usable; throws a `RangeError` naming the first that is not. */
export function validateModelConfig(config: ModelConfig): void {
  const sizes: (keyof ModelConfig)[] = [
    'vocabSize',
    'modelDim',
    'layerCount',
    'headCount',
    'kvHeadCount',
    'headDim',
    'hiddenDim',
    'maxContext',
  ];
  for (const key of sizes) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`model config ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  if (config.vocabSize !== 256) throw new RangeError(`vocabSize must be 256 (bytes), got ${config.vocabSize}`);
  if (config.headCount % config.kvHeadCount !== 0) {
    throw new RangeError(`headCount (${config.headCount}) must be a multiple of kvHeadCount (${config.kvHeadCount})`);
  }
  if (config.headDim % 2 !== 0)
    throw new RangeError(`headDim must be even for rotary embeddings, got ${config.headDim}`);
  if (!(config.ropeTheta > 1)) throw new RangeError(`ropeTheta must be > 1, got ${config.ropeTheta}`);
  if (!(config.normEpsilon > 0)) throw new RangeError(`normEpsilon must be > 0, got ${config.normEpsilon}`);
  if (!Number.isInteger(config.seed)) throw new RangeError(`seed must be an integer, got ${config.seed}`);
}

/** Width of the key (and of the value) of one token in one layer: `kvHeadCount * headDim`. */
export function kvWidth(config: ModelConfig): number {
  return config.kvHeadCount * config.headDim;
}

/** Number of weights of a model of this shape. */
export function parameterCount(config: ModelConfig): number {
  const { vocabSize, modelDim, layerCount, headCount, headDim, hiddenDim } = config;
  const attention = modelDim * headCount * headDim * 2 + modelDim * kvWidth(config) * 2;
  const mlp = modelDim * hiddenDim * 3;
  return vocabSize * modelDim * 2 + modelDim + layerCount * (attention + mlp + 2 * modelDim);
}
