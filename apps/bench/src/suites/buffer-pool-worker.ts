/**
 * Worker of the `buffer-pool` suite's shared-mode cases: uses a pool (a private one of its own, or
 * the shared pool in `workerData`, attached here) and times rounds of alloc+release pairs. Rounds
 * start together behind a barrier, so that with 2 workers both run at once.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BufferPool, BufferPoolConfig, type BufferPoolDescriptor, type IoBuffer } from '@mem/buffer-pool';

/** What the suite sends to each worker. */
export interface PairTask {
  /** The shared pool to attach to, or `null` for a private pool of `config`. */
  readonly descriptor: BufferPoolDescriptor | null;
  readonly config: ReturnType<BufferPoolConfig['toJSON']>;
  readonly size: number;
  readonly workers: number;
  readonly rounds: number;
  readonly perRound: number;
  /** Int32 words: [arrived, phase]. */
  readonly barrier: SharedArrayBuffer;
}

/** What a worker answers: nanoseconds per alloc+release pair of each round, and where allocations came from. */
export interface PairResult {
  readonly nsPerOp: number[];
  readonly hits: { readonly local: number; readonly global: number; readonly new: number };
  readonly checksum: number;
}

function barrier(words: Int32Array, workers: number): void {
  const phase = Atomics.load(words, 1);
  if (Atomics.add(words, 0, 1) === workers - 1) {
    Atomics.store(words, 0, 0);
    Atomics.add(words, 1, 1);
    Atomics.notify(words, 1);
    return;
  }
  while (Atomics.load(words, 1) === phase) Atomics.wait(words, 1, phase, 20);
}

const task = workerData as PairTask;
const pool =
  task.descriptor === null ? new BufferPool(BufferPoolConfig.from(task.config)) : BufferPool.attach(task.descriptor);
const words = new Int32Array(task.barrier);
const ring: IoBuffer[] = [];
const size = task.size;
const nsPerOp: number[] = [];
let checksum = 0;

function pairs(count: number): number {
  let sum = 0;
  for (let i = 0; i < count; i += 1) {
    const buffer = pool.alloc(size);
    ring[i & 63] = buffer;
    sum += buffer.capacity;
    buffer.release();
  }
  return sum;
}

for (let round = -3; round < task.rounds; round += 1) {
  barrier(words, task.workers);
  const started = process.hrtime.bigint();
  checksum += pairs(task.perRound);
  const elapsed = Number(process.hrtime.bigint() - started);
  if (round >= 0) nsPerOp.push(elapsed / task.perRound); // the first rounds warm up
}
const hits = pool.stats().classes[pool.config.classIndexOf(size)!]!.hits;
pool.close();
parentPort!.postMessage({ nsPerOp, hits, checksum } satisfies PairResult);
