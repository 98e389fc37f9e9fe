import { describe, expect, it } from 'vitest';
import { collectUntil as collectRounds } from '@mem/testkit/collect-garbage';
import { runWorker } from '@mem/testkit';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { BufferLeakReport } from './buffer-pool-options.js';
import type { LeakCallbackAnswer } from './leak-callback.test-worker.js';

const config = BufferPoolConfig.from({ minSize: 1024, maxSize: 1024, maxPerClass: 4 });

/** Collects garbage until `done()` or 20 rounds passed, 10 ms apart (finalizers run as tasks after a GC). */
function collectUntil(done: () => boolean): Promise<void> {
  return collectRounds(done, { attempts: 20, pauseMs: 10 });
}

function leakBuffer(pool: BufferPool): void {
  pool.alloc(1024).write([1]);
}

function leakOneOfTwoViews(pool: BufferPool): void {
  const frozen = pool.alloc(1024).freeze();
  const kept = frozen.clone();
  kept.release();
  // `frozen` leaks with the last reference.
}

function inUse(pool: BufferPool): number {
  return pool.stats().classes[0]!.inUse;
}

describe('leak detection', () => {
  it('reports a buffer collected without release, with its allocation stack in paranoid mode, and recovers its slot', async () => {
    const reports: BufferLeakReport[] = [];
    const pool = new BufferPool(config, { leakDetection: 'paranoid', onLeak: (report) => reports.push(report) });
    leakBuffer(pool);
    expect(inUse(pool)).toBe(1);
    await collectUntil(() => reports.length > 0);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ resource: 'IoBuffer of the 1024-byte class', frozen: false, recovered: true });
    expect(reports[0]!.allocationStack).toContain('leakBuffer');
    expect(inUse(pool)).toBe(0);
    expect(pool.stats().leaks).toBe(1);
    // The recovered slot is served again.
    const again = pool.tryAlloc(1024);
    expect(pool.stats().classes[0]!.hits.local).toBe(1);
    again.release();
  });

  it('recovers the reference of a leaked frozen view, and the slot with the last one', async () => {
    const reports: BufferLeakReport[] = [];
    const pool = new BufferPool(config, { leakDetection: 'paranoid', onLeak: (report) => reports.push(report) });
    leakOneOfTwoViews(pool);
    expect(inUse(pool)).toBe(1);
    await collectUntil(() => reports.length > 0);
    expect(reports.map((report) => report.frozen)).toEqual([true]);
    expect(inUse(pool)).toBe(0);
  });

  it('never reports released buffers', async () => {
    const reports: BufferLeakReport[] = [];
    const pool = new BufferPool(config, { leakDetection: 'paranoid', onLeak: (report) => reports.push(report) });
    for (let i = 0; i < 100; i += 1) pool.alloc(1024).release();
    const frozen = pool.alloc(1024).freeze();
    frozen.slice(0, 0).release();
    frozen.release();
    const moved = pool.alloc(1024).transfer();
    pool.adopt(moved).release();
    await collectUntil(() => false);
    expect(reports).toEqual([]);
    expect(pool.stats().leaks).toBe(0);
  });

  it('samples one allocation in leakSampleInterval, without stacks', async () => {
    const reports: BufferLeakReport[] = [];
    const pool = new BufferPool(config.withMaxPerClass(64), {
      leakDetection: 'sampled',
      leakSampleInterval: 4,
      onLeak: (report) => reports.push(report),
    });
    for (let i = 0; i < 8; i += 1) leakBuffer(pool);
    await collectUntil(() => reports.length >= 2);
    expect(reports).toHaveLength(2);
    expect(reports.every((report) => report.allocationStack === undefined)).toBe(true);
    expect(inUse(pool)).toBe(6);
  });

  it('tracks nothing when off', async () => {
    const reports: BufferLeakReport[] = [];
    const pool = new BufferPool(config, { leakDetection: 'off', onLeak: (report) => reports.push(report) });
    leakBuffer(pool);
    await collectUntil(() => false);
    expect(reports).toEqual([]);
    expect(inUse(pool)).toBe(1);
  });

  it('warns on the console by default', async () => {
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (message: string) => warnings.push(message);
    try {
      const pool = new BufferPool(config, { leakDetection: 'paranoid' });
      leakBuffer(pool);
      await collectUntil(() => warnings.length > 0);
    } finally {
      console.warn = warn;
    }
    expect(warnings[0]).toContain('@mem/buffer-pool LEAK: IoBuffer of the 1024-byte class');
    expect(warnings[0]).toContain('Allocated at:');
  });

  it('recovers every leaked slot before onLeak runs, also when onLeak throws (its errors are uncaught, one per leak)', async () => {
    const answer = await runWorker<LeakCallbackAnswer>(new URL('./leak-callback.test-worker.ts', import.meta.url), {});
    expect(answer.uncaught).toHaveLength(3);
    expect(answer.uncaught[0]).toMatch(/onLeak failed for slot \d/);
    expect(answer).toMatchObject({ inUse: 0, leaks: 3 });
  });
});
