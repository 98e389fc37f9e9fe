/**
 * A worker_threads worker for shared-pool-lifecycle.spec.ts: attaches to the shared pool in
 * `workerData`, holds `hold` buffers and leaves `cached` released buffers in its local cache, posts
 * their byte offsets, optionally closes its instance, and then exits or waits to be terminated.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BufferPool } from './buffer-pool.js';
import type { BufferPoolDescriptor } from './pool-descriptor.js';

/** What the worker is told. */
export interface LifecycleJob {
  readonly pool: BufferPoolDescriptor;
  readonly size: number;
  readonly hold: number;
  readonly cached: number;
  /** Close the instance before waiting (its cache then goes back at once). */
  readonly close: boolean;
  /** Exit normally after answering, instead of waiting to be terminated. */
  readonly exit: boolean;
}

/** What it posts before waiting. */
export interface LifecycleAnswer {
  readonly held: number[];
  readonly cached: number[];
  readonly localFree: number;
}

const job = workerData as LifecycleJob;
const pool = BufferPool.attach(job.pool, { leakDetection: 'off' });
const held = Array.from({ length: job.hold }, () => pool.tryAlloc(job.size));
const released = Array.from({ length: job.cached }, () => pool.tryAlloc(job.size));
const cached = released.map((buffer) => buffer.byteOffset);
for (const buffer of released) buffer.release();
const localFree = pool.stats().classes[pool.config.classIndexOf(job.size)!]!.localFree;
if (job.close) pool.close();
const answer: LifecycleAnswer = { held: held.map((buffer) => buffer.byteOffset), cached, localFree };
parentPort!.postMessage(answer);
// Keep the worker (and what it holds) alive until it is terminated.
if (!job.exit) setInterval(() => held.length, 60_000);
