/**
 * `ArenaPool`: a ring of epoch arenas with a global epoch, per-worker accessors and guard-based
 * reclamation, in one worker or shared by many.
 *
 * This module is browser compatible.
 * @module
 */
import {
  BackingMemory,
  LeakTracker,
  MemError,
  assertInteger,
  describeValue,
  releaseWhenGone,
  type LeakDetectionLevel,
  type MetricsSink,
} from '@mem/types';
import {
  NO_ARENA_FIGURES,
  NO_POOL_FIGURES,
  arenaPublisher,
  assertMetricsSink,
  collectWhileAlive,
  poolPublisher,
  type ArenaFigures,
  type PoolFigures,
} from './arena-metrics.js';
import type { Arena, ArenaHandle, ArenaStats } from './arena.js';
import { takeArenaIds } from './arena-id.js';
import { assertEpoch, assertOptions, MAX_EPOCH } from './arena-limits.js';
import { EpochArena } from './epoch-arena.js';
import { EpochGuard } from './epoch-guard.js';
import { ADDRESS_SPAN, GENERATION_BITS, LENGTH_BITS, MAX_ARENA_ID } from './handle-layout.js';
import { rejectHandle } from './handle-rejection.js';
import { LocalArena } from './local-arena.js';
import {
  ADVANCE_TOTAL,
  ARENA_COUNT,
  CURRENT_LOW,
  DEFERRED_TOTAL,
  MAX_ARENAS,
  MAX_RING_SIZE,
  POOL_MAGIC,
  POOL_MAGIC_VALUE,
  POOL_SERIAL,
  RECLAIMED_TOTAL,
  RING_SIZE,
  RING_SLOTS,
  STATE_DEFERRED,
  STATE_LIVE,
  STATE_RECLAIMING,
  STATE_SPARE,
  STATE_VACANT,
  lockPool,
  poolStateWords,
  readEpochWords,
  recordWord,
  unlockPool,
  writeEpochWords,
} from './pool-state.js';
import { PinLedger } from './pin-ledger.js';
import { SharedEpochArena, type SharedEpochArenaDescriptor } from './shared-epoch-arena.js';
import { isOwnedBy, markOwner } from './shared-arena-control.js';
import { pause } from './spin-wait.js';

/** Options of an {@link ArenaPool} in one worker. */
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
  /** See {@link GuardLeakOptions.leakDetection}. @defaultValue 'sampled' */
  readonly leakDetection?: LeakDetectionLevel;
  /** See {@link GuardLeakOptions.onGuardLeak}. @defaultValue none */
  readonly onGuardLeak?: (leak: GuardLeak) => void;
}

/** A guard that was garbage-collected without being released, as given to `onGuardLeak`. */
export interface GuardLeak {
  /** The epoch it pinned (now unpinned by the pool). */
  readonly epoch: number;
  /** Where it was pinned; only with `leakDetection: 'paranoid'`. */
  readonly allocationStack: string | undefined;
}

/** How a pool watches for guards dropped without a release (see {@link ArenaPool.attach}). */
export interface GuardLeakOptions {
  /**
   * Watches for guards that are garbage-collected without a release (each would pin its epoch for
   * ever): `off`, `sampled` (one guard in 128 is watched) or `paranoid` (every guard, with the stack
   * where it was pinned). A watched leaked guard is unpinned by the pool and counted in
   * `stats().leakedGuards`. @defaultValue 'sampled'
   */
  readonly leakDetection?: LeakDetectionLevel;
  /**
   * Called for each leaked guard that was watched, after it was unpinned and counted. It runs in a
   * finalization task, between operations, so it may call any method of the pool; an error it
   * throws surfaces as an uncaught error of the worker. @defaultValue none
   */
  readonly onGuardLeak?: (leak: GuardLeak) => void;
  /** Where to publish the pool's figures (`mem_arena_pool_*`) from this worker. @defaultValue none */
  readonly metrics?: MetricsSink;
}

/** Options of {@link ArenaPool.createShared}: a pool whose arenas are {@link SharedEpochArena}s. */
export interface SharedArenaPoolOptions {
  /** Arenas in the ring, 1 to 32. @defaultValue 4 */
  readonly ringSize?: number;
  /** The first epoch. @defaultValue 0 */
  readonly initialEpoch?: number;
  /**
   * Arenas allocated beside the ring to replace pinned ones (shared memory cannot be added later):
   * advancing onto a pinned arena with no spare left throws PINNED. 0 to `63 - ringSize`.
   * @defaultValue 1
   */
  readonly spareArenas?: number;
  /** Bytes of each arena's shared region; see {@link SharedEpochArenaOptions.capacity}. */
  readonly capacity: number;
  /** See {@link SharedEpochArenaOptions.chunkSize}. @defaultValue 16 KiB */
  readonly chunkSize?: number;
  /** See {@link SharedEpochArenaOptions.allocationLimit}. @defaultValue none */
  readonly allocationLimit?: number;
  /** See {@link SharedEpochArenaOptions.maxAttachments}. @defaultValue 64 */
  readonly maxAttachments?: number;
  /** Where to publish the pool's figures (`mem_arena_pool_*`) and its arenas'. @defaultValue none */
  readonly metrics?: MetricsSink;
  /** See {@link GuardLeakOptions.leakDetection}. @defaultValue 'sampled' */
  readonly leakDetection?: LeakDetectionLevel;
  /** See {@link GuardLeakOptions.onGuardLeak}. @defaultValue none */
  readonly onGuardLeak?: (leak: GuardLeak) => void;
}

/** What a worker needs to attach to a shared {@link ArenaPool}: post it with `postMessage`. */
export interface ArenaPoolDescriptor {
  /** Always `'mem.arena-pool'`. */
  readonly kind: 'mem.arena-pool';
  /** The layout version. */
  readonly version: 1;
  /** The pool's state words: current epoch, ring slots, per-arena epoch, state and pins. */
  readonly state: SharedArrayBuffer;
  /** The descriptors of the pool's arenas, by index. */
  readonly arenas: readonly SharedEpochArenaDescriptor[];
}

/** One arena of a pool in {@link ArenaPoolStats}. */
export interface PoolArenaStats {
  /** `live` in the ring, `deferred` out of it while pinned, `vacant` in the ring and unused yet, `spare`. */
  readonly state: 'vacant' | 'live' | 'deferred' | 'spare' | 'reclaiming';
  /** The epoch it holds, or `null`. */
  readonly heldEpoch: number | null;
  /** Live guards pinning its epoch. */
  readonly pins: number;
  /** The arena's own stats. */
  readonly arena: ArenaStats;
}

/** A snapshot of an {@link ArenaPool}, plain and JSON-serialisable. */
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
const ID_SHIFT = 2 ** (LENGTH_BITS + GENERATION_BITS);

/** The parts of a shared pool, passed through the public constructor under a private key. */
interface SharedParts {
  readonly state: Int32Array;
  readonly arenas: SharedEpochArena[];
  readonly descriptor: ArenaPoolDescriptor;
  readonly guards: GuardLeakOptions;
}

const SHARED_PARTS = Symbol('ArenaPool.sharedParts');

/**
 * A ring of epoch arenas: epoch `e` allocates from arena `e % ringSize`,
 * {@link ArenaPool.advanceEpoch} moves to the next epoch and resets the arena it is about to reuse,
 * and an epoch stays valid until its arena is reused `ringSize` epochs later.
 *
 * Reclamation is guarded as in crossbeam-epoch: {@link ArenaPool.pin} returns
 * a guard, and while a guard pins an epoch its arena is never reset. Advancing onto a pinned arena
 * takes it out of the ring (a spare, or a new arena, takes its place) and defers its reclamation to
 * the release of its last guard; the stats count deferrals.
 *
 * In one worker, `new ArenaPool()` holds {@link EpochArena}s. Across workers,
 * {@link ArenaPool.createShared} holds {@link SharedEpochArena}s and its state in shared memory;
 * other workers {@link ArenaPool.attach} to its {@link ArenaPool.descriptor}, each takes its own
 * {@link ArenaPool.local} accessor, and handles are valid in every worker.
 *
 * Handles of every arena of the pool can be read through the pool ({@link ArenaPool.view},
 * {@link ArenaPool.equals}...): the handle's arena id routes it to its arena.
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
export class ArenaPool {
  readonly #state: Int32Array;
  readonly #arenas: Arena[] = [];
  /** Arena by id, for routing a handle to its arena. */
  readonly #byId: (Arena | undefined)[] = new Array<Arena | undefined>(MAX_ARENA_ID + 1).fill(undefined);
  readonly #ringSize: number;
  /** Makes arena `index` of a pool in one worker; undefined for a shared pool. */
  readonly #makeArena: ((index: number) => Arena) | undefined;
  readonly #descriptor: ArenaPoolDescriptor | undefined;
  readonly #local: LocalArena;
  #detached = false;
  /** Watches guards for leaks; undefined when off. */
  readonly #guardTracker: LeakTracker<HeldPin> | undefined;
  #leakedGuards = 0;
  /** The pins taken through this object, dropped together when it detaches or goes away. */
  readonly #pins: PinLedger;
  /** Cancels the release of a shared pool object's pins at garbage collection or worker exit. */
  readonly #cancelRelease: () => void = () => {};

  /**
   * Creates a pool in this worker; the ring's arenas allocate their first block on first use.
   * Cost: O(maxArenas).
   * @throws MemError INVALID_ARGUMENT if an option is out of range or of the wrong type.
   */
  constructor(options?: ArenaPoolOptions) {
    const shared = (options as { [SHARED_PARTS]?: SharedParts } | null | undefined)?.[SHARED_PARTS];
    const guardOptions = shared?.guards ?? assertOptions<ArenaPoolOptions>(options);
    const metrics = assertMetricsSink(guardOptions.metrics);
    this.#guardTracker = makeGuardTracker(guardOptions, (index, epoch, stack) => {
      this.#leakedGuards += 1;
      this.#unpin(index);
      guardOptions.onGuardLeak?.({ epoch, allocationStack: stack });
    });
    if (shared !== undefined) {
      this.#state = shared.state;
      const pins = new PinLedger(shared.state);
      this.#pins = pins;
      const release = closer(pins);
      this.#cancelRelease = releaseWhenGone(this, { atExit: release, afterCollection: release });
      this.#ringSize = shared.state[RING_SIZE]!;
      for (const arena of shared.arenas) this.#adopt(arena);
      this.#makeArena = undefined;
      this.#descriptor = shared.descriptor;
    } else {
      const checked = assertOptions<ArenaPoolOptions>(options);
      const ringSize = assertInteger(checked.ringSize ?? 4, 'ringSize', { min: 1, max: MAX_RING_SIZE });
      const initialEpoch = assertEpoch(checked.initialEpoch ?? 0, 'initialEpoch');
      const maxArenas = assertInteger(checked.maxArenas ?? Math.min(MAX_ARENA_ID, 2 * ringSize), 'maxArenas', {
        min: ringSize + 1,
        max: MAX_ARENA_ID,
      });
      const arenaOptions = {
        blockSize: checked.blockSize,
        allocationLimit: checked.allocationLimit,
        retainBlocks: checked.retainBlocks,
      };
      const ids = takeArenaIds(maxArenas);
      // The first arena checks the arena options, so that no later advance can fail on them.
      const make = (index: number): Arena => new EpochArena({ ...arenaOptions, id: ids[index]!, epoch: initialEpoch });
      const first = make(0);
      const state = new Int32Array(poolStateWords(maxArenas));
      state[RING_SIZE] = ringSize;
      state[MAX_ARENAS] = maxArenas;
      this.#state = state;
      this.#pins = new PinLedger(state);
      this.#ringSize = ringSize;
      this.#makeArena = make;
      this.#descriptor = undefined;
      for (let index = 0; index < ringSize; index += 1) {
        this.#addArena(index === 0 ? first : make(index), STATE_VACANT);
      }
      this.#open(initialEpoch);
      state[POOL_MAGIC] = POOL_MAGIC_VALUE;
    }
    this.#local = new LocalArena({ state: this.#state, arenas: this.#arenas });
    if (metrics !== undefined) {
      try {
        ArenaPool.#publishWhileAlive(metrics, this);
      } catch (error) {
        // Registering with the sink is the last step: undo the attachment of a shared pool object.
        this.#cancelRelease();
        this.#pins.close();
        if (shared !== undefined) for (const arena of shared.arenas) arena.detach();
        throw error;
      }
    }
  }

  /**
   * Registers the collector of `pool`'s figures with `sink`. A static method, so that the closures
   * it makes hold nothing of the constructor's scope (which holds the pool itself).
   */
  static #publishWhileAlive(sink: MetricsSink, pool: ArenaPool): void {
    const publishPool = poolPublisher(sink, { pool: String(pool.#arenas[0]!.id) });
    const publishArenas = new Map<number, (figures: ArenaFigures) => void>();
    collectWhileAlive(
      sink,
      pool,
      (alive) => alive.#publishFigures(sink, publishPool, publishArenas),
      () => {
        publishPool(NO_POOL_FIGURES);
        for (const publish of publishArenas.values()) publish(NO_ARENA_FIGURES);
      },
    );
  }

  /** Publishes the pool's and its arenas' figures (zeros once detached); run by the metrics collector. */
  #publishFigures(
    sink: MetricsSink,
    publishPool: (figures: PoolFigures) => void,
    publishArenas: Map<number, (figures: ArenaFigures) => void>,
  ): void {
    if (this.#detached) {
      publishPool(NO_POOL_FIGURES);
      for (const publish of publishArenas.values()) publish(NO_ARENA_FIGURES);
      return;
    }
    const stats = this.stats();
    publishPool(stats);
    for (const { arena } of stats.arenas) {
      let publish = publishArenas.get(arena.arenaId);
      if (publish === undefined) {
        publish = arenaPublisher(sink, { arena: String(arena.arenaId) });
        publishArenas.set(arena.arenaId, publish);
      }
      publish(arena);
    }
  }

  /**
   * Creates a pool whose arenas and state live in shared memory, and attaches this worker to it.
   * Post {@link ArenaPool.descriptor} to other workers and {@link ArenaPool.attach} there.
   * Cost: `ringSize + spareArenas` shared regions of `capacity` bytes.
   * @throws MemError INVALID_ARGUMENT if an option is out of range or of the wrong type.
   * @throws MemError EXHAUSTED if the runtime cannot allocate the regions.
   *
   * @example
   * ```ts
   * import { ArenaPool } from '@mem/epoch-arena';
   * const pool = ArenaPool.createShared({ ringSize: 2, capacity: 1 << 20 });
   * const descriptor = pool.descriptor(); // post to workers; there: ArenaPool.attach(descriptor)
   * pool.local().allocate(32);
   * ```
   */
  static createShared(options: SharedArenaPoolOptions): ArenaPool {
    if (typeof options !== 'object' || options === null) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `options must be an object with a capacity, got ${describeValue(options)}`,
      );
    }
    const ringSize = assertInteger(options.ringSize ?? 4, 'ringSize', { min: 1, max: MAX_RING_SIZE });
    const initialEpoch = assertEpoch(options.initialEpoch ?? 0, 'initialEpoch');
    const spares = assertInteger(options.spareArenas ?? 1, 'spareArenas', { min: 0, max: MAX_ARENA_ID - ringSize });
    const guards: GuardLeakOptions = {
      leakDetection: options.leakDetection,
      onGuardLeak: options.onGuardLeak,
      metrics: assertMetricsSink(options.metrics),
    };
    makeGuardTracker(guards, () => {}); // checks the options before any memory is allocated
    const count = ringSize + spares;
    const ids = takeArenaIds(count);
    const arenas: SharedEpochArena[] = [];
    for (let index = 0; index < count; index += 1) {
      arenas.push(
        SharedEpochArena.create({
          capacity: options.capacity,
          chunkSize: options.chunkSize,
          allocationLimit: options.allocationLimit,
          maxAttachments: options.maxAttachments,
          epoch: initialEpoch,
          id: ids[index],
        }),
      );
    }
    const buffer = BackingMemory.allocate(4 * poolStateWords(count), { shared: true }).buffer as SharedArrayBuffer;
    const state = new Int32Array(buffer);
    state[RING_SIZE] = ringSize;
    state[MAX_ARENAS] = count;
    const serial = 1 + Math.floor(Math.random() * 0x7ffffffe);
    state[POOL_SERIAL] = serial;
    arenas.forEach((arena, index) => markOwner(new Int32Array(arena.descriptor().control), serial, index));
    const descriptor: ArenaPoolDescriptor = {
      kind: 'mem.arena-pool',
      version: 1,
      state: buffer,
      arenas: arenas.map((arena) => arena.descriptor()),
    };
    for (let index = 0; index < count; index += 1) {
      Atomics.store(state, recordWord(index, 2), index < ringSize ? STATE_VACANT : STATE_SPARE);
    }
    Atomics.store(state, ARENA_COUNT, count);
    const pool = new ArenaPool({ [SHARED_PARTS]: { state, arenas, descriptor, guards } } as ArenaPoolOptions);
    pool.#open(initialEpoch);
    Atomics.store(state, POOL_MAGIC, POOL_MAGIC_VALUE);
    return pool;
  }

  /**
   * Attaches this worker to a shared pool from its descriptor: every arena is attached (one
   * counter slot each) until {@link ArenaPool.detach}. `options` set this worker's guard leak
   * detection and metrics.
   * Cost: O(arenas).
   * @throws MemError INVALID_ARGUMENT if `descriptor` does not come from {@link ArenaPool.descriptor},
   * or an option is bad.
   * @throws MemError EXHAUSTED if an arena has `maxAttachments` instances attached already.
   *
   * @example
   * ```ts
   * import { ArenaPool } from '@mem/epoch-arena';
   * const created = ArenaPool.createShared({ capacity: 1 << 20 });
   * const attached = ArenaPool.attach(created.descriptor()); // usually in another worker
   * attached.currentEpoch; // 0
   * ```
   */
  static attach(descriptor: ArenaPoolDescriptor, options?: GuardLeakOptions): ArenaPool {
    const guards = assertOptions<GuardLeakOptions>(options);
    makeGuardTracker(guards, () => {});
    assertMetricsSink(guards.metrics);
    const candidate = descriptor as Partial<ArenaPoolDescriptor> | null;
    let state: Int32Array | undefined;
    if (
      typeof candidate === 'object' &&
      candidate !== null &&
      candidate.kind === 'mem.arena-pool' &&
      candidate.version === 1 &&
      candidate.state instanceof SharedArrayBuffer &&
      Array.isArray(candidate.arenas) &&
      candidate.state.byteLength >= 4 * poolStateWords(candidate.arenas.length) &&
      candidate.state.byteLength % 4 === 0
    ) {
      state = new Int32Array(candidate.state);
    }
    if (
      state === undefined ||
      Atomics.load(state, POOL_MAGIC) !== POOL_MAGIC_VALUE ||
      state[ARENA_COUNT] !== candidate!.arenas!.length ||
      !(
        state[RING_SIZE]! >= 1 &&
        state[RING_SIZE]! <= MAX_RING_SIZE &&
        state[RING_SIZE]! <= candidate!.arenas!.length
      ) ||
      !candidate!.arenas!.every((arena, index) => {
        const control = (arena as Partial<SharedEpochArenaDescriptor> | null)?.control;
        return (
          control instanceof SharedArrayBuffer &&
          control.byteLength >= 64 &&
          control.byteLength % 8 === 0 &&
          isOwnedBy(new Int32Array(control), state![POOL_SERIAL]!, index)
        );
      })
    ) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `descriptor must come from ArenaPool.descriptor(), got ${describeValue(descriptor)}`,
      );
    }
    const arenas: SharedEpochArena[] = [];
    try {
      for (const arena of candidate!.arenas!) arenas.push(SharedEpochArena.attach(arena));
    } catch (error) {
      for (const arena of arenas) arena.detach();
      throw error;
    }
    return new ArenaPool({
      [SHARED_PARTS]: { state, arenas, descriptor: candidate as ArenaPoolDescriptor, guards },
    } as ArenaPoolOptions);
  }

  /**
   * The descriptor another worker attaches with (a shared pool only).
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if the pool is not shared; USE_AFTER_RELEASE if detached.
   */
  descriptor(): ArenaPoolDescriptor {
    this.#assertAttached();
    if (this.#descriptor === undefined) {
      throw new MemError(
        'INVALID_ARGUMENT',
        'this pool lives in one worker; create it with ArenaPool.createShared to share it',
      );
    }
    return this.#descriptor;
  }

  /** Whether the pool lives in shared memory. Cost: O(1). */
  get shared(): boolean {
    return this.#descriptor !== undefined;
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
   * The arena of the current epoch.
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE if a shared pool is detached.
   */
  currentArena(): Arena {
    this.#assertAttached();
    return this.#local.arena;
  }

  /**
   * A new per-worker accessor that caches the current epoch's arena (see {@link LocalArena}).
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE if a shared pool is detached.
   */
  local(): LocalArena {
    this.#assertAttached();
    return new LocalArena({ state: this.#state, arenas: this.#arenas });
  }

  /**
   * Allocates from the current epoch's arena through the pool's own accessor; see {@link EpochArena.allocate}.
   * Cost: the arena's allocation plus one compare.
   * @throws as {@link EpochArena.allocate}; USE_AFTER_RELEASE if a shared pool is detached.
   */
  allocate(size: number, align?: number): ArenaHandle {
    return this.#local.allocate(size, align);
  }

  /**
   * Allocates a copy of `bytes` from the current epoch's arena; see {@link EpochArena.allocateCopy}.
   * Cost: the arena's allocation plus one compare.
   * @throws as {@link EpochArena.allocateCopy}; USE_AFTER_RELEASE if a shared pool is detached.
   */
  allocateCopy(bytes: Uint8Array): ArenaHandle {
    return this.#local.allocateCopy(bytes);
  }

  /**
   * Allocates a key from the current epoch's arena; see {@link EpochArena.allocateKey}.
   * Cost: the arena's allocation plus one compare.
   * @throws as {@link EpochArena.allocateKey}; USE_AFTER_RELEASE if a shared pool is detached.
   */
  allocateKey(key: Uint8Array): ArenaHandle {
    return this.#local.allocateKey(key);
  }

  /**
   * Moves to the next epoch and returns it. The arena of the new epoch's ring slot is reset (its
   * old epoch, `ringSize` epochs back, becomes invalid) unless a guard pins it: then it leaves the
   * ring with its epoch intact, a spare arena (or, in one worker, a new one) takes its slot, and
   * its reclamation waits for its last guard.
   * Cost: O(blocks) of the reset arena, plus O(arenas) to sweep deferred ones.
   * @throws MemError PINNED if the arena is pinned and no spare arena is left (`maxArenas` or
   * `spareArenas`); the pool is then unchanged.
   * @throws MemError LIMIT_EXCEEDED if the epoch is already 2^53 - 1.
   * @throws MemError USE_AFTER_RELEASE if a shared pool is detached.
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
    this.#assertAttached();
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
      const stateWord = recordWord(index, 2);
      let target = index;
      const wasLive = Atomics.load(state, stateWord) === STATE_LIVE;
      // Announce the reclamation, then look for pins: a pinner adds its pin, then reads the state,
      // so one of the two sees the other (both are sequentially consistent).
      Atomics.store(state, stateWord, STATE_RECLAIMING);
      if (wasLive && Atomics.load(state, recordWord(index, 3)) > 0) {
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
      writeEpochWords(state, recordWord(target, 0), next);
      this.#arenas[target]!.reset(next);
      Atomics.store(state, recordWord(target, 2), STATE_LIVE);
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
   */
  isEpochValid(epoch: number): boolean {
    const wanted = assertEpoch(epoch, 'epoch');
    const state = this.#state;
    for (let round = 0; ; round += 1) {
      const index = this.#arenaHolding(wanted);
      if (index < 0) return false;
      const stateWord = recordWord(index, 2);
      const value = Atomics.load(state, stateWord);
      // Reclaiming is a decision in progress (an advance or a last release looking for pins): wait for it.
      if (value === STATE_RECLAIMING) {
        pause(state, stateWord, value, round);
        continue;
      }
      return (
        (value === STATE_LIVE || value === STATE_DEFERRED) && readEpochWords(state, recordWord(index, 0)) === wanted
      );
    }
  }

  /**
   * Pins `epoch` (the current one by default) and returns the guard: until it is released, the
   * arena holding that epoch is not reset, in any worker.
   * Cost: two or three atomic operations and one guard object.
   * @throws MemError INVALID_ARGUMENT if `epoch` is not an integer in [0, 2^53 - 1] or has not started.
   * @throws MemError STALE_HANDLE if `epoch`'s arena has been reclaimed already.
   * @throws MemError USE_AFTER_RELEASE if a shared pool is detached.
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
    this.#assertAttached();
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
      const value = Atomics.load(state, recordWord(index, 2));
      if (
        (value === STATE_LIVE || value === STATE_DEFERRED) &&
        readEpochWords(state, recordWord(index, 0)) === wanted
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
      pause(state, recordWord(index, 2), STATE_RECLAIMING, round);
    }
  }

  /**
   * The arena that issued `handle`, after checking that the handle is live.
   * Cost: the handle check.
   * @throws MemError FOREIGN_HANDLE if no arena of this pool issued it; STALE_HANDLE or
   * INVALID_ARGUMENT as {@link EpochArena.view}.
   * @throws MemError USE_AFTER_RELEASE if a shared pool is detached.
   */
  arenaOf(handle: ArenaHandle): Arena {
    const arena = this.#route(handle);
    arena.lengthOf(handle);
    return arena;
  }

  /**
   * A view of the handle's bytes; see {@link EpochArena.view}.
   * Cost: routing by arena id plus the arena's view.
   * @throws as {@link ArenaPool.arenaOf}.
   */
  view(handle: ArenaHandle): Uint8Array {
    return this.#route(handle).view(handle);
  }

  /**
   * A fresh copy of the handle's bytes; see {@link EpochArena.copy}.
   * Cost: routing plus the arena's copy.
   * @throws as {@link ArenaPool.arenaOf}.
   */
  copy(handle: ArenaHandle): Uint8Array {
    return this.#route(handle).copy(handle);
  }

  /**
   * Copies the handle's bytes into `target`; see {@link EpochArena.copyTo}.
   * Cost: routing plus the arena's copy.
   * @throws as {@link ArenaPool.arenaOf}; INVALID_ARGUMENT for a bad target.
   */
  copyTo(handle: ArenaHandle, target: Uint8Array, targetOffset = 0): number {
    return this.#route(handle).copyTo(handle, target, targetOffset);
  }

  /**
   * Copies `source` into the handle's bytes; see {@link EpochArena.write}.
   * Cost: routing plus the arena's copy.
   * @throws as {@link ArenaPool.arenaOf}; INVALID_ARGUMENT for a bad source.
   */
  write(handle: ArenaHandle, source: Uint8Array, offset = 0): void {
    this.#route(handle).write(handle, source, offset);
  }

  /**
   * Fills the handle's bytes; see {@link EpochArena.fill}.
   * Cost: routing plus O(length).
   * @throws as {@link ArenaPool.arenaOf}; INVALID_ARGUMENT for a bad value.
   */
  fill(handle: ArenaHandle, value = 0): void {
    this.#route(handle).fill(handle, value);
  }

  /**
   * Compares the handle's bytes with `key` without copying; see {@link EpochArena.compare}.
   * Cost: routing plus O(length).
   * @throws as {@link ArenaPool.arenaOf}; INVALID_ARGUMENT for a bad key.
   */
  compare(handle: ArenaHandle, key: Uint8Array): number {
    return this.#route(handle).compare(handle, key);
  }

  /**
   * Tells whether the handle's bytes equal `key`, without copying; see {@link EpochArena.equals}.
   * Cost: routing plus O(length).
   * @throws as {@link ArenaPool.arenaOf}; INVALID_ARGUMENT for a bad key.
   */
  equals(handle: ArenaHandle, key: Uint8Array): boolean {
    return this.#route(handle).equals(handle, key);
  }

  /**
   * The handle's length; see {@link EpochArena.lengthOf}.
   * Cost: routing plus the handle check.
   * @throws as {@link ArenaPool.arenaOf}.
   */
  lengthOf(handle: ArenaHandle): number {
    return this.#route(handle).lengthOf(handle);
  }

  /**
   * The epoch the handle was issued in.
   * Cost: routing plus the handle check.
   * @throws as {@link ArenaPool.arenaOf}.
   */
  epochOf(handle: ArenaHandle): number {
    return this.#route(handle).epochOf(handle);
  }

  /**
   * Tells whether `handle` is a live handle of an arena of this pool. Never throws.
   * Cost: routing plus the handle check.
   * @throws never
   */
  isValid(handle: unknown): boolean {
    if (this.#detached || typeof handle !== 'number') return false;
    const arena = this.#byId[Math.floor(handle / ID_SPAN)];
    return arena !== undefined && arena.isValid(handle);
  }

  /**
   * A snapshot: current epoch, guards, pinned epochs, deferrals and every arena's stats.
   * Cost: O(arenas + blocks).
   * @throws MemError USE_AFTER_RELEASE if a shared pool is detached.
   */
  stats(): ArenaPoolStats {
    this.#assertAttached();
    const state = this.#state;
    const arenas: PoolArenaStats[] = [];
    const pinned = new Set<number>();
    let activeGuards = 0;
    let deferredArenas = 0;
    for (let index = 0; index < this.#arenas.length; index += 1) {
      const value = Atomics.load(state, recordWord(index, 2));
      const pins = Atomics.load(state, recordWord(index, 3));
      const holds = value === STATE_LIVE || value === STATE_DEFERRED || value === STATE_RECLAIMING;
      const heldEpoch = holds ? readEpochWords(state, recordWord(index, 0)) : null;
      activeGuards += pins;
      if (pins > 0 && heldEpoch !== null) pinned.add(heldEpoch);
      if (value === STATE_DEFERRED) deferredArenas += 1;
      arenas.push({ state: STATE_NAMES[value]!, heldEpoch, pins, arena: this.#arenas[index]!.stats() });
    }
    return {
      currentEpoch: this.currentEpoch,
      ringSize: this.#ringSize,
      arenaCount: this.#arenas.length,
      activeGuards,
      pinnedEpochs: [...pinned].sort((a, b) => a - b),
      deferredArenas,
      deferredReclamations: Atomics.load(state, DEFERRED_TOTAL),
      reclaimedAfterDeferral: Atomics.load(state, RECLAIMED_TOTAL),
      advances: Atomics.load(state, ADVANCE_TOTAL),
      leakedGuards: this.#leakedGuards,
      arenas,
    };
  }

  /**
   * Detaches this worker from a shared pool: the pins of guards taken through this object that are
   * still held are dropped (a later `release()` of such a guard does nothing, and a deferred arena
   * that only they pinned is reclaimed), its arena instances are detached (their slots freed), and
   * every later call on this pool object throws USE_AFTER_RELEASE. Detaching twice does nothing.
   * A shared pool object that is garbage-collected, or whose worker exits normally, drops its pins
   * and frees its slots by itself; one whose worker is terminated does not (detach before that).
   * Cost: O(arenas).
   * @throws MemError INVALID_ARGUMENT if the pool is not shared.
   */
  detach(): void {
    if (this.#descriptor === undefined) {
      throw new MemError('INVALID_ARGUMENT', 'only a shared pool can be detached; this one lives in one worker');
    }
    if (this.#detached) return;
    this.#cancelRelease();
    // The arenas are still attached: a deferred arena that only this object pinned is reclaimed now.
    for (const index of this.#pins.close()) this.#reclaimIfDeferred(index);
    this.#detached = true;
    for (const arena of this.#arenas) (arena as SharedEpochArena).detach();
  }

  /** Detaches a shared pool (the `using` declaration calls this); does nothing for a pool in one worker. */
  [Symbol.dispose](): void {
    if (this.#descriptor !== undefined) this.detach();
  }

  /** Names the pool in error messages. */
  toString(): string {
    return `ArenaPool (${this.shared ? 'shared, ' : ''}ring of ${this.#ringSize})`;
  }

  // ---------------------------------------------------------------------------------------------
  // Internals: arena bookkeeping, reclamation, routing.
  // ---------------------------------------------------------------------------------------------

  #adopt(arena: Arena): void {
    this.#arenas.push(arena);
    this.#byId[arena.id] = arena;
  }

  /** Adds an arena of a pool in one worker with the given state. */
  #addArena(arena: Arena, value: number): number {
    const index = this.#arenas.length;
    this.#adopt(arena);
    Atomics.store(this.#state, recordWord(index, 2), value);
    Atomics.store(this.#state, recordWord(index, 3), 0);
    Atomics.store(this.#state, ARENA_COUNT, index + 1);
    return index;
  }

  /** Puts the ring in place and makes `initialEpoch`'s arena live. */
  #open(initialEpoch: number): void {
    const state = this.#state;
    for (let slot = 0; slot < this.#ringSize; slot += 1) Atomics.store(state, RING_SLOTS + slot, slot);
    const first = initialEpoch % this.#ringSize;
    // Ring slot `first` takes arena `first`: arenas are interchangeable, so index equals slot.
    writeEpochWords(state, recordWord(first, 0), initialEpoch);
    Atomics.store(state, recordWord(first, 2), STATE_LIVE);
    writeEpochWords(state, CURRENT_LOW, initialEpoch);
  }

  /** Takes a spare arena (state SPARE to RECLAIMING), creating one in a pool of one worker; -1 if none. */
  #takeSpare(): number {
    const state = this.#state;
    for (let index = 0; index < this.#arenas.length; index += 1) {
      if (Atomics.compareExchange(state, recordWord(index, 2), STATE_SPARE, STATE_RECLAIMING) === STATE_SPARE) {
        return index;
      }
    }
    if (this.#makeArena !== undefined && this.#arenas.length < state[MAX_ARENAS]!) {
      const index = this.#arenas.length;
      return this.#addArena(this.#makeArena(index), STATE_RECLAIMING);
    }
    return -1;
  }

  #unpin(index: number): void {
    if (this.#pins.unpin(index) === 0) this.#reclaimIfDeferred(index);
  }

  /**
   * Reclaims a deferred arena whose pins are gone: reset (so its handles go stale everywhere) and
   * kept as a spare. A pin that arrives meanwhile wins and the arena stays deferred.
   */
  #reclaimIfDeferred(index: number): void {
    // A detached pool object cannot reset its arenas: the next advance of another worker sweeps it.
    if (this.#detached) return;
    const state = this.#state;
    const stateWord = recordWord(index, 2);
    for (let round = 0; ; round += 1) {
      const value = Atomics.load(state, stateWord);
      if (value === STATE_RECLAIMING) {
        pause(state, stateWord, value, round); // an advance is deciding about this arena: a few stores
        continue;
      }
      if (value !== STATE_DEFERRED) return;
      if (Atomics.compareExchange(state, stateWord, STATE_DEFERRED, STATE_RECLAIMING) !== STATE_DEFERRED) continue;
      if (Atomics.load(state, recordWord(index, 3)) > 0) {
        Atomics.store(state, stateWord, STATE_DEFERRED);
        return;
      }
      const arena = this.#arenas[index]!;
      arena.reset(arena.epoch);
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
        Atomics.load(state, recordWord(index, 2)) === STATE_DEFERRED &&
        Atomics.load(state, recordWord(index, 3)) === 0
      ) {
        this.#reclaimIfDeferred(index);
      }
    }
  }

  /** Index of the arena holding `epoch` (live, deferred or being reclaimed), or -1. */
  #arenaHolding(epoch: number): number {
    const state = this.#state;
    const holds = (index: number, accept: (value: number) => boolean): boolean =>
      accept(Atomics.load(state, recordWord(index, 2))) && readEpochWords(state, recordWord(index, 0)) === epoch;
    const inRing = Atomics.load(state, RING_SLOTS + (epoch % this.#ringSize));
    if (holds(inRing, (value) => value === STATE_LIVE || value === STATE_RECLAIMING)) return inRing;
    for (let index = 0; index < this.#arenas.length; index += 1) {
      if (holds(index, (value) => value === STATE_DEFERRED || value === STATE_RECLAIMING)) return index;
    }
    return -1;
  }

  #throwNotHeld(epoch: number): never {
    const current = this.currentEpoch;
    if (epoch > current) {
      throw new MemError('INVALID_ARGUMENT', `epoch ${epoch} has not started (current epoch ${current})`, {
        details: { epoch, currentEpoch: current },
      });
    }
    throw new MemError(
      'STALE_HANDLE',
      `epoch ${epoch} has been reclaimed (current epoch ${current}, ring of ${this.#ringSize})`,
      {
        details: { epoch, currentEpoch: current },
      },
    );
  }

  /** The arena a handle's id field names, unchecked otherwise. */
  #route(handle: ArenaHandle): Arena {
    this.#assertAttached();
    const arena = typeof handle === 'number' ? this.#byId[Math.floor(handle / ID_SPAN)] : undefined;
    if (arena !== undefined) return arena;
    return rejectHandle(handle, { id: 0, generation: 0, label: this.toString() });
  }

  #assertAttached(): void {
    if (this.#detached) throw new MemError('USE_AFTER_RELEASE', `${this.toString()} was used after detach()`);
  }
}

/**
 * The release of a pool object's pins when it goes away. Made here, not in the constructor, so that
 * the closure holds the ledger only and never the pool object (which would then never be collected).
 */
function closer(pins: PinLedger): () => void {
  return () => pins.close();
}

/** What the leak tracker keeps of a guard: enough to unpin it. */
interface HeldPin {
  readonly index: number;
  readonly epoch: number;
}

/** The tracker of a pool's guards. */
function makeGuardTracker(
  options: GuardLeakOptions,
  onLeak: (index: number, epoch: number, stack: string | undefined) => void,
): LeakTracker<HeldPin> | undefined {
  if (options.onGuardLeak !== undefined && typeof options.onGuardLeak !== 'function') {
    throw new MemError('INVALID_ARGUMENT', `onGuardLeak must be a function, got ${describeValue(options.onGuardLeak)}`);
  }
  const tracker = new LeakTracker<HeldPin>({
    level: options.leakDetection ?? 'sampled',
    onLeak: ({ held, allocationStack }) => onLeak(held.index, held.epoch, allocationStack),
  });
  return tracker.level === 'off' ? undefined : tracker;
}

/** 2^47: dividing a handle by it gives its arena id. */
const ID_SPAN = ADDRESS_SPAN * ID_SHIFT;
