import { describe, expect, it } from 'vitest';
import { startWorker } from '@mem/testkit';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { BufferClassStats } from './buffer-pool-stats.js';
import type { IoBuffer } from './io-buffer.js';
import type { WorkerAnswer, WorkerJob } from './shared-pool.test-worker.js';

const page = 4096;
const workerUrl = new URL('./shared-pool.test-worker.ts', import.meta.url);

function sharedPool(config: BufferPoolConfig): BufferPool {
  return BufferPool.createShared(config, { leakDetection: 'off' });
}

function classOf(pool: BufferPool, size: number): BufferClassStats {
  return pool.stats().classes[pool.config.classIndexOf(size)!]!;
}

function job(pool: BufferPool, fields: Partial<WorkerJob> & Pick<WorkerJob, 'scenario'>): WorkerJob {
  return {
    pool: pool.descriptor(),
    id: 1,
    size: page,
    iterations: 0,
    transfers: [],
    flags: new SharedArrayBuffer(8),
    seed: 1,
    workers: 1,
    ...fields,
  };
}

/** Runs a worker to its exit; resolves with its messages (rejects on error or a non-zero exit code). */
function runToExit(data: WorkerJob): Promise<WorkerAnswer[]> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(workerUrl, { workerData: data });
    const messages: WorkerAnswer[] = [];
    worker.on('message', (message: WorkerAnswer) => messages.push(message));
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? resolve(messages) : reject(new Error(`worker exited with ${code}`))));
  });
}

describe('shared pool', () => {
  it('is the same pool in every attached instance: one id, one set of created counts and freelists', () => {
    const pool = sharedPool(BufferPoolConfig.from({ minSize: page, maxSize: page, maxPerClass: 2 }));
    const attached = BufferPool.attach(pool.descriptor(), { leakDetection: 'off' });
    expect(attached.isShared).toBe(true);
    expect(attached.poolId).toBe(pool.poolId);
    const first = pool.tryAlloc(page);
    const firstOffset = first.byteOffset;
    const second = attached.tryAlloc(page);
    expect(classOf(attached, page).created).toBe(2);
    expect(() => attached.tryAlloc(page)).toThrow(/all 2 buffers in use/);
    first.release();
    pool.flush();
    expect(classOf(attached, page).globalFree).toBe(1);
    const third = attached.tryAlloc(page);
    expect(third.byteOffset).toBe(firstOffset);
    second.release();
    third.release();
    attached.close();
    expect(classOf(pool, page).globalFree).toBe(2);
  });

  it('returns an instance local cache to the global freelists when it closes', () => {
    const pool = sharedPool(BufferPoolConfig.from({ minSize: page, maxSize: page, maxPerClass: 8 }));
    const attached = BufferPool.attach(pool.descriptor());
    const buffers = [attached.tryAlloc(page), attached.tryAlloc(page)];
    for (const buffer of buffers) buffer.release();
    expect(classOf(attached, page).localFree).toBe(2);
    attached.close();
    expect(classOf(pool, page)).toMatchObject({ globalFree: 2, localFree: 0 });
    const late = pool.tryAlloc(page);
    const attachedAgain = BufferPool.attach(pool.descriptor());
    const out = attachedAgain.tryAlloc(page);
    attachedAgain.close();
    out.release(); // released after close: back to the global freelist
    late.release();
    expect(classOf(pool, page).globalFree + classOf(pool, page).localFree).toBe(3);
  });

  it('shares memory: bytes written through one instance are read through another', () => {
    const pool = sharedPool(BufferPoolConfig.from({ minSize: page, maxSize: page, maxPerClass: 4 }));
    const attached = BufferPool.attach(pool.descriptor());
    const buffer = pool.tryAlloc(page);
    buffer.write([1, 2, 3]);
    const adopted = attached.adopt(buffer.transfer()) as IoBuffer;
    expect([...adopted.bytes]).toEqual([1, 2, 3]);
    expect(adopted.arrayBuffer).toBeInstanceOf(SharedArrayBuffer);
    adopted.release();
    expect(classOf(attached, page).localFree).toBe(1);
  });

  it('refuses a descriptor that does not come from descriptor()', () => {
    const pool = sharedPool(BufferPoolConfig.from({ minSize: page, maxSize: page, maxPerClass: 4 }));
    const descriptor = pool.descriptor();
    for (const bad of [
      undefined,
      null,
      {},
      { ...descriptor, kind: 'x' },
      { ...descriptor, kind: undefined, type: 'mem.buffer-pool' },
      { ...descriptor, version: 1 },
      { ...descriptor, version: 3 },
      { ...descriptor, config: { ...descriptor.config, maxPerClass: 5 } },
      { ...descriptor, control: new SharedArrayBuffer(8) },
      { ...descriptor, references: new ArrayBuffer(16) },
      { ...descriptor, segments: [] },
      { ...descriptor, freelist: null },
      { ...descriptor, tickets: new SharedArrayBuffer(4) },
    ]) {
      expect(() => BufferPool.attach(bad as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    expect(() => BufferPool.attach(descriptor, { leakDetection: 'loud' } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    BufferPool.attach(descriptor).close();
  });

  it('flushes the local cache of a worker that exits back to the global freelist', async () => {
    const pool = sharedPool(BufferPoolConfig.from({ minSize: page, maxSize: page, maxPerClass: 2, alignment: page }));
    expect(pool.stats().workerCacheCapacity).toBe(1);
    const [seen] = await runToExit(job(pool, { scenario: 'release-and-exit' }));
    expect(seen).toMatchObject({ localFree: 1, globalFree: 0 });
    expect(classOf(pool, page)).toMatchObject({ globalFree: 1, localFree: 0, created: 1 });
    const reused = pool.tryAlloc(page);
    expect(classOf(pool, page).hits.global).toBe(1);
    reused.release();
  });

  it('lets a worker release buffers allocated and frozen in another, into its own cache', async () => {
    const pool = sharedPool(BufferPoolConfig.from({ minSize: page, maxSize: page, maxPerClass: 100, alignment: page }));
    const transfers = Array.from({ length: 50 }, (_, i) => {
      const buffer = pool.tryAlloc(page);
      buffer.write([i]);
      return buffer.freeze().transfer();
    });
    const [seen] = await runToExit(job(pool, { scenario: 'adopt-all', transfers }));
    expect(seen!.data).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // Returns land in the releasing worker's cache (capacity 50), not in the global freelist...
    expect(seen).toMatchObject({ localFree: 50, globalFree: 0 });
    // ...and that worker reuses them locally.
    expect(seen!.hits).toEqual({ local: 50, global: 0, new: 0 });
    // It exited: its cache is back in the global freelist.
    expect(classOf(pool, page)).toMatchObject({ globalFree: 50, created: 50, inUse: 0 });
  });

  it('survives workers allocating, freezing, cloning and releasing at once', async () => {
    const pool = sharedPool(
      BufferPoolConfig.from({ minSize: page, maxSize: page, maxPerClass: 100, alignment: page }).withParallelism(3),
    );
    const answers = await Promise.all(
      [1, 2, 3].map((id) => runToExit(job(pool, { scenario: 'freeze-clone', id, iterations: 1000 }))),
    );
    expect(answers.flat()).toHaveLength(3);
    const stats = classOf(pool, page);
    expect(stats.inUse).toBe(0);
    expect(stats.created).toBeLessThanOrEqual(100);
    pool.tryAlloc(page).release();
  });

  it('keeps buffers returned by a live worker visible when its derived cache is disabled', async () => {
    const pool = sharedPool(
      BufferPoolConfig.from({ minSize: page, maxSize: page, maxPerClass: 2, alignment: page }).withParallelism(8),
    );
    expect(pool.stats().workerCacheCapacity).toBe(0);
    const transfers = [pool.tryAlloc(page).transfer(), pool.tryAlloc(page).transfer()];
    const flags = new SharedArrayBuffer(8);
    const worker = startWorker(workerUrl, {
      workerData: job(pool, { scenario: 'return-then-wait', transfers, flags }),
    });
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const returned = await new Promise<WorkerAnswer>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(returned).toMatchObject({ localFree: 0, globalFree: 2 });
    // The worker is still alive: both buffers must be allocatable here anyway.
    const first = pool.tryAlloc(page);
    const second = pool.tryAlloc(page);
    Atomics.store(new Int32Array(flags), 0, 1);
    Atomics.notify(new Int32Array(flags), 0);
    expect(await exited).toBe(0);
    first.release();
    second.release();
  });

  it('never hands a slot to two workers and loses none, under 2 workers x 100,000 operations', async () => {
    // 3 classes of 16 buffers, 2 workers holding up to 24 each: classes run dry, caches batch (capacity 4).
    const config = BufferPoolConfig.from({ minSize: 64, maxSize: 256, maxPerClass: 16, alignment: 64 }).withParallelism(
      2,
    );
    const pool = sharedPool(config);
    expect(pool.stats().workerCacheCapacity).toBe(4);
    const flags = new SharedArrayBuffer(8);
    const stress = (id: number): WorkerJob =>
      job(pool, { scenario: 'stress', id, size: 64, iterations: 100_000, seed: id * 7919, flags, workers: 2 });
    const answers = (await Promise.all([1, 2].map((id) => runToExit(stress(id))))).flat();
    expect(answers).toHaveLength(2);
    for (const answer of answers) {
      expect(answer.violations).toEqual([]);
      expect(answer.operations).toBe(100_000);
    }
    // Contention was real: classes ran dry and the workers still got through.
    expect(answers.reduce((sum, answer) => sum + answer.exhausted, 0)).toBeGreaterThan(0);
    // Both workers exited (flushing their caches): every created slot is back in a global freelist, once.
    for (const stats of pool.stats().classes) {
      expect(stats.localFree).toBe(0);
      expect(stats.globalFree).toBe(stats.created);
      expect(stats.inUse).toBe(0);
    }
    for (const size of config.classSizes) {
      const all = Array.from({ length: 16 }, () => pool.tryAlloc(size));
      const offsets = new Set(all.map((buffer) => `${buffer.byteOffset}`));
      expect(offsets.size).toBe(16);
      expect(() => pool.tryAlloc(size)).toThrow(expect.objectContaining({ code: 'EXHAUSTED' }));
      for (const buffer of all) buffer.release();
    }
  });
});
