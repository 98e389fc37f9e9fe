/**
 * The model's weights, generated from the config's seed: the same config gives the same weights,
 * bit for bit, on every run.
 *
 * Runs in Node and browsers.
 * @module
 */
import { kvWidth, validateModelConfig, type ModelConfig } from './model-config.js';
import { SeededRandom } from '@mem/app-kit/seeded-random';
import { WasmMatmul, type ModelKernels } from './wasm-matmul.js';

/** Weights of one transformer block. Matrices are row-major with one row per output. */
export interface LayerWeights {
  /** RMSNorm gain before attention, `[modelDim]`. */
  readonly attentionNorm: Float32Array;
  /** Query projection, `[headCount * headDim][modelDim]`. */
  readonly query: Float32Array;
  /** Key projection, `[kvHeadCount * headDim][modelDim]`. */
  readonly key: Float32Array;
  /** Value projection, `[kvHeadCount * headDim][modelDim]`. */
  readonly value: Float32Array;
  /** Attention output projection, `[modelDim][headCount * headDim]`. */
  readonly output: Float32Array;
  /** RMSNorm gain before the MLP, `[modelDim]`. */
  readonly mlpNorm: Float32Array;
  /** MLP gate projection, `[hiddenDim][modelDim]`. */
  readonly gate: Float32Array;
  /** MLP up projection, `[hiddenDim][modelDim]`. */
  readonly up: Float32Array;
  /** MLP down projection, `[modelDim][hiddenDim]`. */
  readonly down: Float32Array;
}

/** Every weight of the model, plus its rotary tables. */
export interface ModelWeights {
  /** The config the weights were generated for. */
  readonly config: ModelConfig;
  /** Token embeddings, `[vocabSize][modelDim]`. */
  readonly embedding: Float32Array;
  /** The blocks, in order. */
  readonly layers: readonly LayerWeights[];
  /** Final RMSNorm gain, `[modelDim]`. */
  readonly finalNorm: Float32Array;
  /** Output head, `[vocabSize][modelDim]`. */
  readonly head: Float32Array;
  /** cos of the rotary angle, `[maxContext][headDim / 2]`. */
  readonly ropeCos: Float64Array;
  /** sin of the rotary angle, `[maxContext][headDim / 2]`. */
  readonly ropeSin: Float64Array;
  /** What the matrix products run on: the WebAssembly SIMD128 kernel (the matrices live in its memory), or JavaScript. */
  readonly matmulKernel: 'wasm-simd128' | 'js';
}

function gaussian(random: SeededRandom, length: number, scale: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = random.nextNormal() * scale;
  return out;
}

function gain(random: SeededRandom, length: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = 1 + 0.1 * random.nextNormal();
  return out;
}

/** Moves every matrix of `layers` and the output head into a WebAssembly SIMD128 kernel's memory, where there is one. */
function placeMatrices(
  layers: LayerWeights[],
  head: Float32Array,
): { layers: LayerWeights[]; head: Float32Array } | null {
  const names = ['query', 'key', 'value', 'output', 'gate', 'up', 'down'] as const;
  const floats = layers.reduce((sum, layer) => sum + names.reduce((n, name) => n + layer[name].length, 0), head.length);
  const kernel = WasmMatmul.create(floats);
  if (kernel === null) return null;
  const placed = layers.map((layer) => {
    const copy: Record<string, Float32Array> = { ...layer };
    for (const name of names) copy[name] = kernel.place(layer[name]);
    return copy as unknown as LayerWeights;
  });
  return { layers: placed, head: kernel.place(head) };
}

/**
 * Generates the weights of `config` from its seed (normal, scaled by 1/sqrt(fan-in), so
 * activations stay of order one through the residual stream). With `kernels` `'auto'` the
 * matrices go into a WebAssembly SIMD128 kernel's memory where the runtime has one, so the model's
 * products run there; with `'js'` they stay plain arrays.
 * Cost: O(parameters); about 10 ms for the default model.
 * @throws RangeError if the config is not valid.
 */
export function generateWeights(config: ModelConfig, kernels: ModelKernels = 'auto'): ModelWeights {
  validateModelConfig(config);
  const random = new SeededRandom(config.seed);
  const { vocabSize, modelDim, layerCount, headCount, headDim, hiddenDim, maxContext } = config;
  const queryDim = headCount * headDim;
  const kv = kvWidth(config);
  const embedding = gaussian(random, vocabSize * modelDim, 1);
  const layers: LayerWeights[] = [];
  for (let layer = 0; layer < layerCount; layer++) {
    layers.push({
      attentionNorm: gain(random, modelDim),
      query: gaussian(random, queryDim * modelDim, 1 / Math.sqrt(modelDim)),
      key: gaussian(random, kv * modelDim, 1 / Math.sqrt(modelDim)),
      value: gaussian(random, kv * modelDim, 1 / Math.sqrt(modelDim)),
      output: gaussian(random, modelDim * queryDim, 1 / Math.sqrt(queryDim)),
      mlpNorm: gain(random, modelDim),
      gate: gaussian(random, hiddenDim * modelDim, 1 / Math.sqrt(modelDim)),
      up: gaussian(random, hiddenDim * modelDim, 1 / Math.sqrt(modelDim)),
      down: gaussian(random, modelDim * hiddenDim, 1 / Math.sqrt(hiddenDim)),
    });
  }
  const finalNorm = gain(random, modelDim);
  const head = gaussian(random, vocabSize * modelDim, 1 / Math.sqrt(modelDim));
  const half = headDim / 2;
  const ropeCos = new Float64Array(maxContext * half);
  const ropeSin = new Float64Array(maxContext * half);
  for (let position = 0; position < maxContext; position++) {
    for (let i = 0; i < half; i++) {
      const angle = position / Math.pow(config.ropeTheta, (2 * i) / headDim);
      ropeCos[position * half + i] = Math.cos(angle);
      ropeSin[position * half + i] = Math.sin(angle);
    }
  }
  const placed = kernels === 'auto' ? placeMatrices(layers, head) : null;
  if (placed === null) return { config, embedding, layers, finalNorm, head, ropeCos, ropeSin, matmulKernel: 'js' };
  return { config, embedding, finalNorm, ropeCos, ropeSin, ...placed, matmulKernel: 'wasm-simd128' };
}
