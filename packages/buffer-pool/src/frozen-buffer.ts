/**
 * The immutable, reference-counted view a buffer becomes when it is frozen: slices and clones share
 * its memory, and the memory returns to the pool when the last view is released.
 *
 * This module is browser compatible.
 * @module
 */
import { DisposableHandle, assertInteger } from '@mem/types';
import type { BufferOwner } from './buffer-owner.js';
import type { BufferTransfer } from './buffer-transfer.js';

/** The reference count shared by the views of one untracked (not pooled) frozen buffer. */
export interface LocalReferences {
  count: number;
}

/** What {@link FrozenBuffer.detachUnique} hands over when a unique view becomes mutable again. */
export interface DetachedFrozen {
  /** The pool instance. */
  readonly owner: BufferOwner;
  /** The slot, or -1 if untracked. */
  readonly slot: number;
  /** The full-capacity view of the slot, or the whole untracked array. */
  readonly base: Uint8Array;
  /** Where the view started within `base`. */
  readonly start: number;
  /** The view's length. */
  readonly length: number;
}

const EMPTY = new Uint8Array(0);

/**
 * An immutable view of pooled (or untracked) bytes. Every view holds one reference to the memory:
 * {@link FrozenBuffer.slice} and {@link FrozenBuffer.clone} add one, {@link FrozenBuffer.release}
 * (or `using`) drops one, and the slot returns to its pool when the count reaches zero. A view
 * garbage-collected without release is a leak (reported, and its reference recovered, when leak
 * detection samples it).
 *
 * "Immutable" is a contract: `bytes` is a plain `Uint8Array`, and writing through it changes what
 * every view sharing the memory sees. Use `IoBuffer.tryFromFrozen` to get a writable buffer back
 * from a view that is the only one left.
 *
 * @example
 * ```ts
 * import { BufferPool } from '@mem/buffer-pool';
 * const pool = new BufferPool();
 * const buffer = pool.alloc(1024);
 * buffer.write([1, 2, 3, 4]);
 * const frozen = buffer.freeze();
 * const tail = frozen.slice(2); // shares memory: [3, 4]
 * frozen.release();
 * tail.release(); // the last reference: the slot returns to the pool
 * ```
 */
export class FrozenBuffer extends DisposableHandle {
  readonly #owner: BufferOwner;
  readonly #slot: number;
  readonly #base: Uint8Array;
  readonly #start: number;
  readonly #view: Uint8Array;
  readonly #localReferences: LocalReferences | undefined;
  #tracked = false;
  #moved: string | undefined;

  /**
   * @internal The one way to make a view: `IoBuffer.freeze`, slices, clones and `BufferPool.adopt` call it.
   */
  static issue(
    owner: BufferOwner,
    slot: number,
    base: Uint8Array,
    start: number,
    length: number,
    localReferences: LocalReferences | undefined,
  ): FrozenBuffer {
    return new FrozenBuffer(owner, slot, base, start, length, localReferences);
  }

  private constructor(
    owner: BufferOwner,
    slot: number,
    base: Uint8Array,
    start: number,
    length: number,
    localReferences: LocalReferences | undefined,
  ) {
    super();
    this.#owner = owner;
    this.#slot = slot;
    this.#base = base;
    this.#start = start;
    this.#view = length === base.length && start === 0 ? base : base.subarray(start, start + length);
    this.#localReferences = slot >= 0 ? undefined : (localReferences ?? { count: 1 });
    if (slot >= 0) this.#tracked = owner.sampleLeak(this, slot, true);
  }

  /** The number of bytes in the view. Cost: O(1). */
  get length(): number {
    return this.#view.length;
  }

  /**
   * The view's bytes. Do not write through it (other views share them), and do not keep it past
   * {@link FrozenBuffer.release}: the memory may belong to another buffer by then.
   * Cost: O(1), no allocation.
   * @throws MemError USE_AFTER_RELEASE if this view was released (or transferred).
   */
  get bytes(): Uint8Array {
    this.assertLive();
    return this.#view;
  }

  /** Whether the bytes are in a pool slot (false for an untracked fallback, or an empty slice). Cost: O(1). */
  get isPooled(): boolean {
    return this.#slot >= 0;
  }

  /**
   * How many live views share this memory (this one included).
   * Cost: O(1) (an atomic load in a shared pool).
   * @throws MemError USE_AFTER_RELEASE if this view was released.
   */
  get referenceCount(): number {
    this.assertLive();
    return this.#slot >= 0 ? this.#owner.references(this.#slot) : this.#localReferences!.count;
  }

  /**
   * Whether this is the only view of its memory, so that `IoBuffer.tryFromFrozen` would succeed.
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE if this view was released.
   */
  get isUnique(): boolean {
    return this.referenceCount === 1;
  }

  /**
   * A new view of `[start, end)` of this one, sharing its memory and holding its own reference
   * (an empty range holds none). Negative or out-of-range bounds are errors, not clamped.
   * Cost: O(1), one view object (and an atomic add in a shared pool).
   * @throws MemError INVALID_ARGUMENT unless `0 <= start <= end <= length` (integers).
   * @throws MemError USE_AFTER_RELEASE if this view was released.
   */
  slice(start: number = 0, end: number = this.#view.length): FrozenBuffer {
    this.assertLive();
    const length = this.#view.length;
    assertInteger(start, 'start', { min: 0, max: length });
    assertInteger(end, 'end', { min: start, max: length });
    if (start === end) {
      return FrozenBuffer.issue(this.#owner, -1, EMPTY, 0, 0, undefined);
    }
    return this.#share(this.#start + start, end - start);
  }

  /**
   * Another view of the same bytes, holding its own reference.
   * Cost: O(1), one view object (and an atomic add in a shared pool).
   * @throws MemError USE_AFTER_RELEASE if this view was released.
   */
  clone(): FrozenBuffer {
    this.assertLive();
    return this.#share(this.#start, this.#view.length);
  }

  #share(start: number, length: number): FrozenBuffer {
    if (this.#slot >= 0) this.#owner.retainReference(this.#slot);
    else this.#localReferences!.count += 1;
    return FrozenBuffer.issue(this.#owner, this.#slot, this.#base, start, length, this.#localReferences);
  }

  /**
   * Hands this view's reference to another party: returns a descriptor that a worker attached to
   * the same pool turns back into a view with `BufferPool.adopt`, exactly once. This view is
   * released by the call. An untracked view's bytes are copied into the descriptor.
   * Cost: a ticket claim (two atomics and a few stores); O(length) for an untracked view.
   * @throws MemError USE_AFTER_RELEASE if this view was released, or its pool is private and closed
   * (nobody could adopt it; the view stays live).
   * @throws MemError LIMIT_EXCEEDED if 4096 transfers are in flight.
   *
   * @example
   * ```ts
   * import { BufferPool } from '@mem/buffer-pool';
   * const pool = new BufferPool();
   * const view = pool.alloc(16).freeze();
   * const descriptor = view.transfer(); // post it to a worker, which calls pool.adopt(descriptor)
   * pool.adopt(descriptor).release();
   * ```
   */
  transfer(): BufferTransfer {
    this.assertLive();
    const slot = this.#slot;
    const view = this.#view;
    // Copy an untracked view's bytes before claiming the ticket, so that a failed copy claims nothing.
    const bytes = slot >= 0 ? null : view.slice();
    const descriptor = this.#owner.issueTransfer(
      true,
      slot,
      slot >= 0 ? this.#start : 0,
      view.length,
      view.length,
      bytes,
    );
    if (slot < 0) this.#localReferences!.count -= 1;
    this.#moveOut('transferred');
    return descriptor;
  }

  /**
   * @internal Hands the memory over to a new mutable buffer if this is the only view, releasing this
   * view; returns `undefined` (and changes nothing) otherwise.
   * @throws MemError USE_AFTER_RELEASE if this view was released.
   */
  detachUnique(): DetachedFrozen | undefined {
    if (!this.isUnique) return undefined;
    const detached: DetachedFrozen = {
      owner: this.#owner,
      slot: this.#slot,
      base: this.#base,
      start: this.#start,
      length: this.#view.length,
    };
    if (this.#slot >= 0) this.#owner.setReferences(this.#slot, 0);
    else this.#localReferences!.count = 0;
    this.#moveOut('made mutable');
    return detached;
  }

  #moveOut(fate: string): void {
    if (this.#tracked) this.#owner.untrackLeak(this);
    this.#tracked = false;
    this.#moved = fate;
    this.release();
  }

  /** Drops this view's reference; the last one returns the slot to its pool. */
  protected onRelease(): void {
    if (this.#moved !== undefined) return;
    if (this.#slot >= 0) {
      if (this.#tracked) this.#owner.untrackLeak(this);
      this.#owner.releaseReference(this.#slot);
    } else {
      this.#localReferences!.count -= 1;
    }
  }

  /** Names the view in error messages. */
  protected override describe(): string {
    const where = this.#slot >= 0 ? `slot ${this.#slot}` : 'untracked';
    return `FrozenBuffer(${this.#view.length} bytes, ${where}${this.#moved ? `, ${this.#moved}` : ''})`;
  }
}
