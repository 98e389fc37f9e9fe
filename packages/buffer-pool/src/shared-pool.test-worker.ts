/**
 * A worker_threads worker for shared-pool.spec.ts: attaches to the shared pool in `workerData` and
 * runs one scenario, posting what it saw.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MemError } from '@mem/types';
import { BufferPool } from './buffer-pool.js';
import type { BufferTransfer } from './buffer-transfer.js';
import type { FrozenBuffer } from './frozen-buffer.js';
import type { IoBuffer } from './io-buffer.js';
import { seededRandom } from '@mem/testkit/seeded-random';

/** What every scenario gets. */
export interface WorkerJob {
  readonly scenario: 'release-and-exit' | 'adopt-all' | 'freeze-clone' | 'return-then-wait' | 'stress';
  readonly pool: ReturnType<BufferPool['descriptor']>;
  readonly id: number;
  readonly size: number;
  readonly iterations: number;
  readonly transfers: readonly BufferTransfer[];
  /**
   * Int32 flags: [0] is set by the main thread to let a waiting worker finish; [1] counts stress
   * workers at the start line (they start together once it reaches `workers`).
   */
  readonly flags: SharedArrayBuffer;
  /** How many stress workers start together. */
  readonly workers: number;
  readonly seed: number;
}

/** What a scenario posts back. */
export interface WorkerAnswer {
  readonly id: number;
  readonly localFree: number;
  readonly globalFree: number;
  readonly hits: { local: number; global: number; new: number };
  readonly data: number[];
  readonly violations: string[];
  readonly operations: number;
  readonly exhausted: number;
}

const job = workerData as WorkerJob;
const pool = BufferPool.attach(job.pool, { leakDetection: 'off' });
const classIndex = pool.config.classIndexOf(job.size)!;

function answer(data: number[] = [], violations: string[] = [], operations = 0, exhausted = 0): WorkerAnswer {
  const stats = pool.stats().classes[classIndex]!;
  return {
    id: job.id,
    localFree: stats.localFree,
    globalFree: stats.globalFree,
    hits: stats.hits,
    data,
    violations,
    operations,
    exhausted,
  };
}

/**
 * The stress loop: hold up to 24 buffers of random classes, mark each one owned (a compare-exchange
 * of the worker's id into its first word, expecting 0) and fill its first bytes with the id, check
 * both before giving it back; mix in zeroed allocations, freezes with clones and slices, fallbacks
 * and flushes.
 */
function stress(): WorkerAnswer {
  const next = seededRandom(job.seed);
  const sizes = pool.config.classSizes;
  const violations: string[] = [];
  const held: { buffer: IoBuffer | FrozenBuffer[]; word: Int32Array | undefined; fill: number }[] = [];
  let exhausted = 0;
  const mark = (buffer: IoBuffer): Int32Array | undefined => {
    if (!buffer.isPooled) return undefined;
    const word = new Int32Array(buffer.arrayBuffer, buffer.byteOffset, 1);
    const previous = Atomics.compareExchange(word, 0, 0, job.id);
    if (previous !== 0) violations.push(`slot at ${buffer.byteOffset} of ${buffer.capacity} was owned by ${previous}`);
    return word;
  };
  const check = (bytes: Uint8Array, word: Int32Array | undefined, fill: number): void => {
    if (word === undefined) return;
    const owner = Atomics.load(word, 0);
    if (owner !== job.id) violations.push(`slot at ${word.byteOffset} changed owner to ${owner}`);
    for (let i = 4; i < bytes.length; i += 1) {
      if (bytes[i] !== fill) {
        violations.push(`slot at ${word.byteOffset} byte ${i} is ${bytes[i]}, not ${fill}`);
        break;
      }
    }
  };
  const unmark = (word: Int32Array | undefined): void => {
    if (word !== undefined) Atomics.compareExchange(word, 0, job.id, 0);
  };
  // Start together, so that the workers really contend for the same freelists.
  const flags = new Int32Array(job.flags);
  Atomics.add(flags, 1, 1);
  Atomics.notify(flags, 1);
  for (let arrived = Atomics.load(flags, 1); arrived < job.workers; arrived = Atomics.load(flags, 1)) {
    Atomics.wait(flags, 1, arrived, 1000);
  }
  let operations = 0;
  for (; operations < job.iterations && violations.length === 0; operations += 1) {
    const roll = next();
    if (held.length < 24 && roll < 0.55) {
      const size = sizes[Math.floor(next() * sizes.length)]!;
      let buffer: IoBuffer;
      try {
        buffer = roll < 0.1 ? pool.tryAllocZeroed(size) : roll < 0.15 ? pool.alloc(size) : pool.tryAlloc(size);
      } catch (error) {
        if (!MemError.is(error, 'EXHAUSTED')) throw error;
        exhausted += 1;
        continue;
      }
      const word = mark(buffer);
      const fill = (job.id * 16 + (operations & 15)) & 0xff;
      buffer.capacityBytes.fill(fill, 4, 64);
      buffer.length = 64;
      held.push({ buffer, word, fill });
    } else if (held.length > 0) {
      const index = Math.floor(next() * held.length);
      const entry = held[index]!;
      if (Array.isArray(entry.buffer)) {
        const view = entry.buffer.pop()!;
        check(view.bytes, entry.word, entry.fill);
        if (entry.buffer.length === 0) {
          unmark(entry.word);
          held.splice(index, 1);
        }
        view.release();
      } else if (roll < 0.7) {
        const frozen = entry.buffer.freeze();
        entry.buffer = [frozen, frozen.clone(), frozen.slice(0, 64), frozen.clone()];
      } else {
        check(entry.buffer.bytes, entry.word, entry.fill);
        unmark(entry.word);
        entry.buffer.release();
        held.splice(index, 1);
      }
    }
    if (roll > 0.995) pool.flush();
  }
  for (const entry of held) {
    if (Array.isArray(entry.buffer)) {
      unmark(entry.word);
      for (const view of entry.buffer) view.release();
    } else {
      check(entry.buffer.bytes, entry.word, entry.fill);
      unmark(entry.word);
      entry.buffer.release();
    }
  }
  return answer([], violations, operations, exhausted);
}

function run(): WorkerAnswer | undefined {
  switch (job.scenario) {
    case 'release-and-exit': {
      // Allocate and release: the buffer stays in this worker's local cache, and the exit flushes it.
      pool.tryAlloc(job.size).release();
      return answer();
    }
    case 'adopt-all': {
      // Take over every buffer the main thread handed over, read it, release it here.
      const data: number[] = [];
      for (const transfer of job.transfers) {
        const adopted = pool.adopt(transfer);
        data.push(adopted.bytes[0]!);
        adopted.release();
      }
      const afterReturns = answer(data);
      const reused: IoBuffer[] = [];
      for (let i = 0; i < job.transfers.length; i += 1) reused.push(pool.tryAlloc(job.size));
      const afterReuse = answer();
      for (const buffer of reused) buffer.release();
      return { ...afterReturns, hits: afterReuse.hits };
    }
    case 'freeze-clone': {
      for (let i = 0; i < job.iterations; i += 1) {
        const frozen = pool.tryAlloc(job.size).freeze();
        const clones = Array.from({ length: 5 }, () => frozen.clone());
        frozen.release();
        for (const clone of clones) clone.release();
      }
      return answer();
    }
    case 'return-then-wait': {
      for (const transfer of job.transfers) pool.adopt(transfer).release();
      parentPort?.postMessage(answer());
      // Stay alive (holding whatever this worker cached) until the main thread has checked.
      Atomics.wait(new Int32Array(job.flags), 0, 0, 20_000);
      return undefined;
    }
    case 'stress':
      return stress();
  }
}

const result = run();
if (result !== undefined) parentPort?.postMessage(result);
