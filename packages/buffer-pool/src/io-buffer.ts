/**
 * The mutable buffer a pool hands out: a readable length within a capacity, over a view of pooled
 * (or, for bypassed and fallback requests, untracked) memory.
 *
 * Handle cost, and why a fresh handle per allocation: the bytes come from a `Uint8Array` view cached
 * per slot (no view is created per allocation), but the handle object itself is new for every
 * allocation: one small object of six fields, young-generation garbage. Recycling one handle per
 * slot would save it, but a caller who kept a released handle would then hold the next
 * owner's buffer: its second `release()` would free someone else's slot and hand it to a third
 * party, and its reads would see another request's bytes. A fresh handle is released once and for
 * all, so `DOUBLE_FREE` and `USE_AFTER_RELEASE` are exact and no stale handle can reach a slot again;
 * it dies young, so the GC cost stays a scavenge of dead objects (see the GC case in the
 * repository's `docs/benchmarks.md`).
 *
 * Why not a subclass of `DisposableHandle`: it keeps its released flag in a private field of the
 * base class, and V8 constructs a subclass of a class with private fields measurably slower than a
 * class whose own fields hold the same state (see docs/DESIGN.md, Hot paths), so `IoBuffer`
 * implements the same contract itself: `release()` once, then `DOUBLE_FREE`; every access after release throws
 * `USE_AFTER_RELEASE`; `Symbol.dispose` releases a live buffer and ignores a released one.
 * `FrozenBuffer`, off the hot path, does extend `DisposableHandle`.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, invalidArgument } from '@mem/types';
import type { BufferOwner } from './buffer-owner.js';
import type { BufferTransfer } from './buffer-transfer.js';
import { byteCount, readByteSource, writeLimitError } from './byte-source.js';
import { FrozenBuffer } from './frozen-buffer.js';

const LIVE = 0;
const RELEASED = 1;
const FROZEN = 2;
const TRANSFERRED = 3;
const LIFECYCLE = 3;
/** Set on a live buffer that leak detection tracks. */
const TRACKED = 4;

/**
 * A mutable I/O buffer: `capacity` bytes of which the first `length` are readable. Pooled buffers
 * are views into large backings the pool owns; return them with {@link IoBuffer.release} or `using`.
 * A buffer is owned by one party at a time: after `release()`, `freeze()` or `transfer()`, every
 * access to its memory (`bytes`, `capacityBytes`, `arrayBuffer`, `byteOffset`, `write`, setting
 * `length`, `freeze`, `transfer`) throws `USE_AFTER_RELEASE`, and `release()` `DOUBLE_FREE`.
 *
 * @example
 * ```ts
 * import { BufferPool } from '@mem/buffer-pool';
 * const pool = new BufferPool();
 * {
 *   using buffer = pool.alloc(4096); // length 0, capacity 4096
 *   buffer.capacityBytes[0] = 0x2a; // fill some of the capacity (e.g. from a socket read)...
 *   buffer.length = 1; // ...then publish how much is readable
 *   buffer.bytes; // Uint8Array [42]
 * } // returned to the pool here
 * ```
 */
export class IoBuffer implements Disposable {
  readonly #owner: BufferOwner;
  readonly #slot: number;
  /** The slot's class (-1 if untracked): stored, so that release needs no lookup. */
  readonly #classIndex: number;
  readonly #view: Uint8Array;
  #length: number;
  /** LIVE, RELEASED, FROZEN or TRANSFERRED, plus the TRACKED bit when leak detection sampled it. */
  #state: number;

  /**
   * @internal The one way to make a buffer: the pool calls it (users get buffers from `BufferPool.alloc`).
   * Leak sampling is the caller's: the pool counts on its hot path, cold paths call `sampled`.
   */
  static issue(owner: BufferOwner, slot: number, classIndex: number, view: Uint8Array, length: number): IoBuffer {
    return new IoBuffer(owner, slot, classIndex, view, length);
  }

  /** @internal Like `issue`, and counts the buffer towards leak detection's sampling (off the hot path). */
  static sampled(owner: BufferOwner, slot: number, view: Uint8Array, length: number): IoBuffer {
    const buffer = new IoBuffer(owner, slot, slot >= 0 ? owner.classOf(slot) : -1, view, length);
    if (slot >= 0 && owner.sampleLeak(buffer, slot, false)) buffer.#state = TRACKED;
    return buffer;
  }

  /** @internal Marks a live buffer as tracked by leak detection (its release then untracks it). */
  markTracked(): void {
    if (this.#state === LIVE) this.#state = TRACKED;
  }

  private constructor(owner: BufferOwner, slot: number, classIndex: number, view: Uint8Array, length: number) {
    this.#owner = owner;
    this.#slot = slot;
    this.#classIndex = classIndex;
    this.#view = view;
    this.#length = length;
    this.#state = LIVE;
  }

  /** Whether the buffer was released (or frozen, or transferred: it no longer owns its memory). Cost: O(1). */
  get released(): boolean {
    return (this.#state & LIFECYCLE) !== LIVE;
  }

  /**
   * Returns the buffer to its pool: the slot goes back to this worker's cache (a pooled buffer), or
   * the memory is left to the garbage collector (an untracked one). Hot path.
   * Cost: a few typed-array operations; a batch spill to the global freelist when the cache is full.
   * @throws MemError DOUBLE_FREE if the buffer was already released, frozen or transferred.
   */
  release(): void {
    const state = this.#state;
    if (state !== LIVE) {
      if (state !== TRACKED) throw new MemError('DOUBLE_FREE', `${this.#describe()} was already released`);
      this.#owner.untrackLeak(this);
    }
    this.#state = RELEASED;
    const slot = this.#slot;
    if (slot >= 0) this.#owner.returnSlot(slot, this.#classIndex);
  }

  /**
   * Releases the buffer if it is still live (what `using` calls at scope end); does nothing otherwise.
   * Cost: as {@link IoBuffer.release}.
   * @throws never
   */
  [Symbol.dispose](): void {
    if ((this.#state & LIFECYCLE) === LIVE) this.release();
  }

  #assertLive(): void {
    if ((this.#state & LIFECYCLE) !== LIVE)
      throw new MemError('USE_AFTER_RELEASE', `${this.#describe()} was used after release`);
  }

  /**
   * Turns a frozen view that is the only one of its memory back into a mutable buffer, without
   * copying; returns `undefined` (and leaves the view as it was) if other views share the memory.
   * The view is released by a successful call. The new buffer's length is the view's length; its
   * capacity runs from the view's start to the end of the slot.
   * Cost: O(1); a view object if the view did not start at the slot's start.
   * @throws MemError INVALID_ARGUMENT if `frozen` is not a FrozenBuffer.
   * @throws MemError USE_AFTER_RELEASE if `frozen` was released.
   *
   * @example
   * ```ts
   * import { BufferPool, IoBuffer } from '@mem/buffer-pool';
   * const pool = new BufferPool();
   * const frozen = pool.alloc(64).freeze();
   * const again = IoBuffer.tryFromFrozen(frozen); // unique: mutable again, same memory
   * again?.release();
   * ```
   */
  static tryFromFrozen(frozen: FrozenBuffer): IoBuffer | undefined {
    if (!(frozen instanceof FrozenBuffer)) {
      throw invalidArgument('frozen', frozen, 'a FrozenBuffer');
    }
    const detached = frozen.detachUnique();
    if (detached === undefined) return undefined;
    const { owner, slot, base, start, length } = detached;
    const view = start === 0 ? base : base.subarray(start);
    return IoBuffer.sampled(owner, slot, view, length);
  }

  /** How many bytes the buffer can hold (its size class for a pooled buffer). Cost: O(1). */
  get capacity(): number {
    return this.#view.length;
  }

  /** Whether the buffer is a pool slot (false for bypassed and fallback buffers). Cost: O(1). */
  get isPooled(): boolean {
    return this.#slot >= 0;
  }

  /** How many bytes are readable, from the start. Cost: O(1). */
  get length(): number {
    return this.#length;
  }

  /**
   * Sets how many bytes are readable (after writing them through {@link IoBuffer.capacityBytes}).
   * The bytes are not touched.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT unless an integer in [0, capacity].
   * @throws MemError USE_AFTER_RELEASE if the buffer was released.
   */
  set length(length: number) {
    this.#assertLive();
    const capacity = this.#view.length;
    if (typeof length !== 'number' || !Number.isInteger(length) || length < 0 || length > capacity) {
      throw invalidArgument('length', length, `an integer in [0, ${capacity}] (the capacity)`);
    }
    this.#length = length;
  }

  /**
   * The readable bytes, `[0, length)`. Valid until the buffer is released: do not keep it longer,
   * the memory will belong to another buffer.
   * Cost: O(1); a new `Uint8Array` view unless `length === capacity`.
   * @throws MemError USE_AFTER_RELEASE if the buffer was released.
   */
  get bytes(): Uint8Array {
    this.#assertLive();
    const view = this.#view;
    return this.#length === view.length ? view : view.subarray(0, this.#length);
  }

  /**
   * All `capacity` bytes, to write into before setting {@link IoBuffer.length}. Bytes past `length`
   * are whatever the slot last held (never another live buffer's). Valid until release.
   * Cost: O(1), no allocation (the pool caches one view per slot).
   * @throws MemError USE_AFTER_RELEASE if the buffer was released.
   */
  get capacityBytes(): Uint8Array {
    this.#assertLive();
    return this.#view;
  }

  /**
   * The `ArrayBuffer` (or `SharedArrayBuffer`) that holds the bytes, for APIs that take a buffer,
   * an offset and a length (WebAssembly, `Buffer.from`, typed arrays of wider elements).
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE if the buffer was released.
   */
  get arrayBuffer(): ArrayBuffer | SharedArrayBuffer {
    this.#assertLive();
    return this.#view.buffer;
  }

  /**
   * Where the bytes start in {@link IoBuffer.arrayBuffer}: a multiple of the pool's `alignment` for a
   * freshly allocated pooled buffer.
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE if the buffer was released.
   */
  get byteOffset(): number {
    this.#assertLive();
    return this.#view.byteOffset;
  }

  /**
   * Appends `source` after the readable bytes and returns the new length. An array is read (once)
   * and checked before any byte is written, so a failed call writes nothing.
   * Cost: O(source.length); an array is copied once.
   * @throws MemError INVALID_ARGUMENT if `source` is not a Uint8Array or an array of integers in [0, 255].
   * @throws MemError LIMIT_EXCEEDED if it does not fit in the remaining capacity (nothing is written).
   * @throws MemError USE_AFTER_RELEASE if the buffer was released (also by code that reading the
   * array ran: a getter or a proxy).
   */
  write(source: Uint8Array | readonly number[]): number {
    this.#assertLive();
    const view = this.#view;
    const bytes = readByteSource(source, this.#length, view.length);
    const count = byteCount(bytes);
    if (bytes !== source) {
      // Reading an array can run the caller's code, which may have released or grown this buffer.
      this.#assertLive();
      if (this.#length + count > view.length) throw writeLimitError(count, this.#length, view.length);
    }
    const end = this.#length + count;
    view.set(bytes, this.#length);
    this.#length = end;
    return end;
  }

  /**
   * Turns the buffer into an immutable, reference-counted {@link FrozenBuffer} over its readable
   * bytes, without copying. This buffer is released by the call (the view now owns the memory).
   * Cost: O(1), one view object.
   * @throws MemError USE_AFTER_RELEASE if the buffer was released.
   */
  freeze(): FrozenBuffer {
    this.#assertLive();
    const slot = this.#slot;
    const view = this.#view;
    const start = this.#startInSlot();
    // A frozen view addresses its slot from the slot's first byte (its slices, transfers and
    // `tryFromFrozen` count from there), so a buffer that starts inside its slot hands over the
    // whole slot and its own start, not its own bytes as if they were the slot.
    const base = start === 0 ? view : new Uint8Array(view.buffer, view.byteOffset - start, start + view.length);
    if (slot >= 0) this.#owner.setReferences(slot, 1);
    const frozen = FrozenBuffer.issue(this.#owner, slot, base, start, this.#length, undefined);
    this.#moveOut(FROZEN);
    return frozen;
  }

  /**
   * Where this buffer starts within its slot: 0 unless it was made from a slice (then its capacity
   * runs from there to the slot's end); 0 for an untracked buffer, which is its own whole array.
   * Every hand-off of the buffer (`freeze`, `transfer`) takes its place from here.
   */
  #startInSlot(): number {
    const slot = this.#slot;
    return slot >= 0 ? this.#view.byteOffset - this.#owner.byteOffsetOf(slot) : 0;
  }

  /**
   * Hands the buffer to another party: returns a descriptor that a worker attached to the same pool
   * turns back into a buffer with `BufferPool.adopt`, exactly once, and releases it there. This
   * handle is released by the call. An untracked buffer's bytes travel in the descriptor.
   * Cost: a ticket claim (two atomics and a few stores).
   * @throws MemError USE_AFTER_RELEASE if the buffer was released, or its pool is private and closed
   * (nobody could adopt it; the buffer stays live).
   * @throws MemError LIMIT_EXCEEDED if 4096 transfers are in flight.
   *
   * @example
   * ```ts
   * import { BufferPool } from '@mem/buffer-pool';
   * const pool = BufferPool.createShared({ maxPerClass: 64 });
   * const descriptor = pool.alloc(1024).transfer();
   * // worker.postMessage({ pool: pool.descriptor(), buffer: descriptor }); the worker attaches and adopts
   * pool.adopt(descriptor).release();
   * ```
   */
  transfer(): BufferTransfer {
    this.#assertLive();
    const slot = this.#slot;
    const view = this.#view;
    const descriptor = this.#owner.issueTransfer(
      false,
      slot,
      this.#startInSlot(),
      this.#length,
      view.length,
      slot >= 0 ? null : view,
    );
    this.#moveOut(TRANSFERRED);
    return descriptor;
  }

  /** The memory now belongs to a frozen view or a transfer: end this handle without returning the slot. */
  #moveOut(state: number): void {
    if (this.#state === TRACKED) this.#owner.untrackLeak(this);
    this.#state = state;
  }

  #describe(): string {
    const where = this.#slot >= 0 ? `slot ${this.#slot}` : 'untracked';
    const lifecycle = this.#state & LIFECYCLE;
    const fate = lifecycle === FROZEN ? ', frozen' : lifecycle === TRANSFERRED ? ', transferred' : '';
    return `IoBuffer(${this.#length} of ${this.#view.length} bytes, ${where}${fate})`;
  }
}
