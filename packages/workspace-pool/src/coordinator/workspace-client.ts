/**
 * A client of a {@link WorkspaceCoordinator}, in any thread: it acquires workspaces from the
 * coordinator's pools by message and reaches their bytes directly in shared memory.
 *
 * This module is browser compatible.
 * @module
 */
import {
  BackingMemory,
  DisposableHandle,
  MemError,
  assertBoolean,
  assertFunction,
  assertOptions,
  assertSharedDescriptor,
  describeValue,
  invalidArgument,
  type SharedAttachment,
  type SharedDescriptor,
  type TypedArrayConstructor,
} from '@mem/types';
import {
  deserializeError,
  type Connect,
  isRecord,
  messageId,
  onFailure,
  onMessage,
  type AcquireAnswer,
  type Request,
  type SegmentInfo,
} from './coordinator-protocol.js';
import type { DefragmentationReport } from '../defragmentation-report.js';
import { pinSlot, readPlace, slotSerial, unpinSlot } from './lease-table.js';
import type { MemoryMapSnapshot } from '../memory-map.js';
import type { DefragmentOptions, WorkspaceLogEntry, WorkspaceLogger, WorkspacePoolStats } from '../workspace-pool.js';

/** The `kind` of a {@link WorkspaceClientDescriptor}. */
const DESCRIPTOR_KIND = 'mem.workspace-pool.client';
/** The `version` of a {@link WorkspaceClientDescriptor}: the layout of the lease table and the protocol. */
const DESCRIPTOR_VERSION = 1;

/**
 * What a thread needs to become a client: made by `descriptor()` of the coordinator or of any
 * client, posted to the thread with `postMessage(d, descriptorTransferList(d))` (its port is
 * transferred), and turned into a client there by {@link WorkspaceClient.attach}. Each
 * descriptor carries a channel of its own to the coordinator's worker: it serves one attachment.
 */
export interface WorkspaceClientDescriptor extends SharedDescriptor<'mem.workspace-pool.client'> {
  /** The client's own channel to the coordinator's worker (the runtime's `MessagePort`). */
  readonly port: InstanceType<typeof MessagePort>;
  /** The shared lease table (where each lease is, and whether it is pinned). */
  readonly leaseTable: SharedArrayBuffer;
  /** The names of the coordinator's pools. */
  readonly pools: readonly string[];
}

/**
 * A descriptor of a client's channel to the coordinator's worker.
 * @internal
 */
export function clientDescriptor(
  port: MessagePort,
  leaseTable: SharedArrayBuffer,
  pools: readonly string[],
): WorkspaceClientDescriptor {
  return { kind: DESCRIPTOR_KIND, version: DESCRIPTOR_VERSION, port, leaseTable, pools: [...pools] };
}

/** Options of {@link WorkspaceClient.acquire}. */
export interface SharedAcquireOptions {
  /** A name for the workspace, shown in memory maps. @defaultValue none */
  readonly label?: string;
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

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
 * What a client's port listeners reach it through: weakly, so that a client dropped without
 * `close()` can be collected, and strongly (`busy`) while it waits for answers or pins a lease.
 */
interface ClientLink {
  readonly client: WeakRef<WorkspaceClient>;
  busy: WorkspaceClient | undefined;
}

/** Node's way to let a port keep the thread's event loop alive, or not; absent in browsers. */
interface Referenced {
  ref?(): void;
  unref?(): void;
}

/** Closes the port of a collected client: the coordinator then takes back what it held. */
const collected = new FinalizationRegistry<MessagePort>((port) => port.close());

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

/**
 * A connection to a coordinator's worker: acquire, defragment, stats and memory maps by message;
 * workspace bytes straight from shared memory. Make one in another thread with
 * {@link WorkspaceClient.attach}; the thread that started the coordinator uses the
 * {@link WorkspaceCoordinator} itself, which is a client.
 *
 * **Shared mode.** It speaks the shared-mode contract of `@mem/types`: `descriptor()` (of the
 * coordinator or of any client) describes the coordinator for another thread,
 * `WorkspaceClient.attach(descriptor)` there attaches, and `close()` (also through `using` or
 * `await using`) ends the attachment. The state lives in the coordinator's worker: closing the
 * coordinator ends every client.
 *
 * Every request is answered in order. When the coordinator goes away, pending and later requests
 * fail with USE_AFTER_RELEASE and every workspace's handle with STALE_HANDLE.
 *
 * **Lifetime.** A client stays connected until `close()`, the loss of its coordinator, the end of
 * its thread (exit or `terminate()`), or its collection; then the coordinator takes its
 * workspaces back. While it waits for an answer or pins a workspace, it keeps its thread's event
 * loop running and cannot be collected (a view from `pin()` never outlives its lease); idle, it
 * does neither: a client dropped without `close()`, with no handle of its workspaces left, is
 * garbage-collected and its workspaces go back as `close()` would give them.
 *
 * @example
 * ```ts
 * import { WorkspaceClient, type WorkspaceClientDescriptor } from '@mem/workspace-pool';
 * // in a worker that received a descriptor from coordinator.descriptor()
 * declare const descriptor: WorkspaceClientDescriptor;
 * await using client = WorkspaceClient.attach(descriptor);
 * const ws = await client.acquire('activations', 1 << 16);
 * ws.access((bytes) => bytes.fill(0));
 * ws.release();
 * ```
 */
export class WorkspaceClient implements SharedAttachment<WorkspaceClientDescriptor>, Disposable, AsyncDisposable {
  /** The names of the coordinator's pools. */
  readonly pools: readonly string[];
  readonly #port: MessagePort;
  readonly #table: Int32Array;
  readonly #pending = new Map<number, Pending>();
  readonly #segments = new Map<string, BackingMemory>();
  readonly #releaseErrors: Error[] = [];
  readonly #releases = new Set<Promise<unknown>>();
  readonly #logger: WorkspaceLogger | undefined;
  #nextId = 1;
  /** Why the client is closed (set when close() begins, or when the coordinator goes away). */
  #gone: string | undefined;
  /** Whether close() has finished telling the coordinator (the port may close once no pin is left). */
  #disconnected = false;
  #closing: Promise<void> | undefined;
  /** Handles that hold their pin in the lease table. */
  #pinnedLeases = 0;
  readonly #leaseOwner: LeaseOwner;
  readonly #link: ClientLink;

  /**
   * Connects over a descriptor's port. Use {@link WorkspaceClient.attach}.
   * @throws as {@link WorkspaceClient.attach}
   */
  protected constructor(descriptor: unknown, logger?: WorkspaceLogger) {
    const candidate = assertSharedDescriptor<WorkspaceClientDescriptor>(
      descriptor,
      DESCRIPTOR_KIND,
      DESCRIPTOR_VERSION,
    );
    if (
      typeof candidate.port?.postMessage !== 'function' ||
      !(candidate.leaseTable instanceof SharedArrayBuffer) ||
      !Array.isArray(candidate.pools) ||
      !candidate.pools.every((name) => typeof name === 'string')
    ) {
      throw invalidArgument(
        'descriptor',
        descriptor,
        'a descriptor from descriptor() with its port, lease table and pool names',
      );
    }
    this.pools = Object.freeze([...candidate.pools]);
    this.#port = candidate.port;
    this.#table = new Int32Array(candidate.leaseTable);
    this.#logger = logger;
    this.#leaseOwner = {
      table: this.#table,
      goneReason: () => this.#gone,
      memoryOf: (pool, segment) => this.#memoryOf(pool, segment),
      sendRelease: (slot, serial) => this.#sendRelease(slot, serial),
      countPin: (delta) => this.#countPin(delta),
    };
    this.#link = WorkspaceClient.#listen(this.#port, new WeakRef(this));
    (this.#port as Referenced).unref?.();
    collected.register(this, this.#port, this);
  }

  /**
   * Listens on the port for the client it reaches through the link only (a function of its own,
   * so that the listeners' closures cannot hold the client), so that the port does not keep it.
   */
  static #listen(port: MessagePort, client: WeakRef<WorkspaceClient>): ClientLink {
    const link: ClientLink = { client, busy: undefined };
    onMessage(port, (data) => {
      const reached = link.busy ?? link.client.deref();
      if (reached !== undefined) reached.#receive(data);
    });
    onFailure(port, (reason) => {
      const reached = link.busy ?? link.client.deref();
      if (reached !== undefined) reached.#fail(reason);
    });
    return link;
  }

  /**
   * Becomes a client of a coordinator from a descriptor that `descriptor()` of the coordinator or
   * of a client made (and that was posted here with its port transferred). A descriptor serves
   * one attachment.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `descriptor` is not such a descriptor, or is of another
   * kind or version.
   */
  static attach(descriptor: WorkspaceClientDescriptor): WorkspaceClient {
    return new WorkspaceClient(descriptor);
  }

  /**
   * Describes the coordinator for another thread: a new channel to the coordinator's worker, the
   * lease table and the pool names. Post it with `postMessage(d, descriptorTransferList(d))` and
   * attach there with {@link WorkspaceClient.attach}; call `descriptor()` again for each attachment.
   * Cost: one message channel and one message.
   * @throws MemError USE_AFTER_RELEASE once the client is closed or lost its coordinator.
   */
  descriptor(): WorkspaceClientDescriptor {
    if (this.#gone !== undefined) {
      throw new MemError('USE_AFTER_RELEASE', `the coordinator client is closed: ${this.#gone}`);
    }
    const channel = new MessageChannel();
    const connect: Connect = { op: 'connect', port: channel.port2 };
    this.#port.postMessage(connect, [channel.port2]);
    return clientDescriptor(channel.port1, this.#table.buffer as SharedArrayBuffer, this.pools);
  }

  /** Whether the client was closed (from the moment `close()` is called), or lost its coordinator. Cost: O(1). @throws never */
  get closed(): boolean {
    return this.#gone !== undefined;
  }

  /**
   * Acquires a workspace of `size` bytes from the pool `pool` (the pool's `acquire`, run in the
   * coordinator's worker: it may defragment or expand there).
   * Cost: a message round trip plus the pool's acquire.
   * @throws MemError (as a rejection) NOT_FOUND for an unknown pool; INVALID_ARGUMENT, OVERSIZED,
   * EXHAUSTED, LIMIT_EXCEEDED as `WorkspacePool.acquire` (LIMIT_EXCEEDED also when every lease
   * slot is taken); USE_AFTER_RELEASE once the client is closed.
   */
  async acquire(pool: string, size: number, options: SharedAcquireOptions = {}): Promise<SharedWorkspace> {
    this.#checkPool(pool);
    const label = assertOptions<SharedAcquireOptions>(options, 'options', ['label']).label;
    if (label !== undefined && typeof label !== 'string') throw invalidArgument('label', label, 'a string');
    const answer = checkAcquireAnswer(await this.#request({ op: 'acquire', pool, size, label }));
    for (const segment of answer.segments) this.#learn(segment);
    // An answer that arrives after close() began names a lease the coordinator already took back:
    // the handle is stale from the start.
    return SharedWorkspace.lend(this.#leaseOwner, pool, answer, label);
  }

  /**
   * Defragments the pool `pool` in the coordinator's worker and answers with its real report.
   * Workspaces pinned by any thread stay where they are; the others may move (clients see the
   * new place at their next `pin()`).
   * Cost: a message round trip plus the pool's defragmentation.
   * @throws MemError (as a rejection) NOT_FOUND for an unknown pool; INVALID_ARGUMENT for bad
   * options; PINNED with `throwIfBlocked` when pins kept anything from being reclaimed;
   * USE_AFTER_RELEASE once closed.
   */
  async defragment(pool: string, options: DefragmentOptions = {}): Promise<DefragmentationReport> {
    this.#checkPool(pool);
    const checked = assertOptions<DefragmentOptions>(options, 'options', ['throwIfBlocked']);
    const throwIfBlocked = assertBoolean(checked.throwIfBlocked ?? false, 'options.throwIfBlocked');
    return (await this.#request({ op: 'defragment', pool, throwIfBlocked })) as DefragmentationReport;
  }

  /**
   * The pool's stats, read in the coordinator's worker.
   * Cost: a message round trip.
   * @throws MemError (as a rejection) NOT_FOUND for an unknown pool; USE_AFTER_RELEASE once closed.
   */
  async stats(pool: string): Promise<WorkspacePoolStats> {
    this.#checkPool(pool);
    return (await this.#request({ op: 'stats', pool })) as WorkspacePoolStats;
  }

  /**
   * The pool's memory map, taken in the coordinator's worker (draw it with `renderMemoryMap`).
   * Cost: a message round trip plus O(blocks).
   * @throws MemError (as a rejection) NOT_FOUND for an unknown pool; USE_AFTER_RELEASE once closed.
   */
  async snapshot(pool: string): Promise<MemoryMapSnapshot> {
    this.#checkPool(pool);
    return (await this.#request({ op: 'snapshot', pool })) as MemoryMapSnapshot;
  }

  /**
   * Waits until every release sent so far was answered.
   * Cost: until the coordinator has processed them.
   * @throws the first error a release met since the last flush (for example USE_AFTER_RELEASE when
   * the coordinator went away before it arrived).
   */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#releases]);
    const error = this.#releaseErrors.shift();
    this.#releaseErrors.length = 0;
    if (error !== undefined) throw error;
  }

  /**
   * Disconnects. From the call on, requests fail with USE_AFTER_RELEASE and the handles of this
   * client's workspaces with STALE_HANDLE. The coordinator takes back every workspace not pinned
   * at once; a workspace still pinned here (an `access` in flight, a `pin()` not yet undone) stays
   * lent, its bytes reserved for this thread, until its last pin is dropped; then the port closes
   * and the coordinator takes it back too. Closing twice returns the same promise.
   * Cost: a message round trip.
   * @throws never
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#gone !== undefined) return;
    this.#gone = 'the client was closed';
    try {
      await this.#send({ op: 'disconnect' });
    } catch {
      // The coordinator is gone already: nothing to take back.
    }
    this.#fail('the client was closed');
    this.#disconnected = true;
    if (this.#pinnedLeases === 0) this.#closePort();
  }

  /**
   * `using client = ...` closes the client at scope end, without waiting for the coordinator's answer.
   * Cost: that of {@link WorkspaceClient.close}.
   * @throws never
   */
  [Symbol.dispose](): void {
    void this.close();
  }

  /**
   * `await using client = ...` closes the client at scope end.
   * Cost: that of {@link WorkspaceClient.close}.
   * @throws never
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #checkPool(pool: unknown): void {
    if (typeof pool !== 'string') throw invalidArgument('pool', pool, 'a pool name (string)');
    if (!this.pools.includes(pool)) {
      throw new MemError(
        'NOT_FOUND',
        `no pool named ${JSON.stringify(pool)}; the coordinator runs ${this.pools.join(', ')}`,
      );
    }
  }

  #request(body: DistributiveOmit<Request, 'id'>): Promise<unknown> {
    if (this.#gone !== undefined) {
      return Promise.reject(new MemError('USE_AFTER_RELEASE', `the coordinator client is closed: ${this.#gone}`));
    }
    return this.#send(body);
  }

  /** Sends a request, closed or not (close() sends its disconnect this way). */
  #send(body: DistributiveOmit<Request, 'id'>): Promise<unknown> {
    if (this.#disconnected) {
      return Promise.reject(new MemError('USE_AFTER_RELEASE', `the coordinator client is closed: ${this.#gone}`));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#retain();
      this.#port.postMessage({ ...body, id });
    });
  }

  #sendRelease(slot: number, serial: number): void {
    const sent = this.#request({ op: 'release', slot, serial }).catch((error: Error) => {
      this.#releaseErrors.push(error);
    });
    this.#releases.add(sent);
    void sent.finally(() => this.#releases.delete(sent));
  }

  #countPin(delta: 1 | -1): void {
    this.#pinnedLeases += delta;
    this.#retain();
    // After close(), the last pin dropped lets the coordinator take the last workspaces back.
    if (this.#pinnedLeases === 0 && this.#disconnected) this.#closePort();
  }

  /**
   * Holds the client (from its port's listeners) and its thread's event loop while it waits for
   * answers or pins a lease; lets both go when it does neither.
   */
  #retain(): void {
    const busy = this.#pending.size > 0 || this.#pinnedLeases > 0;
    if (busy === (this.#link.busy !== undefined)) return;
    this.#link.busy = busy ? this : undefined;
    const port = this.#port as Referenced;
    if (busy) port.ref?.();
    else port.unref?.();
  }

  #closePort(): void {
    collected.unregister(this);
    this.#port.close();
  }

  /** Takes an answer or an event from the coordinator; drops anything malformed. Never throws. */
  #receive(data: unknown): void {
    if (!isRecord(data)) return;
    if ('event' in data) {
      this.#onEvent(data);
      return;
    }
    const id = messageId(data);
    const pending = id === undefined ? undefined : this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id!);
    this.#retain();
    if (data.ok === true) pending.resolve(data.value);
    else pending.reject(deserializeError(data.error));
  }

  #onEvent(event: Record<string, unknown>): void {
    if (event.event === 'segments-released' && typeof event.pool === 'string' && Array.isArray(event.indices)) {
      for (const index of event.indices) this.#segments.delete(`${event.pool}:${String(index)}`);
    } else if (event.event === 'log' && isRecord(event.entry)) {
      try {
        this.#logger?.(event.entry as unknown as WorkspaceLogEntry);
      } catch {
        // A failing logger must not break the connection.
      }
    }
  }

  #learn(segment: SegmentInfo): void {
    this.#segments.set(`${segment.pool}:${segment.index}`, BackingMemory.fromDescriptor(segment.memory));
  }

  #memoryOf(pool: string, segment: number): BackingMemory {
    const known = this.#segments.get(`${pool}:${segment}`);
    if (known === undefined) {
      // Cannot happen by construction: a lease only moves into segments older than its own, and
      // every acquire answer carries all segments up to the lease's.
      throw new MemError('NOT_FOUND', `segment ${segment} of ${pool} is unknown to this client`);
    }
    return known;
  }

  #fail(reason: string): void {
    this.#gone ??= reason;
    this.#disconnected = true;
    const error = new MemError('USE_AFTER_RELEASE', `the coordinator is gone: ${reason}`);
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    this.#retain();
  }
}

/**
 * Checks the shape of an acquire answer.
 * @throws MemError INVALID_ARGUMENT if the coordinator's answer is not a lease.
 */
function checkAcquireAnswer(value: unknown): AcquireAnswer {
  const answer = value as Partial<AcquireAnswer> | null;
  const integer = (field: unknown): boolean => typeof field === 'number' && Number.isSafeInteger(field);
  if (
    !isRecord(answer) ||
    !integer(answer.slot) ||
    !integer(answer.serial) ||
    !integer(answer.workspaceId) ||
    !integer(answer.size) ||
    !integer(answer.capacity) ||
    !Array.isArray(answer.segments)
  ) {
    throw new MemError('INVALID_ARGUMENT', `the coordinator answered an acquire with ${describeValue(value)}`);
  }
  return answer as AcquireAnswer;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
