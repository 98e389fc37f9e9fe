import { describe, expect, it } from 'vitest';
import { runWorker, runWorkers } from '@mem/testkit';
import { SharedArenaPool, SharedEpochArena, type Arena, type ArenaRouter } from './index.js';
import type { AllocateResult, AllocateTask, PinResult, PinTask } from './shared-arena.test-worker.js';

const WORKER = new URL('./shared-arena.test-worker.ts', import.meta.url);
const WORKERS = 4;
const PER_WORKER = 10_000;

/** Checks that no two allocations (headers of long ones included) share a byte, and every byte is its owner's id. */
function checkOwnership(reader: Arena | ArenaRouter, results: AllocateResult[]): void {
  const ranges: Array<{ start: number; end: number; buffer: ArrayBufferLike; owner: number }> = [];
  results.forEach((result, index) => {
    for (const handle of result.handles) {
      const view = reader.view(handle);
      const header = view.length >= 511 ? 8 : 0;
      ranges.push({
        start: view.byteOffset - header,
        end: view.byteOffset + view.length,
        buffer: view.buffer,
        owner: index + 1,
      });
      for (const byte of view) if (byte !== index + 1) throw new Error(`a byte of worker ${index + 1} reads ${byte}`);
    }
  });
  const byBuffer = new Map<ArrayBufferLike, typeof ranges>();
  for (const range of ranges) {
    const list = byBuffer.get(range.buffer);
    if (list === undefined) byBuffer.set(range.buffer, [range]);
    else list.push(range);
  }
  for (const list of byBuffer.values()) {
    list.sort((a, b) => a.start - b.start || a.end - b.end);
    for (let i = 1; i < list.length; i += 1) {
      if (list[i]!.start < list[i - 1]!.end) {
        throw new Error(
          `ranges overlap: [${list[i - 1]!.start}, ${list[i - 1]!.end}) and [${list[i]!.start}, ${list[i]!.end})`,
        );
      }
    }
  }
}

describe.each([
  { chunkSize: 1024, name: 'small per-worker chunks' },
  { chunkSize: 0, name: 'an Atomics bump per allocation' },
])('4 workers x 10,000 allocations in one SharedEpochArena with $name', ({ chunkSize }) => {
  it('makes exactly 40,000 allocations, none overlapping, every byte intact, every handle readable everywhere', async () => {
    const arena = SharedEpochArena.createShared({ capacity: 32 << 20, chunkSize });
    const mainBytes = [3, 1, 4, 1, 5, 9, 2, 6];
    const mainHandle = arena.allocateCopy(new Uint8Array(mainBytes));
    const barrier = new SharedArrayBuffer(8);
    const tasks: AllocateTask[] = Array.from({ length: WORKERS }, (_, index) => ({
      mode: 'arena',
      descriptor: arena.descriptor(),
      id: index + 1,
      count: PER_WORKER,
      barrier,
      workers: WORKERS,
      mainHandle,
      mainBytes,
    }));
    const results = await runWorkers<AllocateResult>(WORKER, tasks);
    const handles = results.flatMap((result) => [...result.handles]);
    expect(handles.length).toBe(WORKERS * PER_WORKER);
    expect(new Set(handles).size).toBe(WORKERS * PER_WORKER);
    for (const result of results) {
      expect(result.intactAfterAll).toBe(true);
      expect(result.mainHandleReadable).toBe(true);
    }
    checkOwnership(arena, results);
    const stats = arena.stats();
    expect(stats.allocationCount).toBe(WORKERS * PER_WORKER + 1);
    expect(stats.attachments).toBe(1);
    expect([...arena.view(mainHandle)]).toEqual(mainBytes);
  });
});

describe('SharedArenaPool shared by 4 workers', () => {
  it('counts every allocation of every worker, with one advance made by a worker midway', async () => {
    const pool = SharedArenaPool.createShared({ ringSize: 4, capacity: 32 << 20, chunkSize: 4096 });
    const mainBytes = [8, 8];
    const mainHandle = pool.allocateCopy(new Uint8Array(mainBytes));
    const barrier = new SharedArrayBuffer(8);
    const tasks: AllocateTask[] = Array.from({ length: WORKERS }, (_, index) => ({
      mode: 'pool',
      descriptor: pool.descriptor(),
      id: index + 1,
      count: PER_WORKER,
      barrier,
      workers: WORKERS,
      mainHandle,
      mainBytes,
      advanceAt: PER_WORKER / 2,
    }));
    const results = await runWorkers<AllocateResult>(WORKER, tasks);
    expect(pool.currentEpoch).toBe(1);
    const stats = pool.stats();
    const total = stats.arenas.reduce((sum, arena) => sum + arena.arena.allocationCount, 0);
    expect(total).toBe(WORKERS * PER_WORKER + 1);
    expect(results.find((_, index) => index === 0)!.epochs).toContain(1);
    for (const result of results) {
      expect(result.intactAfterAll).toBe(true);
      expect(result.mainHandleReadable).toBe(true);
      for (const handle of result.handles) expect([0, 1]).toContain(pool.epochOf(handle));
    }
    checkOwnership(pool, results);
  });
});

describe('SharedArenaPool guards across workers', () => {
  it("keeps a worker's pinned epoch alive across the main thread's advances, and reclaims it at release", async () => {
    const pool = SharedArenaPool.createShared({ ringSize: 2, capacity: 1 << 20, spareArenas: 1 });
    const bytes = [1, 2, 3, 4];
    const handle = pool.allocateCopy(new Uint8Array(bytes));
    const flag = new SharedArrayBuffer(4);
    const words = new Int32Array(flag);
    const task: PinTask = { mode: 'pin', descriptor: pool.descriptor(), flag, handle, bytes };
    const done = runWorker<PinResult>(WORKER, task);
    while (Atomics.load(words, 0) !== 1) await new Promise((resolve) => setTimeout(resolve, 2));
    pool.advanceEpoch();
    pool.advanceEpoch(); // would reuse epoch 0's arena: pinned by the worker
    // New allocations of epoch 2 go to the spare: epoch 0's bytes stay as they were.
    for (let i = 0; i < 100; i += 1) pool.allocateCopy(new Uint8Array(4).fill(99));
    expect(pool.stats()).toMatchObject({ deferredArenas: 1, pinnedEpochs: [0], activeGuards: 1 });
    Atomics.store(words, 0, 2);
    Atomics.notify(words, 0);
    const result = await done;
    expect(result).toEqual({ pinnedEpoch: 0, readWhilePinned: true, validAfterRelease: false });
    expect(pool.isValid(handle)).toBe(false);
    expect(pool.stats()).toMatchObject({ deferredArenas: 0, reclaimedAfterDeferral: 1, activeGuards: 0 });
  });
});
