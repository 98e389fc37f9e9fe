/**
 * `SharedArenaPool`: a ring of {@link SharedEpochArena}s whose state lives in shared memory, so
 * that every worker attached to it allocates in the same epoch, pins epochs that all workers see,
 * and reads every worker's handles.
 *
 * This module is browser compatible (where `SharedArrayBuffer` is available).
 * @module
 */
import {
  BackingMemory,
  assertInteger,
  assertOptions,
  assertSharedDescriptor,
  invalidArgument,
  releaseWhenGone,
  type LeakDetectionLevel,
  type MetricsSink,
  type SharedAttachment,
  type SharedDescriptor,
} from '@mem/types';
import type { Arena } from './arena.js';
import { takeArenaIds } from './arena-id.js';
import { assertEpoch } from './arena-limits.js';
import { ArenaRing } from './arena-ring.js';
import { GUARD_LEAK_OPTIONS, assertGuardLeakOptions, type GuardLeak, type GuardLeakOptions } from './guard-leaks.js';
import { MAX_ARENA_ID } from './handle-layout.js';
import { PinLedger } from './pin-ledger.js';
import {
  ARENA_COUNT,
  MAX_RING_SIZE,
  POOL_MAGIC,
  POOL_MAGIC_VALUE,
  POOL_SERIAL,
  RING_SIZE,
  poolStateWords,
  writeRingLayout,
} from './pool-state.js';
import { isOwnedBy, markOwner } from './shared-arena-control.js';
import type { SharedEpochArenaDescriptor } from './shared-arena-setup.js';
import { SharedEpochArena } from './shared-epoch-arena.js';

/** The `kind` of every {@link SharedArenaPoolDescriptor}. */
const KIND = 'mem.epoch-arena.shared-arena-pool';
/** The layout version of the state words this code reads. */
const VERSION = 1;

/** Options of {@link SharedArenaPool.createShared}. */
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
  /** Where to publish the pool's figures (`mem_arena_pool_*`) from this worker. @defaultValue none */
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
  'spareArenas',
  'capacity',
  'chunkSize',
  'allocationLimit',
  'maxAttachments',
  ...GUARD_LEAK_OPTIONS,
] as const;

/** What a worker needs to attach to a {@link SharedArenaPool}: post it with `postMessage`. */
export interface SharedArenaPoolDescriptor extends SharedDescriptor<typeof KIND> {
  /** Always `'mem.epoch-arena.shared-arena-pool'`. */
  readonly kind: typeof KIND;
  /** The layout version of the pool's state words. */
  readonly version: number;
  /** The pool's state words: current epoch, ring slots, per-arena epoch, state and pins. */
  readonly state: SharedArrayBuffer;
  /** The descriptors of the pool's arenas, by index. */
  readonly arenas: readonly SharedEpochArenaDescriptor[];
}

/** The parts of one attachment, built by the factories. */
interface Attachment {
  readonly state: Int32Array;
  readonly arenas: SharedEpochArena[];
  readonly descriptor: SharedArenaPoolDescriptor;
  readonly guards: GuardLeakOptions;
}

/**
 * A ring of {@link SharedEpochArena}s in shared memory, used by several workers at once (see
 * {@link ArenaRing} for epochs, guards and reclamation). One worker creates it with
 * {@link SharedArenaPool.createShared} and posts {@link SharedArenaPool.descriptor} to the others,
 * which call {@link SharedArenaPool.attach}; each takes its own {@link ArenaRing.local} accessor, and
 * handles are valid in every worker. The ring's arenas and its spares are allocated up front (a
 * worker cannot see memory allocated later without a message): advancing onto a pinned arena with
 * no spare left throws PINNED.
 *
 * Lifecycle: each attachment (the creator's included) holds one slot in every arena and the pins of
 * its guards until {@link SharedArenaPool.close}; closing one leaves the others working. An
 * attachment that is garbage-collected, or whose worker exits normally, is closed for it; one whose
 * worker is ended with `worker.terminate()` keeps its slots and pins for good (close first). See the
 * package README, "Concurrency protocol".
 *
 * @example
 * ```ts
 * import { SharedArenaPool } from '@mem/epoch-arena';
 * const pool = SharedArenaPool.createShared({ ringSize: 2, capacity: 1 << 20 });
 * const handle = pool.local().allocate(32);
 * // in a worker, after postMessage(pool.descriptor()):
 * const attached = SharedArenaPool.attach(pool.descriptor());
 * attached.lengthOf(handle); // 32
 * attached.close();
 * pool.close();
 * ```
 */
export class SharedArenaPool extends ArenaRing implements SharedAttachment<SharedArenaPoolDescriptor> {
  readonly #descriptor: SharedArenaPoolDescriptor;
  readonly #arenas: readonly SharedEpochArena[];
  /** Cancels the release of this attachment's pins at garbage collection or worker exit. */
  readonly #cancelRelease: () => void;

  private constructor(parts: Attachment) {
    const pins = new PinLedger(parts.state);
    super({ state: parts.state, arenas: parts.arenas, pins, guards: parts.guards });
    this.#descriptor = parts.descriptor;
    this.#arenas = parts.arenas;
    const release = closer(pins);
    this.#cancelRelease = releaseWhenGone(this, { atExit: release, afterCollection: release });
    const metrics = parts.guards.metrics;
    if (metrics === undefined) return;
    try {
      ArenaRing.publishWhileAlive(metrics, this);
    } catch (error) {
      this.close(); // registering with the sink is the last step: undo the attachment
      throw error;
    }
  }

  /**
   * Creates a pool whose arenas and state live in shared memory, and attaches this worker to it.
   * Post {@link SharedArenaPool.descriptor} to other workers and {@link SharedArenaPool.attach} there.
   * Cost: `ringSize + spareArenas` shared regions of `capacity` bytes.
   * @throws MemError INVALID_ARGUMENT if an option is unknown, out of range or of the wrong type,
   * or the runtime has no `SharedArrayBuffer`.
   * @throws MemError EXHAUSTED if the runtime cannot allocate the regions.
   * @throws whatever the metrics sink's `addCollector` throws (the pool is closed then).
   *
   * @example
   * ```ts
   * import { SharedArenaPool } from '@mem/epoch-arena';
   * const pool = SharedArenaPool.createShared({ ringSize: 2, capacity: 1 << 20 });
   * const descriptor = pool.descriptor(); // post to workers; there: SharedArenaPool.attach(descriptor)
   * pool.local().allocate(32);
   * ```
   */
  static createShared(options: SharedArenaPoolOptions): SharedArenaPool {
    const checked = assertOptions<SharedArenaPoolOptions>(options, 'options', OPTIONS);
    const ringSize = assertInteger(checked.ringSize ?? 4, 'ringSize', { min: 1, max: MAX_RING_SIZE });
    const initialEpoch = assertEpoch(checked.initialEpoch ?? 0, 'initialEpoch');
    const spares = assertInteger(checked.spareArenas ?? 1, 'spareArenas', { min: 0, max: MAX_ARENA_ID - ringSize });
    assertGuardLeakOptions(checked);
    const count = ringSize + spares;
    const buffer = BackingMemory.allocate(4 * poolStateWords(count), { shared: true }).buffer as SharedArrayBuffer;
    const ids = takeArenaIds(count);
    const arenas: SharedEpochArena[] = [];
    try {
      for (let index = 0; index < count; index += 1) {
        arenas.push(
          SharedEpochArena.createShared({
            capacity: checked.capacity!,
            chunkSize: checked.chunkSize,
            allocationLimit: checked.allocationLimit,
            maxAttachments: checked.maxAttachments,
            epoch: initialEpoch,
            id: ids[index],
          }),
        );
      }
    } catch (error) {
      for (const arena of arenas) arena.close();
      throw error;
    }
    const state = new Int32Array(buffer);
    const serial = 1 + Math.floor(Math.random() * 0x7ffffffe);
    arenas.forEach((arena, index) => markOwner(new Int32Array(arena.descriptor().control), serial, index));
    writeRingLayout(state, { ringSize, arenaCount: count, maxArenas: count, initialEpoch, serial });
    const descriptor: SharedArenaPoolDescriptor = {
      kind: KIND,
      version: VERSION,
      state: buffer,
      arenas: arenas.map((arena) => arena.descriptor()),
    };
    return new SharedArenaPool({ state, arenas, descriptor, guards: checked });
  }

  /**
   * Attaches this worker to a shared pool from its descriptor: every arena is attached (one slot
   * each) until {@link SharedArenaPool.close}. `options` set this attachment's guard leak detection
   * and metrics.
   * Cost: O(arenas).
   * @throws MemError INVALID_ARGUMENT if `descriptor` is not a descriptor of kind
   * `'mem.epoch-arena.shared-arena-pool'` and this layout version, does not come from
   * {@link SharedArenaPool.descriptor}, or an option is bad.
   * @throws MemError EXHAUSTED if an arena has `maxAttachments` attachments already.
   * @throws whatever the metrics sink's `addCollector` throws (nothing stays attached then).
   *
   * @example
   * ```ts
   * import { SharedArenaPool } from '@mem/epoch-arena';
   * const created = SharedArenaPool.createShared({ capacity: 1 << 20 });
   * const attached = SharedArenaPool.attach(created.descriptor()); // usually in another worker
   * attached.currentEpoch; // 0
   * ```
   */
  static attach(descriptor: SharedArenaPoolDescriptor, options?: GuardLeakOptions): SharedArenaPool {
    const guards = assertOptions<GuardLeakOptions>(options, 'options', GUARD_LEAK_OPTIONS);
    assertGuardLeakOptions(guards);
    const checked = assertSharedDescriptor<SharedArenaPoolDescriptor>(descriptor, KIND, VERSION);
    const state = openState(checked);
    const arenas: SharedEpochArena[] = [];
    try {
      for (const arena of checked.arenas) arenas.push(SharedEpochArena.attach(arena));
    } catch (error) {
      for (const arena of arenas) arena.close();
      throw error;
    }
    return new SharedArenaPool({ state, arenas, descriptor: checked, guards });
  }

  /**
   * The descriptor another worker attaches with; structured-cloneable, the memory is shared, not copied.
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE once this attachment is closed.
   */
  descriptor(): SharedArenaPoolDescriptor {
    this.assertOpen();
    return this.#descriptor;
  }

  /** Whether this attachment is closed. Cost: O(1). */
  get closed(): boolean {
    return this.routesEnded;
  }

  /**
   * Closes this attachment: the pins of guards taken through it that are still held are dropped (a
   * later `release()` of such a guard does nothing, and a deferred arena that only they pinned is
   * reclaimed), its arena attachments are closed (their slots freed), and every later call on it
   * throws USE_AFTER_RELEASE. Other attachments keep working. Closing twice does nothing.
   * Cost: O(arenas).
   * @throws never
   */
  close(): void {
    if (this.closed) return;
    this.#cancelRelease();
    // The arenas are still attached: a deferred arena that only this object pinned is reclaimed now.
    this.closeRing();
    for (const arena of this.#arenas) arena.close();
  }

  /** Closes this attachment (the `using` declaration calls this). Cost: O(arenas). @throws never */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Names the pool in error messages. */
  override toString(): string {
    return `SharedArenaPool (ring of ${this.ringSize})`;
  }

  /**
   * Retires the arena: a reset after which every claim finds it full, so that another worker's
   * accessor that has not seen the ring move cannot allocate in it. @internal
   */
  protected override reclaimArena(_arena: Arena, index: number): void {
    this.#arenas[index]!.retire();
  }

  /** The arenas are allocated up front: the ring never grows. @internal */
  protected override growRing(): Arena | undefined {
    return undefined;
  }
}

/**
 * The state words of the pool a descriptor of the right kind and version describes, after
 * checking that its buffers are a pool's and its arenas belong to that pool.
 * @throws MemError INVALID_ARGUMENT otherwise.
 */
function openState(descriptor: SharedArenaPoolDescriptor): Int32Array {
  const refuse = (why: string): never => {
    throw invalidArgument('descriptor', descriptor, `a descriptor from SharedArenaPool.descriptor() (${why})`);
  };
  const buffer: unknown = descriptor.state;
  const arenas: unknown = descriptor.arenas;
  if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength % 4 !== 0)
    return refuse('no state SharedArrayBuffer');
  if (!Array.isArray(arenas) || buffer.byteLength < 4 * poolStateWords(arenas.length)) return refuse('no arenas');
  const state = new Int32Array(buffer);
  if (Atomics.load(state, POOL_MAGIC) !== POOL_MAGIC_VALUE || state[ARENA_COUNT] !== arenas.length) {
    return refuse('the state words are not a pool of these arenas');
  }
  const ringSize = state[RING_SIZE]!;
  if (!(ringSize >= 1 && ringSize <= MAX_RING_SIZE && ringSize <= arenas.length)) {
    return refuse('the state words are damaged');
  }
  const owned = arenas.every((arena: unknown, index) => {
    const control = (arena as Partial<SharedEpochArenaDescriptor> | null)?.control;
    return (
      control instanceof SharedArrayBuffer &&
      control.byteLength >= 64 &&
      control.byteLength % 8 === 0 &&
      isOwnedBy(new Int32Array(control), state[POOL_SERIAL]!, index)
    );
  });
  return owned ? state : refuse('its arenas belong to another pool');
}

/**
 * The release of an attachment's pins when it goes away. Made here, not in the constructor, so that
 * the closure holds the ledger only and never the attachment (which would then never be collected).
 */
function closer(pins: PinLedger): () => void {
  return () => pins.close();
}
