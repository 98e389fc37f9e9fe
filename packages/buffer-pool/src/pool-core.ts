// Over 400 lines for one concept: one worker's instance of the pool; its four allocation entry points are written out on purpose (see docs/DESIGN.md, Hot paths).
/**
 * The engine behind `BufferPool`: one instance per worker (per `new BufferPool`, `createShared` or
 * `attach`), with its own local cache, over a private or shared global state.
 *
 * Where a slot can be, at any moment (the ownership invariant):
 * - in the global freelist of its class (free, visible to every worker),
 * - in exactly one worker's local cache (free, visible to that worker only),
 * - held by exactly one live `IoBuffer`,
 * - held by the live `FrozenBuffer` views of one freeze (reference count = number of views),
 * - in transit, as the one unredeemed ticket of a transfer descriptor,
 * - dropped, after a private pool closed (its memory goes with the last view),
 * - stranded, held or cached by a worker that was terminated (never reused).
 * Every transition below moves a slot from one of these places to another, never copies it. Who
 * may write which shared word, and when a slot is reused, is the package README's "Concurrency
 * protocol".
 *
 * Hot paths are `alloc`, `allocZeroed`, `tryAlloc`, `tryAllocZeroed` (a local-cache hit) and
 * `returnSlot` (a local-cache push): typed-array reads and writes, one counter increment and the
 * handle's construction. Everything else (argument errors, bypass, refill, creation, exhaustion,
 * fallback, spill) is in the `*Slow` methods.
 *
 * This module is browser compatible.
 * @module
 */
import { LeakTracker, MemError, invalidArgument, noopMetrics, type LeakReport } from '@mem/types';
import type { BufferPoolConfig } from './buffer-pool-config.js';
import type { ResolvedInstanceOptions } from './buffer-pool-options.js';
import type { BufferClassStats, BufferPoolStats } from './buffer-pool-stats.js';
import type { BufferOwner } from './buffer-owner.js';
import { BUFFER_TRANSFER_TYPE, readTransfer, type BufferTransfer } from './buffer-transfer.js';
import { FrozenBuffer } from './frozen-buffer.js';
import { PrivateFreelist, type Freelist } from './freelist.js';
import { IoBuffer } from './io-buffer.js';
import { CONTROL, type BufferPoolDescriptor } from './pool-descriptor.js';
import { PoolCounters, publishPoolMetrics } from './pool-metrics.js';
import { SharedFreelist } from './shared-freelist.js';
import { SlotMemory } from './slot-memory.js';
import { TransferTickets } from './transfer-tickets.js';
import { WorkerCache } from './worker-cache.js';
import { whenGone } from './worker-exit.js';

/** How an allocation behaves when it cannot be pooled. */
const ZEROED = 1;
const STRICT = 2;

/** A countdown that never reaches zero in practice (leak detection off). */
const NEVER = 0x3fffffff;

function randomPoolId(): number {
  return Math.floor(Math.random() * 0x7fffffff);
}

/** One pool instance: this worker's cache and view of the pool's state. */
export class PoolCore implements BufferOwner {
  // ---- hot-path state (read by alloc and returnSlot) ----
  /** `maxSize`, or -1 once closed so that every allocation takes the slow path. */
  #hotMaxSize: number;
  readonly #poolMinSize: number;
  readonly #minSize: number;
  readonly #minShift: number;
  readonly #cache: WorkerCache;
  /** The cache's arrays, held directly so that the hot paths skip one indirection. */
  readonly #cacheStack: Int32Array;
  readonly #cacheTops: Int32Array;
  readonly #cacheBottoms: Int32Array;
  readonly #cacheLimits: Int32Array;
  readonly #views: Uint8Array[];
  /** The class of every slot, so that handles need not carry it. */
  readonly #slotClasses: Uint8Array;
  readonly #hitsLocal: Float64Array;
  /** Allocations until leak detection samples the next one. */
  #leakCountdown: number;

  // ---- slow-path state ----
  /** The validated configuration. */
  readonly config: BufferPoolConfig;
  /** The pool's id, shared by its attached instances. */
  readonly poolId: number;
  /** Whether the state lives in SharedArrayBuffers. */
  readonly shared: boolean;
  readonly #classSizes: readonly number[];
  readonly #maxPerClass: number;
  readonly #memory: SlotMemory;
  readonly #global: Freelist;
  readonly #created: Int32Array;
  readonly #references: Int32Array;
  readonly #tickets: TransferTickets;
  readonly #descriptor: BufferPoolDescriptor | undefined;
  readonly #counters: PoolCounters;
  /** Per class, free slots a closed private pool dropped (so that `inUse` stays right). */
  readonly #retired: Float64Array;
  readonly #options: ResolvedInstanceOptions;
  readonly #leakTracker: LeakTracker<number> | undefined;
  readonly #leakInterval: number;
  readonly #bufferResources: readonly string[];
  readonly #frozenResources: readonly string[];
  readonly #unpublishMetrics: () => void;
  readonly #cancelFarewell: () => void;
  #closed = false;
  /** True while `close()` runs the metrics sink's unregister function. */
  #closing = false;

  /**
   * A new pool (private, or shared over `descriptor` created for it), or an instance attached to the
   * shared pool of `descriptor` (`attached`).
   * Cost: O(classes * maxPerClass) bookkeeping; a prefilled private pool allocates all its memory.
   */
  constructor(
    config: BufferPoolConfig,
    options: ResolvedInstanceOptions,
    descriptor: BufferPoolDescriptor | undefined,
    attached: boolean,
  ) {
    this.config = config;
    this.#options = options;
    this.shared = descriptor !== undefined;
    this.#descriptor = descriptor;
    const classSizes = config.classSizes;
    const classCount = classSizes.length;
    const maxPerClass = config.maxPerClass;
    this.#classSizes = classSizes;
    this.#maxPerClass = maxPerClass;
    this.#hotMaxSize = config.maxSize;
    this.#poolMinSize = config.poolMinSize;
    this.#minSize = config.minSize;
    this.#minShift = Math.log2(config.minSize);
    this.#cache = new WorkerCache(classCount, config.workerCacheCapacity);
    this.#cacheStack = this.#cache.stack;
    this.#cacheTops = this.#cache.tops;
    this.#cacheBottoms = this.#cache.bottoms;
    this.#cacheLimits = this.#cache.limits;
    this.#counters = new PoolCounters(classCount);
    this.#hitsLocal = this.#counters.hitsLocal;
    this.#retired = new Float64Array(classCount);

    if (descriptor === undefined) {
      this.poolId = randomPoolId();
      this.#memory = new SlotMemory(classSizes, maxPerClass);
      this.#global = new PrivateFreelist(classCount, maxPerClass);
      this.#created = new Int32Array(classCount);
      this.#references = new Int32Array(classCount * maxPerClass);
      this.#tickets = new TransferTickets();
    } else {
      const control = new Int32Array(descriptor.control);
      this.poolId = Atomics.load(control, CONTROL.poolId);
      this.#memory = new SlotMemory(classSizes, maxPerClass, descriptor.segments);
      this.#global = new SharedFreelist(descriptor.freelist);
      this.#created = control.subarray(CONTROL.createdBase, CONTROL.createdBase + classCount);
      this.#references = new Int32Array(descriptor.references);
      this.#tickets = new TransferTickets(descriptor.tickets);
    }
    this.#views = this.#memory.views;
    this.#slotClasses = new Uint8Array(classCount * maxPerClass);
    for (let c = 0; c < classCount; c += 1) this.#slotClasses.fill(c, c * maxPerClass, (c + 1) * maxPerClass);

    this.#bufferResources = classSizes.map((size) => `IoBuffer of the ${size}-byte class`);
    this.#frozenResources = classSizes.map((size) => `FrozenBuffer of the ${size}-byte class`);
    const level = options.leakDetection;
    this.#leakTracker =
      level === 'off'
        ? undefined
        : new LeakTracker<number>({
            level,
            // The pool samples by itself (a countdown on the hot path); the tracker tracks what it is given.
            sampleInterval: 1,
            onLeak: (report) => this.#recoverLeak(report),
          });
    this.#leakInterval = level === 'off' ? NEVER : level === 'paranoid' ? 1 : options.leakSampleInterval;
    this.#leakCountdown = this.#leakInterval;

    if (config.prefill && !attached) this.#prefill();

    // Neither the sink's collector nor what runs if this instance goes away without close() may
    // refer to the instance: both are handed its state, never `this`.
    this.#unpublishMetrics = publishPoolMetrics(
      options.metrics ?? noopMetrics,
      options.name,
      classSizes,
      this.#counters,
      {
        created: this.#created,
        global: this.#global,
        cache: this.#cache,
      },
    );
    this.#cancelFarewell = whenGone(this, this.shared ? this.#cache : undefined, this.#global, this.#unpublishMetrics);
  }

  /** Creates every tracked buffer and parks it in the global freelist. */
  #prefill(): void {
    const max = this.#maxPerClass;
    const slots = new Int32Array(max);
    for (let c = 0; c < this.#classSizes.length; c += 1) {
      const first = c * max;
      for (let i = 0; i < max; i += 1) {
        slots[i] = first + i;
        if (!this.shared) this.#memory.viewOf(first + i);
      }
      this.#created[c] = max;
      this.#global.putBatch(c, slots, 0, max);
    }
  }

  /** Whether this instance was closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The instance's name: the `pool` label of its metrics. */
  get name(): string {
    return this.#options.name;
  }

  // ------------------------------------------------------------------------------------------
  // Hot paths. Keep them small: a request whose class has a free slot in this worker's cache is
  // served here with no call besides the handle's constructor; anything else goes to #allocSlow.
  // The four allocation calls are written out four times on purpose: see docs/DESIGN.md, Hot paths.
  // Their integer checks stay inline instead of calling @mem/types' assertInteger: same reason.
  // ------------------------------------------------------------------------------------------

  /** `BufferPool.alloc`. */
  alloc(capacity: number): IoBuffer {
    // typeof first: `>>> 0` would throw on a bigint or a symbol, and run user code on an object.
    if (
      typeof capacity === 'number' &&
      capacity >>> 0 === capacity &&
      capacity <= this.#hotMaxSize &&
      capacity >= this.#poolMinSize
    ) {
      const c = capacity <= this.#minSize ? 0 : 32 - Math.clz32(capacity - 1) - this.#minShift;
      const tops = this.#cacheTops;
      const top = tops[c]!;
      if (top !== this.#cacheBottoms[c]) {
        const slot = this.#cacheStack[top - 1]!;
        tops[c] = top - 1;
        this.#hitsLocal[c]! += 1;
        return this.#issue(slot, c, this.#views[slot]!, 0);
      }
    }
    return this.#allocSlow(capacity, 0);
  }

  /** `BufferPool.tryAlloc`. */
  tryAlloc(capacity: number): IoBuffer {
    // typeof first: `>>> 0` would throw on a bigint or a symbol, and run user code on an object.
    if (
      typeof capacity === 'number' &&
      capacity >>> 0 === capacity &&
      capacity <= this.#hotMaxSize &&
      capacity >= this.#poolMinSize
    ) {
      const c = capacity <= this.#minSize ? 0 : 32 - Math.clz32(capacity - 1) - this.#minShift;
      const tops = this.#cacheTops;
      const top = tops[c]!;
      if (top !== this.#cacheBottoms[c]) {
        const slot = this.#cacheStack[top - 1]!;
        tops[c] = top - 1;
        this.#hitsLocal[c]! += 1;
        return this.#issue(slot, c, this.#views[slot]!, 0);
      }
    }
    return this.#allocSlow(capacity, STRICT);
  }

  /** `BufferPool.allocZeroed`. */
  allocZeroed(length: number): IoBuffer {
    // typeof first: `>>> 0` would throw on a bigint or a symbol, and run user code on an object.
    if (
      typeof length === 'number' &&
      length >>> 0 === length &&
      length <= this.#hotMaxSize &&
      length >= this.#poolMinSize
    ) {
      const c = length <= this.#minSize ? 0 : 32 - Math.clz32(length - 1) - this.#minShift;
      const tops = this.#cacheTops;
      const top = tops[c]!;
      if (top !== this.#cacheBottoms[c]) {
        const slot = this.#cacheStack[top - 1]!;
        tops[c] = top - 1;
        this.#hitsLocal[c]! += 1;
        const view = this.#views[slot]!;
        // A reused slot holds old bytes: zero the readable range only.
        view.fill(0, 0, length);
        return this.#issue(slot, c, view, length >>> 0);
      }
    }
    return this.#allocSlow(length, ZEROED);
  }

  /** `BufferPool.tryAllocZeroed`. */
  tryAllocZeroed(length: number): IoBuffer {
    // typeof first: `>>> 0` would throw on a bigint or a symbol, and run user code on an object.
    if (
      typeof length === 'number' &&
      length >>> 0 === length &&
      length <= this.#hotMaxSize &&
      length >= this.#poolMinSize
    ) {
      const c = length <= this.#minSize ? 0 : 32 - Math.clz32(length - 1) - this.#minShift;
      const tops = this.#cacheTops;
      const top = tops[c]!;
      if (top !== this.#cacheBottoms[c]) {
        const slot = this.#cacheStack[top - 1]!;
        tops[c] = top - 1;
        this.#hitsLocal[c]! += 1;
        const view = this.#views[slot]!;
        view.fill(0, 0, length);
        return this.#issue(slot, c, view, length >>> 0);
      }
    }
    return this.#allocSlow(length, ZEROED | STRICT);
  }

  /** Hot path of every release: push onto this worker's cache, or spill. */
  returnSlot(slot: number, classIndex: number): void {
    const tops = this.#cacheTops;
    const top = tops[classIndex]!;
    if (top !== this.#cacheLimits[classIndex]) {
      this.#cacheStack[top] = slot;
      tops[classIndex] = top + 1;
      return;
    }
    this.#returnSlow(slot, classIndex);
  }

  // ------------------------------------------------------------------------------------------
  // Slow paths.
  // ------------------------------------------------------------------------------------------

  #allocSlow(request: number, mode: number): IoBuffer {
    const name = mode & ZEROED ? 'length' : 'capacity';
    if (typeof request !== 'number' || !Number.isSafeInteger(request) || request < 0) {
      throw invalidArgument(name, request, `an integer in [0, ${Number.MAX_SAFE_INTEGER}]`);
    }
    if (this.#closed) throw this.#closedError();
    const zeroed = (mode & ZEROED) !== 0;
    request += 0; // -0 becomes 0
    const length = zeroed ? request : 0;
    if (request < this.#poolMinSize) {
      this.#counters.bypassed += 1;
      return this.#untracked(request, length);
    }
    if (request > this.config.maxSize) {
      this.#counters.oversized += 1;
      if (mode & STRICT) {
        throw new MemError(
          'OVERSIZED',
          `${name} ${request} exceeds the largest size class (maxSize ${this.config.maxSize})`,
          { details: { [name]: request, maxSize: this.config.maxSize } },
        );
      }
      return this.#fallback(request, length);
    }
    const c = request <= this.#minSize ? 0 : 32 - Math.clz32(request - 1) - this.#minShift;
    // The hot path only misses a non-empty cache for unusual arguments; serve those locally too,
    // so that a refill always starts from an empty cache.
    let slot = this.#cache.pop(c);
    let fresh = false;
    if (slot >= 0) {
      this.#hitsLocal[c]! += 1;
    } else if ((slot = this.#cache.refill(c, this.#global)) >= 0) {
      this.#counters.hitsGlobal[c]! += 1;
      if (this.shared) this.#ensureCachedViews(c);
    } else {
      slot = this.#createSlot(c);
      if (slot >= 0) {
        this.#counters.hitsNew[c]! += 1;
        fresh = true;
      }
    }
    if (slot < 0) {
      this.#counters.exhausted[c]! += 1;
      if (mode & STRICT) {
        throw new MemError(
          'EXHAUSTED',
          `the ${this.#classSizes[c]}-byte class has all ${this.#maxPerClass} buffers in use (${name} ${request})`,
          { details: { [name]: request, classSize: this.#classSizes[c], maxPerClass: this.#maxPerClass } },
        );
      }
      return this.#fallback(request, length);
    }
    const view = this.#memory.viewOf(slot);
    // A new slot is fresh memory (zeroed by the runtime); a reused one is zeroed over `length` only.
    if (zeroed && !fresh) view.fill(0, 0, length);
    return this.#issue(slot, c, view, length);
  }

  /** Makes sure the slots a refill just parked in the cache have views in this worker (shared pools). */
  #ensureCachedViews(c: number): void {
    const cache = this.#cache;
    for (let i = cache.bottoms[c]!; i < cache.tops[c]!; i += 1) this.#memory.viewOf(cache.stack[i]!);
  }

  /** Reserves a never-used slot of class `c`, or returns -1 if the class is at its limit. */
  #createSlot(c: number): number {
    const max = this.#maxPerClass;
    const created = this.#created;
    let index: number;
    if (this.shared) {
      for (;;) {
        index = Atomics.load(created, c);
        if (index >= max) return -1;
        if (Atomics.compareExchange(created, c, index, index + 1) === index) break;
      }
    } else {
      index = created[c]!;
      if (index >= max) return -1;
      created[c] = index + 1;
    }
    const slot = c * max + index;
    try {
      this.#memory.viewOf(slot);
    } catch (error) {
      // The runtime refused the segment: give the reservation back (private pools only reserve here).
      if (!this.shared) created[c] = index;
      throw error;
    }
    return slot;
  }

  #untracked(capacity: number, length: number): IoBuffer {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(capacity);
    } catch (cause) {
      throw new MemError('EXHAUSTED', `the runtime could not allocate an untracked buffer of ${capacity} bytes`, {
        cause,
        details: { capacity },
      });
    }
    return IoBuffer.issue(this, -1, -1, bytes, length);
  }

  #fallback(request: number, length: number): IoBuffer {
    const buffer = this.#untracked(Math.max(request, this.#minSize), length);
    this.#counters.fallbacks += 1;
    return buffer;
  }

  #returnSlow(slot: number, c: number): void {
    if (this.#closed) {
      if (this.shared) this.#global.put(c, slot);
      else this.#retired[c]! += 1;
      return;
    }
    this.#cache.spill(c, slot, this.#global);
  }

  #closedError(): MemError {
    return new MemError('USE_AFTER_RELEASE', 'BufferPool was used after close()');
  }

  #createdCount(c: number): number {
    return this.shared ? Atomics.load(this.#created, c) : this.#created[c]!;
  }

  // ------------------------------------------------------------------------------------------
  // BufferOwner: what handles call back into.
  // ------------------------------------------------------------------------------------------

  sampleLeak(handle: object, slot: number, frozen: boolean): boolean {
    if (--this.#leakCountdown !== 0) return false;
    return this.#trackLeak(handle, slot, frozen);
  }

  /** Starts tracking a sampled handle, and restarts the countdown. */
  #trackLeak(handle: object, slot: number, frozen: boolean): boolean {
    this.#leakCountdown = this.#leakInterval;
    const tracker = this.#leakTracker;
    if (tracker === undefined) return false;
    const c = this.#slotClasses[slot]!;
    const resource = frozen ? this.#frozenResources[c]! : this.#bufferResources[c]!;
    return tracker.track(handle, slot * 2 + (frozen ? 1 : 0), resource);
  }

  /** The hot path's leak sampling: one decrement, and the rare sampled buffer. */
  #issue(slot: number, classIndex: number, view: Uint8Array, length: number): IoBuffer {
    const buffer = IoBuffer.issue(this, slot, classIndex, view, length);
    if (--this.#leakCountdown === 0 && this.#trackLeak(buffer, slot, false)) buffer.markTracked();
    return buffer;
  }

  classOf(slot: number): number {
    return this.#slotClasses[slot]!;
  }

  untrackLeak(handle: object): void {
    this.#leakTracker?.untrack(handle);
  }

  #recoverLeak(report: LeakReport<number>): void {
    const slot = report.held >> 1;
    const frozen = (report.held & 1) === 1;
    this.#counters.leaks += 1;
    if (frozen) this.releaseReference(slot);
    else this.returnSlot(slot, this.#slotClasses[slot]!);
    this.#options.onLeak({
      resource: report.resource,
      allocationStack: report.allocationStack,
      slot,
      frozen,
      recovered: true,
    });
  }

  viewOf(slot: number): Uint8Array {
    return this.#memory.viewOf(slot);
  }

  byteOffsetOf(slot: number): number {
    return this.#memory.byteOffsetOf(slot);
  }

  setReferences(slot: number, count: number): void {
    if (this.shared) Atomics.store(this.#references, slot, count);
    else this.#references[slot] = count;
  }

  retainReference(slot: number): void {
    if (this.shared) Atomics.add(this.#references, slot, 1);
    else this.#references[slot]! += 1;
  }

  releaseReference(slot: number): void {
    const left = this.shared ? Atomics.sub(this.#references, slot, 1) - 1 : (this.#references[slot]! -= 1);
    if (left === 0) this.returnSlot(slot, this.#slotClasses[slot]!);
  }

  references(slot: number): number {
    return this.shared ? Atomics.load(this.#references, slot) : this.#references[slot]!;
  }

  issueTransfer(
    frozen: boolean,
    slot: number,
    start: number,
    length: number,
    capacity: number,
    bytes: Uint8Array | null,
  ): BufferTransfer {
    // Only this instance could adopt a private pool's transfer, and it is closed.
    if (this.#closed && !this.shared) throw this.#closedError();
    const ticket = this.#tickets.claim(slot, start, length, capacity, frozen);
    return {
      type: BUFFER_TRANSFER_TYPE,
      poolId: this.poolId,
      frozen,
      slot,
      start,
      length,
      capacity,
      ticketIndex: ticket.index,
      ticket: ticket.id,
      bytes,
    };
  }

  // ------------------------------------------------------------------------------------------
  // The rest of the public surface.
  // ------------------------------------------------------------------------------------------

  /** `BufferPool.adopt`. */
  adopt(value: unknown): IoBuffer | FrozenBuffer {
    // A checked copy: nothing the caller's object does from here on can change it.
    const transfer = readTransfer(value);
    if (transfer.poolId !== this.poolId) {
      throw new MemError(
        'FOREIGN_HANDLE',
        `the transfer belongs to pool ${transfer.poolId}, not to this pool (${this.poolId})`,
        { details: { poolId: transfer.poolId, expected: this.poolId } },
      );
    }
    if (this.#closed) throw this.#closedError();
    const { frozen, slot, start, length, capacity } = transfer;
    let base: Uint8Array;
    if (slot >= 0) {
      const size = this.#classSizes[Math.floor(slot / this.#maxPerClass)];
      const reach = frozen ? start + length : start + capacity;
      if (size === undefined || reach > size || (!frozen && reach !== size)) {
        throw new MemError(
          'INVALID_ARGUMENT',
          `transfer descriptor does not describe a buffer of this pool (slot ${slot})`,
        );
      }
      // The view before the ticket: if the runtime refuses it, nothing is redeemed.
      base = this.#memory.viewOf(slot);
    } else {
      base = transfer.bytes!;
    }
    const redeemed = this.#tickets.redeem(transfer);
    if (redeemed === 'mismatch') {
      throw new MemError(
        'INVALID_ARGUMENT',
        'transfer descriptor does not match the buffer its ticket was issued for (it was edited); it stays adoptable as issued',
        { details: { ticket: transfer.ticket } },
      );
    }
    if (redeemed === 'stale') {
      throw new MemError(
        'STALE_HANDLE',
        'the transfer was already adopted, or its ticket was never issued (a descriptor is good for one adoption)',
        { details: { ticket: transfer.ticket } },
      );
    }
    if (slot < 0) {
      return frozen
        ? FrozenBuffer.issue(this, -1, base, 0, length, undefined)
        : IoBuffer.issue(this, -1, -1, base, length);
    }
    if (frozen) return FrozenBuffer.issue(this, slot, base, start, length, undefined);
    return IoBuffer.sampled(this, slot, start === 0 ? base : base.subarray(start), length);
  }

  /** `BufferPool.flush`. */
  flush(): void {
    if (this.#closed) return;
    this.#cache.flush(this.#global);
  }

  /** `BufferPool.descriptor`. */
  descriptor(): BufferPoolDescriptor {
    if (this.#descriptor === undefined) {
      throw new MemError(
        'INVALID_ARGUMENT',
        'a private pool has no descriptor: create the pool with BufferPool.createShared() to share it with workers',
      );
    }
    if (this.#closed) throw this.#closedError();
    return this.#descriptor;
  }

  /** `BufferPool.close`. */
  close(): void {
    if (this.#closed || this.#closing) return;
    // First the one step that runs the caller's code (the sink's unregister function): if it
    // throws, nothing else has happened and the instance stays open. A close() it makes returns.
    this.#closing = true;
    try {
      this.#unpublishMetrics();
    } finally {
      this.#closing = false;
    }
    this.#closed = true;
    this.#hotMaxSize = -1;
    this.#cancelFarewell();
    const cache = this.#cache;
    if (this.shared) {
      cache.flush(this.#global);
    } else {
      for (let c = 0; c < this.#classSizes.length; c += 1) {
        this.#retired[c]! += cache.length(c) + this.#global.length(c);
      }
      this.#global.clear();
      this.#memory.clear();
    }
    cache.close();
  }

  /** `BufferPool.stats`. */
  stats(): BufferPoolStats {
    const counters = this.#counters;
    const classes: BufferClassStats[] = this.#classSizes.map((size, c) => {
      const created = this.#createdCount(c);
      const globalFree = this.#global.length(c);
      const localFree = this.#cache.length(c);
      return {
        size,
        maxBuffers: this.#maxPerClass,
        created,
        globalFree,
        localFree,
        inUse: Math.max(0, created - globalFree - localFree - this.#retired[c]!),
        exhausted: counters.exhausted[c]!,
        hits: { local: counters.hitsLocal[c]!, global: counters.hitsGlobal[c]!, new: counters.hitsNew[c]! },
      };
    });
    return {
      shared: this.shared,
      closed: this.#closed,
      leakDetection: this.#options.leakDetection,
      workerCacheCapacity: this.#cache.capacity,
      reservedBytes: this.#memory.reservedBytes,
      oversized: counters.oversized,
      bypassed: counters.bypassed,
      fallbacks: counters.fallbacks,
      leaks: counters.leaks,
      transfersInFlight: this.#tickets.inFlight(),
      classes,
    };
  }
}
