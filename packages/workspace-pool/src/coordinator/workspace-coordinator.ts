/**
 * The coordinator: one or more workspace pools run inside a worker thread, over
 * `SharedArrayBuffer` segments, and serve clients in any thread by message (the worker owns all
 * pool state; nobody else touches it).
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, assertFunction, assertInteger, assertOptions, invalidArgument } from '@mem/types';
import {
  deserializeError,
  onFailure,
  onMessage,
  type ControlMessage,
  type ControlReply,
  type MessageEndpoint,
} from './coordinator-protocol.js';
import { MAX_WORKSPACES } from './lease-table.js';
import { clientDescriptor, type WorkspaceClientDescriptor } from './client-descriptor.js';
import { WorkspaceClient } from './workspace-client.js';
import { WorkspaceConfig, type WorkspaceConfigOptions } from '../workspace-config.js';
import type { WorkspaceLogger } from '../workspace-pool-options.js';
import { sharedConfig } from './shared-config.js';

/** A worker as the coordinator needs it: Node's `Worker` and the web's `Worker` both fit. */
export interface WorkerLike extends MessageEndpoint {
  /** Stops the worker. */
  terminate(): unknown;
}

/** Options of {@link WorkspaceCoordinator.createShared}. */
export interface WorkspaceCoordinatorOptions {
  /**
   * Starts the worker that runs the coordinator: a module whose code calls
   * `serveWorkspaceCoordinator` (in Node, `@mem/workspace-pool/node` passes its built
   * `coordinator.worker.js`; tests pass `@mem/testkit`'s `startWorker` of the source file).
   */
  readonly worker: () => WorkerLike;
  /**
   * The pools, by name: a configuration each (a preset, or options). Their memory is made shared:
   * `array-buffer` becomes `shared-array-buffer`, `wasm-memory` becomes `shared-wasm-memory`.
   */
  readonly pools: Readonly<Record<string, WorkspaceConfig | WorkspaceConfigOptions>>;
  /** How many workspaces may be lent at once, over all pools (slots of the lease table). @defaultValue 65536 */
  readonly maxWorkspaces?: number;
  /** Receives every log entry of every pool (defragmentations, expansions), in this thread. @defaultValue none */
  readonly logger?: WorkspaceLogger;
  /** How long to wait for the worker to be ready, in milliseconds. @defaultValue 30000 */
  readonly startTimeoutMs?: number;
}

/**
 * Runs workspace pools in a worker thread and lends their workspaces to any thread. The
 * coordinator is itself the client of the thread that created it; `descriptor()` (its own, or
 * any client's) describes it for other threads, which attach with `WorkspaceClient.attach`.
 *
 * **Shared mode.** This is the shared-mode contract of `@mem/types`: `createShared` creates (it
 * is asynchronous, because it starts a worker and waits for its pools), `descriptor()` describes,
 * `WorkspaceClient.attach` attaches, `close()` ends. The state lives in the coordinator's worker,
 * so closing the coordinator ends every client.
 *
 * How clients learn that a workspace moved: they do not need to be told. Every lease has a slot in
 * a shared lease table that holds its serial, its current segment and offset, and whether it is
 * pinned; a client reaches the bytes only through `pin()` (or `access()`), which reads the slot
 * after a compare-and-swap that the worker's compaction respects: a pinned workspace is never
 * moved, and a pin taken during a move waits for the copy to finish. Every change to a slot names
 * the lease's serial, so a handle whose lease was taken back can never touch the slot's next
 * lease. The package README's "Concurrency protocol" section says who writes where, and when
 * memory is reused.
 *
 * Close it when done: its worker keeps running (and keeps the process alive) until `close()`. A
 * coordinator dropped without `close()` is collected like any client (its own workspaces go
 * back), while its worker goes on serving the other clients.
 *
 * @example
 * ```ts
 * import { startWorkspaceCoordinator } from '@mem/workspace-pool/node';
 * await using coordinator = await startWorkspaceCoordinator({ pools: { activations: { initialSize: 1 << 20 } } });
 * const ws = await coordinator.acquire('activations', 4096);
 * ws.access((bytes) => bytes.fill(1));
 * ws.release();
 * const report = await coordinator.defragment('activations');
 * ```
 */
export class WorkspaceCoordinator extends WorkspaceClient {
  readonly #worker: WorkerLike;
  #closed = false;

  private constructor(worker: WorkerLike, descriptor: WorkspaceClientDescriptor, logger: WorkspaceLogger | undefined) {
    super(descriptor, logger);
    this.#worker = worker;
  }

  /**
   * Creates the coordinator: starts the worker, creates the pools there (their initial
   * reservations included) and resolves once they are ready. The calling thread's client is the
   * coordinator itself.
   * Cost: a worker start plus the pools' reservations.
   * @throws MemError (as a rejection) INVALID_ARGUMENT for bad options or a bad pool configuration; EXHAUSTED if the worker cannot reserve the memory; USE_AFTER_RELEASE if
   * the worker fails or does not answer within `startTimeoutMs` (it is then terminated).
   */
  static async createShared(options: WorkspaceCoordinatorOptions): Promise<WorkspaceCoordinator> {
    const { pools, names, maxWorkspaces, timeout } = checkOptions(options);
    const worker = options.worker();
    if (
      typeof worker !== 'object' ||
      worker === null ||
      typeof worker.postMessage !== 'function' ||
      typeof worker.terminate !== 'function'
    ) {
      throw invalidArgument('options.worker()', worker, 'a Worker');
    }
    const channel = new MessageChannel();
    let leaseTable: SharedArrayBuffer;
    try {
      leaseTable = await new Promise<SharedArrayBuffer>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new MemError('USE_AFTER_RELEASE', `the coordinator worker did not start within ${timeout} ms`)),
          timeout,
        );
        onMessage(worker, (data) => {
          const reply = data as ControlReply;
          if (reply?.kind === 'ready') {
            clearTimeout(timer);
            resolve(reply.leaseTable);
          } else if (reply?.kind === 'failed') {
            clearTimeout(timer);
            reject(deserializeError(reply.error));
          }
        });
        onFailure(worker, (reason) => {
          clearTimeout(timer);
          reject(new MemError('USE_AFTER_RELEASE', reason));
        });
        const init: ControlMessage = { kind: 'init', pools, maxWorkspaces, port: channel.port2 };
        worker.postMessage(init, [channel.port2]);
      });
    } catch (error) {
      channel.port1.close();
      await worker.terminate();
      throw error;
    }
    return new WorkspaceCoordinator(worker, clientDescriptor(channel.port1, leaseTable, names), options.logger);
  }

  /**
   * Stops the coordinator: this client disconnects, the worker terminates, every other client loses
   * its connection (their requests fail with USE_AFTER_RELEASE, their workspaces' handles with
   * STALE_HANDLE) and the pools' memory goes with the worker (shared segments live on while some
   * thread still holds a view, and nothing reuses them). Closing twice does nothing.
   * Cost: a message round trip and the worker's termination.
   * @throws never
   */
  override async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await super.close();
    await this.#worker.terminate();
  }
}

const OPTION_NAMES = ['worker', 'pools', 'maxWorkspaces', 'logger', 'startTimeoutMs'] as const;

function checkOptions(value: WorkspaceCoordinatorOptions): {
  pools: Record<string, WorkspaceConfigOptions>;
  names: string[];
  maxWorkspaces: number;
  timeout: number;
} {
  const options = assertOptions<WorkspaceCoordinatorOptions>(value, 'options', OPTION_NAMES);
  if (value === undefined) throw invalidArgument('options', value, 'an object');
  assertFunction(options.worker, 'options.worker');
  if (options.logger !== undefined) assertFunction(options.logger, 'options.logger');
  const configured = assertOptions<Record<string, WorkspaceConfig | WorkspaceConfigOptions>>(
    options.pools,
    'options.pools',
  );
  if (options.pools === undefined || Object.keys(configured).length === 0) {
    throw invalidArgument('options.pools', options.pools, 'an object naming at least one pool');
  }
  const pools: Record<string, WorkspaceConfigOptions> = {};
  for (const [name, configuration] of Object.entries(configured)) {
    if (name.length === 0) throw invalidArgument('a pool name', name, 'a non-empty string');
    pools[name] = sharedConfig(WorkspaceConfig.from(configuration!)).toJSON();
  }
  const maxWorkspaces = assertInteger(options.maxWorkspaces ?? 65536, 'options.maxWorkspaces', {
    min: 1,
    max: MAX_WORKSPACES,
  });
  const timeout = assertInteger(options.startTimeoutMs ?? 30_000, 'options.startTimeoutMs', {
    min: 1,
    max: 0x7fffffff,
  });
  return { pools, names: Object.keys(pools), maxWorkspaces, timeout };
}
