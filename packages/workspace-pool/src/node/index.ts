/**
 * `@mem/workspace-pool/node`: the Node.js way to start a {@link WorkspaceCoordinator}, with the
 * worker entry this package ships (`dist/node/coordinator.worker.js`).
 *
 * Node.js only.
 * @module \@mem/workspace-pool/node
 */
/// <reference types="node" />
import { Worker } from 'node:worker_threads';
import {
  WorkspaceCoordinator,
  type WorkerLike,
  type WorkspaceCoordinatorOptions,
} from '../coordinator/workspace-coordinator.js';

/**
 * The URL of the coordinator's worker entry in this package's build. Start it yourself (with your
 * own `Worker` options) and pass `() => worker` as `worker` to `WorkspaceCoordinator.createShared`.
 */
export const coordinatorWorkerUrl: URL = new URL('./coordinator.worker.js', import.meta.url);

/** Options of {@link startWorkspaceCoordinator}: those of `WorkspaceCoordinator.createShared`, the worker optional. */
export interface StartWorkspaceCoordinatorOptions extends Omit<WorkspaceCoordinatorOptions, 'worker'> {
  /** Starts the worker. @defaultValue a `worker_threads` Worker of {@link coordinatorWorkerUrl} */
  readonly worker?: () => WorkerLike;
}

/**
 * Starts a coordinator in a `worker_threads` worker running this package's built worker entry.
 * Cost: a worker start plus the pools' initial reservations.
 * @throws MemError (as a rejection) as `WorkspaceCoordinator.createShared`.
 *
 * @example
 * ```ts
 * import { startWorkspaceCoordinator } from '@mem/workspace-pool/node';
 * await using coordinator = await startWorkspaceCoordinator({ pools: { scratch: { initialSize: 1 << 20 } } });
 * const ws = await coordinator.acquire('scratch', 1024);
 * ws.release();
 * ```
 */
export function startWorkspaceCoordinator(options: StartWorkspaceCoordinatorOptions): Promise<WorkspaceCoordinator> {
  return WorkspaceCoordinator.createShared({ worker: () => new Worker(coordinatorWorkerUrl), ...options });
}

export { WorkspaceCoordinator };
