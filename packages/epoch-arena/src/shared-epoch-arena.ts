/**
 * `SharedEpochArena`: an epoch arena in shared memory. Its bytes and its bump pointer live in
 * `SharedArrayBuffer`s, workers attach to it from a structured-cloneable descriptor, bump it with
 * `Atomics`, and every attached worker can read and check every handle.
 *
 * This module is browser compatible (where `SharedArrayBuffer` is available, i.e. in a
 * cross-origin-isolated page).
 * @module
 */
import {
  BackingMemory,
  MemError,
  assertInteger,
  describeValue,
  releaseWhenGone,
  type BackingMemoryDescriptor,
  type MetricsSink,
} from '@mem/types';
import { NO_ARENA_FIGURES, assertMetricsSink, publishArenaWhileAlive, type ArenaFigures } from './arena-metrics.js';
import type { Arena, ArenaHandle, ArenaStats, ResetOptions } from './arena.js';
import { takeArenaId } from './arena-id.js';
import {
  KEY_ALIGNMENT,
  MAX_KEY_LENGTH,
  MIN_ALIGNMENT,
  assertAllocationSize,
  assertBytes,
  assertEpoch,
  assertKey,
  assertOptions,
  lengthOfBytes,
  refuseMisreportedLength,
  resolveAlignment,
} from './arena-limits.js';
import {
  ADDRESS_SPAN,
  HEADER_SIZE,
  LENGTH_ESCAPE,
  MAX_ARENA_ID,
  arenaTag,
  readHeader,
  tagBase,
  writeHeader,
} from './handle-layout.js';
import { HandleAccessors } from './handle-accessors.js';
import { rejectHandle } from './handle-rejection.js';
import {
  ARENA_ID,
  ATTACHED,
  CAPACITY_UNITS,
  CHUNK_SIZE,
  EPOCH_HIGH,
  EPOCH_LOW,
  GENERATION as CONTROL_GENERATION,
  HAS_LIMIT,
  LIMIT_UNITS,
  MAGIC,
  MAGIC_VALUE,
  MAX_ATTACHMENTS,
  POSITION as CONTROL_POSITION,
  RETIRED,
  SLOTS,
  SLOT_STRIDE,
  SPAN_HIGH,
  SPAN_LOW,
  SlotLease,
  announce,
  announcedOverlap,
  chunkWord,
  controlBytes,
  invalidControl,
  lock,
  recordAnnouncedSpan,
  skipBusyRange,
  unlock,
  withdraw,
  writeWord,
} from './shared-arena-control.js';
import { pause } from './spin-wait.js';

/** The largest shared region: 1 GiB (positions stay int32 for the bump arithmetic). */
export const MAX_SHARED_CAPACITY = 2 ** 30;

/** The default chunk a worker claims from a shared arena to bump in without `Atomics`: 16 KiB. */
export const DEFAULT_CHUNK_SIZE = 16 * 1024;

/** The default number of workers that can be attached at once: 64. */
export const DEFAULT_MAX_ATTACHMENTS = 64;

/** Options of {@link SharedEpochArena.create}. */
export interface SharedEpochArenaOptions {
  /**
   * Bytes of the shared region, allocated up front (a worker cannot see memory allocated later
   * without a message): an integer from 64 to 1 GiB, rounded down to a multiple of 8. Pages the
   * arena never touches cost no physical memory on most systems.
   */
  readonly capacity: number;
  /** The epoch number of the first generation. @defaultValue 0 */
  readonly epoch?: number;
  /**
   * Bytes a worker claims from the region at once (with one `Atomics.add`) and then bumps in with
   * plain arithmetic: a power of two from 256 to 1 MiB, or 0 to bump the shared pointer with
   * `Atomics` on every allocation. Allocations larger than a quarter of a chunk always go to the
   * shared pointer. A chunk is at most 1/16 of `capacity` (smaller regions get smaller chunks, or
   * none below 4 KiB). @defaultValue 16 KiB
   */
  readonly chunkSize?: number;
  /**
   * A limit on bytes used in a generation, below `capacity`; past it allocation throws
   * LIMIT_EXCEEDED (past `capacity` it throws EXHAUSTED). @defaultValue no limit
   */
  readonly allocationLimit?: number;
  /** How many instances (one per worker, usually) can be attached at once: 1 to 256. @defaultValue 64 */
  readonly maxAttachments?: number;
  /** The arena id (1 to 63) its handles carry. @defaultValue the next id of a process-wide counter */
  readonly id?: number;
  /**
   * Where to publish the arena's figures (`mem_epoch_arena_*`) when the sink is scraped, from this
   * worker's instance. @defaultValue none
   */
  readonly metrics?: MetricsSink;
}

/** What a worker needs to attach to a {@link SharedEpochArena}: post it with `postMessage`. */
export interface SharedEpochArenaDescriptor {
  /** Always `'mem.shared-epoch-arena'`. */
  readonly kind: 'mem.shared-epoch-arena';
  /** The layout version. */
  readonly version: 1;
  /** The shared control words: bump pointer, generation, epoch, limits, per-worker counters. */
  readonly control: SharedArrayBuffer;
  /** The shared region the allocations live in. */
  readonly data: BackingMemoryDescriptor;
}

/** The stats of a {@link SharedEpochArena}: those of every arena plus the sharing figures. */
export interface SharedArenaStats extends ArenaStats {
  /** Instances attached now (the creator included). */
  readonly attachments: number;
  /** Bytes a worker claims at once, or 0 when every allocation bumps the shared pointer. */
  readonly chunkSize: number;
}

// The control words that allocation, claims and the handle check use, as literals of this module:
// optimised code folds a module's own constants (and inlines the Atomics on them), not the
// bindings it imports.
const GENERATION = 2;
const POSITION = 16;
if (GENERATION !== CONTROL_GENERATION || POSITION !== CONTROL_POSITION) {
  throw new Error('internal: the control words of SharedEpochArena moved');
}

const MIN_CHUNK = 256;
const NO_BYTES = new Uint8Array(0);

const MAX_CHUNK = 1 << 20;

/**
 * An epoch arena in shared memory, for allocating and reading from several workers at once.
 * One worker creates it with {@link SharedEpochArena.create} and posts
 * {@link SharedEpochArena.descriptor} to the others, which call {@link SharedEpochArena.attach}.
 *
 * Allocation: each worker claims a chunk of the region (16 KiB by default) with one `Atomics.add`
 * on the shared bump pointer and then bumps inside it with plain arithmetic, so most allocations
 * cost what a single-worker arena's do; with `chunkSize: 0` every allocation is one `Atomics.add`
 * (or a compare-and-swap loop for alignments above 8). Ranges never overlap between workers.
 *
 * Handles: a handle carries the arena's id and generation and is valid in every attached worker.
 * Reset: {@link SharedEpochArena.reset} is O(attachments) and safe against concurrent allocation,
 * copying, `write` and `fill` in other workers: an allocation that races with it returns a handle
 * that is already stale, a `write` or `fill` that races with it throws STALE_HANDLE, and no write
 * begun before the reset lands in memory handed out after it (ranges still being written stay out
 * of the next generation until their writer is done; see the package README, "Concurrency
 * protocol"). A reset does not wait for readers: a view of the old generation sees the next one's
 * bytes, so reset only when no worker reads the old generation, or use an {@link ArenaPool} with
 * guards to know when.
 *
 * Lifecycle: each instance holds an attachment slot until {@link SharedEpochArena.detach}; an
 * instance that is garbage-collected, or whose worker exits normally, gives it back by itself. A
 * worker ended with `worker.terminate()` keeps its slot (nothing runs in it): detach first.
 *
 * @example
 * ```ts
 * import { SharedEpochArena } from '@mem/epoch-arena';
 * const arena = SharedEpochArena.create({ capacity: 1 << 20 });
 * const handle = arena.allocateCopy(new Uint8Array([1, 2, 3]));
 * // in a worker, after postMessage(arena.descriptor()):
 * const attached = SharedEpochArena.attach(arena.descriptor());
 * attached.copy(handle); // Uint8Array [1, 2, 3]
 * attached.detach();
 * ```
 */
export class SharedEpochArena extends HandleAccessors implements Arena {
  // Hot state: the worker's chunk and the generation it was claimed in.
  /** Next free byte of this worker's chunk (absolute in the region), a multiple of 8. */
  #pos = 0;
  /** End of this worker's chunk; 0 when it has none, which sends allocate() to the slow path. */
  #limit = 0;
  /** A view of this worker's chunk (empty until the first copy into it), and where the chunk starts. */
  #chunk: Uint8Array = NO_BYTES;
  #chunkBase = 0;
  /** The control word GENERATION this instance's tag was computed from. */
  #generationWord = 0;
  /** The span of announced ranges recorded by the reset that started that generation (units). */
  #spanLow = 0;
  #spanHigh = 0;
  #tagLow = 0;
  #tagEnd = 0;
  readonly #bytes: Uint8Array;
  readonly #control: Int32Array;
  /** The counters: retired totals and one [count, bytes] slot per attachment. */
  readonly #counters: Float64Array;
  /** Index in `#counters` of this instance's slot. */
  readonly #slot: number;
  /** This instance's attachment slot. */
  readonly #lease: SlotLease;
  /** Control index of this instance's announced chunk, and of its announced write. */
  readonly #chunkWord: number;
  readonly #writeWord: number;
  /** Cancels the release at garbage collection or worker exit (an explicit detach did it). */
  readonly #cancelRelease: () => void;

  readonly #descriptor: SharedEpochArenaDescriptor;
  readonly #id: number;
  readonly #capacityUnits: number;
  readonly #limitUnits: number;
  readonly #hasLimit: boolean;
  readonly #chunkSize: number;
  #detached = false;

  private constructor(descriptor: SharedEpochArenaDescriptor, data: BackingMemory, control: Int32Array) {
    super();
    this.#descriptor = descriptor;
    this.#bytes = data.bytes();
    this.#control = control;
    this.#counters = new Float64Array(descriptor.control);
    this.#id = control[ARENA_ID]!;
    this.#capacityUnits = control[CAPACITY_UNITS]!;
    this.#limitUnits = control[LIMIT_UNITS]!;
    this.#hasLimit = control[HAS_LIMIT] === 1;
    this.#chunkSize = control[CHUNK_SIZE]!;
    const lease = new SlotLease(control, this.#counters);
    this.#lease = lease;
    this.#slot = SLOTS + SLOT_STRIDE * lease.slot;
    this.#chunkWord = chunkWord(lease.slot);
    this.#writeWord = writeWord(lease.slot);
    const release = releaser(lease);
    this.#cancelRelease = releaseWhenGone(this, { atExit: release, afterCollection: release });
    this.#adoptGeneration(Atomics.load(control, GENERATION) & ~1);
  }

  /**
   * Creates a shared arena and attaches this worker to it.
   * Cost: one `SharedArrayBuffer` of `capacity` bytes (zeroed by the runtime) and a small control one.
   * @throws MemError INVALID_ARGUMENT if an option is out of range or of the wrong type, or the
   * runtime has no `SharedArrayBuffer`.
   * @throws MemError EXHAUSTED if the runtime cannot allocate the region.
   *
   * @example
   * ```ts
   * import { SharedEpochArena } from '@mem/epoch-arena';
   * const arena = SharedEpochArena.create({ capacity: 64 << 20, chunkSize: 0 });
   * arena.allocate(32);
   * ```
   */
  static create(options: SharedEpochArenaOptions): SharedEpochArena {
    if (typeof options !== 'object' || options === null) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `options must be an object with a capacity, got ${describeValue(options)}`,
      );
    }
    const capacity = assertInteger(options.capacity, 'capacity', { min: 64, max: MAX_SHARED_CAPACITY });
    const epoch = assertEpoch(options.epoch ?? 0, 'epoch');
    const chunkSize = assertInteger(options.chunkSize ?? DEFAULT_CHUNK_SIZE, 'chunkSize', { min: 0, max: MAX_CHUNK });
    if (chunkSize !== 0 && (chunkSize < MIN_CHUNK || (chunkSize & (chunkSize - 1)) !== 0)) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `chunkSize must be 0 or a power of two in [${MIN_CHUNK}, ${MAX_CHUNK}], got ${chunkSize}`,
      );
    }
    const limit =
      options.allocationLimit === undefined
        ? undefined
        : assertInteger(options.allocationLimit, 'allocationLimit', { min: 0 });
    const maxAttachments = assertInteger(options.maxAttachments ?? DEFAULT_MAX_ATTACHMENTS, 'maxAttachments', {
      min: 1,
      max: 256,
    });
    const id =
      options.id === undefined ? takeArenaId() : assertInteger(options.id, 'id', { min: 1, max: MAX_ARENA_ID });
    const metrics = assertMetricsSink(options.metrics);
    const data = BackingMemory.allocate(capacity, { shared: true });
    const controlBuffer = BackingMemory.allocate(controlBytes(maxAttachments), { shared: true })
      .buffer as SharedArrayBuffer;
    const control = new Int32Array(controlBuffer);
    const capacityUnits = Math.floor(capacity / 8);
    control[ARENA_ID] = id;
    control[EPOCH_LOW] = epoch % 2 ** 32;
    control[EPOCH_HIGH] = Math.floor(epoch / 2 ** 32);
    control[CAPACITY_UNITS] = capacityUnits;
    control[LIMIT_UNITS] = limit === undefined ? capacityUnits : Math.min(capacityUnits, Math.floor(limit / 8));
    control[HAS_LIMIT] = limit === undefined || limit >= capacityUnits * 8 ? 0 : 1;
    control[CHUNK_SIZE] = effectiveChunkSize(chunkSize, capacity);
    control[MAX_ATTACHMENTS] = maxAttachments;
    Atomics.store(control, MAGIC, MAGIC_VALUE);
    const descriptor: SharedEpochArenaDescriptor = {
      kind: 'mem.shared-epoch-arena',
      version: 1,
      control: controlBuffer,
      data: data.share(),
    };
    const arena = new SharedEpochArena(descriptor, data, control);
    if (metrics !== undefined) {
      try {
        publishArenaWhileAlive(metrics, { arena: String(id) }, arena, readFigures);
      } catch (error) {
        arena.detach();
        throw error;
      }
    }
    return arena;
  }

  /**
   * Attaches this worker to the shared arena that `descriptor` came from. Every attachment takes
   * one counter slot until {@link SharedEpochArena.detach}.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `descriptor` does not come from {@link SharedEpochArena.descriptor}.
   * @throws MemError EXHAUSTED if `maxAttachments` instances are attached already.
   *
   * @example
   * ```ts
   * import { SharedEpochArena } from '@mem/epoch-arena';
   * const created = SharedEpochArena.create({ capacity: 1 << 20 });
   * const attached = SharedEpochArena.attach(created.descriptor()); // usually in another worker
   * attached.stats().attachments; // 2
   * ```
   */
  static attach(descriptor: SharedEpochArenaDescriptor): SharedEpochArena {
    const candidate = descriptor as Partial<SharedEpochArenaDescriptor> | null;
    const bad = (why: string): never => {
      throw new MemError(
        'INVALID_ARGUMENT',
        `descriptor must come from SharedEpochArena.descriptor(): ${why}, got ${describeValue(descriptor)}`,
      );
    };
    if (typeof candidate !== 'object' || candidate === null) return bad('not an object');
    if (candidate.kind !== 'mem.shared-epoch-arena' || candidate.version !== 1) return bad('wrong kind or version');
    if (
      !(candidate.control instanceof SharedArrayBuffer) ||
      candidate.control.byteLength < controlBytes(1) ||
      candidate.control.byteLength % 8 !== 0
    ) {
      return bad('no control SharedArrayBuffer');
    }
    const control = new Int32Array(candidate.control);
    const damaged = invalidControl(control, candidate.control.byteLength);
    if (damaged !== undefined) return bad(damaged);
    const data = BackingMemory.fromDescriptor(candidate.data as BackingMemoryDescriptor);
    if (!data.isShared) return bad('the data region is not shared memory');
    if (data.byteLength < control[CAPACITY_UNITS]! * 8) return bad('the data region is smaller than the capacity');
    return new SharedEpochArena(candidate as SharedEpochArenaDescriptor, data, control);
  }

  /**
   * The descriptor another worker attaches with; structured-cloneable, the memory is shared, not copied.
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE if this instance is detached.
   */
  descriptor(): SharedEpochArenaDescriptor {
    this.#assertAttached();
    return this.#descriptor;
  }

  /** The arena's id (1 to 63), carried by every handle it issues. Cost: O(1). */
  get id(): number {
    return this.#id;
  }

  /**
   * The epoch number of the current generation, as set by the last reset in any worker.
   * Cost: O(1) (a few atomic loads).
   */
  override get epoch(): number {
    for (;;) {
      const before = Atomics.load(this.#control, GENERATION);
      const low = Atomics.load(this.#control, EPOCH_LOW) >>> 0;
      const high = Atomics.load(this.#control, EPOCH_HIGH);
      if ((before & 1) === 0 && Atomics.load(this.#control, GENERATION) === before) return high * 2 ** 32 + low;
    }
  }

  /** How many times the arena has been reset, by any worker. Cost: O(1). */
  get generation(): number {
    return Atomics.load(this.#control, GENERATION) >>> 1;
  }

  /** Bytes of the shared region. Cost: O(1). */
  get capacity(): number {
    return this.#capacityUnits * 8;
  }

  /** Bytes a worker claims at once, or 0 when every allocation bumps the shared pointer. Cost: O(1). */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** Whether this instance has been detached. Cost: O(1). */
  get detached(): boolean {
    return this.#detached;
  }

  // ---------------------------------------------------------------------------------------------
  // Hot paths: a bump inside this worker's chunk, checked against the shared generation word.
  // Claiming a chunk, direct shared bumps, alignment above 8 and long allocations are slow paths.
  // The bump is written out in each entry point on purpose, as in EpochArena's.
  // ---------------------------------------------------------------------------------------------

  /**
   * Allocates `size` bytes aligned to `align` (a power of two up to 4096; at least 8) and returns a
   * handle valid in every attached worker. The bytes are not zeroed.
   * Cost: a few nanoseconds inside this worker's chunk; one `Atomics.add` per chunk (or per
   * allocation with `chunkSize: 0`).
   * @throws MemError INVALID_ARGUMENT for a bad size or alignment.
   * @throws MemError OVERSIZED if the allocation can never fit the region.
   * @throws MemError LIMIT_EXCEEDED past the allocation limit; EXHAUSTED when the region is full
   * (both until the next reset).
   * @throws MemError USE_AFTER_RELEASE if this instance is detached.
   */
  allocate(size: number, align?: number): ArenaHandle {
    if (align === undefined && typeof size === 'number' && size >= 0 && size < LENGTH_ESCAPE && (size | 0) === size) {
      const start = this.#pos;
      const end = start + size;
      if (end < this.#limit && this.#control[GENERATION] === this.#generationWord) {
        this.#pos = (end + 7) & -8;
        this.#count(size);
        return (this.#tagLow + size) * ADDRESS_SPAN + (start >>> 3);
      }
    }
    this.#allocateSlow(size, align, undefined);
    return this.#issuedTop * ADDRESS_SPAN + this.#issuedAddress;
  }

  /**
   * Allocates a copy of `bytes`, 8-byte aligned, and returns its handle.
   * Cost: the allocation plus the copy.
   * @throws MemError INVALID_ARGUMENT if `bytes` is not a `Uint8Array`; otherwise as {@link SharedEpochArena.allocate}.
   */
  allocateCopy(bytes: Uint8Array): ArenaHandle {
    if (bytes instanceof Uint8Array && ArrayBuffer.isView(bytes)) {
      const size = bytes.length;
      if (size < LENGTH_ESCAPE) {
        const start = this.#pos;
        const end = start + size;
        if (end < this.#limit && this.#control[GENERATION] === this.#generationWord) {
          // Through the chunk's own view: a source longer than its `length` claims writes into this
          // worker's free chunk space, or makes `set` throw before it writes, never past the chunk.
          const chunk = this.#chunk.length !== 0 ? this.#chunk : this.#viewChunk();
          try {
            chunk.set(bytes, start - this.#chunkBase);
          } catch {
            if (lengthOfBytes(bytes) !== 0) refuseMisreportedLength(bytes, 'bytes');
          }
          this.#pos = (end + 7) & -8;
          this.#count(size);
          return (this.#tagLow + size) * ADDRESS_SPAN + (start >>> 3);
        }
      }
    }
    const source = assertBytes(bytes, 'bytes');
    this.#allocateSlow(lengthOfBytes(source), undefined, source);
    return this.#issuedTop * ADDRESS_SPAN + this.#issuedAddress;
  }

  /**
   * Allocates a copy of a key of at most 256 bytes, 16-byte aligned, and returns its handle.
   * Cost: as {@link SharedEpochArena.allocateCopy}.
   * @throws MemError OVERSIZED for a key longer than 256 bytes; otherwise as {@link SharedEpochArena.allocateCopy}.
   */
  allocateKey(key: Uint8Array): ArenaHandle {
    if (key instanceof Uint8Array && ArrayBuffer.isView(key)) {
      const size = key.length;
      if (size <= MAX_KEY_LENGTH) {
        const start = (this.#pos + 15) & -16;
        const end = start + size;
        if (end < this.#limit && this.#control[GENERATION] === this.#generationWord) {
          const chunk = this.#chunk.length !== 0 ? this.#chunk : this.#viewChunk();
          try {
            chunk.set(key, start - this.#chunkBase);
          } catch {
            if (lengthOfBytes(key) !== 0) refuseMisreportedLength(key, 'key');
          }
          this.#pos = (end + 7) & -8;
          this.#count(size);
          return (this.#tagLow + size) * ADDRESS_SPAN + (start >>> 3);
        }
      }
    }
    const source = assertKey(key);
    this.#allocateSlow(lengthOfBytes(source), KEY_ALIGNMENT, source);
    return this.#issuedTop * ADDRESS_SPAN + this.#issuedAddress;
  }

  /** Adds one allocation of `size` bytes to this worker's counter slot (plain stores: one writer). */
  #count(size: number): void {
    const counters = this.#counters;
    const slot = this.#slot;
    counters[slot] = counters[slot]! + 1;
    counters[slot + 1] = counters[slot + 1]! + size;
  }

  /**
   * Starts a new generation tagged `newEpoch` for every attached worker: handles issued so far
   * become stale everywhere, the bump pointer goes back to the start and the counters to zero.
   * Allocations racing with it return stale handles, and `write` or `fill` calls racing with it
   * throw STALE_HANDLE; ranges that other workers are still copying into (or hold as their chunk)
   * are skipped by the next generation until they are done, so no write begun before the reset
   * lands in memory handed out after it. Readers of the old generation must be done (see
   * {@link ArenaPool.pin}): a view does not keep its bytes. `options.retainBlocks` is checked but
   * has nothing to trim: the region is one block.
   * Cost: O(attachments) to read the announcements and clear the counters.
   * @throws MemError INVALID_ARGUMENT for a bad epoch or options.
   * @throws MemError USE_AFTER_RELEASE if this instance is detached.
   */
  reset(newEpoch: number, options?: ResetOptions): void {
    this.#assertAttached();
    const epoch = assertEpoch(newEpoch, 'newEpoch');
    const checked = assertOptions<ResetOptions>(options);
    if (checked.retainBlocks !== undefined) assertInteger(checked.retainBlocks, 'retainBlocks', { min: 0 });
    const control = this.#control;
    const counters = this.#counters;
    this.#dropChunk(); // this worker is not writing: its chunk need not stay out of reuse
    lock(control);
    try {
      Atomics.add(control, GENERATION, 1); // odd: claims in flight retry or end up stale
      // After the generation went odd: every write that may still land is announced by now.
      recordAnnouncedSpan(control);
      Atomics.store(control, POSITION, 0);
      Atomics.store(control, EPOCH_LOW, epoch % 2 ** 32);
      Atomics.store(control, EPOCH_HIGH, Math.floor(epoch / 2 ** 32));
      for (let index = RETIRED; index < counters.length; index += SLOT_STRIDE) {
        counters[index] = 0;
        counters[index + 1] = 0;
      }
      Atomics.add(control, GENERATION, 1);
      Atomics.notify(control, GENERATION);
    } finally {
      unlock(control);
    }
    this.#adoptGeneration(Atomics.load(control, GENERATION));
  }

  /**
   * Detaches this instance: its counter slot is folded into the totals and freed for another
   * worker, and the chunk it was bumping in goes back to the next generation; every later call on
   * it throws USE_AFTER_RELEASE. The shared memory lives on for the other instances. Detaching
   * twice does nothing. An instance that is garbage-collected, or whose worker exits normally,
   * detaches by itself; one whose worker is terminated does not.
   * Cost: O(1).
   * @throws never
   */
  detach(): void {
    if (this.#detached) return;
    this.#cancelRelease();
    this.#lease.release();
    this.#detached = true;
    this.#limit = 0;
    this.#tagLow = -1;
    this.#tagEnd = -1;
  }

  /** Detaches (the `using` declaration calls this). Cost: O(1). @throws never */
  [Symbol.dispose](): void {
    this.detach();
  }

  /**
   * A snapshot: epoch, generation, capacity, bytes used (claimed from the region), bytes and count
   * of allocations summed over every attached and detached worker, attachments.
   * Cost: O(maxAttachments).
   * @throws MemError USE_AFTER_RELEASE if this instance is detached.
   */
  stats(): SharedArenaStats {
    this.#assertAttached();
    const control = this.#control;
    const counters = this.#counters;
    let allocationCount = 0;
    let bytesAllocated = 0;
    for (let index = RETIRED; index < counters.length; index += SLOT_STRIDE) {
      allocationCount += counters[index]!;
      bytesAllocated += counters[index + 1]!;
    }
    const position = Math.min(Atomics.load(control, POSITION), this.#capacityUnits);
    return {
      epoch: this.epoch,
      generation: this.generation,
      arenaId: this.#id,
      blockCount: 1,
      blocksInUse: position > 0 ? 1 : 0,
      oversizedBlocks: 0,
      totalCapacity: this.#capacityUnits * 8,
      bytesUsed: position * 8,
      bytesAllocated,
      allocationCount,
      allocationLimit: this.#hasLimit ? this.#limitUnits * 8 : null,
      attachments: Atomics.load(control, ATTACHED),
      chunkSize: this.#chunkSize,
    };
  }

  /** Names the arena in error messages. */
  override toString(): string {
    return `SharedEpochArena #${this.#id}`;
  }

  // ---------------------------------------------------------------------------------------------
  // The handle check: as EpochArena's, against the shared generation word and bump pointer.
  // ---------------------------------------------------------------------------------------------

  /**
   * Checks `handle` and returns the region, through `found` with the allocation's offset and length.
   * @internal
   */
  protected override resolve(handle: ArenaHandle): Uint8Array {
    if (typeof handle === 'number') {
      if (this.#control[GENERATION] !== this.#generationWord) this.#adoptGeneration(this.#control[GENERATION]!);
      const top = Math.floor(handle / ADDRESS_SPAN);
      if (top >= this.#tagLow && top < this.#tagEnd) {
        const address = handle - top * ADDRESS_SPAN;
        if (address >>> 0 === address) {
          const offset = address * 8;
          const used = Math.min(this.#control[POSITION]!, this.#capacityUnits) * 8;
          let length = top - this.#tagLow;
          if (length === LENGTH_ESCAPE) {
            length =
              offset >= HEADER_SIZE && offset <= used
                ? readHeader(this.#bytes, offset - HEADER_SIZE, this.#tagLow >> 9)
                : -1;
          }
          if (length >= 0 && offset + length <= used) return this.found(this.#bytes, offset, length);
        }
      }
    }
    this.#assertAttached();
    // A reset in progress has already ended the old generation: its handles are stale.
    const generation = (Atomics.load(this.#control, GENERATION) + 1) >>> 1;
    return rejectHandle(handle, { id: this.#id, generation, label: this.toString() });
  }

  /**
   * Announces a `write` or `fill` of the allocation at [offset, offset + length), then checks that
   * no reset began since the handle was checked (else STALE_HANDLE, and nothing is written).
   * @internal
   */
  protected override beginWrite(handle: ArenaHandle, offset: number, length: number): void {
    const control = this.#control;
    announce(control, this.#writeWord, offset >>> 3, (offset + length + 7) >>> 3);
    const word = this.#generationWord;
    if ((word & 1) === 1 || Atomics.load(control, GENERATION) !== word) {
      withdraw(control, this.#writeWord);
      rejectHandle(handle, { id: this.#id, generation: (word >>> 1) + 1, label: this.toString() });
    }
  }

  /** Withdraws what `beginWrite` announced. @internal */
  protected override endWrite(): void {
    withdraw(this.#control, this.#writeWord);
  }

  /**
   * The epoch the handle was issued in, read together with the handle check so that a reset in
   * between cannot pair a handle with the next generation's epoch.
   * Cost: the handle check and a few atomic loads.
   * @throws as {@link Arena.view}.
   */
  override epochOf(handle: ArenaHandle): number {
    const control = this.#control;
    for (let round = 0; ; round += 1) {
      const word = Atomics.load(control, GENERATION);
      if ((word & 1) === 0) {
        const epoch = Atomics.load(control, EPOCH_HIGH) * 2 ** 32 + (Atomics.load(control, EPOCH_LOW) >>> 0);
        this.resolve(handle);
        if (Atomics.load(control, GENERATION) === word) return epoch;
      }
      pause(control, GENERATION, word, round);
    }
  }

  /** Takes the tag of the generation in `word`; a changed generation drops this worker's chunk. */
  #adoptGeneration(word: number): void {
    if (this.#detached) return;
    if (word !== this.#generationWord) {
      this.#dropChunk();
      this.#spanLow = Atomics.load(this.#control, SPAN_LOW);
      this.#spanHigh = Atomics.load(this.#control, SPAN_HIGH);
    }
    this.#generationWord = word;
    this.#tagLow = tagBase(arenaTag(this.#id, word >>> 1));
    this.#tagEnd = this.#tagLow + (LENGTH_ESCAPE + 1);
  }

  /** Makes the view of this worker's chunk that copies go through (once per chunk that gets one). */
  #viewChunk(): Uint8Array {
    this.#chunk = this.#bytes.subarray(this.#chunkBase, this.#limit);
    return this.#chunk;
  }

  /** Stops bumping in this worker's chunk and withdraws its announcement. */
  #dropChunk(): void {
    if (this.#limit === 0) return;
    this.#pos = 0;
    this.#limit = 0;
    withdraw(this.#control, this.#chunkWord);
  }

  #assertAttached(): void {
    if (this.#detached) {
      throw new MemError('USE_AFTER_RELEASE', `${this.toString()} was used after detach()`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Slow paths: argument checks, claiming chunks and direct ranges from the shared pointer.
  // ---------------------------------------------------------------------------------------------

  /** The last slow-path allocation's handle halves (see EpochArena's slow path for why not a return). */
  #issuedTop = 0;
  #issuedAddress = 0;

  #allocateSlow(size: unknown, align: unknown, source: Uint8Array | undefined): void {
    this.#assertAttached();
    const checkedSize = assertAllocationSize(size);
    const alignment = resolveAlignment(align);
    const header = checkedSize >= LENGTH_ESCAPE ? HEADER_SIZE : 0;
    // The most bytes the allocation can take from an 8-aligned start: padding, header, data.
    const span = alignment - MIN_ALIGNMENT + header + checkedSize;
    if (span > this.#capacityUnits * 8) {
      throw new MemError(
        'OVERSIZED',
        `${checkedSize} bytes aligned to ${alignment} can never fit ${this.toString()} of ${this.#capacityUnits * 8} bytes`,
        { details: { size: checkedSize, alignment, capacity: this.#capacityUnits * 8 } },
      );
    }
    const word = this.#control[GENERATION]!;
    if (word !== this.#generationWord && (word & 1) === 0) this.#adoptGeneration(word);

    let start: number;
    // Outside a chunk, a range that will be written is announced for the duration of the write.
    let announced = false;
    if (this.#chunkSize > 0 && span <= this.#chunkSize / 4) {
      start = this.#limit > 0 && word === this.#generationWord ? this.#bumpChunk(checkedSize, alignment, header) : -1;
      if (start < 0) {
        if (!this.#claim(this.#chunkSize / 8, Math.ceil(span / 8))) this.#throwFull(span);
        start = this.#bumpChunk(checkedSize, alignment, header);
      }
    } else {
      announced = source !== undefined || header > 0;
      const announceAt = announced ? this.#writeWord : -1;
      start = -1;
      if (alignment > MIN_ALIGNMENT) {
        if (this.#claimAligned(checkedSize, alignment, header, announceAt)) start = this.#claimStart;
      } else if (this.#claimDirect(Math.ceil(span / 8), Math.ceil(span / 8), announceAt)) {
        start = this.#claimStart * 8 + header;
      }
      if (start < 0) this.#throwFull(span);
    }
    try {
      let length = checkedSize;
      if (header > 0) {
        writeHeader(this.#bytes, start - HEADER_SIZE, checkedSize, this.#tagLow >> 9);
        length = LENGTH_ESCAPE;
      }
      if (source !== undefined && checkedSize > 0) this.#bytes.set(source, start); // nothing for a detached view
      this.#issuedTop = this.#tagLow + length;
      this.#issuedAddress = start >>> 3;
    } finally {
      if (announced) withdraw(this.#control, this.#writeWord);
    }
    this.#count(checkedSize);
  }

  /** Bumps inside this worker's chunk; returns the start, or -1 if it does not fit. */
  #bumpChunk(size: number, alignment: number, header: number): number {
    const start = Math.ceil((this.#pos + header) / alignment) * alignment;
    const end = start + size;
    if (end > this.#limit || start >= this.#limit) return -1;
    this.#pos = Math.ceil(end / MIN_ALIGNMENT) * MIN_ALIGNMENT;
    return start;
  }

  /** Start of the last claim: in units from `#claimDirect`, in bytes from `#claimAligned`. */
  #claimStart = 0;
  /** End (units) of the last claim. */
  #claimEnd = 0;

  /**
   * Claims `units` 8-byte units (at least `minUnits` at the end of the region) as this worker's
   * new chunk, announced for as long as it holds it. Returns false when the region is full for
   * this generation.
   */
  #claim(units: number, minUnits: number): boolean {
    if (!this.#claimDirect(units, minUnits, this.#chunkWord)) {
      this.#pos = 0;
      this.#limit = 0;
      return false;
    }
    this.#pos = this.#claimStart * 8;
    this.#limit = this.#claimEnd * 8;
    this.#chunkBase = this.#pos;
    this.#chunk = NO_BYTES; // made by the first copy into this chunk
    return true;
  }

  /**
   * One `Atomics.add` on the shared pointer, inside the generation sequence lock: a claim that a
   * reset overlapped is dropped and retried, so a range is never handed out under the new tag
   * before the reset finished. With `announceAt` >= 0 the range is announced there before the
   * generation is checked again (see the concurrency protocol in `shared-arena-control.ts`); a
   * range that overlaps one another worker still announces from an earlier generation is dropped
   * and the pointer jumps past it. Sets `#claimStart` and `#claimEnd` (units).
   */
  #claimDirect(units: number, minUnits: number, announceAt: number): boolean {
    const control = this.#control;
    const limit = this.#limitUnits;
    for (let round = 0; ; round += 1) {
      const before = Atomics.load(control, GENERATION);
      if ((before & 1) === 1) {
        pause(control, GENERATION, before, round); // a reset is in progress: it takes a few stores
        continue;
      }
      this.#adoptGeneration(before);
      // A full region is not bumped further, so failed claims cannot push the pointer far past it.
      if (Atomics.load(control, POSITION) + minUnits > limit) return this.#claimFailed(announceAt);
      const old = Atomics.add(control, POSITION, units);
      // Past the limit only the tail [old, limit) is ours: every later claim starts beyond it.
      const end = old + units <= limit ? old + units : limit;
      if (announceAt >= 0) announce(control, announceAt, old, end);
      if (Atomics.load(control, GENERATION) !== before) continue;
      if (old + minUnits > limit) return this.#claimFailed(announceAt);
      const busyUntil = this.#busyUntil(old, end);
      if (busyUntil >= 0) {
        skipBusyRange(control, old + units, busyUntil);
        continue;
      }
      this.#claimStart = old;
      this.#claimEnd = end;
      return true;
    }
  }

  /**
   * Where the range [start, end) (units) of a claim stops overlapping ranges other workers still
   * announce from an earlier generation, or -1 if it overlaps none. Looks only inside the span
   * the last reset recorded.
   */
  #busyUntil(start: number, end: number): number {
    if (end <= this.#spanLow || start >= this.#spanHigh) return -1;
    return announcedOverlap(this.#control, this.#lease.slot, start, end);
  }

  #claimFailed(announceAt: number): false {
    if (announceAt >= 0) withdraw(this.#control, announceAt);
    return false;
  }

  /**
   * The compare-and-swap bump, for an alignment above 8 without chunks, under the same
   * protocol as `#claimDirect`. Sets `#claimStart` (bytes); returns false when it does not fit.
   */
  #claimAligned(size: number, alignment: number, header: number, announceAt: number): boolean {
    const control = this.#control;
    const limit = this.#limitUnits;
    for (let round = 0; ; round += 1) {
      const before = Atomics.load(control, GENERATION);
      if ((before & 1) === 1) {
        pause(control, GENERATION, before, round);
        continue;
      }
      this.#adoptGeneration(before);
      const position = Atomics.load(control, POSITION);
      const start = Math.ceil((position * 8 + header) / alignment) * alignment;
      const endUnits = Math.ceil((start + size) / 8);
      if (endUnits > limit) return this.#claimFailed(announceAt);
      if (Atomics.compareExchange(control, POSITION, position, endUnits) !== position) continue;
      if (announceAt >= 0) announce(control, announceAt, position, endUnits);
      if (Atomics.load(control, GENERATION) !== before) continue;
      const busyUntil = this.#busyUntil(position, endUnits);
      if (busyUntil >= 0) {
        skipBusyRange(control, endUnits, busyUntil);
        continue;
      }
      this.#claimStart = start;
      return true;
    }
  }

  #throwFull(span: number): never {
    const used = Math.min(Atomics.load(this.#control, POSITION), this.#capacityUnits) * 8;
    const limited = this.#hasLimit;
    throw new MemError(
      limited ? 'LIMIT_EXCEEDED' : 'EXHAUSTED',
      limited
        ? `${this.toString()} has used ${used} bytes of its allocation limit of ${this.#limitUnits * 8}; ${span} more do not fit`
        : `${this.toString()} has used ${used} of its ${this.#capacityUnits * 8} bytes; ${span} more do not fit until the next reset`,
      { details: { used, needed: span, limit: this.#limitUnits * 8 } },
    );
  }
}

/**
 * A chunk is at most 1/16 of the region, so that one worker cannot take a small region for itself;
 * below the smallest chunk, allocations bump the shared pointer directly.
 */
function effectiveChunkSize(requested: number, capacity: number): number {
  if (requested === 0) return 0;
  const cap = 2 ** Math.floor(Math.log2(capacity / 16));
  const chunk = Math.min(requested, cap);
  return chunk >= MIN_CHUNK ? chunk : 0;
}

/**
 * The release of an instance's slot when it goes away. Made here, not in the constructor, so that
 * the closure holds the lease only and never the instance (which would then never be collected).
 */
function releaser(lease: SlotLease): () => void {
  return () => lease.release();
}

/** What the metrics collector of an instance reads: zeros once it is detached. */
function readFigures(arena: SharedEpochArena): ArenaFigures {
  return arena.detached ? NO_ARENA_FIGURES : arena.stats();
}
