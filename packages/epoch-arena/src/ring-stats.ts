/**
 * The snapshot of a ring of arenas ({@link ArenaPool}, {@link SharedArenaPool}): its epoch, its
 * guards and deferrals, and every arena's state and stats, read from the ring's state words.
 *
 * This module is browser compatible.
 * @module
 */
import type { Arena, ArenaStats } from './arena.js';
import {
  ADVANCE_TOTAL,
  CURRENT_LOW,
  DEFERRED_TOTAL,
  RECLAIMED_TOTAL,
  RECORD_EPOCH,
  RECORD_PINS,
  RECORD_STATE,
  RING_SIZE,
  STATE_DEFERRED,
  STATE_LIVE,
  STATE_RECLAIMING,
  readEpochWords,
  recordWord,
} from './pool-state.js';

/** One arena of a pool in {@link ArenaPoolStats}. */
export interface PoolArenaStats {
  /**
   * `live` in the ring, `deferred` out of it while pinned, `vacant` in the ring and unused yet,
   * `spare` out of the ring and holding nothing, `reclaiming` while an advance or a release decides.
   */
  readonly state: 'vacant' | 'live' | 'deferred' | 'spare' | 'reclaiming';
  /** The epoch it holds, or `null`. */
  readonly heldEpoch: number | null;
  /** Live guards pinning its epoch. */
  readonly pins: number;
  /** The arena's own stats. */
  readonly arena: ArenaStats;
}

/** A snapshot of an {@link ArenaPool} or {@link SharedArenaPool}, plain and JSON-serialisable. */
export interface ArenaPoolStats {
  /** The current epoch. */
  readonly currentEpoch: number;
  /** Arenas in the ring. */
  readonly ringSize: number;
  /** Arenas the pool holds (ring, deferred and spare). */
  readonly arenaCount: number;
  /** Live guards, over all epochs. */
  readonly activeGuards: number;
  /** Epochs pinned by at least one guard, ascending. */
  readonly pinnedEpochs: number[];
  /** Arenas out of the ring now, waiting for their last guard. */
  readonly deferredArenas: number;
  /** Times an advance found its arena pinned and deferred its reclamation (since creation). */
  readonly deferredReclamations: number;
  /** Deferred arenas reclaimed after their last guard went (since creation). */
  readonly reclaimedAfterDeferral: number;
  /** Advances since creation. */
  readonly advances: number;
  /** Guards collected unreleased and unpinned by this pool object (this worker's). */
  readonly leakedGuards: number;
  /** Every arena, by index. */
  readonly arenas: PoolArenaStats[];
}

const STATE_NAMES = ['vacant', 'live', 'deferred', 'reclaiming', 'spare'] as const;

/**
 * Reads the snapshot of a ring from its state words and arenas; `leakedGuards` is the pool
 * object's own count. Cost: O(arenas) plus each arena's `stats()`.
 */
export function readRingStats(state: Int32Array, arenas: readonly Arena[], leakedGuards: number): ArenaPoolStats {
  const perArena: PoolArenaStats[] = [];
  const pinned = new Set<number>();
  let activeGuards = 0;
  let deferredArenas = 0;
  for (let index = 0; index < arenas.length; index += 1) {
    const value = Atomics.load(state, recordWord(index, RECORD_STATE));
    const pins = Atomics.load(state, recordWord(index, RECORD_PINS));
    const holds = value === STATE_LIVE || value === STATE_DEFERRED || value === STATE_RECLAIMING;
    const heldEpoch = holds ? readEpochWords(state, recordWord(index, RECORD_EPOCH)) : null;
    activeGuards += pins;
    if (pins > 0 && heldEpoch !== null) pinned.add(heldEpoch);
    if (value === STATE_DEFERRED) deferredArenas += 1;
    perArena.push({ state: STATE_NAMES[value]!, heldEpoch, pins, arena: arenas[index]!.stats() });
  }
  return {
    currentEpoch: readEpochWords(state, CURRENT_LOW),
    ringSize: state[RING_SIZE]!,
    arenaCount: arenas.length,
    activeGuards,
    pinnedEpochs: [...pinned].sort((a, b) => a - b),
    deferredArenas,
    deferredReclamations: Atomics.load(state, DEFERRED_TOTAL),
    reclaimedAfterDeferral: Atomics.load(state, RECLAIMED_TOTAL),
    advances: Atomics.load(state, ADVANCE_TOTAL),
    leakedGuards,
    arenas: perArena,
  };
}
