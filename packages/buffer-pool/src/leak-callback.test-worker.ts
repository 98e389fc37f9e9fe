/**
 * A worker_threads worker for leak-detection.spec.ts: leaks buffers of a pool whose onLeak throws,
 * and reports, once the leaks were handled, what the pool and the worker's uncaught-exception
 * handler saw. (In a worker, so that the uncaught errors do not reach the test runner.)
 */
import { parentPort } from 'node:worker_threads';
import { collectUntil } from '@mem/testkit/collect-garbage';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';

/** What the worker reports. */
export interface LeakCallbackAnswer {
  readonly uncaught: string[];
  readonly inUse: number;
  readonly leaks: number;
}

const uncaught: string[] = [];
process.on('uncaughtException', (error) => uncaught.push(error.message));
const pool = new BufferPool(BufferPoolConfig.from({ minSize: 1024, maxSize: 1024, maxPerClass: 4 }), {
  leakDetection: 'paranoid',
  onLeak: (report) => {
    throw new Error(`onLeak failed for slot ${report.slot}`);
  },
});
(() => {
  for (let i = 0; i < 3; i += 1) pool.alloc(1024).write([i]);
})();
await collectUntil(() => uncaught.length >= 3, { attempts: 100, pauseMs: 5 });
const answer: LeakCallbackAnswer = { uncaught, inUse: pool.stats().classes[0]!.inUse, leaks: pool.stats().leaks };
parentPort!.postMessage(answer);
