/**
 * `LocalArena`: the per-worker accessor of a ring of arenas ({@link ArenaPool},
 * {@link SharedArenaPool}), like a thread-local arena in Rust.
 *
 * This module is browser compatible.
 * @module
 */
import type { Arena, ArenaHandle } from './arena.js';
import { CURRENT_HIGH, CURRENT_LOW, RING_SIZE, RING_SLOTS } from './pool-state.js';

/**
 * A per-worker accessor of an {@link ArenaPool} or a {@link SharedArenaPool}, from
 * {@link ArenaRing.local}: it caches the arena of the current epoch and refreshes the cache when the
 * epoch moves, so that an allocation costs one read of the ring's epoch word, one compare, and the
 * arena's own bump. In a shared pool, each worker takes its own from its attachment.
 *
 * An allocation that races with an advance in another worker lands in the epoch before or after
 * it (its handle may then be stale at once, as the epoch it was made in may be reclaimed by then),
 * never in an arena that was reclaimed and holds no epoch: such an arena refuses allocations, and
 * the accessor, seeing that the epoch moved, allocates in the current one instead.
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

  private constructor(state: Int32Array, arenas: readonly Arena[]) {
    this.#state = state;
    this.#arenas = arenas;
    this.#ringSize = state[RING_SIZE]!;
    this.#arena = this.#refresh();
  }

  /**
   * The accessor of a ring over its state words and its arenas by index (an array that may grow;
   * it is read, never copied). Made by {@link ArenaRing.local}.
   * @internal
   */
  static over(state: Int32Array, arenas: readonly Arena[]): LocalArena {
    return new LocalArena(state, arenas);
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

  // Hot paths: one word read and compare, then the arena's own hot path. An allocation that fails
  // is looked at again only if the epoch moved meanwhile (the try costs nothing until it throws).

  /**
   * Allocates from the current epoch's arena; see {@link EpochArena.allocate}.
   * Cost: the arena's allocation plus one compare.
   * @throws as {@link EpochArena.allocate}; USE_AFTER_RELEASE once a shared pool is closed.
   */
  allocate(size: number, align?: number): ArenaHandle {
    if (this.#state[CURRENT_LOW] !== this.#cachedLow) this.#refresh();
    try {
      return this.#arena.allocate(size, align);
    } catch (error) {
      this.#rethrowUnlessMoved(error);
      return this.allocate(size, align);
    }
  }

  /**
   * Allocates a copy of `bytes` from the current epoch's arena; see {@link EpochArena.allocateCopy}.
   * Cost: the arena's allocation plus one compare.
   * @throws as {@link EpochArena.allocateCopy}; USE_AFTER_RELEASE once a shared pool is closed.
   */
  allocateCopy(bytes: Uint8Array): ArenaHandle {
    if (this.#state[CURRENT_LOW] !== this.#cachedLow) this.#refresh();
    try {
      return this.#arena.allocateCopy(bytes);
    } catch (error) {
      this.#rethrowUnlessMoved(error);
      return this.allocateCopy(bytes);
    }
  }

  /**
   * Allocates a key from the current epoch's arena; see {@link EpochArena.allocateKey}.
   * Cost: the arena's allocation plus one compare.
   * @throws as {@link EpochArena.allocateKey}; USE_AFTER_RELEASE once a shared pool is closed.
   */
  allocateKey(key: Uint8Array): ArenaHandle {
    if (this.#state[CURRENT_LOW] !== this.#cachedLow) this.#refresh();
    try {
      return this.#arena.allocateKey(key);
    } catch (error) {
      this.#rethrowUnlessMoved(error);
      return this.allocateKey(key);
    }
  }

  /**
   * Slow path of a failed allocation: rethrows `error` unless the epoch moved since the arena was
   * looked up. If it moved, the arena may have left the ring and been retired (a retired arena
   * refuses every allocation), and the caller allocates again from the arena now current.
   */
  #rethrowUnlessMoved(error: unknown): void {
    if (Atomics.load(this.#state, CURRENT_LOW) === this.#cachedLow) throw error;
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
