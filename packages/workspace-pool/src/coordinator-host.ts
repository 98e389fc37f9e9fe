/**
 * The worker side of a {@link WorkspaceCoordinator}: it owns the pools (over shared segments) and
 * the lease table, and answers every client's messages in turn. All pool state lives in this one
 * thread (seed 001's rule: workers own state, others send messages); clients only read the lease
 * table and pin through it.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, describeValue } from '@mem/types';
import type { MoveGuard } from './compaction.js';
import {
  onFailure,
  onMessage,
  serializeError,
  type AcquireAnswer,
  type ControlMessage,
  type MessageEndpoint,
  type Reply,
  type Request,
  type SegmentInfo,
} from './coordinator-protocol.js';
import { SLOT_WORDS, beginMove, closeSlot, endMove, openSlot, slotPins } from './lease-table.js';
import { kSetMoveGuard } from './pool-internals.js';
import type { Workspace } from './workspace.js';
import { WorkspaceConfig, type WorkspaceConfigOptions } from './workspace-config.js';
import { WorkspacePool, type WorkspaceLogEntry } from './workspace-pool.js';
import { sharedConfig } from './shared-config.js';

interface Lease {
  readonly pool: HostedPool;
  readonly workspace: Workspace;
  readonly client: Client;
  readonly serial: number;
}

interface HostedPool {
  readonly name: string;
  readonly pool: WorkspacePool;
  /** Workspace id to lease slot, for the move guard. */
  readonly slotOf: Map<number, number>;
}

interface Client {
  readonly port: MessagePort;
  /** `pool:index` of every segment sent to this client. */
  readonly seen: Set<string>;
  /** Slots of this client's leases. */
  readonly leases: Set<number>;
  connected: boolean;
}

class CoordinatorHost {
  readonly #pools = new Map<string, HostedPool>();
  readonly #clients = new Set<Client>();
  readonly #table: Int32Array;
  readonly #leases: (Lease | undefined)[];
  readonly #freeSlots: number[];
  #mainPort: MessagePort | undefined;
  #nextSerial = 1;

  constructor(pools: Readonly<Record<string, WorkspaceConfigOptions>>, maxWorkspaces: number) {
    const buffer = new SharedArrayBuffer(maxWorkspaces * SLOT_WORDS * 4);
    this.#table = new Int32Array(buffer);
    this.#leases = new Array<Lease | undefined>(maxWorkspaces);
    this.#freeSlots = Array.from({ length: maxWorkspaces }, (_, i) => maxWorkspaces - 1 - i);
    for (const [name, options] of Object.entries(pools)) {
      const config = sharedConfig(WorkspaceConfig.from(options));
      const pool = new WorkspacePool(config, { name, logger: (entry) => this.#onLog(entry) });
      const hosted: HostedPool = { name, pool, slotOf: new Map() };
      pool[kSetMoveGuard](this.#guardFor(hosted));
      this.#pools.set(name, hosted);
    }
  }

  get leaseTable(): SharedArrayBuffer {
    return this.#table.buffer as SharedArrayBuffer;
  }

  attach(port: MessagePort, main: boolean): void {
    const client: Client = { port, seen: new Set(), leases: new Set(), connected: true };
    this.#clients.add(client);
    if (main) this.#mainPort = port;
    onMessage(port, (data) => this.#handle(client, data as Request));
    onFailure(port, () => this.#disconnect(client));
  }

  #guardFor(hosted: HostedPool): MoveGuard {
    const table = this.#table;
    return {
      tryBeginMove: (owner) => {
        const slot = hosted.slotOf.get(owner);
        return slot === undefined || beginMove(table, slot);
      },
      endMove: (owner, segment, byteOffset) => {
        const slot = hosted.slotOf.get(owner);
        if (slot !== undefined) endMove(table, slot, segment, byteOffset);
      },
      isPinned: (owner) => {
        const slot = hosted.slotOf.get(owner);
        return slot !== undefined && slotPins(table, slot) > 0;
      },
      pinnedCount: () => {
        let pinned = 0;
        for (const slot of hosted.slotOf.values()) if (slotPins(table, slot) > 0) pinned += 1;
        return pinned;
      },
    };
  }

  #handle(client: Client, request: Request): void {
    let reply: Reply;
    try {
      reply = { id: request.id, ok: true, value: this.#answer(client, request) };
    } catch (error) {
      reply = { id: request.id, ok: false, error: serializeError(error) };
    }
    if (client.connected) client.port.postMessage(reply);
    if (request.op === 'disconnect') this.#disconnect(client);
  }

  #answer(client: Client, request: Request): unknown {
    switch (request.op) {
      case 'acquire':
        return this.#acquire(client, request.pool, request.size, request.label);
      case 'release':
        return this.#release(client, request.slot, request.serial);
      case 'defragment':
        return this.#pool(request.pool).pool.defragment({ throwIfBlocked: request.throwIfBlocked });
      case 'stats':
        return this.#pool(request.pool).pool.stats();
      case 'snapshot':
        return this.#pool(request.pool).pool.snapshot();
      case 'disconnect':
        return null;
      default:
        throw new MemError('INVALID_ARGUMENT', `unknown request ${describeValue((request as { op?: unknown }).op)}`);
    }
  }

  #pool(name: unknown): HostedPool {
    const hosted = typeof name === 'string' ? this.#pools.get(name) : undefined;
    if (hosted === undefined) {
      throw new MemError(
        'NOT_FOUND',
        `no pool named ${describeValue(name)}; the coordinator runs ${[...this.#pools.keys()].join(', ')}`,
      );
    }
    return hosted;
  }

  #acquire(client: Client, poolName: string, size: number, label: string | undefined): AcquireAnswer {
    const hosted = this.#pool(poolName);
    if (this.#freeSlots.length === 0) {
      throw new MemError('LIMIT_EXCEEDED', `all ${this.#leases.length} lease slots are taken (maxWorkspaces)`);
    }
    const workspace = hosted.pool.acquire(size, label === undefined ? undefined : { label });
    const slot = this.#freeSlots.pop()!;
    const serial = this.#nextSerial;
    this.#nextSerial = this.#nextSerial >= 0x7fffffff ? 1 : this.#nextSerial + 1;
    openSlot(this.#table, slot, serial, workspace.segment, workspace.byteOffset);
    hosted.slotOf.set(workspace.id, slot);
    this.#leases[slot] = { pool: hosted, workspace, client, serial };
    client.leases.add(slot);
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
        memory: segment.memory.share(),
      });
    }
    return fresh;
  }

  #release(client: Client, slot: unknown, serial: unknown): null {
    const lease = typeof slot === 'number' ? this.#leases[slot] : undefined;
    if (lease === undefined || lease.serial !== serial) {
      throw new MemError('STALE_HANDLE', `no lease ${describeValue(serial)} in slot ${describeValue(slot)}`);
    }
    if (lease.client !== client) {
      throw new MemError('FOREIGN_HANDLE', `lease ${lease.serial} belongs to another client of the coordinator`);
    }
    const pins = slotPins(this.#table, slot as number);
    if (pins > 0)
      throw new MemError('PINNED', `lease ${lease.serial} is pinned ${pins} time(s): unpin it before release`);
    this.#drop(slot as number, lease);
    return null;
  }

  #drop(slot: number, lease: Lease): void {
    lease.workspace.release();
    lease.pool.slotOf.delete(lease.workspace.id);
    lease.client.leases.delete(slot);
    this.#leases[slot] = undefined;
    closeSlot(this.#table, slot);
    this.#freeSlots.push(slot);
  }

  /** A client went away: its leases go back (pins it still held are dropped with it). */
  #disconnect(client: Client): void {
    if (!client.connected) return;
    client.connected = false;
    this.#clients.delete(client);
    for (const slot of [...client.leases]) {
      const lease = this.#leases[slot]!;
      const base = slot * SLOT_WORDS;
      Atomics.store(this.#table, base, 0); // the client is gone, and its pins with it
      this.#drop(slot, lease);
    }
    client.port.close();
  }

  #onLog(entry: WorkspaceLogEntry): void {
    const released =
      entry.report?.segments.filter((segment) => segment.released).map((segment) => segment.segment) ?? [];
    if (released.length > 0) {
      for (const client of this.#clients) {
        for (const index of released) client.seen.delete(`${entry.pool}:${index}`);
        client.port.postMessage({ event: 'segments-released', pool: entry.pool, indices: released } satisfies Reply);
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
 * // coordinator.worker.ts, started with new Worker(url, { type: 'module' })
 * import { serveWorkspaceCoordinator } from '@mem/workspace-pool';
 * serveWorkspaceCoordinator(self);
 * ```
 */
export function serveWorkspaceCoordinator(endpoint: MessageEndpoint): void {
  if (typeof endpoint !== 'object' || endpoint === null || typeof endpoint.postMessage !== 'function') {
    throw new MemError('INVALID_ARGUMENT', `endpoint must be a message endpoint, got ${describeValue(endpoint)}`);
  }
  let host: CoordinatorHost | undefined;
  onMessage(endpoint, (data) => {
    const message = data as ControlMessage;
    if (message?.kind === 'init' && host === undefined) {
      try {
        host = new CoordinatorHost(message.pools, message.maxWorkspaces);
        host.attach(message.port, true);
        endpoint.postMessage({ kind: 'ready', leaseTable: host.leaseTable });
      } catch (error) {
        endpoint.postMessage({ kind: 'failed', error: serializeError(error) });
      }
    } else if (message?.kind === 'connect' && host !== undefined) {
      host.attach(message.port, false);
    }
  });
}
