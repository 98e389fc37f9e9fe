/**
 * `ArenaPool`: a ring of {@link EpochArena}s in one worker, which grows spare arenas as guards
 * need them.
 *
 * This module is browser compatible.
 * @module
 */
import { assertInteger, assertOptions, type LeakDetectionLevel, type MetricsSink } from '@mem/types';
import type { Arena } from './arena.js';
import { takeArenaIds } from './arena-id.js';
import { assertEpoch } from './arena-limits.js';
import { ArenaRing } from './arena-ring.js';
import { EpochArena } from './epoch-arena.js';
import { assertGuardLeakOptions, type GuardLeak } from './guard-leaks.js';
import { MAX_ARENA_ID } from './handle-layout.js';
import { PinLedger } from './pin-ledger.js';
import { MAX_RING_SIZE, poolStateWords, writeRingLayout } from './pool-state.js';

/** Options of an {@link ArenaPool}. */
export interface ArenaPoolOptions {
  /** Arenas in the ring: epoch `e` allocates from arena `e % ringSize`. 1 to 32. @defaultValue 4 */
  readonly ringSize?: number;
  /** The first epoch. @defaultValue 0 */
  readonly initialEpoch?: number;
  /**
   * The most arenas the pool may hold, ring and deferred ones together: when advancing onto a
   * pinned arena needs a fresh one and this many exist, the advance throws PINNED. `ringSize + 1`
   * to 63. @defaultValue `min(63, 2 * ringSize)`
   */
  readonly maxArenas?: number;
  /** Block size of each arena; see {@link EpochArenaOptions.blockSize}. @defaultValue 2 MiB */
  readonly blockSize?: number;
  /** Allocation limit of each arena; see {@link EpochArenaOptions.allocationLimit}. @defaultValue none */
  readonly allocationLimit?: number;
  /** Blocks each arena keeps across a reset; see {@link EpochArenaOptions.retainBlocks}. @defaultValue all */
  readonly retainBlocks?: number;
  /** Where to publish the pool's figures (`mem_arena_pool_*`) and its arenas'. @defaultValue none */
  readonly metrics?: MetricsSink;
  /**
   * The pool's name: the `pool` label of its figures and its arenas'. Give each pool that publishes
   * into one sink its own name. @defaultValue 'arena-pool'
   */
  readonly name?: string;
  /** See {@link GuardLeakOptions.leakDetection}. @defaultValue 'sampled' */
  readonly leakDetection?: LeakDetectionLevel;
  /** See {@link GuardLeakOptions.onGuardLeak}. @defaultValue none */
  readonly onGuardLeak?: (leak: GuardLeak) => void;
}

const OPTIONS = [
  'ringSize',
  'initialEpoch',
  'maxArenas',
  'blockSize',
  'allocationLimit',
  'retainBlocks',
  'metrics',
  'name',
  'leakDetection',
  'onGuardLeak',
] as const;

/**
 * A ring of {@link EpochArena}s in one worker (see {@link ArenaRing} for epochs, guards and
 * reclamation). The ring's arenas allocate their first block on first use; when an advance finds
 * its arena pinned and no spare is left, the pool makes a new arena, up to `maxArenas`. To share a
 * ring between workers, use {@link SharedArenaPool}.
 *
 * @example
 * ```ts
 * import { ArenaPool } from '@mem/epoch-arena';
 * const pool = new ArenaPool({ ringSize: 4 });
 * const handle = pool.allocateKey(new TextEncoder().encode('k1'));
 * for (let i = 0; i < 4; i += 1) pool.advanceEpoch();
 * pool.isEpochValid(0); // false: epoch 0's arena was reused by epoch 4
 * pool.isValid(handle); // false
 * ```
 */
export class ArenaPool extends ArenaRing {
  /** Makes arena `index` of the pool, with the pool's arena options and ids. */
  readonly #makeArena: (index: number) => Arena;
  readonly #maxArenas: number;
  #arenaCount: number;

  /**
   * Creates a pool; the ring's arenas allocate their first block on first use.
   * Cost: O(maxArenas).
   * @throws MemError INVALID_ARGUMENT if an option is unknown, out of range or of the wrong type.
   * @throws whatever the metrics sink's `addCollector` throws (no pool is created then).
   */
  constructor(options?: ArenaPoolOptions) {
    const checked = assertOptions<ArenaPoolOptions>(options, 'options', OPTIONS);
    const ringSize = assertInteger(checked.ringSize ?? 4, 'ringSize', { min: 1, max: MAX_RING_SIZE });
    const initialEpoch = assertEpoch(checked.initialEpoch ?? 0, 'initialEpoch');
    const maxArenas = assertInteger(checked.maxArenas ?? Math.min(MAX_ARENA_ID, 2 * ringSize), 'maxArenas', {
      min: ringSize + 1,
      max: MAX_ARENA_ID,
    });
    assertGuardLeakOptions(checked);
    const arenaOptions = {
      blockSize: checked.blockSize,
      allocationLimit: checked.allocationLimit,
      retainBlocks: checked.retainBlocks,
    };
    const ids = takeArenaIds(maxArenas);
    const makeArena = (index: number): Arena =>
      new EpochArena({ ...arenaOptions, id: ids[index]!, epoch: initialEpoch });
    // The first arena checks the arena options, so that no later advance can fail on them.
    const arenas = Array.from({ length: ringSize }, (_, index) => makeArena(index));
    const state = new Int32Array(poolStateWords(maxArenas));
    writeRingLayout(state, { ringSize, arenaCount: ringSize, maxArenas, initialEpoch, serial: 0 });
    super({ state, arenas, pins: new PinLedger(state), guards: checked });
    this.#makeArena = makeArena;
    this.#maxArenas = maxArenas;
    this.#arenaCount = ringSize;
    if (checked.metrics !== undefined) ArenaRing.publishWhileAlive(checked.metrics, this);
  }

  /** Names the pool in error messages. */
  override toString(): string {
    return `ArenaPool (ring of ${this.ringSize})`;
  }

  /** A reset: in one worker, nothing can allocate in the arena until the ring takes it again. @internal */
  protected override reclaimArena(arena: Arena): void {
    arena.reset(arena.epoch);
  }

  /** A new arena while the pool holds fewer than `maxArenas`. @internal */
  protected override growRing(): Arena | undefined {
    if (this.#arenaCount >= this.#maxArenas) return undefined;
    const arena = this.#makeArena(this.#arenaCount);
    this.#arenaCount += 1;
    return arena;
  }
}
