/**
 * The memory one scheduler step works in: its scratch tensors from `@mem/workspace-pool`, and its
 * metadata (the keys of the requests in the step, each row's token and position, which rows sample,
 * which entry each row belongs to) bump-allocated in an `@mem/epoch-arena` ArenaPool whose epoch
 * advances with every step. A step's metadata is dropped as a whole when its arena comes round
 * again in the ring: no per-step garbage for the collector, no per-object frees.
 * @module
 */
import type { ArenaPool } from '@mem/epoch-arena';
import type { MemoryMapSnapshot, WorkspacePool } from '@mem/workspace-pool';
import type { ModelConfig } from '../model/model-config.js';
import { StepScratch } from './step-scratch.js';
import type { ForwardScratch } from '../model/transformer.js';

/** What a step is given to work in; valid until {@link StepResources.endStep}. */
export interface StepMemory {
  /** The forward pass's scratch tensors (workspaces). */
  readonly scratch: ForwardScratch;
  /** Token id of each row (arena). */
  readonly tokens: Int32Array;
  /** Position of each row (arena). */
  readonly positions: Int32Array;
  /** Rows that sample, in entry order (arena). */
  readonly logitRows: Int32Array;
  /** Index of each row's entry in the step (arena). */
  readonly rowEntry: Int32Array;
}

/** Figures of the last step's memory. */
export interface StepMemoryStats {
  /** The arena pool's epoch (one per step). */
  readonly epoch: number;
  /** Bytes the last step took from its arena (keys, row arrays, alignment). */
  readonly arenaBytesPerEpoch: number;
  /** Allocations the last step made in its arena. */
  readonly arenaAllocationsPerEpoch: number;
  /** Bytes of workspaces in use at the peak of the last step. */
  readonly workspacePeakBytes: number;
}

const encoder = new TextEncoder();
const SNAPSHOT_INTERVAL_MS = 500;
/** The workspace pool's fragmentation (0 to 1) at which the engine defragments it between steps. */
const DEFRAGMENT_AT = 0.25;

/** Lends each step its scratch and metadata, and takes them back. */
export class StepResources {
  readonly #arenas: ArenaPool;
  readonly #workspaces: WorkspacePool;
  readonly #scratch: StepScratch;
  #inStep = false;
  #stats: StepMemoryStats = { epoch: 0, arenaBytesPerEpoch: 0, arenaAllocationsPerEpoch: 0, workspacePeakBytes: 0 };
  #snapshot: MemoryMapSnapshot | undefined;
  #snapshotAt = -Infinity;

  /**
   * Lends steps their memory from `arenas` and `workspaces`; between steps, the workspace pool is
   * defragmented when its fragmentation reaches `DEFRAGMENT_AT`.
   */
  constructor(arenas: ArenaPool, workspaces: WorkspacePool, config: ModelConfig) {
    this.#arenas = arenas;
    this.#workspaces = workspaces;
    this.#scratch = new StepScratch(workspaces, config);
  }

  /**
   * Opens a new epoch and lends the memory of a step computing `rows` rows, `logitCount` of which
   * sample, for the requests `requestIds` (which become the step's keys in the arena).
   * @throws MemError from the pools when memory runs out (the step then fails, its requests with it).
   */
  beginStep(rows: number, logitCount: number, requestIds: readonly string[]): StepMemory {
    if (this.#inStep) throw new Error('beginStep called twice without endStep');
    this.#inStep = true;
    const arenas = this.#arenas;
    arenas.advanceEpoch();
    for (const id of requestIds) arenas.allocateKey(encoder.encode(id));
    const memory: StepMemory = {
      tokens: this.#int32(rows),
      positions: this.#int32(rows),
      logitRows: this.#int32(Math.max(1, logitCount)),
      rowEntry: this.#int32(rows),
      scratch: this.#scratch.acquire(rows, logitCount),
    };
    const now = performance.now();
    if (now - this.#snapshotAt >= SNAPSHOT_INTERVAL_MS) {
      // The map is taken mid-step, so it shows the step's activations beside the requests' sampling state.
      this.#snapshot = this.#workspaces.snapshot();
      this.#snapshotAt = now;
    }
    return memory;
  }

  /** Releases the step's workspaces and records what the step used. Idempotent. */
  endStep(): void {
    if (!this.#inStep) return;
    this.#inStep = false;
    const peak = this.#workspaces.stats().bytesInUse;
    this.#scratch.release();
    const arena = this.#arenas.currentArena().stats();
    this.#stats = {
      epoch: this.#arenas.currentEpoch,
      arenaBytesPerEpoch: arena.bytesUsed,
      arenaAllocationsPerEpoch: arena.allocationCount,
      workspacePeakBytes: peak,
    };
  }

  /**
   * Housekeeping between steps, once the step's scratch and the finished requests' state are back:
   * when fragmentation has reached the threshold, defragment the workspace pool. Nothing is pinned
   * here, so compaction can move every live workspace (the requests' sampling state, re-resolved
   * through its handles). The pool logs the report. Returns whether it defragmented.
   * Cost: O(free blocks) to measure; a defragmentation moves at most the live bytes.
   */
  betweenSteps(): boolean {
    if (this.#inStep || this.#workspaces.fragmentationRatio() < DEFRAGMENT_AT) return false;
    this.#workspaces.defragment();
    return true;
  }

  /** Figures of the last step. */
  stats(): StepMemoryStats {
    return this.#stats;
  }

  /** The workspace pool's memory map as seen during a recent step (or now, before any step). */
  memoryMap(): MemoryMapSnapshot {
    return this.#snapshot ?? this.#workspaces.snapshot();
  }

  #int32(length: number): Int32Array {
    const handle = this.#arenas.allocate(length * 4, 4);
    const bytes = this.#arenas.view(handle);
    return new Int32Array(bytes.buffer, bytes.byteOffset, length);
  }
}
