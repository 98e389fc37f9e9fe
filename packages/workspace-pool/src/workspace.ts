/**
 * A workspace: a handle to a range of a pool's backing memory, from `acquire` until `release`.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, invalidArgument, type TypedArrayConstructor } from '@mem/types';
import type { BlockAllocator } from './block-allocator.js';
import { isDeviceMemory, noView } from './device-memory.js';

/** What `pin()` returns for a workspace in device memory, which has no bytes JavaScript can view. */
const NO_BYTES = new Uint8Array(0);

/** What `#block` holds once the workspace is released (records are never negative). */
const RELEASED = -1;

/**
 * A range of backing memory that a {@link WorkspacePool} lends until it is released.
 *
 * **GPU memory.** In a pool over device memory (`@mem/workspace-pool/webgpu`), a workspace has no
 * bytes in JavaScript: `bytes()`, `view()` and `buffer` throw INVALID_ARGUMENT; bind it with
 * `gpuBinding(workspace)`, whose offset moves like `byteOffset`.
 *
 * **Views are re-resolved through the handle.** Defragmentation may move an unpinned workspace
 * (its bytes are copied exactly), so read `bytes()`, `view()`, `byteOffset` and `buffer` again
 * after any call that may defragment: `pool.acquire` (when nothing fits), `pool.defragment`, and
 * `release` of any workspace when automatic defragmentation is on. Between such calls a view
 * stays valid, and `bytes()` returns the same cached view (no allocation).
 *
 * **Pinning** holds a workspace in place: while pinned it never moves, so a raw view (or an offset
 * handed to WASM or WebGPU) stays valid across asynchronous work. Pins nest; `release()` of a
 * pinned workspace fails with PINNED.
 *
 * **Lifetime:** `release()` once (again: DOUBLE_FREE); any use after: USE_AFTER_RELEASE;
 * after `pool.clear()`: STALE_HANDLE. `using ws = pool.acquire(n)` releases at scope end.
 *
 * It keeps the contract of `DisposableHandle` exactly (release once, then DOUBLE_FREE;
 * USE_AFTER_RELEASE on use after release; `Symbol.dispose` releases a live handle and leaves a
 * released one alone; a failed release leaves the handle live) without extending it: a handle is
 * made by every `acquire`, and a class without a base constructs faster in V8 than a subclass of
 * a class with fields (see docs/DESIGN.md, Hot paths). The released state lives in its block field
 * (RELEASED once released): five fields, no base constructor.
 *
 * @example
 * ```ts
 * import { WorkspacePool } from '@mem/workspace-pool';
 * const pool = new WorkspacePool();
 * {
 *   using scratch = pool.acquire(4096);
 *   scratch.float32().fill(1); // 1024 floats
 * } // released here
 * ```
 */
export class Workspace implements Disposable {
  // `declare`d: assigned by the constructor only, so the class-field initializer (which every
  // `acquire` runs) does not define them first.
  /** The workspace's id in its pool (the `owner` in memory-map snapshots); ids start at 1. */
  declare readonly id: number;
  /** The bytes asked for: the length of `bytes()`. */
  declare readonly size: number;
  readonly #core: BlockAllocator;
  /** The block's record while the workspace is live; RELEASED once released. */
  #block: number;
  /** The views made so far, created on the first `bytes()` (the handle stays small until then). */
  #views: ViewCache | undefined;

  private constructor(core: BlockAllocator, block: number, id: number, size: number) {
    this.#core = core;
    this.#block = block;
    this.id = id;
    this.size = size;
  }

  /**
   * The one way to make a workspace: {@link WorkspacePool.acquire} lends `block` of `core` as
   * workspace `id` of `size` bytes.
   * @internal
   */
  static lend(core: BlockAllocator, block: number, id: number, size: number): Workspace {
    return new Workspace(core, block, id, size);
  }

  /** Whether the workspace has been released. Cost: O(1). @throws never */
  get released(): boolean {
    return this.#block === RELEASED;
  }

  /** The pool that lent the workspace (compare it with `===`). Cost: O(1). @throws never */
  get pool(): object {
    return this.#core.owner;
  }

  /**
   * The bytes of the block that holds it: `size` rounded up to the alignment (or power of two).
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE after release; STALE_HANDLE after `pool.clear()`.
   */
  get capacity(): number {
    Workspace.#assertUsable(this);
    return this.#core.sizeOf(this.#block);
  }

  /** The label given to `acquire`, shown in memory maps; `undefined` when none, or once released. Cost: O(1). @throws never */
  get label(): string | undefined {
    return this.released || this.stale ? undefined : this.#core.labels.get(this.id);
  }

  /** Whether `pool.clear()` has taken the workspace back: every use then throws STALE_HANDLE. Cost: O(1). @throws never */
  get stale(): boolean {
    return this.#block !== RELEASED && this.id < this.#core.firstLiveId;
  }

  // ---------------------------------------------------------------------------------------------
  // Hot path: the cached byte view. One comparison when nothing moved since the last call.
  // ---------------------------------------------------------------------------------------------

  /**
   * The workspace's bytes: a `Uint8Array` of `size` bytes over the pool's memory (not zeroed:
   * it holds what the last user left, unless `acquire` was asked to zero it). The same view is
   * returned until the workspace moves.
   * Cost: O(1); allocates a new view only after the workspace moved.
   * @throws MemError USE_AFTER_RELEASE after release; STALE_HANDLE after `pool.clear()`;
   * INVALID_ARGUMENT for a workspace in device memory.
   */
  bytes(): Uint8Array {
    if (this.#block === RELEASED) throw unusable(this);
    const views = this.#views;
    // Any move or reset bumps the epoch. A view of wasm memory that grew elsewhere reads as length 0.
    if (views !== undefined && views.epoch === this.#core.epoch && views.bytes.byteLength !== 0) return views.bytes;
    return Workspace.#resolve(this);
  }

  /**
   * A typed view of the workspace: `floor(size / BYTES_PER_ELEMENT)` elements of `type` (for
   * example `Float32Array`). Every workspace starts at a multiple of the pool's alignment (at
   * least 8), so every typed array is aligned. The last typed view is cached like `bytes()`.
   * Cost: O(1); a new view when the type changes or the workspace moved.
   * @throws MemError INVALID_ARGUMENT if `type` is not a typed-array constructor;
   * USE_AFTER_RELEASE after release; STALE_HANDLE after `pool.clear()`.
   */
  view<T>(type: TypedArrayConstructor<T>): T {
    const bytes = this.bytes();
    const views = this.#views!;
    if (views.type === type && views.typed !== undefined) return views.typed as T;
    const elementSize =
      typeof type === 'function' ? (type as { BYTES_PER_ELEMENT?: unknown }).BYTES_PER_ELEMENT : undefined;
    if (typeof elementSize !== 'number' || !Number.isInteger(elementSize) || elementSize < 1) {
      throw invalidArgument('type', type, 'a typed array constructor');
    }
    const view = new type(bytes.buffer, bytes.byteOffset, Math.floor(this.size / elementSize));
    views.type = type;
    views.typed = view;
    return view;
  }

  /**
   * `view(Float32Array)`: the workspace as 32-bit floats.
   * Cost: as {@link Workspace.view}.
   * @throws MemError USE_AFTER_RELEASE after release; STALE_HANDLE after `pool.clear()`.
   */
  float32(): Float32Array {
    return this.view(Float32Array);
  }

  /**
   * `view(Float64Array)`: the workspace as 64-bit floats.
   * Cost: as {@link Workspace.view}.
   * @throws MemError USE_AFTER_RELEASE after release; STALE_HANDLE after `pool.clear()`.
   */
  float64(): Float64Array {
    return this.view(Float64Array);
  }

  /**
   * `view(Int32Array)`: the workspace as 32-bit signed integers.
   * Cost: as {@link Workspace.view}.
   * @throws MemError USE_AFTER_RELEASE after release; STALE_HANDLE after `pool.clear()`.
   */
  int32(): Int32Array {
    return this.view(Int32Array);
  }

  /**
   * `view(Uint32Array)`: the workspace as 32-bit unsigned integers.
   * Cost: as {@link Workspace.view}.
   * @throws MemError USE_AFTER_RELEASE after release; STALE_HANDLE after `pool.clear()`.
   */
  uint32(): Uint32Array {
    return this.view(Uint32Array);
  }

  /**
   * The buffer the workspace lives in (an `ArrayBuffer`, a `SharedArrayBuffer`, or a wasm
   * memory's buffer), for APIs that take a buffer and an offset (`queue.writeBuffer`,
   * `postMessage` of shared memory). Re-read it after a call that may defragment.
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE after release; STALE_HANDLE after `pool.clear()`.
   */
  get buffer(): ArrayBuffer | SharedArrayBuffer {
    return this.bytes().buffer as ArrayBuffer | SharedArrayBuffer;
  }

  /**
   * Where the workspace starts in {@link Workspace.buffer}, in bytes (a multiple of the pool's
   * alignment). Re-read it after a call that may defragment, or pin the workspace.
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE after release; STALE_HANDLE after `pool.clear()`.
   */
  get byteOffset(): number {
    Workspace.#assertUsable(this);
    const core = this.#core;
    return core.segments[core.segmentOf(this.#block)]!.base + core.offsetOf(this.#block);
  }

  /**
   * The index of the pool segment that holds the workspace now (see `pool.snapshot()`).
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE after release; STALE_HANDLE after `pool.clear()`.
   */
  get segment(): number {
    Workspace.#assertUsable(this);
    return this.#core.segmentOf(this.#block);
  }

  /** Whether the workspace is pinned (it will not move). Cost: O(1). @throws never */
  get pinned(): boolean {
    return this.pinCount > 0;
  }

  /** How many pins hold the workspace: `pin()` calls not yet matched by `unpin()`. Cost: O(1). @throws never */
  get pinCount(): number {
    return this.released || this.stale ? 0 : this.#core.pinsOf(this.#block);
  }

  /**
   * Pins the workspace so that no defragmentation moves it, and returns its byte view, valid until
   * the matching `unpin()` (an empty view for a workspace in device memory, which JavaScript
   * cannot view: its binding stays valid instead). Pins nest: each `pin()` needs its `unpin()`.
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE after release; STALE_HANDLE after `pool.clear()`.
   *
   * @example
   * ```ts
   * import { WorkspacePool } from '@mem/workspace-pool';
   * const pool = new WorkspacePool();
   * const ws = pool.acquire(1024);
   * const raw = ws.pin(); // stays put across the await
   * await Promise.resolve(raw.fill(7));
   * ws.unpin();
   * ws.release();
   * ```
   */
  pin(): Uint8Array {
    Workspace.#assertUsable(this);
    const core = this.#core;
    const view = isDeviceMemory(core.segments[core.segmentOf(this.#block)]!.memory) ? NO_BYTES : this.bytes();
    const pins = core.pinsOf(this.#block);
    if (pins === 0) core.pinnedBlocks += 1;
    core.setPins(this.#block, pins + 1);
    return view;
  }

  /**
   * Removes one pin; once none is left the workspace may move again.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if the workspace is not pinned; USE_AFTER_RELEASE after
   * release; STALE_HANDLE after `pool.clear()`.
   */
  unpin(): void {
    Workspace.#assertUsable(this);
    const core = this.#core;
    const pins = core.pinsOf(this.#block);
    if (pins === 0) {
      throw new MemError('INVALID_ARGUMENT', `${describe(this)} is not pinned: unpin() without a matching pin()`);
    }
    core.setPins(this.#block, pins - 1);
    if (pins === 1) core.pinnedBlocks -= 1;
  }

  /**
   * Gives the block back to the pool, where it merges with its free neighbours at once.
   * Cost: O(1) (a few typed-array reads and writes; with automatic defragmentation, every
   * `defragCheckInterval`-th release also measures fragmentation and may defragment).
   * @throws MemError DOUBLE_FREE if already released; PINNED if pinned; STALE_HANDLE after
   * `pool.clear()`. The handle then stays as it was.
   */
  release(): void {
    // Hot path: one comparison here, the staleness and pin checks in the allocator.
    const block = this.#block;
    if (block === RELEASED) throw doubleFree(this);
    const core = this.#core;
    const extras = core.release(block, this.id);
    this.#block = RELEASED;
    // Labels to forget or a release check due (which may defragment and call the pool's logger):
    // after the handle reads as released, so that a logger calling back in finds it so.
    if (extras) core.afterRelease(this.id);
  }

  /**
   * Releases the workspace if it is still live and not stale (the `using` declaration calls this
   * at scope end). A workspace that `pool.clear()` took back is left alone.
   * Cost: that of {@link Workspace.release}.
   * @throws MemError PINNED if the workspace is still pinned.
   */
  [Symbol.dispose](): void {
    if (!this.released && !this.stale) this.release();
  }

  // The helpers below are static: an instance private method would brand every handle (one more
  // store, and more bytecode to inline, per acquire).

  /** Throws USE_AFTER_RELEASE once released, STALE_HANDLE once `pool.clear()` took it back. */
  static #assertUsable(workspace: Workspace): void {
    if (workspace.#block === RELEASED || workspace.stale) throw unusable(workspace);
  }

  /** Makes and caches the byte view of a usable workspace. */
  static #resolve(workspace: Workspace): Uint8Array {
    Workspace.#assertUsable(workspace);
    const core = workspace.#core;
    const block = workspace.#block;
    const segment = core.segments[core.segmentOf(block)]!;
    if (isDeviceMemory(segment.memory)) throw noView(workspace.id, segment.memory.kind);
    const view = new Uint8Array(segment.memory.buffer, segment.base + core.offsetOf(block), workspace.size);
    workspace.#views = { epoch: core.epoch, bytes: view, type: undefined, typed: undefined };
    return view;
  }
}

/** Names the workspace in error messages. */
function describe(workspace: Workspace): string {
  return `workspace #${workspace.id} (${workspace.size} bytes)`;
}

/** The error for a second release. */
function doubleFree(workspace: Workspace): MemError {
  return new MemError('DOUBLE_FREE', `${describe(workspace)} was already released`);
}

/** The error for a use of a released workspace (USE_AFTER_RELEASE) or of one `pool.clear()` took back (STALE_HANDLE). */
function unusable(workspace: Workspace): MemError {
  return workspace.released
    ? new MemError('USE_AFTER_RELEASE', `${describe(workspace)} was used after release`)
    : new MemError('STALE_HANDLE', `${describe(workspace)} was taken back by pool.clear()`);
}

/** A workspace's byte view, the epoch it was made at, and the last typed view made from it. */
interface ViewCache {
  readonly epoch: number;
  readonly bytes: Uint8Array;
  type: unknown;
  typed: unknown;
}
