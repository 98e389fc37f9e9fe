/**
 * Worker of the `epoch-arena` suite's shared-mode case: attaches to a SharedEpochArena and times
 * rounds of bump allocations of 16-64 bytes. Rounds start together behind a barrier; the last worker
 * to arrive resets the arena (every worker is waiting then, so the reset is quiescent).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SharedEpochArena, type SharedEpochArenaDescriptor } from '@mem/epoch-arena';

/** What the suite sends to each worker. */
export interface SharedBumpTask {
  readonly descriptor: SharedEpochArenaDescriptor;
  readonly workers: number;
  readonly rounds: number;
  readonly perRound: number;
  readonly sizes: Uint8Array;
  /** Int32 words: [arrived, phase]. */
  readonly barrier: SharedArrayBuffer;
}

/** What a worker answers: nanoseconds per allocation of each round. */
export interface SharedBumpResult {
  readonly nsPerOp: number[];
  readonly checksum: number;
}

function barrier(words: Int32Array, workers: number, onLast: () => void): void {
  const phase = Atomics.load(words, 1);
  if (Atomics.add(words, 0, 1) === workers - 1) {
    onLast();
    Atomics.store(words, 0, 0);
    Atomics.add(words, 1, 1);
    Atomics.notify(words, 1);
    return;
  }
  while (Atomics.load(words, 1) === phase) Atomics.wait(words, 1, phase, 20);
}

const task = workerData as SharedBumpTask;
const arena = SharedEpochArena.attach(task.descriptor);
const words = new Int32Array(task.barrier);
const handles = new Float64Array(1024);
const sizes = task.sizes;
const nsPerOp: number[] = [];
let checksum = 0;
let epoch = 0;
for (let round = -1; round < task.rounds; round += 1) {
  barrier(words, task.workers, () => arena.reset((epoch += 1)));
  const started = process.hrtime.bigint();
  for (let i = 0; i < task.perRound; i += 1) handles[i & 1023] = arena.allocate(sizes[i & 4095]!);
  const elapsed = Number(process.hrtime.bigint() - started);
  checksum += handles[0]! % 1024;
  if (round >= 0) nsPerOp.push(elapsed / task.perRound); // round -1 warms up
}
arena.close();
parentPort!.postMessage({ nsPerOp, checksum } satisfies SharedBumpResult);
