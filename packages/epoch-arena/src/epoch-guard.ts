/**
 * `EpochGuard`: what {@link ArenaRing.pin} returns. While a guard is live, the arena holding its
 * epoch is never reset.
 *
 * This module is browser compatible.
 * @module
 */
import { DisposableHandle } from '@mem/types';

/**
 * A pin on one epoch of a ring ({@link ArenaPool}, {@link SharedArenaPool}), as crossbeam-epoch's `Guard`: while it is live, the
 * arena holding that epoch is not reset, so handles of the epoch stay valid and views of them keep
 * their bytes. Advancing the pool onto a pinned arena defers its reclamation (the ring takes a
 * spare arena instead); the last guard's release reclaims it.
 *
 * Release it exactly once, with {@link EpochGuard.release} or a `using` declaration; a second
 * release throws DOUBLE_FREE.
 *
 * @example
 * ```ts
 * import { ArenaPool } from '@mem/epoch-arena';
 * const pool = new ArenaPool({ ringSize: 2 });
 * const handle = pool.allocate(16);
 * {
 *   using guard = pool.pin();
 *   pool.advanceEpoch();
 *   pool.advanceEpoch(); // would reuse epoch 0's arena: it is pinned, so a spare takes its place
 *   pool.isValid(handle); // true
 * } // the guard is released here and epoch 0's arena is reclaimed
 * pool.isValid(handle); // false
 * ```
 */
export class EpochGuard extends DisposableHandle {
  readonly #epoch: number;
  readonly #unpin: (guard: EpochGuard) => void;

  /**
   * Made by {@link ArenaRing.pin}; not meant to be constructed directly.
   * @param epoch the pinned epoch
   * @param unpin called once, by the release, with this guard
   */
  constructor(epoch: number, unpin: (guard: EpochGuard) => void) {
    super();
    this.#epoch = epoch;
    this.#unpin = unpin;
  }

  /**
   * The pinned epoch. Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE once the guard is released.
   */
  get epoch(): number {
    this.assertLive();
    return this.#epoch;
  }

  /** Unpins the epoch; reclaims its arena if it was deferred and this was its last guard. */
  protected onRelease(): void {
    this.#unpin(this);
  }

  /** Names the guard in error messages. */
  protected override describe(): string {
    return `EpochGuard of epoch ${this.#epoch}`;
  }
}
