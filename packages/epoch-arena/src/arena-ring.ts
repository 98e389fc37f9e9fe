/**
 * `ArenaRing`: a ring of epoch arenas with a global epoch, per-worker accessors and guard-based
 * reclamation, over state words that one worker ({@link ArenaPool}) or several
 * ({@link SharedArenaPool}) update with `Atomics`.
 *
 * Over 400 lines for one concept: advancing, pinning and reclaiming are one protocol over the same
 * state words (see the package README, "Concurrency protocol"), kept in one place to be checked.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, type LeakTracker, type MetricsSink } from '@mem/types';
import { metricsName, publishRingWhileAlive } from './arena-metrics.js';
import type { Arena, ArenaHandle } from './arena.js';
import { assertEpoch, MAX_EPOCH } from './arena-limits.js';
import { ArenaRouter } from './arena-router.js';
import { EpochGuard } from './epoch-guard.js';
import { makeGuardTracker, type GuardLeakOptions, type HeldPin } from './guard-leaks.js';
import { LocalArena } from './local-arena.js';
import type { PinLedger } from './pin-ledger.js';
import {
  ADVANCE_TOTAL,
  ARENA_COUNT,
  CURRENT_LOW,
  DEFERRED_TOTAL,
  RECLAIMED_TOTAL,
  RECORD_EPOCH,
  RECORD_PINS,
  RECORD_STATE,
  RING_SIZE,
  RING_SLOTS,
  STATE_DEFERRED,
  STATE_LIVE,
  STATE_RECLAIMING,
  STATE_SPARE,
  lockPool,
  readEpochWords,
  recordWord,
  unlockPool,
  writeEpochWords,
} from './pool-state.js';
import { readRingStats, type ArenaPoolStats } from './ring-stats.js';
import { pause } from './spin-wait.js';

/**
 * What a ring is made of; built by {@link ArenaPool}'s constructor and {@link SharedArenaPool}'s
 * factories.
 * @internal
 */
export interface RingParts {
  /** The state words, laid out by `writeRingLayout`. */
  readonly state: Int32Array;
  /** The arenas by index, as many as the state's arena count. */
  readonly arenas: readonly Arena[];
  /** The pins this pool object takes. */
  readonly pins: PinLedger;
  /** This pool object's leak detection and `onGuardLeak`, checked by `assertGuardLeakOptions`. */
  readonly guards: GuardLeakOptions;
}

/**
 * A ring of epoch arenas: epoch `e` allocates from the arena in ring slot `e % ringSize`,
 * {@link ArenaRing.advanceEpoch} moves to the next epoch and resets the arena it is about to reuse,
 * and an epoch stays valid until its arena is reused `ringSize` epochs later.
 *
 * Reclamation is guarded as in crossbeam-epoch: {@link ArenaRing.pin} returns a guard, and while a
 * guard pins an epoch its arena is never reset. Advancing onto a pinned arena takes it out of the
 * ring (a spare takes its place) and defers its reclamation to the release of its last guard.
 *
 * Handles of every arena of the ring are read through it ({@link ArenaRouter}). The two kinds of
 * ring are {@link ArenaPool}, in one worker, and {@link SharedArenaPool}, in shared memory.
 *
 * @example
 * ```ts
 * import { ArenaPool, type ArenaRing } from '@mem/epoch-arena';
 * const endOfStep = (ring: ArenaRing) => ring.advanceEpoch();
 * endOfStep(new ArenaPool()); // 1
 * ```
 */
export abstract class ArenaRing extends ArenaRouter {
  readonly #state: Int32Array;
  /** The arenas by index; an {@link ArenaPool} adds spares as it needs them. */
  readonly #arenas: Arena[] = [];
  readonly #ringSize: number;
  readonly #local: LocalArena;
  /** The pins taken through this object, dropped together when it closes or goes away. */
  readonly #pins: PinLedger;
  /** Watches guards for leaks; undefined when off. */
  readonly #guardTracker: LeakTracker<HeldPin> | undefined;
  #leakedGuards = 0;
  /** The `pool` label of the ring's figures. */
  readonly #name: string;

  /**
   * Takes over the parts of a ring (options checked by the maker).
   * @internal
   */
  protected constructor(parts: RingParts) {
    super();
    const guards = parts.guards;
    this.#name = metricsName(guards.name, 'arena-pool');
    this.#guardTracker = makeGuardTracker(guards, (index, epoch, stack) => {
      this.#leakedGuards += 1;
      this.#unpin(index);
      guards.onGuardLeak?.({ epoch, allocationStack: stack });
    });
    this.#state = parts.state;
    this.#pins = parts.pins;
    this.#ringSize = parts.state[RING_SIZE]!;
    for (const arena of parts.arenas) this.#adopt(arena);
    this.#local = LocalArena.over(this.#state, this.#arenas);
  }

  /** Arenas in the ring. Cost: O(1). */
  get ringSize(): number {
    return this.#ringSize;
  }

  /** The current epoch (as advanced by any worker of a shared pool). Cost: O(1). */
  get currentEpoch(): number {
    return readEpochWords(this.#state, CURRENT_LOW);
  }

  /**
   * The arena of the current epoch. Allocate through the ring or a {@link LocalArena} rather than
   * through an arena kept across advances: it may have left the ring since.
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE once a shared pool is closed.
   */
  currentArena(): Arena {
    this.assertOpen();
    return this.#local.arena;
  }

  /**
   * A new per-worker accessor that caches the current epoch's arena (see {@link LocalArena}).
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE once a shared pool is closed.
   */
  local(): LocalArena {
    this.assertOpen();
    return LocalArena.over(this.#state, this.#arenas);
  }

  /**
   * Allocates from the current epoch's arena through the ring's own accessor; see {@link EpochArena.allocate}.
   * Cost: as {@link LocalArena.allocate}.
   * @throws as {@link EpochArena.allocate}; USE_AFTER_RELEASE once a shared pool is closed.
   */
  allocate(size: number, align?: number): ArenaHandle {
    return this.#local.allocate(size, align);
  }

  /**
   * Allocates a copy of `bytes` from the current epoch's arena; see {@link EpochArena.allocateCopy}.
   * Cost: as {@link LocalArena.allocateCopy}.
   * @throws as {@link EpochArena.allocateCopy}; USE_AFTER_RELEASE once a shared pool is closed.
   */
  allocateCopy(bytes: Uint8Array): ArenaHandle {
    return this.#local.allocateCopy(bytes);
  }

  /**
   * Allocates a key from the current epoch's arena; see {@link EpochArena.allocateKey}.
   * Cost: as {@link LocalArena.allocateKey}.
   * @throws as {@link EpochArena.allocateKey}; USE_AFTER_RELEASE once a shared pool is closed.
   */
  allocateKey(key: Uint8Array): ArenaHandle {
    return this.#local.allocateKey(key);
  }

  /**
   * Moves to the next epoch and returns it. The arena of the new epoch's ring slot is reset (its
   * old epoch, `ringSize` epochs back, becomes invalid) unless a guard pins it: then it leaves the
   * ring with its epoch intact, a spare arena takes its slot, and its reclamation waits for its
   * last guard.
   * Cost: O(blocks) of the reset arena, plus O(arenas) to sweep deferred ones.
   * @throws MemError PINNED if the arena is pinned and no spare arena is left (`maxArenas` or
   * `spareArenas`); the ring is then unchanged.
   * @throws MemError LIMIT_EXCEEDED if the epoch is already 2^53 - 1.
   * @throws MemError USE_AFTER_RELEASE once a shared pool is closed.
   *
   * @example
   * ```ts
   * import { ArenaPool } from '@mem/epoch-arena';
   * const pool = new ArenaPool({ ringSize: 4 });
   * pool.advanceEpoch(); // 1
   * pool.isEpochValid(0); // true until epoch 4 reuses its arena
   * ```
   */
  advanceEpoch(): number {
    this.assertOpen();
    const state = this.#state;
    lockPool(state);
    try {
      const current = readEpochWords(state, CURRENT_LOW);
      if (current >= MAX_EPOCH) {
        throw new MemError('LIMIT_EXCEEDED', `the epoch counter is at its maximum, ${MAX_EPOCH}`);
      }
      const next = current + 1;
      const slot = RING_SLOTS + (next % this.#ringSize);
      const index = Atomics.load(state, slot);
      const stateWord = recordWord(index, RECORD_STATE);
      let target = index;
      const wasLive = Atomics.load(state, stateWord) === STATE_LIVE;
      // Announce the reclamation, then look for pins: a pinner adds its pin, then reads the state,
      // so one of the two sees the other (both are sequentially consistent).
      Atomics.store(state, stateWord, STATE_RECLAIMING);
      if (wasLive && Atomics.load(state, recordWord(index, RECORD_PINS)) > 0) {
        const spare = this.#takeSpare();
        if (spare < 0) {
          Atomics.store(state, stateWord, STATE_LIVE);
          throw new MemError(
            'PINNED',
            `epoch ${next - this.#ringSize} is pinned and no spare arena is left to take its ring slot (${this.#arenas.length} arenas); release its guards first`,
            { details: { pinnedEpoch: next - this.#ringSize, arenas: this.#arenas.length } },
          );
        }
        target = spare;
      }
      // The record names the new epoch before the reset makes its first handle possible, so that
      // pin(next) and isEpochValid(next) find the arena (reclaiming: they wait) once a handle exists.
      writeEpochWords(state, recordWord(target, RECORD_EPOCH), next);
      this.#arenas[target]!.reset(next);
      Atomics.store(state, recordWord(target, RECORD_STATE), STATE_LIVE);
      // The slot before the epoch: an accessor that reads the new epoch finds the new arena.
      Atomics.store(state, slot, target);
      writeEpochWords(state, CURRENT_LOW, next);
      if (target !== index) {
        // Deferred only now, after the epoch moved: until then no release can reclaim the arena, so
        // an accessor that allocated in it and still reads the old epoch knows the arena held it.
        Atomics.store(state, stateWord, STATE_DEFERRED);
        Atomics.add(state, DEFERRED_TOTAL, 1);
      }
      Atomics.add(state, ADVANCE_TOTAL, 1);
      this.#sweepDeferred();
      return next;
    } finally {
      unlockPool(state);
    }
  }

  /**
   * Tells whether handles of `epoch` are still valid: its arena has not been reused, either
   * because it is one of the last `ringSize` epochs or because a guard kept it.
   * Cost: O(1), O(arenas) for an epoch out of the ring.
   * @throws MemError INVALID_ARGUMENT if `epoch` is not an integer in [0, 2^53 - 1].
   * @throws MemError USE_AFTER_RELEASE once a shared pool is closed.
   */
  isEpochValid(epoch: number): boolean {
    this.assertOpen();
    const wanted = assertEpoch(epoch, 'epoch');
    const state = this.#state;
    for (let round = 0; ; round += 1) {
      const index = this.#arenaHolding(wanted);
      if (index < 0) return false;
      const stateWord = recordWord(index, RECORD_STATE);
      const value = Atomics.load(state, stateWord);
      // Reclaiming is a decision in progress (an advance or a last release looking for pins): wait for it.
      if (value === STATE_RECLAIMING) {
        pause(state, stateWord, value, round);
        continue;
      }
      return (
        (value === STATE_LIVE || value === STATE_DEFERRED) &&
        readEpochWords(state, recordWord(index, RECORD_EPOCH)) === wanted
      );
    }
  }

  /**
   * Pins `epoch` (the current one by default) and returns the guard: until it is released, the
   * arena holding that epoch is not reset, in any worker.
   * Cost: two or three atomic operations and one guard object.
   * @throws MemError INVALID_ARGUMENT if `epoch` is not an integer in [0, 2^53 - 1] or has not started.
   * @throws MemError STALE_HANDLE if `epoch`'s arena has been reclaimed already.
   * @throws MemError USE_AFTER_RELEASE once a shared pool is closed.
   *
   * @example
   * ```ts
   * import { ArenaPool } from '@mem/epoch-arena';
   * const pool = new ArenaPool();
   * const guard = pool.pin();
   * guard.epoch; // 0
   * guard.release();
   * ```
   */
  pin(epoch?: number): EpochGuard {
    this.assertOpen();
    const state = this.#state;
    const fixed = epoch === undefined ? undefined : assertEpoch(epoch, 'epoch');
    for (let round = 0; ; round += 1) {
      const wanted = fixed ?? this.currentEpoch;
      const index = this.#arenaHolding(wanted);
      if (index < 0) {
        // The current epoch's arena is being reused by an advance to the next one: pin that one.
        if (fixed !== undefined) this.#throwNotHeld(wanted);
        pause(state, CURRENT_LOW, (wanted % 2 ** 32) | 0, round);
        continue;
      }
      this.#pins.pin(index);
      const stateWord = recordWord(index, RECORD_STATE);
      const value = Atomics.load(state, stateWord);
      if (
        (value === STATE_LIVE || value === STATE_DEFERRED) &&
        readEpochWords(state, recordWord(index, RECORD_EPOCH)) === wanted
      ) {
        const tracker = this.#guardTracker;
        const guard = new EpochGuard(wanted, (released) => {
          tracker?.untrack(released);
          this.#unpin(index);
        });
        // The held value must not reference the guard, or the guard would never be collected.
        tracker?.track(guard, { index, epoch: wanted }, 'EpochGuard');
        return guard;
      }
      // Reclaimed meanwhile, or being reclaimed: take the pin back and look again.
      this.#unpin(index);
      pause(state, stateWord, STATE_RECLAIMING, round);
    }
  }

  /**
   * A snapshot: current epoch, guards, pinned epochs, deferrals and every arena's stats.
   * Cost: O(arenas + blocks).
   * @throws MemError USE_AFTER_RELEASE once a shared pool is closed.
   */
  stats(): ArenaPoolStats {
    this.assertOpen();
    return readRingStats(this.#state, this.#arenas, this.#leakedGuards);
  }

  /**
   * An arena to add to the ring as a spare when every arena is pinned or in the ring, or undefined
   * if the ring may not grow. Called under the ring's lock.
   * @internal
   */
  protected abstract growRing(): Arena | undefined;

  /**
   * Reclaims an arena that leaves service as a spare (a deferred arena whose last guard went): its
   * handles go stale everywhere, and it holds no epoch until an advance takes it.
   * @internal
   */
  protected abstract reclaimArena(arena: Arena, index: number): void;

  /**
   * Drops the pins still held through this object (a later release of their guards does nothing)
   * and reclaims a deferred arena that only they pinned, then ends the object: every later call
   * throws USE_AFTER_RELEASE. Idempotent. Cost: O(arenas).
   * @internal
   */
  protected closeRing(): void {
    if (this.routesEnded) return;
    for (const index of this.#pins.close()) this.#reclaimIfDeferred(index);
    this.endRoutes();
  }

  /**
   * Publishes the ring's and its arenas' figures to `sink` at scrapes (zeros once closed or
   * collected). The sink holds the ring weakly.
   * @throws whatever `sink.addCollector` throws; nothing is registered then.
   * @internal
   */
  protected static publishWhileAlive(sink: MetricsSink, ring: ArenaRing): void {
    publishRingWhileAlive(sink, ring.#name, ring, (alive) => (alive.routesEnded ? undefined : alive.stats()));
  }

  // ---------------------------------------------------------------------------------------------
  // Internals: arena bookkeeping and reclamation.
  // ---------------------------------------------------------------------------------------------

  #adopt(arena: Arena): void {
    this.#arenas.push(arena);
    this.addRoute(arena);
  }

  /** Takes a spare arena (state SPARE to RECLAIMING), growing the ring if it may; -1 if none. */
  #takeSpare(): number {
    const state = this.#state;
    for (let index = 0; index < this.#arenas.length; index += 1) {
      const stateWord = recordWord(index, RECORD_STATE);
      if (Atomics.compareExchange(state, stateWord, STATE_SPARE, STATE_RECLAIMING) === STATE_SPARE) return index;
    }
    const grown = this.growRing();
    if (grown === undefined) return -1;
    const index = this.#arenas.length;
    this.#adopt(grown);
    Atomics.store(state, recordWord(index, RECORD_STATE), STATE_RECLAIMING);
    Atomics.store(state, recordWord(index, RECORD_PINS), 0);
    Atomics.store(state, ARENA_COUNT, index + 1);
    return index;
  }

  #unpin(index: number): void {
    if (this.#pins.unpin(index) === 0) this.#reclaimIfDeferred(index);
  }

  /**
   * Reclaims a deferred arena whose pins are gone: reset (so its handles go stale everywhere) and
   * kept as a spare. A pin that arrives meanwhile wins and the arena stays deferred.
   */
  #reclaimIfDeferred(index: number): void {
    // A closed pool object cannot reset its arenas: the next advance of another worker sweeps it.
    if (this.routesEnded) return;
    const state = this.#state;
    const stateWord = recordWord(index, RECORD_STATE);
    for (let round = 0; ; round += 1) {
      const value = Atomics.load(state, stateWord);
      if (value === STATE_RECLAIMING) {
        pause(state, stateWord, value, round); // an advance is deciding about this arena
        continue;
      }
      if (value !== STATE_DEFERRED) return;
      if (Atomics.compareExchange(state, stateWord, STATE_DEFERRED, STATE_RECLAIMING) !== STATE_DEFERRED) continue;
      if (Atomics.load(state, recordWord(index, RECORD_PINS)) > 0) {
        Atomics.store(state, stateWord, STATE_DEFERRED);
        return;
      }
      this.reclaimArena(this.#arenas[index]!, index);
      Atomics.store(state, stateWord, STATE_SPARE);
      Atomics.add(state, RECLAIMED_TOTAL, 1);
      return;
    }
  }

  /** Reclaims deferred arenas whose last unpin raced with the advance that deferred them. */
  #sweepDeferred(): void {
    const state = this.#state;
    for (let index = 0; index < this.#arenas.length; index += 1) {
      if (
        Atomics.load(state, recordWord(index, RECORD_STATE)) === STATE_DEFERRED &&
        Atomics.load(state, recordWord(index, RECORD_PINS)) === 0
      ) {
        this.#reclaimIfDeferred(index);
      }
    }
  }

  /** Index of the arena holding `epoch` (live, deferred or being reclaimed), or -1. */
  #arenaHolding(epoch: number): number {
    const state = this.#state;
    const holds = (index: number, accept: (value: number) => boolean): boolean =>
      accept(Atomics.load(state, recordWord(index, RECORD_STATE))) &&
      readEpochWords(state, recordWord(index, RECORD_EPOCH)) === epoch;
    const inRing = Atomics.load(state, RING_SLOTS + (epoch % this.#ringSize));
    if (holds(inRing, (value) => value === STATE_LIVE || value === STATE_RECLAIMING)) return inRing;
    for (let index = 0; index < this.#arenas.length; index += 1) {
      if (holds(index, (value) => value === STATE_DEFERRED || value === STATE_RECLAIMING)) return index;
    }
    return -1;
  }

  #throwNotHeld(epoch: number): never {
    const current = this.currentEpoch;
    const details = { epoch, currentEpoch: current };
    if (epoch > current) {
      throw new MemError('INVALID_ARGUMENT', `epoch ${epoch} has not started (current epoch ${current})`, { details });
    }
    throw new MemError(
      'STALE_HANDLE',
      `epoch ${epoch} has been reclaimed (current epoch ${current}, ring of ${this.#ringSize})`,
      { details },
    );
  }
}
