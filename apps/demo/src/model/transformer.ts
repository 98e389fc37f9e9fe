/**
 * One forward pass of the transformer over a batch of token rows. Where each row's keys and values
 * live is left to an {@link AttentionBackend}: the serving path stores them in paged KV blocks (in
 * CPU memory, or on a GPU through {@link forwardAsync}), the reference in one contiguous array per
 * sequence. Everything else (embedding, norms, projections,
 * rotary embedding, MLP, output head) is this module's, so all paths agree bit for bit around it.
 *
 * Runs in Node and browsers.
 * @module
 */
import { kvWidth, type ModelConfig } from './model-config.js';
import type { ModelWeights } from './model-weights.js';
import { addInPlace, applyRope, matmulRows, rmsNormRows, siluGate } from './tensor-math.js';

/** The rows of one forward pass: a token and its position per row. */
export interface ForwardBatch {
  /** Number of rows. */
  readonly rows: number;
  /** Token id of each row (`rows` entries are read). */
  readonly tokens: ArrayLike<number>;
  /** Position of each row's token in its sequence (`rows` entries are read). */
  readonly positions: ArrayLike<number>;
  /** The rows whose next-token logits are wanted, in order (`logitCount` entries are read). */
  readonly logitRows: ArrayLike<number>;
  /** Number of rows that want logits. */
  readonly logitCount: number;
}

/** The float buffers a forward pass works in; {@link scratchLayout} gives their lengths. */
export interface ForwardScratch {
  /** Residual stream, `[rows][modelDim]`. */
  readonly hidden: Float32Array;
  /** Normalised residual, `[rows][modelDim]`. */
  readonly normed: Float32Array;
  /** Queries, `[rows][headCount * headDim]`. */
  readonly query: Float32Array;
  /** Keys of the new rows, `[rows][kvHeadCount * headDim]`. */
  readonly key: Float32Array;
  /** Values of the new rows, `[rows][kvHeadCount * headDim]`. */
  readonly value: Float32Array;
  /** Attention output, `[rows][headCount * headDim]`. */
  readonly attention: Float32Array;
  /** Output of a projection back into the residual, `[rows][modelDim]`. */
  readonly projection: Float32Array;
  /** MLP gate activations, `[rows][hiddenDim]`. */
  readonly gate: Float32Array;
  /** MLP up activations, `[rows][hiddenDim]`. */
  readonly up: Float32Array;
  /** Next-token logits of the logit rows, `[logitCount][vocabSize]`. */
  readonly logits: Float32Array;
}

/** Name of each scratch buffer. */
export type ScratchName = keyof ForwardScratch;

/** Where keys and values are kept, and how a row's query attends to them. */
export interface AttentionBackend {
  /**
   * Stores the batch's new keys and values (`scratch.key`, `scratch.value`, rotary already applied)
   * for `layer`, then writes each row's attention output into `scratch.attention`: the row attends
   * to its own sequence's positions `0..position` inclusive.
   */
  attend(layer: number, batch: ForwardBatch, scratch: ForwardScratch): void;
}

/** An {@link AttentionBackend} whose attention output arrives later (a GPU's, read back asynchronously). */
export interface AsyncAttentionBackend {
  /** As {@link AttentionBackend.attend}; `scratch.attention` holds the output once the promise resolves. */
  attend(layer: number, batch: ForwardBatch, scratch: ForwardScratch): Promise<void>;
}

/** The length in floats of each scratch buffer for `rows` rows and `logitCount` logit rows. */
export function scratchLayout(config: ModelConfig, rows: number, logitCount: number): Record<ScratchName, number> {
  const queryDim = config.headCount * config.headDim;
  const kv = kvWidth(config);
  return {
    hidden: rows * config.modelDim,
    normed: rows * config.modelDim,
    query: rows * queryDim,
    key: rows * kv,
    value: rows * kv,
    attention: rows * queryDim,
    projection: rows * config.modelDim,
    gate: rows * config.hiddenDim,
    up: rows * config.hiddenDim,
    logits: Math.max(1, logitCount) * config.vocabSize,
  };
}

/**
 * Runs the model over `batch`, leaving the logits of its logit rows in `scratch.logits`.
 * Cost: O(rows * parameters) for the projections plus what the backend's attention costs.
 */
export function forward(
  weights: ModelWeights,
  batch: ForwardBatch,
  scratch: ForwardScratch,
  backend: AttentionBackend,
): void {
  embed(weights, batch, scratch);
  for (let layer = 0; layer < weights.layers.length; layer++) {
    attentionInputs(weights, layer, batch, scratch);
    backend.attend(layer, batch, scratch);
    layerOutputs(weights, layer, batch, scratch);
  }
  outputHead(weights, batch, scratch);
}

/**
 * {@link forward} with an attention that answers later (a GPU's, read back with `mapAsync`): the
 * same arithmetic around it, in the same order, so only the attention's own numerics can differ.
 * Cost: as {@link forward}, plus one wait for the backend per layer.
 */
export async function forwardAsync(
  weights: ModelWeights,
  batch: ForwardBatch,
  scratch: ForwardScratch,
  backend: AsyncAttentionBackend,
): Promise<void> {
  embed(weights, batch, scratch);
  for (let layer = 0; layer < weights.layers.length; layer++) {
    attentionInputs(weights, layer, batch, scratch);
    await backend.attend(layer, batch, scratch);
    layerOutputs(weights, layer, batch, scratch);
  }
  outputHead(weights, batch, scratch);
}

/** Each row's token embedding into the residual stream. */
function embed(weights: ModelWeights, batch: ForwardBatch, scratch: ForwardScratch): void {
  const { modelDim } = weights.config;
  const { hidden } = scratch;
  for (let r = 0; r < batch.rows; r++) {
    const tokenBase = batch.tokens[r]! * modelDim;
    for (let i = 0; i < modelDim; i++) hidden[r * modelDim + i] = weights.embedding[tokenBase + i]!;
  }
}

/** `layer`'s attention inputs: RMSNorm, the Q/K/V projections and the rotary embedding of Q and K. */
function attentionInputs(weights: ModelWeights, layer: number, batch: ForwardBatch, scratch: ForwardScratch): void {
  const { config } = weights;
  const { modelDim, headCount, kvHeadCount, headDim, normEpsilon } = config;
  const { rows } = batch;
  const queryDim = headCount * headDim;
  const kv = kvWidth(config);
  const { hidden, normed, query, key, value } = scratch;
  const w = weights.layers[layer]!;
  rmsNormRows(normed, hidden, rows, modelDim, w.attentionNorm, normEpsilon);
  matmulRows(query, 0, normed, 0, rows, w.query, queryDim, modelDim);
  matmulRows(key, 0, normed, 0, rows, w.key, kv, modelDim);
  matmulRows(value, 0, normed, 0, rows, w.value, kv, modelDim);
  for (let r = 0; r < rows; r++) {
    const position = batch.positions[r]!;
    applyRope(query, r * queryDim, headCount, headDim, position, weights.ropeCos, weights.ropeSin);
    applyRope(key, r * kv, kvHeadCount, headDim, position, weights.ropeCos, weights.ropeSin);
  }
}

/** The rest of `layer` after its attention: output projection and residual, then the MLP and residual. */
function layerOutputs(weights: ModelWeights, layer: number, batch: ForwardBatch, scratch: ForwardScratch): void {
  const { modelDim, headCount, headDim, hiddenDim, normEpsilon } = weights.config;
  const { rows } = batch;
  const { hidden, normed, attention, projection, gate, up } = scratch;
  const w = weights.layers[layer]!;
  matmulRows(projection, 0, attention, 0, rows, w.output, modelDim, headCount * headDim);
  addInPlace(hidden, projection, rows * modelDim);

  rmsNormRows(normed, hidden, rows, modelDim, w.mlpNorm, normEpsilon);
  matmulRows(gate, 0, normed, 0, rows, w.gate, hiddenDim, modelDim);
  matmulRows(up, 0, normed, 0, rows, w.up, hiddenDim, modelDim);
  siluGate(gate, up, rows * hiddenDim);
  matmulRows(projection, 0, gate, 0, rows, w.down, modelDim, hiddenDim);
  addInPlace(hidden, projection, rows * modelDim);
}

/** The output head, only for the rows that sample a token (during prefill, one row per sequence). */
function outputHead(weights: ModelWeights, batch: ForwardBatch, scratch: ForwardScratch): void {
  const { modelDim, vocabSize, normEpsilon } = weights.config;
  const { hidden, normed, logits } = scratch;
  for (let l = 0; l < batch.logitCount; l++) {
    const row = batch.logitRows[l]!;
    const source = hidden.subarray(row * modelDim, (row + 1) * modelDim);
    const target = normed.subarray(l * modelDim, (l + 1) * modelDim);
    rmsNormRows(target, source, 1, modelDim, weights.finalNorm, normEpsilon);
    matmulRows(logits, l * vocabSize, normed, l * modelDim, 1, weights.head, vocabSize, modelDim);
  }
}
