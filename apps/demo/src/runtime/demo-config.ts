/**
 * The demo's settings, with the defaults `npm run demo` starts with.
 * @module
 */
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../model/model-config.js';
import type { ModelKernels } from '../model/wasm-matmul.js';

/** Everything the demo server can be started with. */
export interface DemoConfig {
  /** The model's shape and seed. */
  readonly model: ModelConfig;
  /** Whether requests share cached prefix blocks. */
  readonly prefixCaching: boolean;
  /** KV blocks in the pool. */
  readonly numBlocks: number;
  /** Tokens per KV block. */
  readonly blockSize: number;
  /** Token budget of one scheduler step. */
  readonly maxTokensPerStep: number;
  /** The most requests running at once. */
  readonly maxRunning: number;
  /** The most requests waiting; more get 503. */
  readonly maxWaiting: number;
  /** The largest request body, in bytes. */
  readonly maxBodyBytes: number;
  /** The largest `max_tokens`. */
  readonly maxCompletionTokens: number;
  /** How often the dashboard's history takes a sample, in ms. */
  readonly sampleIntervalMs: number;
  /**
   * The kernels of attention and of the model's matrix products: WebAssembly SIMD128 where the
   * runtime has it (`'auto'`), or JavaScript (`'js'`, to compare).
   */
  readonly kernels: ModelKernels;
}

/**
 * The defaults: a KV pool of 192 blocks of 16 tokens (3,072 token slots, 1.5 MiB of K and V), small
 * enough that the load generator's trace fills it and preemption can be seen, and a step budget of
 * 256 tokens (long prompts are prefilled in chunks, so running requests keep decoding meanwhile).
 */
export const DEFAULT_DEMO_CONFIG: DemoConfig = Object.freeze({
  model: DEFAULT_MODEL_CONFIG,
  prefixCaching: true,
  numBlocks: 192,
  blockSize: 16,
  maxTokensPerStep: 256,
  maxRunning: 32,
  maxWaiting: 256,
  maxBodyBytes: 64 * 1024,
  maxCompletionTokens: 512,
  sampleIntervalMs: 1000,
  kernels: 'auto',
});
