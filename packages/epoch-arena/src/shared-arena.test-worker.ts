/**
 * Worker side of the shared-memory tests: attaches to a shared arena or pool from its descriptor
 * and allocates, writes, pins and reads there.
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  SharedArenaPool,
  SharedEpochArena,
  type SharedArenaPoolDescriptor,
  type SharedEpochArenaDescriptor,
} from './index.js';

export interface AllocateTask {
  readonly mode: 'arena' | 'pool';
  readonly descriptor: SharedEpochArenaDescriptor | SharedArenaPoolDescriptor;
  /** Written into every byte this worker gets (1 to 255). */
  readonly id: number;
  readonly count: number;
  /** Int32 words: [arrived at start, finished]. */
  readonly barrier: SharedArrayBuffer;
  readonly workers: number;
  /** A handle made by the main thread, and its bytes, to read here. */
  readonly mainHandle: number;
  readonly mainBytes: number[];
  /** In pool mode, the allocation index at which worker 1 advances the epoch. */
  readonly advanceAt?: number;
}

export interface AllocateResult {
  readonly handles: Float64Array;
  readonly intactAfterAll: boolean;
  readonly mainHandleReadable: boolean;
  readonly epochs: number[];
}

export interface PinTask {
  readonly mode: 'pin';
  readonly descriptor: SharedArenaPoolDescriptor;
  /** Int32 words: [phase]. The worker sets 1 once pinned and waits for 2. */
  readonly flag: SharedArrayBuffer;
  readonly handle: number;
  readonly bytes: number[];
}

export interface PinResult {
  readonly pinnedEpoch: number;
  readonly readWhilePinned: boolean;
  readonly validAfterRelease: boolean;
}

function waitForAll(words: Int32Array, index: number, workers: number): void {
  Atomics.add(words, index, 1);
  for (;;) {
    const arrived = Atomics.load(words, index);
    if (arrived >= workers) return;
    Atomics.wait(words, index, arrived, 5);
  }
}

/** A small deterministic generator, so each worker's sizes differ but runs repeat. */
function random(seed: number): () => number {
  let state = seed * 0x9e3779b1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function allocateMany(task: AllocateTask): AllocateResult {
  const words = new Int32Array(task.barrier);
  const pool = task.mode === 'pool' ? SharedArenaPool.attach(task.descriptor as SharedArenaPoolDescriptor) : undefined;
  const arena = pool === undefined ? SharedEpochArena.attach(task.descriptor as SharedEpochArenaDescriptor) : undefined;
  const local = pool?.local();
  const reader = (pool ?? arena)!;
  const next = random(task.id);
  const handles = new Float64Array(task.count);
  const epochs = new Set<number>();
  const source = new Uint8Array(3000).fill(task.id);
  waitForAll(words, 0, task.workers);
  for (let i = 0; i < task.count; i += 1) {
    if (pool !== undefined && task.id === 1 && i === task.advanceAt) pool.advanceEpoch();
    const roll = next();
    const size =
      roll < 0.7
        ? 1 + Math.floor(next() * 64)
        : roll < 0.9
          ? 65 + Math.floor(next() * 446)
          : 511 + Math.floor(next() * 2500);
    const kind = next();
    const allocator = local ?? arena!;
    let handle: number;
    if (kind < 0.2 && size <= 256) {
      handle = allocator.allocateKey(source.subarray(0, size));
    } else if (kind < 0.4) {
      handle = allocator.allocateCopy(source.subarray(0, size));
    } else if (kind < 0.5) {
      handle = allocator.allocate(size, 2 ** Math.floor(next() * 8));
      reader.fill(handle, task.id);
    } else {
      handle = allocator.allocate(size);
      reader.fill(handle, task.id);
    }
    handles[i] = handle;
    if (pool !== undefined) epochs.add(pool.epochOf(handle));
  }
  waitForAll(words, 1, task.workers);
  let intactAfterAll = true;
  for (const handle of handles) {
    if (!reader.view(handle).every((byte) => byte === task.id)) intactAfterAll = false;
  }
  const mainView = reader.view(task.mainHandle);
  const mainHandleReadable =
    mainView.length === task.mainBytes.length && mainView.every((byte, i) => byte === task.mainBytes[i]);
  if (pool !== undefined) pool.close();
  else arena!.close();
  return { handles, intactAfterAll, mainHandleReadable, epochs: [...epochs] };
}

function pinAndRead(task: PinTask): PinResult {
  const pool = SharedArenaPool.attach(task.descriptor);
  const flag = new Int32Array(task.flag);
  const guard = pool.pin();
  const pinnedEpoch = guard.epoch;
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  while (Atomics.load(flag, 0) !== 2) Atomics.wait(flag, 0, 1, 10);
  const view = pool.view(task.handle);
  const readWhilePinned = view.length === task.bytes.length && view.every((byte, i) => byte === task.bytes[i]);
  guard.release();
  const validAfterRelease = pool.isValid(task.handle);
  pool.close();
  return { pinnedEpoch, readWhilePinned, validAfterRelease };
}

const task = workerData as AllocateTask | PinTask;
if (task.mode === 'pin') {
  parentPort!.postMessage(pinAndRead(task));
} else {
  const result = allocateMany(task);
  parentPort!.postMessage(result, [result.handles.buffer as ArrayBuffer]);
}
