/**
 * Multi-worker stress of a shared pool, following its concurrency protocol (README): real workers
 * allocate, stamp, verify, freeze, slice, release and transfer buffers to each other through
 * MessagePorts while one of them closes its instance and attaches again, and another is
 * terminated in the middle of its work. No worker may ever see a foreign byte in a buffer it owns
 * or a slot owned by someone else; afterwards every slot is free exactly once, except what the
 * terminated worker held or cached (stranded: never handed to anyone again).
 */
import { describe, expect, it } from 'vitest';
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { startWorker } from '@mem/testkit';
import { seededRandom } from '@mem/testkit/seeded-random';
import { MemError } from '@mem/types';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { IoBuffer } from './io-buffer.js';
import type { StressAnswer, StressJob, StressRound } from './shared-pool-stress.test-worker.js';

const workerUrl = new URL('./shared-pool-stress.test-worker.ts', import.meta.url);
const cacheCapacity = 4;
const config = BufferPoolConfig.from({
  minSize: 64,
  maxSize: 256,
  maxPerClass: 24,
  alignment: 64,
}).withWorkerCacheCapacity(cacheCapacity);
const ids = { closer: 1, steady: 2, victim: 3 } as const;
const members = [ids.closer, ids.steady, ids.victim];
const operations = 16_000;
const seeds = [11, 12, 13];

/** One round's pool, tables and channels (one per pair of workers). */
interface Round {
  readonly seed: number;
  readonly pool: BufferPool;
  readonly owners: SharedArrayBuffer;
  readonly flags: Int32Array;
  readonly jobs: Map<number, StressRound>;
}

function round(seed: number): Round {
  const pool = BufferPool.createShared(config, { leakDetection: 'off' });
  const owners = new SharedArrayBuffer(4 * config.classCount * config.maxPerClass);
  const flags = new SharedArrayBuffer(16);
  const ports = new Map<number, Map<number, MessagePort>>(members.map((id) => [id, new Map()]));
  for (const a of members) {
    for (const b of members) {
      if (a >= b) continue;
      const { port1, port2 } = new MessageChannel();
      ports.get(a)!.set(b, port1);
      ports.get(b)!.set(a, port2);
    }
  }
  const jobs = new Map<number, StressRound>();
  for (const id of members) {
    const peers = members.filter((other) => other !== id);
    jobs.set(id, {
      pool: pool.descriptor(),
      seed,
      operations,
      ports: peers.map((peer) => ports.get(id)!.get(peer)!),
      peers,
      owners,
      flags,
      survivors: members.length - 1,
    });
  }
  return { seed, pool, owners, flags: new Int32Array(flags), jobs };
}

function start(id: number, role: StressJob['role'], rounds: readonly StressRound[]): Worker {
  const job: StressJob = { id, role, rounds };
  return startWorker(workerUrl, { workerData: job, transferList: rounds.flatMap((r) => [...r.ports]) });
}

/** Collects the answers of a worker, one per round, by seed. */
function answersOf(worker: Worker, count: number): Map<number, Promise<StressAnswer>> {
  const waiting = new Map<number, (answer: StressAnswer) => void>();
  const answers = new Map<number, Promise<StressAnswer>>();
  const failures: ((error: Error) => void)[] = [];
  for (const seed of seeds.slice(0, count)) {
    answers.set(
      seed,
      new Promise((resolve, reject) => {
        waiting.set(seed, resolve);
        failures.push(reject);
      }),
    );
  }
  worker.on('message', (answer: StressAnswer) => waiting.get(answer.seed)!(answer));
  worker.once('error', (error) => failures.forEach((fail) => fail(error)));
  // After the last answer, rejecting settled promises does nothing.
  worker.once('exit', (code) => failures.forEach((fail) => fail(new Error(`worker exited with ${code}`))));
  return answers;
}

/** After a round: every slot is free exactly once, or stranded by the victim. */
function expectAccounted(done: Round, survivors: readonly StressAnswer[]): void {
  const { seed, pool } = done;
  for (const answer of survivors) {
    expect(answer.violations, `seed ${seed}, worker ${answer.id}`).toEqual([]);
    expect(answer.operations).toBe(operations);
  }
  expect(survivors.reduce((sum, answer) => sum + answer.received, 0)).toBeGreaterThan(0);
  const table = new Int32Array(done.owners);
  let markedByVictim = 0;
  for (let slot = 0; slot < table.length; slot += 1) {
    expect([0, ids.victim], `slot ${slot}, seed ${seed}`).toContain(table[slot]);
    if (table[slot] === ids.victim) markedByVictim += 1;
  }
  let free = 0;
  for (const size of config.classSizes) {
    const taken: IoBuffer[] = [];
    for (;;) {
      try {
        taken.push(pool.tryAlloc(size));
      } catch (error) {
        if (!MemError.is(error, 'EXHAUSTED')) throw error;
        break;
      }
    }
    const c = config.classIndexOf(size)!;
    for (const buffer of taken) {
      const slot = c * config.maxPerClass + buffer.byteOffset / size;
      expect(table[slot], `free slot ${slot} marked as owned, seed ${seed}`).toBe(0);
    }
    expect(new Set(taken.map((buffer) => buffer.byteOffset)).size).toBe(taken.length);
    free += taken.length;
    for (const buffer of taken) buffer.release();
  }
  // What the victim cached or had in hand (a batch, a new slot, a hand-over), and what was sent
  // to it: stranded, never handed out again.
  const sentToVictim = survivors.reduce((sum, answer) => sum + (answer.sentTo[ids.victim] ?? 0), 0);
  const stranded = config.classCount * config.maxPerClass - free - markedByVictim;
  expect(stranded, `seed ${seed}`).toBeGreaterThanOrEqual(0);
  expect(stranded, `seed ${seed}`).toBeLessThanOrEqual(
    config.classCount * (cacheCapacity + cacheCapacity / 2 + 1) + 2 + sentToVictim,
  );
  pool.close();
}

describe('shared pool under concurrent workers, closes and terminations', () => {
  it(`hands no foreign byte and no slot twice, and loses none but the terminated worker's (seeds ${seeds.join(', ')})`, async () => {
    // Two workers run every round (one closes and attaches again halfway), a third per round is
    // terminated in the middle of its work: about 100,000 operations in all.
    const rounds = seeds.map(round);
    const closer = answersOf(
      start(
        ids.closer,
        'closer',
        rounds.map((r) => r.jobs.get(ids.closer)!),
      ),
      seeds.length,
    );
    const steady = answersOf(
      start(
        ids.steady,
        'steady',
        rounds.map((r) => r.jobs.get(ids.steady)!),
      ),
      seeds.length,
    );
    const victims = rounds.map((r) => start(ids.victim, 'victim', [r.jobs.get(ids.victim)!]));
    for (const [index, r] of rounds.entries()) {
      const victim = victims[index]!;
      let failure: Error | undefined;
      victim.once('error', (error) => (failure = error));
      const target = 2000 + Math.floor(seededRandom(r.seed)() * 6000);
      while (Atomics.load(r.flags, 2) < target && failure === undefined) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      if (failure) throw failure;
      await victim.terminate();
      Atomics.store(r.flags, 3, 1);
      Atomics.notify(r.flags, 3);
      expectAccounted(r, await Promise.all([closer.get(r.seed)!, steady.get(r.seed)!]));
    }
  });
});
