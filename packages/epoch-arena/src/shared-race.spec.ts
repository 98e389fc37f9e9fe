import { describe, expect, it } from 'vitest';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '@mem/testkit';
import { SharedArenaPool, SharedEpochArena, type ArenaHandle, type EpochGuard } from './index.js';
import {
  CONTROL_WORDS,
  COPY_BYTE,
  WORD_ADVANCES,
  WORD_COPYING,
  WORD_DONE,
  WORD_GO,
  WORD_STOP,
  type AdvanceTask,
  type CopyTask,
} from './shared-race.test-worker.js';

const WORKER = new URL('./shared-race.test-worker.ts', import.meta.url);
/** The copy the other worker makes, and the room left before the keys allocated after the reset. */
const COPY = 32 << 20;
const SPACER = 24 << 20;
const ATTEMPTS = 12;
const HITS_WANTED = 3;

/** What the main thread does to the shared arena or pool. */
interface Side {
  /** Starts a fresh generation, so that the other worker's copy is its first claim. */
  fresh(): void;
  /** The reset (or advance) that races with the copy. */
  churn(): void;
  allocate(size: number): ArenaHandle;
  allocateCopy(bytes: Uint8Array): ArenaHandle;
  view(handle: ArenaHandle): Uint8Array;
  isValid(handle: ArenaHandle): boolean;
}

function exited(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', () => resolve());
  });
}

/** Blocks this thread until `words[index]` reaches `value` (the other side notifies). */
function waitFor(words: Int32Array, index: number, value: number): void {
  for (let round = 0; Atomics.load(words, index) < value; round += 1) {
    if (round > 200) throw new Error(`the other worker did not reach step ${value}`);
    Atomics.wait(words, index, Atomics.load(words, index), 50);
  }
}

/**
 * A copy that straddles a reset, made to happen on purpose: another worker copies 32 MiB while this thread
 * resets (or advances) and allocates 64-byte keys 24 MiB into the next generation, where the copy
 * has not arrived yet. Attempts where the copy was claimed before the reset (its handle is stale
 * afterwards) are hits; in each, every key must still hold its own bytes.
 */
async function raceCopyAgainstReset(side: Side, target: Pick<CopyTask, 'arena' | 'pool'>) {
  const control = new SharedArrayBuffer(4 * CONTROL_WORDS);
  const words = new Int32Array(control);
  const idle = new Int32Array(new SharedArrayBuffer(4));
  const handles = new SharedArrayBuffer(8 * (ATTEMPTS + 1));
  const task: CopyTask = { role: 'copier', ...target, size: COPY, attempts: ATTEMPTS, control, handles };
  const worker = startWorker(WORKER, { workerData: task });
  const done = exited(worker);
  let hits = 0;
  const corrupted: string[] = [];
  try {
    for (let attempt = 1; attempt <= ATTEMPTS && hits < HITS_WANTED; attempt += 1) {
      side.fresh();
      Atomics.store(words, WORD_GO, attempt);
      Atomics.notify(words, WORD_GO);
      waitFor(words, WORD_COPYING, attempt);
      Atomics.wait(idle, 0, 0, 0.3); // the copy claims its range, then takes milliseconds
      side.churn();
      side.allocate(SPACER);
      const keys: ArenaHandle[] = [];
      for (let i = 0; i < 64; i += 1) keys.push(side.allocateCopy(new Uint8Array(64).fill(i)));
      waitFor(words, WORD_DONE, attempt);
      if (side.isValid(new Float64Array(handles)[attempt]!)) continue; // claimed after the reset
      hits += 1;
      keys.forEach((key, i) => {
        const bytes = side.view(key);
        const foreign = bytes.findIndex((byte) => byte !== i);
        if (foreign >= 0) corrupted.push(`attempt ${attempt}: key ${i} byte ${foreign} holds ${bytes[foreign]}`);
      });
    }
  } finally {
    await worker.terminate();
    await done;
  }
  return { hits, corrupted, copyByte: COPY_BYTE };
}

describe('a write begun before a reset never lands after it', () => {
  it('SharedEpochArena.allocateCopy of 32 MiB in one worker, reset and small keys in another: every key keeps its bytes', async () => {
    const arena = SharedEpochArena.createShared({ capacity: 64 << 20, chunkSize: 4096 });
    let epoch = 0;
    const { hits, corrupted } = await raceCopyAgainstReset(
      {
        fresh: () => arena.reset((epoch += 1)),
        churn: () => arena.reset((epoch += 1)),
        allocate: (size) => arena.allocate(size),
        allocateCopy: (bytes) => arena.allocateCopy(bytes),
        view: (handle) => arena.view(handle),
        isValid: (handle) => arena.isValid(handle),
      },
      { arena: arena.descriptor() },
    );
    expect(hits, 'attempts where the copy was claimed before the reset').toBeGreaterThan(0);
    expect(corrupted).toEqual([]);
  });

  it('SharedArenaPool.createShared({ ringSize: 1 }): a copy through LocalArena, advanceEpoch and small keys elsewhere: every key keeps its bytes', async () => {
    const pool = SharedArenaPool.createShared({ ringSize: 1, capacity: 64 << 20, chunkSize: 4096 });
    const { hits, corrupted } = await raceCopyAgainstReset(
      {
        fresh: () => pool.advanceEpoch(),
        churn: () => pool.advanceEpoch(),
        allocate: (size) => pool.allocate(size),
        allocateCopy: (bytes) => pool.allocateCopy(bytes),
        view: (handle) => pool.view(handle),
        isValid: (handle) => pool.isValid(handle),
      },
      { pool: pool.descriptor() },
    );
    expect(hits, 'attempts where the copy was claimed before the advance').toBeGreaterThan(0);
    expect(corrupted).toEqual([]);
  });
});

describe('ArenaPool guards while another worker advances a ring of one', () => {
  async function withAdvancer(pool: SharedArenaPool, body: () => void): Promise<number> {
    const control = new SharedArrayBuffer(4 * CONTROL_WORDS);
    const words = new Int32Array(control);
    const task: AdvanceTask = { role: 'advancer', pool: pool.descriptor(), control };
    const worker = startWorker(WORKER, { workerData: task });
    const done = exited(worker);
    try {
      waitFor(words, WORD_ADVANCES, 1);
      body();
    } finally {
      Atomics.store(words, WORD_STOP, 1);
      await done;
    }
    return Atomics.load(words, WORD_ADVANCES);
  }

  it('isEpochValid(e) answers true on every call while a guard on e is held', async () => {
    const pool = SharedArenaPool.createShared({ ringSize: 1, spareArenas: 1, capacity: 1 << 16, leakDetection: 'off' });
    let falseAnswers = 0;
    let calls = 0;
    const advances = await withAdvancer(pool, () => {
      for (let round = 0; round < 2000; round += 1) {
        let guard: EpochGuard;
        try {
          guard = pool.pin();
        } catch {
          continue; // pin() itself is checked below
        }
        for (let i = 0; i < 20; i += 1, calls += 1) if (!pool.isEpochValid(guard.epoch)) falseAnswers += 1;
        guard.release();
      }
    });
    expect(advances).toBeGreaterThan(100);
    expect(calls).toBeGreaterThan(30_000);
    expect(falseAnswers).toBe(0);
  });

  it('pin() without an argument pins the current epoch and never throws STALE_HANDLE', async () => {
    const pool = SharedArenaPool.createShared({ ringSize: 1, spareArenas: 1, capacity: 1 << 16, leakDetection: 'off' });
    const failures: string[] = [];
    const advances = await withAdvancer(pool, () => {
      for (let round = 0; round < 20_000; round += 1) {
        try {
          pool.pin().release();
        } catch (error) {
          failures.push(String(error));
        }
      }
    });
    expect(advances).toBeGreaterThan(100);
    expect(failures.slice(0, 3)).toEqual([]);
  });
});
