/**
 * A workspace lent by a coordinator to a client, reached from the client's thread through the
 * shared lease table.
 *
 * This module is browser compatible.
 * @module
 */
import {
  DisposableHandle,
  MemError,
  assertFunction,
  invalidArgument,
  type BackingMemory,
  type TypedArrayConstructor,
} from '@mem/types';
import type { AcquireAnswer } from './coordinator-protocol.js';
import { pinSlot, readPlace, slotSerial, unpinSlot } from './lease-table.js';

/** What a lease needs of its client. @internal */
export interface LeaseOwner {
  readonly table: Int32Array;
  /** Why the client's leases were taken back (it closed, or lost its coordinator), or undefined. */
  goneReason(): string | undefined;
  memoryOf(pool: string, segment: number): BackingMemory;
  sendRelease(slot: number, serial: number): void;
  /** A handle took (+1) or dropped (-1) its pin in the lease table. */
  countPin(delta: 1 | -1): void;
}

/**
 * A workspace lent by a coordinator: a range of shared memory, reached from this thread.
 *
 * The coordinator's worker may move the workspace (defragmentation) at any moment from another
 * thread, so its bytes are only reachable while it is pinned: `pin()` returns a view that stays
 * valid until `unpin()`, and `access(fn)` pins around a function. Pinning waits for a move in
 * progress to finish; pinned workspaces are never moved, and their bytes are never lent to anyone
 * else, not even after their client closed, until the last pin is dropped.
 *
 * `release()` sends the workspace back (fire and forget; `client.flush()` waits for the answer);
 * twice: DOUBLE_FREE; while pinned: PINNED; any use after: USE_AFTER_RELEASE. Once the client
 * closed or lost its coordinator, the lease is gone: every use throws STALE_HANDLE (except
 * `unpin()` of a pin taken before, which still drops it), and `using` leaves the handle alone.
 *
 * A handle belongs to the thread of its client: its pins are counted there.
 *
 * @example
 * ```ts
 * // in any thread with a client
 * // const ws = await client.acquire('activations', 4096);
 * // ws.access((bytes) => bytes.fill(1));
 * // ws.release();
 * ```
 */
export class SharedWorkspace extends DisposableHandle {
  /** The name of the pool that lent it. */
  readonly pool: string;
  /** The workspace's id in its pool (the `owner` in the pool's memory map). */
  readonly id: number;
  /** The bytes asked for. */
  readonly size: number;
  /** The bytes of its block. */
  readonly capacity: number;
  /** The label given to `acquire`, or `undefined`. */
  readonly label: string | undefined;
  readonly #owner: LeaseOwner;
  readonly #slot: number;
  readonly #serial: number;
  #pins = 0;

  private constructor(owner: LeaseOwner, pool: string, answer: AcquireAnswer, label: string | undefined) {
    super();
    this.#owner = owner;
    this.#slot = answer.slot;
    this.#serial = answer.serial;
    this.pool = pool;
    this.id = answer.workspaceId;
    this.size = answer.size;
    this.capacity = answer.capacity;
    this.label = label;
  }

  /**
   * The one way to make a handle: {@link WorkspaceClient.acquire} calls it with the coordinator's answer.
   * @internal
   */
  static lend(owner: LeaseOwner, pool: string, answer: AcquireAnswer, label: string | undefined): SharedWorkspace {
    return new SharedWorkspace(owner, pool, answer, label);
  }

  /**
   * Whether the coordinator took the lease back (its client closed or lost the coordinator):
   * every use then throws STALE_HANDLE. False once released.
   * Cost: one atomic load. @throws never
   */
  get stale(): boolean {
    return !this.released && this.#staleReason() !== undefined;
  }

  /**
   * The segment that holds the workspace now. Without a pin it may change at any moment.
   * Cost: a few atomic loads.
   * @throws MemError USE_AFTER_RELEASE after release; STALE_HANDLE once the lease was taken back.
   */
  get segment(): number {
    return this.#place().segment;
  }

  /**
   * Where the workspace starts in its segment's buffer now. Without a pin it may change at any moment.
   * Cost: a few atomic loads.
   * @throws MemError USE_AFTER_RELEASE after release; STALE_HANDLE once the lease was taken back.
   */
  get byteOffset(): number {
    return this.#place().offset;
  }

  /** Whether this thread holds a pin on the workspace. Cost: O(1). @throws never */
  get pinned(): boolean {
    return this.#pins > 0;
  }

  /** How many pins this thread holds on the workspace. Cost: O(1). @throws never */
  get pinCount(): number {
    return this.#pins;
  }

  /**
   * Pins the workspace (waiting for a move in progress, if any, to finish) and returns a view of
   * its `size` bytes in shared memory, valid until the matching `unpin()`. Pins nest.
   * Cost: a compare-and-swap on the lease table and one view, plus the wait for a
   * move; a nested pin costs the view only.
   * @throws MemError USE_AFTER_RELEASE after release; STALE_HANDLE once the lease was taken back
   * (its client closed, or lost its coordinator).
   */
  pin(): Uint8Array {
    this.assertLive();
    const owner = this.#owner;
    const gone = owner.goneReason();
    if (gone !== undefined) throw this.#staleError(gone);
    const first = this.#pins === 0;
    if (first) {
      if (!pinSlot(owner.table, this.#slot, this.#serial)) throw this.#staleError('the coordinator took it back');
      owner.countPin(1);
    }
    let view: Uint8Array;
    try {
      const place = this.#place();
      const memory = owner.memoryOf(this.pool, place.segment);
      view = new Uint8Array(memory.buffer, place.offset, this.size);
    } catch (error) {
      if (first) this.#dropTablePin();
      throw error;
    }
    this.#pins += 1;
    return view;
  }

  /**
   * Removes one pin; with none left, the coordinator may move the workspace again (or, once its
   * client closed, take it back).
   * Cost: one compare-and-swap for the last pin; O(1) for a nested one.
   * @throws MemError INVALID_ARGUMENT if not pinned; USE_AFTER_RELEASE after release;
   * STALE_HANDLE if not pinned once the lease was taken back.
   */
  unpin(): void {
    this.assertLive();
    if (this.#pins === 0) {
      const gone = this.#staleReason();
      if (gone !== undefined) throw this.#staleError(gone);
      throw new MemError('INVALID_ARGUMENT', `${this.describe()} is not pinned: unpin() without a matching pin()`);
    }
    this.#dropPin();
  }

  /**
   * Pins the workspace, calls `use` with its bytes, and drops that pin when `use` returns (or, if
   * it returns a promise, when that settles), even if the client closed meanwhile. Returns what
   * `use` returns.
   * Cost: that of `pin()` and `unpin()`, plus `use`.
   * @throws MemError INVALID_ARGUMENT if `use` is not a function; what `pin()` throws; what `use` throws.
   */
  access<R>(use: (bytes: Uint8Array) => R): R {
    assertFunction(use, 'use');
    const bytes = this.pin();
    let result: R;
    try {
      result = use(bytes);
    } catch (error) {
      this.#dropPin();
      throw error;
    }
    if (result instanceof Promise) return result.finally(() => this.#dropPin()) as R;
    this.#dropPin();
    return result;
  }

  /**
   * A typed view (`floor(size / BYTES_PER_ELEMENT)` elements) of the pinned workspace, valid until
   * its pin is removed.
   * Cost: one view.
   * @throws MemError INVALID_ARGUMENT if `type` is not a typed-array constructor or the workspace
   * is not pinned; USE_AFTER_RELEASE after release; STALE_HANDLE once the lease was taken back.
   */
  view<T>(type: TypedArrayConstructor<T>): T {
    this.assertLive();
    const gone = this.#staleReason();
    if (gone !== undefined) throw this.#staleError(gone);
    if (this.#pins === 0) {
      throw new MemError('INVALID_ARGUMENT', `${this.describe()} must be pinned for a view: call pin() first`);
    }
    const elementSize =
      typeof type === 'function' ? (type as { BYTES_PER_ELEMENT?: unknown }).BYTES_PER_ELEMENT : undefined;
    if (typeof elementSize !== 'number' || !Number.isInteger(elementSize) || elementSize < 1) {
      throw invalidArgument('type', type, 'a typed array constructor');
    }
    const place = this.#place();
    const memory = this.#owner.memoryOf(this.pool, place.segment);
    return new type(memory.buffer, place.offset, Math.floor(this.size / elementSize));
  }

  /**
   * Releases the workspace if it is live and its lease was not taken back (the `using`
   * declaration calls this at scope end).
   * Cost: that of `release()`.
   * @throws MemError PINNED if this thread still pins it.
   */
  override [Symbol.dispose](): void {
    if (!this.released && this.#staleReason() === undefined) this.release();
  }

  /**
   * Sends the workspace back to the coordinator. Called once, by `release()`.
   * @throws MemError PINNED if this thread still pins it; STALE_HANDLE once the lease was taken
   * back (the handle then stays as it was).
   */
  protected onRelease(): void {
    if (this.#pins > 0) {
      throw new MemError('PINNED', `${this.describe()} is pinned ${this.#pins} time(s): unpin it before release()`);
    }
    const gone = this.#staleReason();
    if (gone !== undefined) throw this.#staleError(gone);
    this.#owner.sendRelease(this.#slot, this.#serial);
  }

  /** Names the workspace in error messages. */
  protected override describe(): string {
    return `shared workspace #${this.id} of ${this.pool} (${this.size} bytes)`;
  }

  /** Why the lease is gone, or undefined while it is this handle's. */
  #staleReason(): string | undefined {
    const gone = this.#owner.goneReason();
    if (gone !== undefined) return gone;
    return slotSerial(this.#owner.table, this.#slot) === this.#serial ? undefined : 'the coordinator took it back';
  }

  #staleError(reason: string): MemError {
    return new MemError('STALE_HANDLE', `${this.describe()} is no longer lent to this client: ${reason}`);
  }

  /** The lease's place now, read whole; throws when released or taken back. */
  #place(): { segment: number; offset: number } {
    this.assertLive();
    const gone = this.#owner.goneReason();
    if (gone !== undefined) throw this.#staleError(gone);
    const place = readPlace(this.#owner.table, this.#slot, this.#serial);
    if (place === undefined) throw this.#staleError('the coordinator took it back');
    return place;
  }

  /** Drops one pin, if any is held; never throws (the lease may be gone: then nothing is left to unpin). */
  #dropPin(): void {
    if (this.#pins === 0) return;
    this.#pins -= 1;
    if (this.#pins === 0) this.#dropTablePin();
  }

  #dropTablePin(): void {
    unpinSlot(this.#owner.table, this.#slot, this.#serial);
    this.#owner.countPin(-1);
  }
}
