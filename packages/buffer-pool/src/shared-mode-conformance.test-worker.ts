/**
 * A worker_threads worker for shared-mode-conformance.spec.ts: attaches to the shared pool whose
 * descriptor is its `workerData`, allocates, writes and releases a buffer, closes its instance,
 * and posts whether the bytes read back and the instance reads closed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BufferPool } from './buffer-pool.js';
import type { BufferPoolDescriptor } from './pool-descriptor.js';

/** What the worker posts. */
export interface ConformanceAnswer {
  readonly readBack: number;
  readonly closed: boolean;
}

const pool = BufferPool.attach(workerData as BufferPoolDescriptor, { leakDetection: 'off' });
const buffer = pool.alloc(4096);
buffer.write([7, 8, 9]);
const readBack = buffer.bytes[2]!;
buffer.release();
pool.close();
const answer: ConformanceAnswer = { readBack, closed: pool.closed };
parentPort!.postMessage(answer);
