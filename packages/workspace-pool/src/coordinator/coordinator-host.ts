/**
 * The worker side of a {@link WorkspaceCoordinator}: it owns the pools (over shared segments) and
 * the lease table, and answers every client's messages in turn. All pool state lives in this one
 * thread (the worker owns state, others send messages); clients only read the lease table and pin
 * through it (see lease-table.ts for who writes which word, and when).
 *
 * A lease's memory is reused only once no client can reach it: after its holder released it, or
 * after its holder's client closed with the lease unpinned, or once the client's port closed (its
 * thread ended, or its close finished with every pin dropped).
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, assertInteger, assertOptions, describeValue, invalidArgument, type BackingMemory } from '@mem/types';
import type { MoveGuard } from '../compaction.js';
import {
  isPortLike,
  isRecord,
  messageId,
  onFailure,
  onMessage,
  serializeError,
  type AcquireAnswer,
  type ControlReply,
  type MessageEndpoint,
  type Reply,
  type SegmentInfo,
} from './coordinator-protocol.js';
import {
  MAX_SERIAL,
  MAX_WORKSPACES,
  SLOT_WORDS,
  beginMove,
  endMove,
  forceCloseSlot,
  openSlot,
  slotPinned,
  tryCloseSlot,
} from './lease-table.js';
import { kSetMoveGuard } from '../pool-internals.js';
import type { Workspace } from '../workspace.js';
import { WorkspaceConfig, type WorkspaceConfigOptions } from '../workspace-config.js';
import { WorkspacePool } from '../workspace-pool.js';
import type { WorkspaceLogEntry } from '../workspace-pool-options.js';
import { sharedConfig } from './shared-config.js';

interface Lease {
  readonly pool: HostedPool;
  readonly workspace: Workspace;
  readonly client: Client;
  readonly slot: number;
  readonly serial: number;
}

interface HostedPool {
  readonly name: string;
  readonly pool: WorkspacePool;
  /** Workspace id to lease, for the move guard. */
  readonly leaseOf: Map<number, Lease>;
}

interface Client {
  readonly port: MessagePort;
  /** `pool:index` of every segment sent to this client. */
  readonly seen: Set<string>;
  readonly leases: Set<Lease>;
  /**
   * `open`; `closing` once it asked to disconnect (leases it still pins stay lent until its port
   * closes); `gone` once its port closed (everything taken back).
   */
  state: 'open' | 'closing' | 'gone';
}

class CoordinatorHost {
  readonly #pools = new Map<string, HostedPool>();
  readonly #clients = new Set<Client>();
  readonly #table: Int32Array;
  readonly #leases: (Lease | undefined)[];
  readonly #freeSlots: number[];
  #mainPort: MessagePort | undefined;
  #nextSerial = 1;

  constructor(poolsValue: unknown, maxWorkspacesValue: unknown) {
    if (poolsValue === undefined) throw invalidArgument('pools', poolsValue, 'an object');
    const pools = assertOptions<Record<string, unknown>>(poolsValue, 'pools');
    const maxWorkspaces = assertInteger(maxWorkspacesValue, 'maxWorkspaces', { min: 1, max: MAX_WORKSPACES });
    const buffer = new SharedArrayBuffer(maxWorkspaces * SLOT_WORDS * 4);
    this.#table = new Int32Array(buffer);
    this.#leases = new Array<Lease | undefined>(maxWorkspaces);
    this.#freeSlots = Array.from({ length: maxWorkspaces }, (_, i) => maxWorkspaces - 1 - i);
    for (const [name, options] of Object.entries(pools)) {
      const config = sharedConfig(WorkspaceConfig.from(options as WorkspaceConfigOptions));
      const pool = new WorkspacePool(config, { name, logger: (entry) => this.#onLog(entry) });
      const hosted: HostedPool = { name, pool, leaseOf: new Map() };
      pool[kSetMoveGuard](this.#guardFor(hosted));
      this.#pools.set(name, hosted);
    }
  }

  get leaseTable(): SharedArrayBuffer {
    return this.#table.buffer as SharedArrayBuffer;
  }

  attach(port: MessagePort, main: boolean): void {
    const client: Client = { port, seen: new Set(), leases: new Set(), state: 'open' };
    this.#clients.add(client);
    if (main) this.#mainPort = port;
    onMessage(port, (data) => this.#handle(client, data));
    onFailure(port, () => this.#forget(client));
  }

  #guardFor(hosted: HostedPool): MoveGuard {
    const table = this.#table;
    return {
      tryBeginMove: (owner) => {
        const lease = hosted.leaseOf.get(owner);
        return lease === undefined || beginMove(table, lease.slot, lease.serial);
      },
      endMove: (owner, segment, byteOffset) => {
        const lease = hosted.leaseOf.get(owner);
        if (lease !== undefined) endMove(table, lease.slot, lease.serial, segment, byteOffset);
      },
      isPinned: (owner) => {
        const lease = hosted.leaseOf.get(owner);
        return lease !== undefined && slotPinned(table, lease.slot);
      },
      pinnedCount: () => {
        let pinned = 0;
        for (const lease of hosted.leaseOf.values()) if (slotPinned(table, lease.slot)) pinned += 1;
        return pinned;
      },
    };
  }

  /** Answers a request with a usable id; drops anything else. Never throws. */
  #handle(client: Client, data: unknown): void {
    if (!isRecord(data)) return;
    if (data.op === 'connect' && !('id' in data)) {
      this.#connect(client, data.port);
      return;
    }
    const id = messageId(data);
    if (id === undefined) return;
    let reply: Reply;
    try {
      reply = { id, ok: true, value: this.#answer(client, data) };
    } catch (error) {
      reply = { id, ok: false, error: serializeError(error) };
    }
    try {
      client.port.postMessage(reply);
    } catch {
      // The port is closing: the client is going away and will not read the answer.
    }
  }

  #answer(client: Client, request: Record<string, unknown>): unknown {
    if (client.state !== 'open') {
      throw new MemError('USE_AFTER_RELEASE', 'this client closed its connection to the coordinator');
    }
    switch (request.op) {
      case 'acquire':
        return this.#acquire(client, request.pool, request.size, request.label);
      case 'release':
        return this.#release(client, request.slot, request.serial);
      case 'defragment':
        return this.#pool(request.pool).pool.defragment({ throwIfBlocked: request.throwIfBlocked as boolean });
      case 'stats':
        return this.#pool(request.pool).pool.stats();
      case 'snapshot':
        return this.#pool(request.pool).pool.snapshot();
      case 'disconnect':
        this.#disconnect(client);
        return null;
      default:
        throw new MemError('INVALID_ARGUMENT', `unknown request ${describeValue(request.op)}`);
    }
  }

  /**
   * A client handed over the port of a new client (its `descriptor()`): serve it, unless the
   * client is closing (then the port closes, and its holder's requests fail at once).
   */
  #connect(client: Client, port: unknown): void {
    if (!isPortLike(port)) return;
    if (client.state === 'open') this.attach(port, false);
    else port.close();
  }

  #pool(name: unknown): HostedPool {
    if (typeof name !== 'string') {
      throw invalidArgument('pool', name, 'a pool name (string)');
    }
    const hosted = this.#pools.get(name);
    if (hosted === undefined) {
      throw new MemError(
        'NOT_FOUND',
        `no pool named ${JSON.stringify(name)}; the coordinator runs ${[...this.#pools.keys()].join(', ')}`,
      );
    }
    return hosted;
  }

  #acquire(client: Client, poolName: unknown, size: unknown, label: unknown): AcquireAnswer {
    const hosted = this.#pool(poolName);
    if (label !== undefined && typeof label !== 'string') throw invalidArgument('label', label, 'a string');
    if (this.#freeSlots.length === 0) {
      throw new MemError('LIMIT_EXCEEDED', `all ${this.#leases.length} lease slots are taken (maxWorkspaces)`);
    }
    const workspace = hosted.pool.acquire(size as number, label === undefined ? undefined : { label });
    const slot = this.#freeSlots.pop()!;
    const serial = this.#nextSerial;
    this.#nextSerial = serial === MAX_SERIAL ? 1 : serial + 1;
    openSlot(this.#table, slot, serial, workspace.segment, workspace.byteOffset);
    const lease: Lease = { pool: hosted, workspace, client, slot, serial };
    hosted.leaseOf.set(workspace.id, lease);
    this.#leases[slot] = lease;
    client.leases.add(lease);
    return {
      slot,
      serial,
      workspaceId: workspace.id,
      size: workspace.size,
      capacity: workspace.capacity,
      segments: this.#unseenSegments(client, hosted, workspace.segment),
    };
  }

  /** Every live segment of the pool up to `upTo` that the client has not been sent. */
  #unseenSegments(client: Client, hosted: HostedPool, upTo: number): SegmentInfo[] {
    const fresh: SegmentInfo[] = [];
    for (let index = 0; index <= upTo; index += 1) {
      const key = `${hosted.name}:${index}`;
      if (client.seen.has(key)) continue;
      const segment = hosted.pool.segmentMemory(index);
      if (segment === undefined) continue;
      client.seen.add(key);
      fresh.push({
        pool: hosted.name,
        index,
        base: segment.base,
        byteLength: segment.byteLength,
        // A coordinator's pools are made from a configuration, so their memory is never device memory.
        memory: (segment.memory as BackingMemory).share(),
      });
    }
    return fresh;
  }

  #release(client: Client, slot: unknown, serial: unknown): null {
    if (
      typeof slot !== 'number' ||
      !Number.isInteger(slot) ||
      typeof serial !== 'number' ||
      !Number.isInteger(serial)
    ) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `a release names a lease by integer slot and serial, got ${describeValue(slot)} and ${describeValue(serial)}`,
      );
    }
    const lease = slot >= 0 && slot < this.#leases.length ? this.#leases[slot] : undefined;
    if (lease === undefined || lease.serial !== serial) {
      throw new MemError('STALE_HANDLE', `no lease ${serial} in slot ${slot}: it was taken back already`);
    }
    if (lease.client !== client) {
      throw new MemError('FOREIGN_HANDLE', `lease ${serial} belongs to another client of the coordinator`);
    }
    if (!tryCloseSlot(this.#table, slot, serial)) {
      throw new MemError('PINNED', `lease ${serial} is pinned: unpin it before release`);
    }
    this.#reclaim(lease);
    return null;
  }

  /** Gives a lease's workspace back to its pool; its slot is already free. */
  #reclaim(lease: Lease): void {
    lease.pool.leaseOf.delete(lease.workspace.id);
    lease.client.leases.delete(lease);
    this.#leases[lease.slot] = undefined;
    this.#freeSlots.push(lease.slot);
    lease.workspace.release();
  }

  /**
   * The client asked to disconnect: every lease it does not pin goes back now; the ones it pins
   * stay lent (their bytes untouched) until its port closes, which it does once its last pin drops.
   */
  #disconnect(client: Client): void {
    client.state = 'closing';
    for (const lease of [...client.leases]) {
      if (tryCloseSlot(this.#table, lease.slot, lease.serial)) this.#reclaim(lease);
    }
  }

  /** The client's port closed (its thread ended, or its close finished): everything goes back. */
  #forget(client: Client): void {
    if (client.state === 'gone') return;
    client.state = 'gone';
    this.#clients.delete(client);
    for (const lease of [...client.leases]) {
      forceCloseSlot(this.#table, lease.slot);
      this.#reclaim(lease);
    }
    client.port.close();
  }

  #onLog(entry: WorkspaceLogEntry): void {
    const released =
      entry.report?.segments.filter((segment) => segment.released).map((segment) => segment.segment) ?? [];
    if (released.length > 0) {
      for (const client of this.#clients) {
        for (const index of released) client.seen.delete(`${entry.pool}:${index}`);
        if (client.state === 'open') {
          client.port.postMessage({ event: 'segments-released', pool: entry.pool, indices: released } satisfies Reply);
        }
      }
    }
    this.#mainPort?.postMessage({ event: 'log', entry } satisfies Reply);
  }
}

/**
 * Runs a coordinator in this worker: call it from the worker's entry module with the endpoint
 * that talks to the thread that started the worker (Node: `parentPort`; a web worker: `self`).
 * `@mem/workspace-pool/node` ships such an entry for Node; in a browser, a worker module of two
 * lines does it (see the README).
 * Cost: O(1) until the coordinator's `init` message arrives; then the pools' initial reservations.
 * @throws MemError INVALID_ARGUMENT if `endpoint` cannot receive messages.
 *
 * @example
 * ```ts
 * // coordinator.worker.ts, started with new Worker(url, { type: 'module' }).
 * import { serveWorkspaceCoordinator, type MessageEndpoint } from '@mem/workspace-pool';
 * // In a dedicated worker `self` is the worker's scope (DedicatedWorkerGlobalScope with the
 * // "webworker" lib), which receives and posts messages; this example compiles with the DOM lib,
 * // where `self` is a Window, so it declares what the worker's `self` is.
 * declare const self: MessageEndpoint;
 * serveWorkspaceCoordinator(self);
 * ```
 */
export function serveWorkspaceCoordinator(endpoint: MessageEndpoint): void {
  if (typeof endpoint !== 'object' || endpoint === null || typeof endpoint.postMessage !== 'function') {
    throw invalidArgument('endpoint', endpoint, 'a message endpoint');
  }
  let host: CoordinatorHost | undefined;
  onMessage(endpoint, (data) => {
    // Control messages come from the thread that started the worker; anything malformed is dropped.
    if (!isRecord(data)) return;
    if (data.kind === 'init' && host === undefined) {
      try {
        if (!isPortLike(data.port)) {
          throw invalidArgument('init.port', data.port, 'a MessagePort');
        }
        const created = new CoordinatorHost(data.pools, data.maxWorkspaces);
        created.attach(data.port, true);
        host = created;
        endpoint.postMessage({ kind: 'ready', leaseTable: created.leaseTable } satisfies ControlReply);
      } catch (error) {
        endpoint.postMessage({ kind: 'failed', error: serializeError(error) } satisfies ControlReply);
      }
    }
  });
}
