/**
 * `LocalArena`: the per-worker accessor of an {@link ArenaPool}, like a thread-local arena in Rust.
 *
 * This module is browser compatible.
 * @module
 */
import type { Arena, ArenaHandle } from './arena.js';
import { CURRENT_LOW, CURRENT_HIGH, RING_SIZE, RING_SLOTS } from './pool-state.js';

/** What a {@link LocalArena} reads from its pool. */
export interface LocalArenaSource {
  /** The pool's state words. */
  readonly state: Int32Array;
  /** The pool's arenas by index (the array may grow; it is read, never copied). */
  readonly arenas: readonly Arena[];
}

/**
 * A per-worker accessor of an {@link ArenaPool}: it caches the arena of the current epoch and
 * refreshes the cache when the pool's epoch moves, so that an allocation costs one read of the
 * pool's epoch word, one compare, and the arena's own bump. Get one with {@link ArenaPool.local};
 * in a shared pool every worker gets its own from its attached pool.
 *
 * @example
 * ```ts
 * import { ArenaPool } from '@mem/epoch-arena';
 * const pool = new ArenaPool({ ringSize: 4 });
 * const local = pool.local();
 * local.allocate(32);
 * pool.advanceEpoch();
 * local.epoch; // 1: the accessor followed the pool
 * ```
 */
export class LocalArena {
  readonly #state: Int32Array;
  readonly #arenas: readonly Arena[];
  readonly #ringSize: number;
  #cachedLow = 0;
  #arena: Arena;

  /**
   * Made by {@link ArenaPool.local}; not meant to be constructed directly.
   * @param source the pool's state and arenas
   */
  constructor(source: LocalArenaSource) {
    this.#state = source.state;
    this.#arenas = source.arenas;
    this.#ringSize = source.state[RING_SIZE]!;
    this.#arena = this.#refresh();
  }

  /**
   * The arena of the pool's current epoch (refreshed if the epoch moved). Cost: O(1).
   * @throws never
   */
  get arena(): Arena {
    if (this.#state[CURRENT_LOW] !== this.#cachedLow) this.#refresh();
    return this.#arena;
  }

  /**
   * The pool's current epoch, which allocations through this accessor are tagged with. Cost: O(1).
   * @throws never
   */
  get epoch(): number {
    return this.arena.epoch;
  }

  // Hot paths: one word read and compare, then the arena's own hot path.

  /**
   * Allocates from the current epoch's arena; see {@link EpochArena.allocate}.
   * Cost: the arena's allocation plus one compare.
   * @throws as {@link EpochArena.allocate}; USE_AFTER_RELEASE once a shared pool is detached.
   */
  allocate(size: number, align?: number): ArenaHandle {
    if (this.#state[CURRENT_LOW] !== this.#cachedLow) this.#refresh();
    return this.#arena.allocate(size, align);
  }

  /**
   * Allocates a copy of `bytes` from the current epoch's arena; see {@link EpochArena.allocateCopy}.
   * Cost: the arena's allocation plus one compare.
   * @throws as {@link EpochArena.allocateCopy}; USE_AFTER_RELEASE once a shared pool is detached.
   */
  allocateCopy(bytes: Uint8Array): ArenaHandle {
    if (this.#state[CURRENT_LOW] !== this.#cachedLow) this.#refresh();
    return this.#arena.allocateCopy(bytes);
  }

  /**
   * Allocates a key from the current epoch's arena; see {@link EpochArena.allocateKey}.
   * Cost: the arena's allocation plus one compare.
   * @throws as {@link EpochArena.allocateKey}; USE_AFTER_RELEASE once a shared pool is detached.
   */
  allocateKey(key: Uint8Array): ArenaHandle {
    if (this.#state[CURRENT_LOW] !== this.#cachedLow) this.#refresh();
    return this.#arena.allocateKey(key);
  }

  /** Slow path: the epoch moved; look up the arena its ring slot holds now. */
  #refresh(): Arena {
    const state = this.#state;
    for (;;) {
      const low = Atomics.load(state, CURRENT_LOW);
      const epoch = Atomics.load(state, CURRENT_HIGH) * 2 ** 32 + (low >>> 0);
      const index = Atomics.load(state, RING_SLOTS + (epoch % this.#ringSize));
      // The advancer writes the ring slot before the epoch: an unchanged epoch means a matching slot.
      if (Atomics.load(state, CURRENT_LOW) !== low) continue;
      this.#cachedLow = low;
      this.#arena = this.#arenas[index]!;
      return this.#arena;
    }
  }
}
