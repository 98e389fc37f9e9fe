/**
 * `LocalArena`: the per-worker accessor of a ring of arenas ({@link ArenaPool},
 * {@link SharedArenaPool}), like a thread-local arena in Rust.
 *
 * This module is browser compatible.
 * @module
 */
import type { Arena, ArenaHandle } from './arena.js';
import {
  CURRENT_HIGH,
  CURRENT_LOW,
  RECORD_STATE,
  RING_SIZE,
  RING_SLOTS,
  STATE_RECLAIMING,
  STATE_SPARE,
  recordWord,
} from './pool-state.js';
import { pause } from './spin-wait.js';

/**
 * A per-worker accessor of an {@link ArenaPool} or a {@link SharedArenaPool}, from
 * {@link ArenaRing.local}: it caches the arena of the current epoch and refreshes the cache when the
 * epoch moves, so that an allocation costs two reads of the ring's epoch word, two compares, and
 * the arena's own bump. In a shared pool, each worker takes its own from its attachment.
 *
 * An allocation that races with an advance in another worker lands in the epoch before or after
 * it (its handle may then be stale at once, as the epoch it was made in may be reclaimed by then),
 * never in an arena that the advance reclaimed and that holds no epoch: an allocation that finds
 * its arena reclaimed is made again in the current one.
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
  /** The cached arena, and its index in the pool. */
  #arena: Arena;
  #index = 0;

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

  // Hot paths: the pool's epoch word read before and after the arena's own hot path. The second
  // read sends an allocation during which the epoch moved to `#settle`.

  /**
   * Allocates from the current epoch's arena; see {@link EpochArena.allocate}.
   * Cost: the arena's allocation plus two compares.
   * @throws as {@link EpochArena.allocate}; USE_AFTER_RELEASE once a shared pool is closed.
   */
  allocate(size: number, align?: number): ArenaHandle {
    if (this.#state[CURRENT_LOW] !== this.#cachedLow) this.#refresh();
    const handle = this.#arena.allocate(size, align);
    if (this.#state[CURRENT_LOW] === this.#cachedLow || this.#settle(handle)) return handle;
    return this.allocate(size, align);
  }

  /**
   * Allocates a copy of `bytes` from the current epoch's arena; see {@link EpochArena.allocateCopy}.
   * Cost: the arena's allocation plus two compares.
   * @throws as {@link EpochArena.allocateCopy}; USE_AFTER_RELEASE once a shared pool is closed.
   */
  allocateCopy(bytes: Uint8Array): ArenaHandle {
    if (this.#state[CURRENT_LOW] !== this.#cachedLow) this.#refresh();
    const handle = this.#arena.allocateCopy(bytes);
    if (this.#state[CURRENT_LOW] === this.#cachedLow || this.#settle(handle)) return handle;
    return this.allocateCopy(bytes);
  }

  /**
   * Allocates a key from the current epoch's arena; see {@link EpochArena.allocateKey}.
   * Cost: the arena's allocation plus two compares.
   * @throws as {@link EpochArena.allocateKey}; USE_AFTER_RELEASE once a shared pool is closed.
   */
  allocateKey(key: Uint8Array): ArenaHandle {
    if (this.#state[CURRENT_LOW] !== this.#cachedLow) this.#refresh();
    const handle = this.#arena.allocateKey(key);
    if (this.#state[CURRENT_LOW] === this.#cachedLow || this.#settle(handle)) return handle;
    return this.allocateKey(key);
  }

  /**
   * Slow path: the epoch moved while `handle` was allocated in the cached arena. Returns whether
   * the handle may be returned: it belongs to an epoch the arena held (live, or deferred while
   * pinned), or it is stale already, as any allocation racing with an advance may be. It may not
   * when the arena was reclaimed to a spare before the allocation: the handle is then valid in an
   * arena that holds no epoch, and the caller allocates again from the arena now current.
   */
  #settle(handle: ArenaHandle): boolean {
    const state = this.#state;
    const word = recordWord(this.#index, RECORD_STATE);
    for (let round = 0; ; round += 1) {
      const value = Atomics.load(state, word);
      // Reclaiming: an advance or a last release is deciding about the arena (a reset and a few stores).
      if (value === STATE_RECLAIMING) {
        pause(state, word, value, round);
        continue;
      }
      return value !== STATE_SPARE || !this.#arena.isValid(handle);
    }
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
      this.#index = index;
      this.#arena = this.#arenas[index]!;
      return this.#arena;
    }
  }
}
