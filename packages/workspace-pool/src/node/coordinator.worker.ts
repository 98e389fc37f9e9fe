/**
 * The Node.js entry of a coordinator's worker: `startWorkspaceCoordinator` starts this file (built
 * as `dist/node/coordinator.worker.js`) in a `worker_threads` worker. Tests start the source file
 * through `@mem/testkit`'s `startWorker` instead.
 *
 * Node.js only.
 * @module
 */
/// <reference types="node" />
import { parentPort } from 'node:worker_threads';
import { serveWorkspaceCoordinator } from '../coordinator/coordinator-host.js';

if (parentPort === null) {
  throw new Error('coordinator.worker.js must run in a worker_threads worker (use startWorkspaceCoordinator)');
}
serveWorkspaceCoordinator(parentPort);
