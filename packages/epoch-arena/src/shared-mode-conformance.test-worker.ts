/**
 * A worker_threads worker for shared-mode-conformance.spec.ts: attaches to the shared arena or pool
 * whose descriptor is its `workerData.descriptor`, reads the handle the main thread allocated,
 * allocates and writes one of its own, closes its attachment, and posts what it saw.
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  SharedArenaPool,
  SharedEpochArena,
  type SharedArenaPoolDescriptor,
  type SharedEpochArenaDescriptor,
} from './index.js';

/** What the worker is given. */
export interface ConformanceTask {
  readonly descriptor: SharedEpochArenaDescriptor | SharedArenaPoolDescriptor;
  /** A handle the main thread allocated, holding [7, 8, 9]. */
  readonly handle: number;
}

/** What the worker posts. */
export interface ConformanceAnswer {
  /** The bytes of the main thread's handle, as read here. */
  readonly read: number[];
  /** A handle allocated here, holding [1, 2, 3]. */
  readonly written: number;
  readonly closed: boolean;
}

const task = workerData as ConformanceTask;
const attachment =
  task.descriptor.kind === 'mem.epoch-arena.shared-epoch-arena'
    ? SharedEpochArena.attach(task.descriptor)
    : SharedArenaPool.attach(task.descriptor as SharedArenaPoolDescriptor, { leakDetection: 'off' });
const read = [...attachment.view(task.handle)];
const written = attachment.allocateCopy(new Uint8Array([1, 2, 3]));
attachment.close();
const answer: ConformanceAnswer = { read, written, closed: attachment.closed };
parentPort!.postMessage(answer);
