/**
 * Worker side of the targeted race tests: a copier that makes one large copy per attempt when the
 * main thread says go, and an advancer that advances a shared pool until told to stop.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  SharedArenaPool,
  SharedEpochArena,
  type SharedArenaPoolDescriptor,
  type SharedEpochArenaDescriptor,
} from './index.js';

export interface CopyTask {
  readonly role: 'copier';
  readonly arena?: SharedEpochArenaDescriptor;
  readonly pool?: SharedArenaPoolDescriptor;
  readonly size: number;
  readonly attempts: number;
  /** Int32 words, see `WORD_*`. */
  readonly control: SharedArrayBuffer;
  /** The handle of each attempt's copy (Float64, one per attempt). */
  readonly handles: SharedArrayBuffer;
}

export interface AdvanceTask {
  readonly role: 'advancer';
  readonly pool: SharedArenaPoolDescriptor;
  readonly control: SharedArrayBuffer;
}

/** The attempt the copier may start (1-based). */
export const WORD_GO = 0;
/** The attempt whose copy the copier is about to start. */
export const WORD_COPYING = 1;
/** The attempt whose copy is done. */
export const WORD_DONE = 2;
/** Set to 1 to stop the advancer. */
export const WORD_STOP = 3;
/** Advances made. */
export const WORD_ADVANCES = 4;
export const CONTROL_WORDS = 5;
/** The byte every copy is filled with. */
export const COPY_BYTE = 0xc1;

function copy(task: CopyTask): void {
  const words = new Int32Array(task.control);
  const handles = new Float64Array(task.handles);
  const arena = task.arena === undefined ? undefined : SharedEpochArena.attach(task.arena);
  const pool = task.pool === undefined ? undefined : SharedArenaPool.attach(task.pool);
  const local = pool?.local();
  const source = new Uint8Array(task.size).fill(COPY_BYTE);
  for (let attempt = 1; attempt <= task.attempts; attempt += 1) {
    while (Atomics.load(words, WORD_GO) < attempt) Atomics.wait(words, WORD_GO, attempt - 1, 100);
    Atomics.store(words, WORD_COPYING, attempt);
    Atomics.notify(words, WORD_COPYING);
    try {
      handles[attempt] = (arena ?? local!).allocateCopy(source);
    } catch (error) {
      // A claim cut by the reset is made again in the next generation, past the room the reset's
      // side took meanwhile: a 32 MiB copy may then not fit. That is the arena being full, not a
      // fault; the attempt still checks the other side's keys.
      if ((error as { code?: string }).code !== 'EXHAUSTED') throw error;
      handles[attempt] = Number.NaN;
    }
    Atomics.store(words, WORD_DONE, attempt);
    Atomics.notify(words, WORD_DONE);
  }
  arena?.close();
  pool?.close();
}

function advance(task: AdvanceTask): void {
  const words = new Int32Array(task.control);
  const pool = SharedArenaPool.attach(task.pool);
  while (Atomics.load(words, WORD_STOP) === 0) {
    try {
      pool.advanceEpoch();
      Atomics.add(words, WORD_ADVANCES, 1);
    } catch (error) {
      if ((error as { code?: string }).code !== 'PINNED') throw error;
    }
  }
  pool.close();
}

if (!isMainThread) {
  const task = workerData as CopyTask | AdvanceTask;
  if (task.role === 'copier') copy(task);
  else advance(task);
  parentPort!.postMessage('done');
}
