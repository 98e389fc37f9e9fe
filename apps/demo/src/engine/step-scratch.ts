/**
 * The forward pass's scratch tensors as workspaces of `@mem/workspace-pool`: acquired at the start
 * of every step, sized for that step's rows, and released at its end, so a step's activations never
 * cost a fresh `ArrayBuffer` (or a garbage collection) however the batch size changes.
 * @module
 */
import type { Workspace, WorkspacePool } from '@mem/workspace-pool';
import type { ModelConfig } from '../model/model-config.js';
import { scratchLayout, type ForwardScratch, type ScratchName } from '../model/transformer.js';

const NAMES: readonly ScratchName[] = [
  'hidden',
  'normed',
  'query',
  'key',
  'value',
  'attention',
  'projection',
  'gate',
  'up',
  'logits',
];

/** Lends a step its scratch tensors from a workspace pool. */
export class StepScratch {
  readonly #pool: WorkspacePool;
  readonly #config: ModelConfig;
  readonly #held: Workspace[] = [];
  readonly #labels: Record<ScratchName, { label: string }>;

  constructor(pool: WorkspacePool, config: ModelConfig) {
    this.#pool = pool;
    this.#config = config;
    this.#labels = Object.fromEntries(NAMES.map((name) => [name, { label: `step:${name}` }])) as Record<
      ScratchName,
      { label: string }
    >;
  }

  /**
   * Acquires every scratch tensor for `rows` rows and `logitCount` sampling rows, and pins them: the
   * forward pass holds raw views for the whole step, and a defragmentation during the step (when a
   * newly admitted request's sampling state finds no room) must move other workspaces, never these.
   */
  acquire(rows: number, logitCount: number): ForwardScratch {
    if (this.#held.length > 0) throw new Error('the previous step scratch was not released');
    const layout = scratchLayout(this.#config, rows, logitCount);
    for (const name of NAMES) this.#held.push(this.#pool.acquire(layout[name] * 4, this.#labels[name]));
    // Views are taken (and pinned) once every workspace is acquired: an acquisition may compact the
    // pool and move the ones acquired before it.
    const views = this.#held.map((workspace) => {
      workspace.pin();
      return workspace.float32();
    });
    return Object.fromEntries(NAMES.map((name, i) => [name, views[i]!])) as unknown as ForwardScratch;
  }

  /** Unpins and releases what {@link StepScratch.acquire} lent. Idempotent. */
  release(): void {
    for (const workspace of this.#held) {
      if (workspace.pinned) workspace.unpin();
      workspace.release();
    }
    this.#held.length = 0;
  }
}
