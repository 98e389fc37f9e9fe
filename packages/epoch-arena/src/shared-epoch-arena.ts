/**
 * `SharedEpochArena`: an epoch arena in shared memory. Its bytes and its bump pointer live in
 * `SharedArrayBuffer`s, workers attach to it from a structured-cloneable descriptor, bump it with
 * `Atomics`, and every attached worker can read and check every handle.
 *
 * Over 400 lines for one concept: the three allocation entry points write their hot path out on
 * purpose (docs/DESIGN.md, "Hot paths"), and the handle check, the write announcements and the
 * reset share the attachment's view of the generation. Making and opening the shared state live
 * in `shared-arena-setup.ts`, the claims on the bump pointer in `shared-arena-claims.ts`.
 *
 * This module is browser compatible (where `SharedArrayBuffer` is available, i.e. in a
 * cross-origin-isolated page).
 * @module
 */
import { MemError, assertInteger, assertOptions, releaseWhenGone, type SharedAttachment } from '@mem/types';
import { NO_ARENA_FIGURES, publishArenaWhileAlive, type ArenaFigures } from './arena-metrics.js';
import { RESET_OPTIONS, type Arena, type ArenaHandle, type ResetOptions } from './arena.js';
import {
  KEY_ALIGNMENT,
  MAX_KEY_LENGTH,
  MIN_ALIGNMENT,
  assertAllocationSize,
  assertBytes,
  assertEpoch,
  assertKey,
  lengthOfBytes,
  refuseMisreportedLength,
  resolveAlignment,
} from './arena-limits.js';
import {
  ADDRESS_SPAN,
  HEADER_SIZE,
  LENGTH_ESCAPE,
  arenaTag,
  readHeader,
  tagBase,
  writeHeader,
} from './handle-layout.js';
import { HandleAccessors } from './handle-accessors.js';
import { rejectHandle } from './handle-rejection.js';
import { RegionClaims } from './shared-arena-claims.js';
import {
  ARENA_ID,
  ATTACHED,
  BYTES as CONTROL_BYTES,
  CAPACITY_UNITS,
  CHUNK_SIZE,
  COUNT as CONTROL_COUNT,
  EPOCH_HIGH,
  EPOCH_LOW,
  GENERATION as CONTROL_GENERATION,
  HAS_LIMIT,
  LIMIT_UNITS,
  POSITION as CONTROL_POSITION,
  RETIRED,
  SLOTS,
  SLOT_STRIDE,
  SlotLease,
  announce,
  chunkWord,
  lock,
  recordAnnouncedSpan,
  unlock,
  withdraw,
  writeWord,
} from './shared-arena-control.js';
import {
  createArenaState,
  openArenaState,
  type ArenaState,
  type SharedArenaStats,
  type SharedEpochArenaDescriptor,
  type SharedEpochArenaOptions,
} from './shared-arena-setup.js';
import { pause } from './spin-wait.js';

// The control words that allocation, claims and the handle check use, as literals of this module:
// optimised code folds a module's own constants (and inlines the Atomics on them), not the
// bindings it imports.
const GENERATION = 2;
const POSITION = 16;
/** Offsets of the allocation count and bytes in a counter slot line. */
const COUNT = 0;
const BYTES = 1;
if (
  GENERATION !== CONTROL_GENERATION ||
  POSITION !== CONTROL_POSITION ||
  COUNT !== CONTROL_COUNT ||
  BYTES !== CONTROL_BYTES
) {
  throw new Error('internal: the control words of SharedEpochArena moved');
}

const NO_BYTES = new Uint8Array(0);

/**
 * An epoch arena in shared memory, for allocating and reading from several workers at once.
 * One worker creates it with {@link SharedEpochArena.createShared} and posts
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
 * bytes, so reset only when no worker reads the old generation, or use a {@link SharedArenaPool}
 * with guards to know when.
 *
 * Lifecycle: each attachment (the creator's included) holds a slot until
 * {@link SharedEpochArena.close}; closing one leaves the others working. An attachment that is
 * garbage-collected, or whose worker exits normally, gives its slot back by itself. A worker ended
 * with `worker.terminate()` keeps its slot (nothing runs in it): close first.
 *
 * @example
 * ```ts
 * import { SharedEpochArena } from '@mem/epoch-arena';
 * const arena = SharedEpochArena.createShared({ capacity: 1 << 20 });
 * const handle = arena.allocateCopy(new Uint8Array([1, 2, 3]));
 * // in a worker, after postMessage(arena.descriptor()):
 * const attached = SharedEpochArena.attach(arena.descriptor());
 * attached.copy(handle); // Uint8Array [1, 2, 3]
 * attached.close();
 * ```
 */
export class SharedEpochArena extends HandleAccessors implements Arena, SharedAttachment<SharedEpochArenaDescriptor> {
  // Hot state: the worker's chunk and the generation it was claimed in.
  /** Next free byte of this worker's chunk (absolute in the region), a multiple of 8. */
  #pos = 0;
  /** End of this worker's chunk; 0 when it has none, which sends allocate() to the slow path. */
  #limit = 0;
  /** A view of this worker's chunk (empty until the first copy into it), and where the chunk starts. */
  #chunk: Uint8Array = NO_BYTES;
  #chunkBase = 0;
  /** The control word GENERATION this attachment's tag was computed from. */
  #generationWord = 0;
  #tagLow = 0;
  #tagEnd = 0;
  readonly #bytes: Uint8Array;
  readonly #control: Int32Array;
  /** The counters: retired totals and one [count, bytes] slot per attachment. */
  readonly #counters: Float64Array;
  /** Index in `#counters` of this attachment's slot. */
  readonly #slot: number;
  /** This attachment's slot. */
  readonly #lease: SlotLease;
  /** Control index of this attachment's announced chunk, and of its announced write. */
  readonly #chunkWord: number;
  readonly #writeWord: number;
  /** Cancels the release at garbage collection or worker exit (an explicit close did it). */
  readonly #cancelRelease: () => void;
  /** This attachment's claims on the shared bump pointer. */
  readonly #claims: RegionClaims;

  readonly #descriptor: SharedEpochArenaDescriptor;
  readonly #id: number;
  readonly #capacityUnits: number;
  readonly #limitUnits: number;
  readonly #hasLimit: boolean;
  readonly #chunkSize: number;
  #closed = false;

  private constructor({ descriptor, data, control }: ArenaState) {
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
    this.#claims = new RegionClaims(control, lease.slot);
    const release = releaser(lease);
    this.#cancelRelease = releaseWhenGone(this, { atExit: release, afterCollection: release });
    this.#adoptGeneration(Atomics.load(control, GENERATION) & ~1);
  }

  /**
   * Creates a shared arena and attaches this worker to it.
   * Cost: one `SharedArrayBuffer` of `capacity` bytes (zeroed by the runtime) and a small control one.
   * @throws MemError INVALID_ARGUMENT if an option is unknown, out of range or of the wrong type, or
   * the runtime has no `SharedArrayBuffer`.
   * @throws MemError EXHAUSTED if the runtime cannot allocate the region.
   * @throws whatever the metrics sink's `addCollector` throws (the arena is closed then).
   *
   * @example
   * ```ts
   * import { SharedEpochArena } from '@mem/epoch-arena';
   * const arena = SharedEpochArena.createShared({ capacity: 64 << 20, chunkSize: 0 });
   * arena.allocate(32);
   * ```
   */
  static createShared(options: SharedEpochArenaOptions): SharedEpochArena {
    const { metrics, name, ...state } = createArenaState(options);
    const arena = new SharedEpochArena(state);
    if (metrics !== undefined) {
      try {
        publishArenaWhileAlive(metrics, { pool: name, arena: String(arena.#id) }, arena, readFigures);
      } catch (error) {
        arena.close();
        throw error;
      }
    }
    return arena;
  }

  /**
   * Attaches this worker to the shared arena that `descriptor` came from. Every attachment takes
   * one slot (its counters and announcements) until {@link SharedEpochArena.close}.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `descriptor` is not a descriptor of kind
   * `'mem.epoch-arena.shared-epoch-arena'` and this layout version, or does not come from
   * {@link SharedEpochArena.descriptor}.
   * @throws MemError EXHAUSTED if `maxAttachments` attachments exist already.
   *
   * @example
   * ```ts
   * import { SharedEpochArena } from '@mem/epoch-arena';
   * const created = SharedEpochArena.createShared({ capacity: 1 << 20 });
   * const attached = SharedEpochArena.attach(created.descriptor()); // usually in another worker
   * attached.stats().attachments; // 2
   * ```
   */
  static attach(descriptor: SharedEpochArenaDescriptor): SharedEpochArena {
    return new SharedEpochArena(openArenaState(descriptor));
  }

  /**
   * The descriptor another worker attaches with; structured-cloneable, the memory is shared, not copied.
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE once this attachment is closed.
   */
  descriptor(): SharedEpochArenaDescriptor {
    this.#assertOpen();
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

  /** Whether this attachment is closed. Cost: O(1). */
  get closed(): boolean {
    return this.#closed;
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
   * @throws MemError USE_AFTER_RELEASE once this attachment is closed.
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
    counters[slot + COUNT] = counters[slot + COUNT]! + 1;
    counters[slot + BYTES] = counters[slot + BYTES]! + size;
  }

  /**
   * Starts a new generation tagged `newEpoch` for every attached worker: handles issued so far
   * become stale everywhere, the bump pointer goes back to the start and the counters to zero.
   * Allocations racing with it return stale handles, and `write` or `fill` calls racing with it
   * throw STALE_HANDLE; ranges that other workers are still copying into (or hold as their chunk)
   * are skipped by the next generation until they are done, so no write begun before the reset
   * lands in memory handed out after it. Readers of the old generation must be done (see
   * {@link ArenaRing.pin}): a view does not keep its bytes. `options.retainBlocks` is checked but
   * has nothing to trim: the region is one block.
   * Cost: O(attachments) to read the announcements and clear the counters.
   * @throws MemError INVALID_ARGUMENT for a bad epoch or options.
   * @throws MemError USE_AFTER_RELEASE once this attachment is closed.
   */
  reset(newEpoch: number, options?: ResetOptions): void {
    this.#assertOpen();
    const epoch = assertEpoch(newEpoch, 'newEpoch');
    const checked = assertOptions<ResetOptions>(options, 'options', RESET_OPTIONS);
    if (checked.retainBlocks !== undefined) assertInteger(checked.retainBlocks, 'retainBlocks', { min: 0 });
    this.#startGeneration(epoch, 0);
  }

  /**
   * Starts a generation in which nothing can be allocated: handles issued so far go stale, as at
   * a reset, and every claim finds the region full until the next reset. What a ring does to an
   * arena it takes out of service, so that an allocation racing with that, through an accessor
   * that has not seen the ring move yet, fails instead of landing in an arena that serves no epoch.
   * Cost: as {@link SharedEpochArena.reset}.
   * @internal
   */
  retire(): void {
    this.#assertOpen();
    this.#startGeneration(this.epoch, this.#limitUnits + 1);
  }

  /** A reset to `epoch` whose bump pointer starts at `position` (units). */
  #startGeneration(epoch: number, position: number): void {
    const control = this.#control;
    const counters = this.#counters;
    this.#dropChunk(); // this worker is not writing: its chunk need not stay out of reuse
    lock(control);
    try {
      Atomics.add(control, GENERATION, 1); // odd: claims in flight retry or end up stale
      // After the generation went odd: every write that may still land is announced by now.
      recordAnnouncedSpan(control);
      Atomics.store(control, POSITION, position);
      Atomics.store(control, EPOCH_LOW, epoch % 2 ** 32);
      Atomics.store(control, EPOCH_HIGH, Math.floor(epoch / 2 ** 32));
      for (let index = RETIRED; index < counters.length; index += SLOT_STRIDE) {
        counters[index + COUNT] = 0;
        counters[index + BYTES] = 0;
      }
      Atomics.add(control, GENERATION, 1);
      Atomics.notify(control, GENERATION);
    } finally {
      unlock(control);
    }
    this.#adoptGeneration(Atomics.load(control, GENERATION));
  }

  /**
   * Closes this attachment: its slot's counters are folded into the totals and the slot is freed
   * for another worker, and the chunk it was bumping in goes back to the next generation; every
   * later call on it throws USE_AFTER_RELEASE. The shared memory lives on for the other
   * attachments. Closing twice does nothing. An attachment that is garbage-collected, or whose
   * worker exits normally, closes by itself; one whose worker is terminated does not.
   * Cost: O(1).
   * @throws never
   */
  close(): void {
    if (this.#closed) return;
    this.#cancelRelease();
    this.#lease.release();
    this.#closed = true;
    this.#limit = 0;
    this.#tagLow = -1;
    this.#tagEnd = -1;
  }

  /** Closes this attachment (the `using` declaration calls this). Cost: O(1). @throws never */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * A snapshot: epoch, generation, capacity, bytes used (claimed from the region), bytes and count
   * of allocations summed over every open and closed attachment, attachments.
   * Cost: O(maxAttachments).
   * @throws MemError USE_AFTER_RELEASE once this attachment is closed.
   */
  stats(): SharedArenaStats {
    this.#assertOpen();
    const control = this.#control;
    const counters = this.#counters;
    let allocationCount = 0;
    let bytesAllocated = 0;
    for (let index = RETIRED; index < counters.length; index += SLOT_STRIDE) {
      allocationCount += counters[index + COUNT]!;
      bytesAllocated += counters[index + BYTES]!;
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
    this.#assertOpen();
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
    if (this.#closed) return;
    if (word !== this.#generationWord) this.#dropChunk();
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

  #assertOpen(): void {
    if (this.#closed) {
      throw new MemError('USE_AFTER_RELEASE', `${this.toString()} was used after close()`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Slow paths: argument checks, claiming chunks and direct ranges from the shared pointer.
  // ---------------------------------------------------------------------------------------------

  /** The last slow-path allocation's handle halves (see EpochArena's slow path for why not a return). */
  #issuedTop = 0;
  #issuedAddress = 0;

  #allocateSlow(size: unknown, align: unknown, source: Uint8Array | undefined): void {
    this.#assertOpen();
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
        // At least one unit: an empty chunk at the end of a full region has no address to give.
        if (!this.#claim(this.#chunkSize / 8, Math.max(1, Math.ceil(span / 8)))) this.#throwFull(span);
        start = this.#bumpChunk(checkedSize, alignment, header);
      }
    } else {
      announced = source !== undefined || header > 0;
      const announceAt = announced ? this.#writeWord : -1;
      const claims = this.#claims;
      const aligned = alignment > MIN_ALIGNMENT;
      const units = Math.ceil(span / 8);
      if (
        !(aligned
          ? claims.claimAligned(checkedSize, alignment, header, announceAt)
          : claims.claim(units, units, announceAt))
      ) {
        this.#throwFull(span);
      }
      this.#adoptGeneration(claims.generationWord);
      start = aligned ? claims.start : claims.start * 8 + header;
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

  /**
   * Claims `units` 8-byte units (at least `minUnits` at the end of the region) as this worker's
   * new chunk, announced for as long as it holds it, and takes the tag of the generation it was
   * claimed in. Returns false when the region is full for this generation.
   */
  #claim(units: number, minUnits: number): boolean {
    const claims = this.#claims;
    if (!claims.claim(units, minUnits, this.#chunkWord)) {
      this.#pos = 0;
      this.#limit = 0;
      return false;
    }
    this.#limit = 0; // the old chunk is let go without a withdrawal: the new one is announced there
    this.#adoptGeneration(claims.generationWord);
    this.#pos = claims.start * 8;
    this.#limit = claims.end * 8;
    this.#chunkBase = this.#pos;
    this.#chunk = NO_BYTES; // made by the first copy into this chunk
    return true;
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
 * The release of an attachment's slot when it goes away. Made here, not in the constructor, so that
 * the closure holds the lease only and never the attachment (which would then never be collected).
 */
function releaser(lease: SlotLease): () => void {
  return () => lease.release();
}

/** What the metrics collector of an attachment reads: zeros once it is closed. */
function readFigures(arena: SharedEpochArena): ArenaFigures {
  return arena.closed ? NO_ARENA_FIGURES : arena.stats();
}
