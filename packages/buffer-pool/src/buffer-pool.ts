/**
 * The public pool: power-of-two size classes of I/O buffers carved out of large backings, a local
 * cache per worker, and a global freelist per class (lock-free in shared memory when shared).
 *
 * This module is browser compatible.
 * @module
 */
import { invalidArgument, type SharedAttachment, type StatsSource } from '@mem/types';
import { BufferPoolConfig, type BufferPoolConfigFields } from './buffer-pool-config.js';
import { resolveInstanceOptions, type PoolInstanceOptions } from './buffer-pool-options.js';
import type { BufferPoolStats } from './buffer-pool-stats.js';
import type { BufferTransfer } from './buffer-transfer.js';
import type { FrozenBuffer } from './frozen-buffer.js';
import type { IoBuffer } from './io-buffer.js';
import { allocateSharedPool, readPoolDescriptor, type BufferPoolDescriptor } from './pool-descriptor.js';
import { PoolCore } from './pool-core.js';

function toConfig(config: unknown): BufferPoolConfig {
  if (config === undefined) return BufferPoolConfig.forNetwork();
  if (config instanceof BufferPoolConfig) return config.validate();
  if (typeof config === 'object' && config !== null && !Array.isArray(config)) {
    return BufferPoolConfig.from(config as Partial<BufferPoolConfigFields>);
  }
  throw invalidArgument('config', config, 'a BufferPoolConfig or an object of its fields');
}

/**
 * A pool of reusable I/O buffers in power-of-two size classes, for servers that would otherwise call
 * `Buffer.alloc*` per request.
 *
 * - Memory: buffers are views into large backings the pool owns (about 1 MiB segments, allocated
 *   as classes grow; all up front when shared); no request creates an ArrayBuffer.
 * - Allocation: {@link BufferPool.alloc} rounds up to the next class and serves it from this worker's
 *   cache, then the global freelist, then a new buffer; if the class is exhausted or the request is
 *   larger than `maxSize`, it falls back to an untracked buffer ({@link BufferPool.tryAlloc} throws
 *   instead). Requests below `poolMinSize` are untracked by design.
 * - Return: {@link IoBuffer.release} or `using`. A buffer has one owner; a released handle throws.
 * - Sharing: {@link BufferPool.createShared} puts the pool in shared memory; its
 *   {@link BufferPool.descriptor} is what a worker attaches with ({@link BufferPool.attach}), each
 *   worker getting an instance of its own; buffers move between workers by
 *   {@link IoBuffer.transfer} and {@link BufferPool.adopt}. This is the shared-mode contract of
 *   `@mem/types` (`SharedAttachment`).
 *
 * Cost: a pooled allocation and release served by the local cache is a few typed-array operations
 * plus one small handle object; figures are in the repository's `docs/benchmarks.md`.
 *
 * @example
 * ```ts
 * import { BufferPool, BufferPoolConfig } from '@mem/buffer-pool';
 * const pool = new BufferPool(BufferPoolConfig.forNetwork());
 * const buffer = pool.alloc(1500); // the 2 KiB class
 * buffer.write(new TextEncoder().encode('hello'));
 * console.log(buffer.length, buffer.capacity); // 5 2048
 * buffer.release();
 * pool.close();
 * ```
 */
export class BufferPool implements StatsSource<BufferPoolStats>, SharedAttachment<BufferPoolDescriptor>, Disposable {
  readonly #core: PoolCore;

  /**
   * Creates a private pool (for one worker; {@link BufferPool.createShared} makes one that workers
   * share). `config` defaults to {@link BufferPoolConfig.forNetwork}; a plain object of fields is
   * accepted too (missing fields from the network preset).
   * Cost: O(classes * maxPerClass) bookkeeping (about 30 bytes per possible buffer); a prefilled pool
   * allocates all its memory.
   * @throws MemError INVALID_ARGUMENT for a bad configuration or option (naming the field, its value
   * and the rule), or a metrics sink that hands back something other than an instrument.
   * @throws MemError EXHAUSTED if the runtime refuses the memory.
   * @throws whatever the metrics sink's methods throw (no pool is created then).
   */
  constructor(config?: BufferPoolConfig | Partial<BufferPoolConfigFields>, options?: PoolInstanceOptions);
  /**
   * Wraps an instance the static factories built.
   * @internal
   */
  constructor(core: PoolCore);
  constructor(config?: BufferPoolConfig | Partial<BufferPoolConfigFields> | PoolCore, options?: PoolInstanceOptions) {
    // PoolCore is not exported: only this module's factories can pass one.
    if (config instanceof PoolCore) {
      this.#core = config;
      return;
    }
    const validated = toConfig(config);
    this.#core = new PoolCore(validated, resolveInstanceOptions(options), undefined, false);
  }

  /**
   * Creates a pool whose state and memory live in SharedArrayBuffers, so that workers can attach
   * to it: post {@link BufferPool.descriptor} to a worker and call {@link BufferPool.attach} there.
   * The returned instance is this worker's attachment. Arguments as for the constructor.
   * Cost: O(classes * maxPerClass) bookkeeping; every backing segment is reserved up front
   * (address space, committed on first touch).
   * @throws MemError INVALID_ARGUMENT for a bad configuration or option, or if the runtime has no
   * SharedArrayBuffer (a page without cross-origin isolation).
   * @throws MemError EXHAUSTED if the runtime refuses the memory.
   * @throws whatever the metrics sink's methods throw (no pool is created then).
   *
   * @example
   * ```ts
   * import { BufferPool } from '@mem/buffer-pool';
   * const pool = BufferPool.createShared({ maxPerClass: 64 });
   * const descriptor = pool.descriptor(); // post it to a worker...
   * const inWorker = BufferPool.attach(descriptor); // ...which attaches there
   * inWorker.alloc(4096).release();
   * inWorker.close();
   * pool.close();
   * ```
   */
  static createShared(
    config?: BufferPoolConfig | Partial<BufferPoolConfigFields>,
    options?: PoolInstanceOptions,
  ): BufferPool {
    const validated = toConfig(config);
    const resolved = resolveInstanceOptions(options);
    const descriptor = allocateSharedPool(validated, Math.floor(Math.random() * 0x7fffffff));
    return new BufferPool(new PoolCore(validated, resolved, descriptor, false));
  }

  /**
   * Attaches this worker to a shared pool from the descriptor another worker got from
   * {@link BufferPool.descriptor}. The new instance has its own local cache and counters over the
   * same memory, freelists and created counts. When the worker exits normally (or this instance is
   * garbage-collected without `close()`) its local cache returns to the global freelists; before
   * `worker.terminate()`, call {@link BufferPool.close}, or the cache is stranded (never reused).
   * Buffers the worker still holds when it goes stay out of the pool, never handed to anyone else.
   * Cost: O(classes * maxPerClass) bookkeeping; no backing memory.
   * @throws MemError INVALID_ARGUMENT if `descriptor` is not a buffer-pool descriptor of this
   * layout version (`kind` `'mem.buffer-pool'`), does not match the pool it describes, or an option
   * is bad (a metrics sink that hands back something other than an instrument included).
   * @throws whatever the metrics sink's methods throw (the shared pool is unchanged then).
   *
   * @example
   * ```ts
   * import { BufferPool, type BufferPoolDescriptor } from '@mem/buffer-pool';
   * declare const descriptor: BufferPoolDescriptor; // from pool.descriptor() in another worker
   * using pool = BufferPool.attach(descriptor);
   * pool.alloc(4096).release();
   * ```
   */
  static attach(descriptor: BufferPoolDescriptor, options?: PoolInstanceOptions): BufferPool {
    const { descriptor: checked, config } = readPoolDescriptor(descriptor);
    const resolved = resolveInstanceOptions(options);
    return new BufferPool(new PoolCore(config, resolved, checked, true));
  }

  /** The pool's configuration. Cost: O(1). */
  get config(): BufferPoolConfig {
    return this.#core.config;
  }

  /** Whether the pool lives in shared memory that workers can attach to. Cost: O(1). */
  get isShared(): boolean {
    return this.#core.shared;
  }

  /** Whether this instance was closed. Cost: O(1). */
  get closed(): boolean {
    return this.#core.closed;
  }

  /**
   * The instance's name (its `name` option): the `pool` label of its metrics and of the metrics of
   * the Node I/O helpers over it. Cost: O(1).
   */
  get name(): string {
    return this.#core.name;
  }

  /** The pool's id, the same in every attached instance (transfers carry it). Cost: O(1). */
  get poolId(): number {
    return this.#core.poolId;
  }

  /**
   * A buffer of at least `capacity` bytes (the smallest class that fits), with length 0. Its bytes
   * are whatever the slot last held: write before reading, or use {@link BufferPool.allocZeroed}.
   * Falls back to an untracked buffer of `max(capacity, minSize)` bytes when `capacity > maxSize`
   * or the class is exhausted; requests below `poolMinSize` get an untracked buffer of exactly
   * `capacity` bytes.
   * Cost: O(1); a local-cache hit is a few typed-array operations and one handle object; a refill
   * or a new buffer adds a batch move or a view; a fallback is a native allocation.
   * @throws MemError INVALID_ARGUMENT if `capacity` is not an integer in [0, 2^53 - 1].
   * @throws MemError USE_AFTER_RELEASE if the pool was closed.
   * @throws MemError EXHAUSTED if the runtime cannot allocate a segment or a fallback buffer.
   *
   * @example
   * ```ts
   * import { BufferPool } from '@mem/buffer-pool';
   * const pool = new BufferPool();
   * using buffer = pool.alloc(3000); // capacity 4096
   * ```
   */
  alloc(capacity: number): IoBuffer {
    return this.#core.alloc(capacity);
  }

  /**
   * Like {@link BufferPool.alloc}, but an oversized request or an exhausted class throws instead of
   * falling back (requests below `poolMinSize` still get an untracked buffer).
   * Cost: as `alloc`.
   * @throws MemError INVALID_ARGUMENT if `capacity` is not an integer in [0, 2^53 - 1].
   * @throws MemError OVERSIZED if `capacity > maxSize`.
   * @throws MemError EXHAUSTED if the class has `maxPerClass` buffers out and none free here or globally.
   * @throws MemError USE_AFTER_RELEASE if the pool was closed.
   */
  tryAlloc(capacity: number): IoBuffer {
    return this.#core.tryAlloc(capacity);
  }

  /**
   * A buffer whose first `length` bytes are zero and readable (`buffer.length === length`). A reused
   * buffer is zeroed over that range only; a new one is fresh memory. Fallbacks as in {@link BufferPool.alloc}.
   * Cost: as `alloc`, plus zeroing `length` bytes of a reused buffer.
   * @throws MemError INVALID_ARGUMENT if `length` is not an integer in [0, 2^53 - 1].
   * @throws MemError USE_AFTER_RELEASE if the pool was closed.
   * @throws MemError EXHAUSTED if the runtime cannot allocate a segment or a fallback buffer.
   */
  allocZeroed(length: number): IoBuffer {
    return this.#core.allocZeroed(length);
  }

  /**
   * Like {@link BufferPool.allocZeroed}, but an oversized request or an exhausted class throws.
   * Cost: as `allocZeroed`.
   * @throws MemError INVALID_ARGUMENT if `length` is not an integer in [0, 2^53 - 1].
   * @throws MemError OVERSIZED if `length > maxSize`.
   * @throws MemError EXHAUSTED if the class has `maxPerClass` buffers out and none free.
   * @throws MemError USE_AFTER_RELEASE if the pool was closed.
   */
  tryAllocZeroed(length: number): IoBuffer {
    return this.#core.tryAllocZeroed(length);
  }

  /**
   * Takes over a buffer (or frozen view) that another instance of this pool transferred with
   * {@link IoBuffer.transfer} or {@link FrozenBuffer.transfer}. Each descriptor can be adopted once,
   * and only as issued: its ticket is bound to the slot, start, length, capacity and kind it was
   * issued for. Any other value (a message that is not a descriptor, an edited or replayed one) is
   * refused with a MemError and changes nothing; the descriptor's fields are read once.
   * Releasing the adopted buffer returns its slot to this worker's cache.
   * Cost: a few atomic loads and one compare-exchange; a view object if this worker has not seen
   * the slot yet.
   * @throws MemError INVALID_ARGUMENT if `transfer` is not a well-formed transfer descriptor, or was
   * edited to describe another buffer than the one its ticket was issued for.
   * @throws MemError FOREIGN_HANDLE if it belongs to another pool.
   * @throws MemError STALE_HANDLE if it was already adopted (or its ticket was never issued).
   * @throws MemError USE_AFTER_RELEASE if this instance was closed.
   */
  adopt(transfer: BufferTransfer): IoBuffer | FrozenBuffer {
    return this.#core.adopt(transfer);
  }

  /**
   * Moves every buffer in this worker's local cache to the global freelists, where other workers
   * can take them. Does nothing on a closed instance.
   * Cost: one batch push per non-empty class.
   * @throws never
   */
  flush(): void {
    this.#core.flush();
  }

  /**
   * The descriptor of this shared pool, a plain structured-cloneable object tagged
   * `kind: 'mem.buffer-pool'` and the layout `version`: post it to a worker and call
   * {@link BufferPool.attach} there. Its SharedArrayBuffers are shared, not copied; it holds no
   * port, so one descriptor serves any number of attachments.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if the pool is private (not made by {@link BufferPool.createShared}).
   * @throws MemError USE_AFTER_RELEASE if this instance was closed.
   */
  descriptor(): BufferPoolDescriptor {
    return this.#core.descriptor();
  }

  /**
   * Closes this instance. Buffers still out stay valid and can be released later (safely: a shared
   * pool takes them back into its global freelist; a private pool drops them). A private pool drops
   * its free buffers, so its memory goes once the last outstanding buffer is released and collected;
   * a shared instance returns its local cache to the global freelists (other workers keep using the
   * pool). Its metrics collector is unregistered first: if the sink's unregister function throws,
   * the error propagates and the instance stays open (call `close()` again); a `close()` made from
   * inside that function returns at once. Later allocations throw. Closing twice does nothing.
   * Cost: O(classes), plus a batch push per class for a shared instance.
   * @throws whatever the metrics sink's unregister function throws; nothing else is done then.
   */
  close(): void {
    this.#core.close();
  }

  /**
   * Closes the instance (so `using pool = new BufferPool()` closes at scope end).
   * Cost: as {@link BufferPool.close}.
   * @throws as {@link BufferPool.close}.
   */
  [Symbol.dispose](): void {
    this.#core.close();
  }

  /**
   * A JSON snapshot: per class the created, free (global and local), in-use, exhausted and hit
   * counts, and pool-wide oversized, bypassed, fallback, leak and transfer counts.
   * Cost: O(classes) plus a scan of the 4096-entry transfer table.
   * @throws never
   */
  stats(): BufferPoolStats {
    return this.#core.stats();
  }
}
