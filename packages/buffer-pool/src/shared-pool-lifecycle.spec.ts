/**
 * The lifecycle of a shared pool instance, as the README promises it: `close()`, garbage
 * collection without `close()`, normal worker exit, and `worker.terminate()`. Whatever way an
 * instance goes, no slot is ever handed to two parties; its local cache comes back on close, exit
 * and collection, and is stranded (never reused) by a terminate without close.
 */
import { describe, expect, it } from 'vitest';
import type { Worker } from 'node:worker_threads';
import { collectUntil } from '@mem/testkit/collect-garbage';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { startWorker } from '@mem/testkit';
import { MemError, RecordingMetricsSink, type MetricsSink } from '@mem/types';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { BufferClassStats } from './buffer-pool-stats.js';
import type { IoBuffer } from './io-buffer.js';
import type { LifecycleAnswer, LifecycleJob } from './shared-pool-lifecycle.test-worker.js';

const page = 4096;
const workerUrl = new URL('./shared-pool-lifecycle.test-worker.ts', import.meta.url);
const config = BufferPoolConfig.from({
  minSize: page,
  maxSize: page,
  maxPerClass: 16,
  alignment: page,
}).withWorkerCacheCapacity(4);

function sharedPool(): BufferPool {
  return BufferPool.createShared(config, { leakDetection: 'off' });
}

function classOf(pool: BufferPool): BufferClassStats {
  return pool.stats().classes[0]!;
}

/** A real sink that counts the collectors registered with it and not yet unregistered. */
class CountingSink implements MetricsSink {
  readonly recording = new RecordingMetricsSink();
  active = 0;
  counter: MetricsSink['counter'] = (...args) => this.recording.counter(...args);
  gauge: MetricsSink['gauge'] = (...args) => this.recording.gauge(...args);
  addCollector(collect: () => void): () => void {
    const remove = this.recording.addCollector(collect);
    this.active += 1;
    return () => {
      this.active -= 1;
      remove();
    };
  }
}

/** Every offset the pool hands out now, until the class runs dry (released again afterwards). */
function drain(pool: BufferPool): number[] {
  const taken: IoBuffer[] = [];
  for (;;) {
    try {
      taken.push(pool.tryAlloc(page));
    } catch (error) {
      if (!MemError.is(error, 'EXHAUSTED')) throw error;
      break;
    }
  }
  const offsets = taken.map((buffer) => buffer.byteOffset);
  for (const buffer of taken) buffer.release();
  expect(new Set(offsets).size).toBe(offsets.length);
  return offsets;
}

/** Attaches `count` instances that each leave `cached` buffers in their cache, and drops them. */
function dropInstances(pool: BufferPool, count: number, cached: number, sink: MetricsSink): void {
  for (let i = 0; i < count; i += 1) {
    const instance = BufferPool.attach(pool.descriptor(), { leakDetection: 'off', metrics: sink });
    const buffers = Array.from({ length: cached }, () => instance.tryAlloc(page));
    for (const buffer of buffers) buffer.release();
  }
}

function startLifecycleWorker(job: LifecycleJob): { worker: Worker; answer: Promise<LifecycleAnswer> } {
  const worker = startWorker(workerUrl, { workerData: job });
  const answer = new Promise<LifecycleAnswer>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { worker, answer };
}

describe('shared pool instance lifecycle', () => {
  it('close() returns the cache, keeps buffers out valid (back to the global freelist on release), refuses allocations', () => {
    const pool = sharedPool();
    const instance = BufferPool.attach(pool.descriptor(), { leakDetection: 'off' });
    const kept = instance.tryAlloc(page);
    kept.write([1, 2, 3]);
    instance.tryAlloc(page).release();
    instance.tryAlloc(page).release(); // the same slot again: one cached
    expect(classOf(instance).localFree).toBe(1);
    instance.close();
    instance.close();
    expect(classOf(pool)).toMatchObject({ globalFree: 1, created: 2 });
    expectMemError(() => instance.alloc(page), 'USE_AFTER_RELEASE');
    expect([...kept.bytes]).toEqual([1, 2, 3]);
    kept.release();
    expect(classOf(pool).globalFree).toBe(2);
    expect(drain(pool)).toHaveLength(16);
  });

  it('an instance dropped without close() is collected: its cache returns and its metrics collector goes', async () => {
    const pool = sharedPool();
    const sink = new CountingSink();
    dropInstances(pool, 6, 2, sink);
    expect(sink.active).toBe(6);
    expect(classOf(pool).globalFree).toBe(0);
    await collectUntil(() => classOf(pool).globalFree === 12 && sink.active === 0, { attempts: 60, pauseMs: 5 });
    expect(classOf(pool).globalFree).toBe(12);
    expect(sink.active).toBe(0);
    expect(drain(pool)).toHaveLength(16);
  });

  it('a private pool dropped without close() unregisters its metrics collector when collected', async () => {
    const sink = new CountingSink();
    (() => {
      const pool = new BufferPool(config, { leakDetection: 'off', metrics: sink });
      pool.alloc(page).release();
    })();
    expect(sink.active).toBe(1);
    await collectUntil(() => sink.active === 0, { attempts: 60, pauseMs: 5 });
    expect(sink.active).toBe(0);
  });

  it('a worker that exits returns its cache; the buffers it still held are never handed out again', async () => {
    const pool = sharedPool();
    const { worker, answer } = startLifecycleWorker({
      pool: pool.descriptor(),
      size: page,
      hold: 3,
      cached: 2,
      close: false,
      exit: true,
    });
    const seen = await answer;
    expect(seen.localFree).toBe(2);
    expect(await new Promise((resolve) => worker.once('exit', resolve))).toBe(0);
    expect(classOf(pool)).toMatchObject({ created: 5, globalFree: 2 });
    const offsets = drain(pool);
    expect(offsets).toHaveLength(13);
    expect(offsets).toEqual(expect.arrayContaining(seen.cached));
    for (const held of seen.held) expect(offsets).not.toContain(held);
  });

  it('worker.terminate() strands the cache and buffers of a worker that did not close: never handed out again', async () => {
    const pool = sharedPool();
    const { worker, answer } = startLifecycleWorker({
      pool: pool.descriptor(),
      size: page,
      hold: 3,
      cached: 2,
      close: false,
      exit: false,
    });
    const seen = await answer;
    await worker.terminate();
    expect(classOf(pool)).toMatchObject({ created: 5, globalFree: 0 });
    const offsets = drain(pool);
    expect(offsets).toHaveLength(11);
    for (const lost of [...seen.held, ...seen.cached]) expect(offsets).not.toContain(lost);
    // The rest of the pool works as before.
    pool.tryAlloc(page).release();
  });

  it('worker.terminate() after close() in the worker: the cache came back, the buffers it held stay out', async () => {
    const pool = sharedPool();
    const { worker, answer } = startLifecycleWorker({
      pool: pool.descriptor(),
      size: page,
      hold: 3,
      cached: 2,
      close: true,
      exit: false,
    });
    const seen = await answer;
    await worker.terminate();
    expect(classOf(pool)).toMatchObject({ created: 5, globalFree: 2 });
    const offsets = drain(pool);
    expect(offsets).toHaveLength(13);
    expect(offsets).toEqual(expect.arrayContaining(seen.cached));
    for (const held of seen.held) expect(offsets).not.toContain(held);
  });
});
