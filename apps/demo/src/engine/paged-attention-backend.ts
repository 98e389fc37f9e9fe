/**
 * The serving path's attention: each row's keys and values are written into the paged KV store
 * through its sequence's block table, and each row's query attends through the block table with
 * `@mem/paged-kv`'s paged attention: a decode row with `pagedAttention`, the rows of a prefill
 * chunk together with `pagedPrefillAttention` (causal), which reads each K/V block once for them all.
 * @module
 */
import { pagedAttention, pagedPrefillAttention, type KvStore, type SchedulerStep } from '@mem/paged-kv';
import { kvWidth, type ModelConfig } from '../model/model-config.js';
import type { AttentionBackend, ForwardBatch, ForwardScratch } from '../model/transformer.js';

/** Copies `target.length` floats from `source` at `offset` (a loop: no view allocated per row). */
function copyRow(target: Float32Array, source: Float32Array, offset: number): void {
  for (let i = 0; i < target.length; i++) target[i] = source[offset + i]!;
}

/** Attention over the paged KV store for the rows of one scheduler step. */
export class PagedAttentionBackend implements AttentionBackend {
  readonly #store: KvStore;
  readonly #key: Float32Array;
  readonly #value: Float32Array;
  readonly #query: Float32Array;
  readonly #out: Float32Array;
  readonly #options: { numQueryHeads: number; out: Float32Array };
  readonly #chunkOptions: { numQueryHeads: number; out: Float32Array };
  #step: SchedulerStep | undefined;
  #rowEntry: Int32Array | undefined;

  constructor(store: KvStore, config: ModelConfig) {
    this.#store = store;
    const width = kvWidth(config);
    const queryDim = config.headCount * config.headDim;
    // One token's vectors, reused for every row: the store and the attention take exact-length arrays.
    this.#key = new Float32Array(width);
    this.#value = new Float32Array(width);
    this.#query = new Float32Array(queryDim);
    this.#out = new Float32Array(queryDim);
    this.#options = { numQueryHeads: config.headCount, out: this.#out };
    this.#chunkOptions = { numQueryHeads: config.headCount, out: this.#out };
  }

  /** Sets the step whose rows the next forward pass computes; `rowEntry[r]` is row r's entry index. */
  prepare(step: SchedulerStep, rowEntry: Int32Array): void {
    this.#step = step;
    this.#rowEntry = rowEntry;
  }

  attend(layer: number, batch: ForwardBatch, scratch: ForwardScratch): void {
    const entries = this.#step!.entries;
    const rowEntry = this.#rowEntry!;
    const width = this.#key.length;
    const queryDim = this.#query.length;
    for (let r = 0; r < batch.rows; r++) {
      const sequence = entries[rowEntry[r]!]!.sequence;
      copyRow(this.#key, scratch.key, r * width);
      copyRow(this.#value, scratch.value, r * width);
      this.#store.writeToken(layer, sequence, batch.positions[r]!, this.#key, this.#value);
    }
    // Every row of the step is stored before any row attends, so a prefill chunk sees its own earlier rows.
    for (let r = 0; r < batch.rows;) {
      const entry = rowEntry[r]!;
      const sequence = entries[entry]!.sequence;
      let end = r + 1;
      while (end < batch.rows && rowEntry[end] === entry) end++;
      if (end - r === 1) {
        copyRow(this.#query, scratch.query, r * queryDim);
        pagedAttention(this.#store, layer, sequence, batch.positions[r]! + 1, this.#query, this.#options);
        scratch.attention.set(this.#out, r * queryDim);
      } else {
        // An entry's rows hold consecutive positions: a chunk, attended in one call over views of the scratch.
        this.#chunkOptions.out = scratch.attention.subarray(r * queryDim, end * queryDim);
        const queries = scratch.query.subarray(r * queryDim, end * queryDim);
        pagedPrefillAttention(this.#store, layer, sequence, batch.positions[r]!, end - r, queries, this.#chunkOptions);
      }
      r = end;
    }
  }
}
