import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '@mem/testkit';
import { collectUntil } from '@mem/testkit/collect-garbage';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { SharedArenaPool, SharedEpochArena, decodeHandle } from './index.js';
import type { LifecycleReport, LifecycleTask } from './shared-lifecycle.test-worker.js';

const WORKER = new URL('./shared-lifecycle.test-worker.ts', import.meta.url);
const CHUNK = 4096;

/** Starts a lifecycle worker and resolves with its report and the worker. */
function start(task: LifecycleTask): Promise<{ report: LifecycleReport; worker: Worker; exited: Promise<number> }> {
  const worker = startWorker(WORKER, { workerData: task });
  const exited = new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', resolve);
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (report: LifecycleReport) => resolve({ report, worker, exited }));
    worker.once('error', reject);
  });
}

/** The byte offset of a fresh allocation of `arena` made right after a reset. */
function firstOffsetAfterReset(arena: SharedEpochArena, epoch: number): number {
  arena.reset(epoch);
  return decodeHandle(arena.allocate(8))!.address * 8;
}

/** Attaches in its own frame, takes a chunk, and drops the instance without closing. */
function attachAndDrop(arena: SharedEpochArena): number {
  const attached = SharedEpochArena.attach(arena.descriptor());
  return decodeHandle(attached.allocate(8))!.address * 8;
}

/** Attaches a pool object in its own frame, pins the current epoch, and drops both. */
function pinAndDrop(pool: SharedArenaPool): void {
  SharedArenaPool.attach(pool.descriptor(), { leakDetection: 'off' }).pin();
}

describe('SharedEpochArena lifecycle: close, garbage collection, worker exit, terminate()', () => {
  it('close frees the slot and the chunk; the stale instance never touches the next owner of its slot', () => {
    const arena = SharedEpochArena.createShared({ capacity: 1 << 20, chunkSize: CHUNK, maxAttachments: 2 });
    const first = SharedEpochArena.attach(arena.descriptor());
    expect(decodeHandle(first.allocate(8))!.address).toBe(0); // its chunk starts the region
    first.close();
    const next = SharedEpochArena.attach(arena.descriptor()); // takes the freed slot
    next.allocate(16);
    first.close(); // a second close does nothing, to the slot's new owner either
    expect(arena.stats()).toMatchObject({ attachments: 2, allocationCount: 2, bytesAllocated: 24 });
    expectMemError(() => first.allocate(8), 'USE_AFTER_RELEASE');
    next.close();
    expect(firstOffsetAfterReset(arena, 1)).toBe(0); // no chunk held back
  });

  it('an instance dropped without close gives its slot and chunk back once it is garbage-collected', async () => {
    const arena = SharedEpochArena.createShared({ capacity: 1 << 20, chunkSize: CHUNK });
    expect(attachAndDrop(arena)).toBe(0);
    await collectUntil(() => arena.stats().attachments === 1);
    expect(arena.stats().attachments).toBe(1);
    expect(firstOffsetAfterReset(arena, 1)).toBe(0);
  });

  it('a worker that ends without closing gives its slot and chunk back at its exit', async () => {
    const arena = SharedEpochArena.createShared({ capacity: 1 << 20, chunkSize: CHUNK });
    const { report, exited } = await start({ arena: arena.descriptor(), ending: 'exit' });
    expect(report.offset).toBe(0);
    expect(await exited).toBe(0);
    expect(arena.stats().attachments).toBe(1);
    expect(firstOffsetAfterReset(arena, 1)).toBe(0);
  });

  it('a terminated worker keeps its slot, and its chunk stays out of every later generation', async () => {
    const arena = SharedEpochArena.createShared({ capacity: 1 << 20, chunkSize: CHUNK });
    const { report, worker } = await start({ arena: arena.descriptor(), ending: 'block' });
    expect(report.offset).toBe(0);
    await worker.terminate();
    expect(arena.stats().attachments).toBe(2);
    for (let epoch = 1; epoch <= 3; epoch += 1)
      expect(firstOffsetAfterReset(arena, epoch)).toBeGreaterThanOrEqual(CHUNK);
    const other = SharedEpochArena.attach(arena.descriptor());
    const handle = other.allocateCopy(new Uint8Array([1, 2, 3]));
    expect([...arena.view(handle)]).toEqual([1, 2, 3]);
  });
});

describe('SharedArenaPool lifecycle: close, garbage collection, worker exit, terminate()', () => {
  it('close frees the slots of every arena and refuses later calls with USE_AFTER_RELEASE', () => {
    const pool = SharedArenaPool.createShared({ ringSize: 2, capacity: 1 << 16 });
    const attached = SharedArenaPool.attach(pool.descriptor());
    const local = attached.local();
    const handle = pool.allocate(8);
    attached.close();
    attached.close();
    expect(pool.stats().arenas.map(({ arena }) => (arena as { attachments?: number }).attachments)).toEqual([1, 1, 1]);
    for (const call of [
      () => attached.advanceEpoch(),
      () => attached.pin(),
      () => attached.stats(),
      () => attached.descriptor(),
      () => attached.currentArena(),
      () => attached.local(),
      () => attached.view(handle),
      () => local.allocate(8),
    ]) {
      expectMemError(call, 'USE_AFTER_RELEASE');
    }
    expect(attached.isValid(handle)).toBe(false);
    expect(pool.lengthOf(handle)).toBe(8);
  });

  it('a pool object dropped with a guard still held gives the pin and its slots back once collected', async () => {
    const pool = SharedArenaPool.createShared({ ringSize: 1, capacity: 1 << 16 });
    const handle = pool.allocate(8);
    pinAndDrop(pool);
    pool.advanceEpoch(); // epoch 0 is pinned: deferred
    expect(pool.stats()).toMatchObject({ activeGuards: 1, deferredArenas: 1 });
    await collectUntil(() => pool.stats().activeGuards === 0);
    expect(pool.stats().activeGuards).toBe(0);
    expect(pool.stats().arenas.every(({ arena }) => (arena as { attachments?: number }).attachments === 1)).toBe(true);
    pool.advanceEpoch(); // sweeps the deferred arena that nobody pins any more
    expect(pool.stats()).toMatchObject({ deferredArenas: 0, reclaimedAfterDeferral: 1 });
    expect(pool.isValid(handle)).toBe(false);
  });

  it('a worker that ends with a guard held and without closing drops its pin and slots at its exit', async () => {
    const pool = SharedArenaPool.createShared({ ringSize: 1, capacity: 1 << 16 });
    const { report, exited } = await start({ pool: pool.descriptor(), ending: 'exit' });
    expect(report.pinned).toBe(0);
    expect(await exited).toBe(0);
    expect(pool.stats().activeGuards).toBe(0);
    expect(pool.stats().arenas.every(({ arena }) => (arena as { attachments?: number }).attachments === 1)).toBe(true);
    pool.advanceEpoch();
    expect(pool.stats().deferredArenas).toBe(0);
  });

  it('a terminated worker keeps its pin for good: its epoch stays deferred', async () => {
    const pool = SharedArenaPool.createShared({ ringSize: 1, spareArenas: 1, capacity: 1 << 16 });
    const { report, worker } = await start({ pool: pool.descriptor(), ending: 'block' });
    expect(report.pinned).toBe(0);
    await worker.terminate();
    pool.advanceEpoch();
    expect(pool.stats()).toMatchObject({ activeGuards: 1, pinnedEpochs: [0], deferredArenas: 1 });
    pool.advanceEpoch(); // the spare is in the ring now and nobody pins epoch 1
    expect(pool.isEpochValid(0)).toBe(true);
  });
});

describe('onGuardLeak that throws', () => {
  it('surfaces as an uncaught error of its worker, and the leaked pin is gone', async () => {
    const pool = SharedArenaPool.createShared({ ringSize: 1, capacity: 1 << 16 });
    const handle = pool.allocate(8);
    const worker = startWorker(WORKER, {
      workerData: { pool: pool.descriptor(), ending: 'leak' } satisfies LifecycleTask,
    });
    const failed = new Promise<Error>((resolve) => worker.once('error', resolve));
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    expect(await failed).toMatchObject({ message: 'onGuardLeak failed' });
    await exited;
    expect(pool.stats().activeGuards).toBe(0);
    pool.advanceEpoch();
    expect(pool.isValid(handle)).toBe(false);
  });
});

describe('running out of memory', () => {
  /**
   * Run in a child process whose address space holds one region of 1 GiB at most: the first call
   * may succeed (kept), the next cannot, and reports its error code.
   */
  const script = `
    const { SharedArenaPool, SharedEpochArena } = await import('@mem/epoch-arena');
    const kept = [];
    const codeOf = (make) => {
      for (let attempt = 0; attempt < 4; attempt += 1) {
        try { kept.push(make()); } catch (error) { return error.code ?? String(error); }
      }
      return 'no error';
    };
    console.log(JSON.stringify({
      'SharedEpochArena.createShared': codeOf(() => SharedEpochArena.createShared({ capacity: 2 ** 30 })),
      'SharedArenaPool.createShared': codeOf(() => SharedArenaPool.createShared({ capacity: 2 ** 30, ringSize: 1, spareArenas: 0 })),
    }));`;

  it.skipIf(process.platform === 'win32')(
    'SharedEpochArena.createShared and SharedArenaPool.createShared throw EXHAUSTED when the runtime cannot allocate the region',
    () => {
      const node = `"${process.execPath}" --jitless --conditions=@mem/source --import tsx --input-type=module`;
      const child = spawnSync('bash', ['-c', `ulimit -v 1800000; exec ${node} -e "$SCRIPT"`], {
        encoding: 'utf8',
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        env: { ...process.env, SCRIPT: script },
      });
      expect(child.stdout, child.stderr).not.toBe('');
      expect(JSON.parse(child.stdout)).toEqual({
        'SharedEpochArena.createShared': 'EXHAUSTED',
        'SharedArenaPool.createShared': 'EXHAUSTED',
      });
    },
  );
});
