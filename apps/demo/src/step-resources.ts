/**
 * The memory one scheduler step works in: the forward pass's scratch tensors and the step's
 * metadata (row tokens and positions, which rows sample, which entry each row belongs to).
 * @module
 */
import type { StepEntry } from '@mem/paged-kv';
import type { ForwardScratch } from './transformer.js';

/** What a step is given to work in; valid until {@link StepResources.endStep}. */
export interface StepMemory {
  /** The forward pass's scratch tensors. */
  readonly scratch: ForwardScratch;
  /** Token id of each row. */
  readonly tokens: Int32Array;
  /** Position of each row. */
  readonly positions: Int32Array;
  /** Rows that sample, in entry order. */
  readonly logitRows: Int32Array;
  /** Index of each row's entry in the step. */
  readonly rowEntry: Int32Array;
}

/** Hands out and takes back the memory of each step. */
export interface StepResources {
  /**
   * The memory of a step computing `rows` rows, `logitCount` of which sample, for `entries`
   * (the request ids are recorded as the step's keys).
   */
  beginStep(rows: number, logitCount: number, entries: readonly StepEntry[], requestIds: readonly string[]): StepMemory;
  /** Takes back everything `beginStep` handed out. */
  endStep(): void;
}
