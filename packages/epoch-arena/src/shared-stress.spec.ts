import { beforeAll, describe, expect, it } from 'vitest';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '@mem/testkit';
import { seededRandom } from '@mem/testkit/seeded-random';
import { SharedArenaPool, SharedEpochArena } from './index.js';
import {
  WORD_PROGRESS,
  type StressResult,
  type StressRole,
  type StressRun,
  type StressTask,
} from './shared-stress.test-worker.js';

const WORKER = new URL('./shared-stress.test-worker.ts', import.meta.url);
/**
 * The seeds of every run; `EPOCH_ARENA_STRESS_SEEDS=1,2,3` replaces them (to replay a failure, or
 * to loop the test over fresh seeds).
 */
const SEEDS = process.env['EPOCH_ARENA_STRESS_SEEDS']?.split(',').map(Number) ?? [0x5eed1, 0xa11ce, 0xb0b];
const OPERATIONS = 100_000;
/** Two large copiers, a resetter, and a mixed worker that also closes and re-attaches. */
const ROLES: StressRole[] = ['copier', 'copier', 'resetter', 'mixed'];

/** Resolves with a worker's first message; rejects if it fails or exits first. */
function answer<T>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`a stress worker exited with code ${code} before answering`)));
  });
}

/**
 * Runs every seed in each mode, one after the other, with the same four workers; in the first run
 * of each mode a fifth worker copies until it is terminated, after a seeded number of copies.
 */
async function stress(): Promise<StressResult[]> {
  const runs: StressRun[] = [];
  for (const seed of SEEDS) {
    runs.push({
      mode: 'arena',
      seed,
      descriptor: SharedEpochArena.createShared({ capacity: 32 << 20, chunkSize: 4096 }).descriptor(),
    });
  }
  for (const seed of SEEDS) {
    runs.push({
      mode: 'pool',
      seed,
      descriptor: SharedArenaPool.createShared({
        ringSize: 1,
        spareArenas: 2,
        capacity: 16 << 20,
        chunkSize: 4096,
      }).descriptor(),
    });
  }
  const control = new SharedArrayBuffer(4 * (WORD_PROGRESS + runs.length));
  const words = new Int32Array(control);
  const copiers = ROLES.filter((role) => role === 'copier').length;
  const base = { runs, operations: OPERATIONS, parties: ROLES.length, copiers, control };
  const answers = ROLES.map((role, index) =>
    answer<StressResult[]>(
      startWorker(WORKER, { workerData: { ...base, role, writer: index + 1 } satisfies StressTask }),
    ),
  );
  for (const index of [0, SEEDS.length]) {
    const run = runs[index]!;
    const victim = startWorker(WORKER, {
      workerData: { ...base, role: 'victim', writer: 100 + index, runs: [run], runIndex: index } satisfies StressTask,
    });
    const failed = answer<never>(victim).catch((error: unknown) => error);
    const stopAt = 20 + Math.floor(seededRandom(run.seed)() * 400);
    while (Atomics.load(words, WORD_PROGRESS + index) < stopAt) {
      const early = await Promise.race([failed, new Promise((resolve) => setTimeout(resolve, 2, undefined))]);
      if (early !== undefined) throw new Error(`the victim of ${run.mode} seed ${run.seed} failed: ${String(early)}`);
    }
    await victim.terminate();
  }
  return (await Promise.all(answers)).flat();
}

function expectNoForeignByte(results: StressResult[]): void {
  for (const result of results) {
    const label = `${result.mode} seed ${result.seed}, writer ${result.writer} (${result.role})`;
    expect(result.errors, label).toEqual([]);
    expect(result.foreignSamples, label).toEqual([]);
    expect(result.foreign, label).toBe(0);
    expect(result.invalidWhilePinned, label).toBe(0);
  }
  // The runs did what they are meant to: many checks, resets and large copies racing with them.
  for (const seed of SEEDS) {
    const ofSeed = results.filter((result) => result.seed === seed);
    const sum = (field: 'checked' | 'resets' | 'largeCopies' | 'reopens') =>
      ofSeed.reduce((total, result) => total + result[field], 0);
    expect(sum('checked'), `seed ${seed}`).toBeGreaterThan(10_000);
    expect(sum('resets'), `seed ${seed}`).toBeGreaterThan(100);
    expect(sum('largeCopies'), `seed ${seed}`).toBeGreaterThan(1000);
    expect(sum('reopens'), `seed ${seed}`).toBeGreaterThan(5);
  }
}

describe('shared-mode stress: reset, advance, close and terminate while other workers allocate and copy', () => {
  let results: Promise<StressResult[]>;
  beforeAll(() => {
    results = stress();
    results.catch(() => {}); // reported by the tests that await it
  });

  it('SharedEpochArena: no still-valid allocation ever holds a byte its writer did not write', async () => {
    expectNoForeignByte((await results).filter((result) => result.mode === 'arena'));
  });

  it('ArenaPool shared ring of one: no foreign byte, pinned epochs stay valid, pin() pins the current epoch', async () => {
    expectNoForeignByte((await results).filter((result) => result.mode === 'pool'));
  });
});
