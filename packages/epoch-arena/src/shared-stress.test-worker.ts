/**
 * Over 400 lines: one stress scenario, its two targets (arena and pool) and its checks, kept
 * together so that a failure reads in one place.
 *
 * Worker side of the shared-mode stress test: allocates and copies stamped allocations in a shared
 * arena or pool while other workers reset, advance, close and re-attach it, and checks that no
 * still-valid allocation ever holds a byte that its writer did not put there.
 *
 * Every allocation is stamped in every byte: 32-bit words of `writer << 24 | sequence`, so a foreign
 * byte names the writer and the allocation it came from.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { seededRandom } from '@mem/testkit/seeded-random';
import {
  SharedArenaPool,
  SharedEpochArena,
  type SharedArenaPoolDescriptor,
  type EpochGuard,
  type LocalArena,
  type SharedEpochArenaDescriptor,
} from './index.js';

/** What each worker does besides allocating. */
export type StressRole =
  /** Large copies (64 to 256 KiB) with short pauses: the writes most likely to straddle a reset. */
  | 'copier'
  /** Resets the arena (or advances the pool) while a copy is in progress, then allocates and checks. */
  | 'resetter'
  /** A mix of everything, and closes and re-attaches now and then. */
  | 'mixed'
  /** Copies until the main thread terminates it. */
  | 'victim';

/** One run of the stress test: one seed, one fresh arena or pool. */
export interface StressRun {
  /** A shared arena that the resetter resets, or a shared pool that it advances. */
  readonly mode: 'arena' | 'pool';
  readonly seed: number;
  readonly descriptor: SharedEpochArenaDescriptor | SharedArenaPoolDescriptor;
}

export interface StressTask {
  readonly role: StressRole;
  /** 1 to 255, in every stamp this worker writes. */
  readonly writer: number;
  /** The runs this worker takes part in, in order (a victim takes part in one). */
  readonly runs: readonly StressRun[];
  /** Index of a victim's run. */
  readonly runIndex?: number;
  readonly operations: number;
  /** Workers that are not victims: the parties of the barriers. */
  readonly parties: number;
  /** How many of them are copiers (they run until the others are done). */
  readonly copiers: number;
  /** Int32 words, see the `WORD_*` constants. */
  readonly control: SharedArrayBuffer;
}

export interface StressResult {
  readonly mode: 'arena' | 'pool';
  readonly seed: number;
  readonly writer: number;
  readonly role: StressRole;
  readonly operations: number;
  readonly allocations: number;
  readonly largeCopies: number;
  readonly resets: number;
  readonly reopens: number;
  /** Allocations checked while they were live. */
  readonly checked: number;
  /** Checked allocations holding a byte their writer did not write. */
  readonly foreign: number;
  /** Descriptions of the first foreign bytes found. */
  readonly foreignSamples: string[];
  /** Calls to isEpochValid/isValid that answered false while a guard pinned the epoch. */
  readonly invalidWhilePinned: number;
  /** Unexpected errors (pin() without an argument that throws, anything not a MemError...). */
  readonly errors: string[];
}

/** Barrier words: arrivals and the phase they wait on. */
const WORD_ARRIVED = 0;
const WORD_PHASE = 1;
/** The run in progress: victims wait for theirs. */
const WORD_RUN = 2;
/** Copiers run until this word passes their run's index. */
const WORD_STOP = 3;
/** Resetting workers done with the run. */
const WORD_FINISHED = 4;
/** Copies in progress now, and copies done: the resetter resets while one is in progress. */
const WORD_COPYING = 5;
const WORD_COPIED = 6;
/** A word nobody changes, to sleep on. */
const WORD_IDLE = 7;
/** Large copies of the copiers that succeeded, over all runs. */
const WORD_LARGE = 8;
/** Operations done by the victim of run `i`: word `WORD_PROGRESS + i`. */
export const WORD_PROGRESS = 9;

const LARGE_MIN = 64 * 1024;
const LARGE_MAX = 256 * 1024;
/** Allocations made right after each reset cover the bytes used before it, up to this many. */
const BURST_COVER = 1024 * 1024;
const BURST = 32 * 1024;
/** Large copies each run makes at least, all copiers together (the spec wants more than 1000): the workers that reset go on until then. */
const MIN_LARGE_COPIES = 1200;
/** Allocations each worker remembers and checks again. */
const RECENT = 256;

function barrier(words: Int32Array, parties: number): void {
  const phase = Atomics.load(words, WORD_PHASE);
  if (Atomics.add(words, WORD_ARRIVED, 1) === parties - 1) {
    Atomics.store(words, WORD_ARRIVED, 0);
    Atomics.add(words, WORD_PHASE, 1);
    Atomics.notify(words, WORD_PHASE);
    return;
  }
  while (Atomics.load(words, WORD_PHASE) === phase) Atomics.wait(words, WORD_PHASE, phase, 50);
}

/** A shared arena or pool, attached in this worker, seen through what the test needs. */
interface Target {
  allocate(size: number): number;
  allocateCopy(bytes: Uint8Array): number;
  allocateKey(bytes: Uint8Array): number;
  write(handle: number, bytes: Uint8Array): void;
  /** Resets the arena, or advances the pool. */
  churn(): void;
  /** Bytes used in the arena that the next `churn` resets. */
  usedBytes(): number;
  /** Closes and attaches again. */
  reopen(): void;
  /**
   * When `handle`, just allocated, was made: the arena's generation, or the pool epoch; -1 if it may
   * be stale already. Handles are checked only in the generation or epoch they were made in: a handle
   * kept across 1024 resets would pass the check again (its tag repeats), by design.
   */
  madeIn(handle: number, before: number): number;
  /** The generation or epoch now, read before an allocation and given to `madeIn`. */
  now(): number;
  /**
   * Runs `read` on the handle's bytes if the handle, made in `made`, is live for the whole read;
   * returns false if it is not (stale, or made stale while reading).
   */
  readLive(handle: number, made: number, read: (bytes: Uint8Array) => void): boolean;
  close(): void;
}

function isMemError(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes((error as { code?: string }).code ?? '');
}

function arenaTarget(descriptor: SharedEpochArenaDescriptor, epochs: { next: number }): Target {
  let arena = SharedEpochArena.attach(descriptor);
  return {
    allocate: (size) => arena.allocate(size),
    allocateCopy: (bytes) => arena.allocateCopy(bytes),
    allocateKey: (bytes) => arena.allocateKey(bytes),
    write: (handle, bytes) => arena.write(handle, bytes),
    churn: () => arena.reset((epochs.next += 1)),
    usedBytes: () => arena.stats().bytesUsed,
    reopen() {
      arena.close();
      arena = SharedEpochArena.attach(descriptor);
    },
    now: () => arena.generation,
    madeIn: (_handle, before) => (arena.generation === before ? before : -1),
    readLive(handle, made, read) {
      // No reset between the two reads of the generation: the bytes were the allocation's throughout.
      const before = arena.generation;
      if (before !== made) return false;
      let view: Uint8Array;
      try {
        view = arena.view(handle);
      } catch (error) {
        if (isMemError(error, 'STALE_HANDLE')) return false;
        throw error;
      }
      read(view);
      return arena.generation === before;
    },
    close: () => arena.close(),
  };
}

function poolTarget(descriptor: SharedArenaPoolDescriptor, errors: string[], invalid: { count: number }): Target {
  let pool = SharedArenaPool.attach(descriptor, { leakDetection: 'off' });
  let local: LocalArena = pool.local();
  return {
    allocate: (size) => local.allocate(size),
    allocateCopy: (bytes) => local.allocateCopy(bytes),
    allocateKey: (bytes) => local.allocateKey(bytes),
    write: (handle, bytes) => pool.write(handle, bytes),
    churn() {
      try {
        pool.advanceEpoch();
      } catch (error) {
        if (!isMemError(error, 'PINNED')) throw error;
      }
      // pin() pins the current epoch, whatever the other workers advance meanwhile.
      let guard: EpochGuard | undefined;
      try {
        guard = pool.pin();
        if (!pool.isEpochValid(guard.epoch)) invalid.count += 1;
      } catch (error) {
        errors.push(`pin() threw ${String(error)}`);
      } finally {
        guard?.release();
      }
    },
    usedBytes: () => pool.currentArena().stats().bytesUsed,
    reopen() {
      pool.close();
      pool = SharedArenaPool.attach(descriptor, { leakDetection: 'off' });
      local = pool.local();
    },
    now: () => 0,
    madeIn(handle) {
      try {
        return pool.epochOf(handle);
      } catch (error) {
        if (isMemError(error, 'STALE_HANDLE')) return -1;
        throw error;
      }
    },
    readLive(handle, made, read) {
      // A guard on the epoch the handle was made in keeps its arena in that generation.
      let guard: EpochGuard;
      try {
        guard = pool.pin(made);
      } catch (error) {
        if (isMemError(error, 'STALE_HANDLE')) return false;
        throw error;
      }
      try {
        if (!pool.isEpochValid(guard.epoch)) invalid.count += 1;
        if (!pool.isValid(handle)) invalid.count += 1;
        read(pool.view(handle));
      } finally {
        guard.release();
      }
      return true;
    },
    close: () => pool.close(),
  };
}

/** Stamps: one scratch region, filled with a writer's word for each allocation. */
const scratch = new Uint8Array(LARGE_MAX + 8);
const scratchWords = new Uint32Array(scratch.buffer);

function stampWord(writer: number, sequence: number): number {
  return ((writer << 24) | (sequence & 0xffffff)) >>> 0;
}

function stamped(word: number, length: number): Uint8Array {
  scratchWords.fill(word, 0, (length + 3) >>> 2);
  return scratch.subarray(0, length);
}

/** The first byte of `bytes` that is not the stamp `word`, described; or undefined. */
function findForeign(bytes: Uint8Array, word: number): string | undefined {
  const whole = bytes.length >>> 2;
  // Allocations start on 8-byte boundaries, so the words line up with the stamp's.
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, whole);
  let at = -1;
  for (let i = 0; i < whole; i += 1) {
    if (words[i] !== word) {
      at = i * 4;
      break;
    }
  }
  if (at < 0) {
    for (let i = whole * 4; i < bytes.length; i += 1) {
      if (bytes[i] !== ((word >>> (8 * (i & 3))) & 255)) {
        at = i & ~3;
        break;
      }
    }
  }
  if (at < 0) return undefined;
  let found = 0;
  for (let i = 0; i < 4 && at + i < bytes.length; i += 1) found |= bytes[at + i]! << (8 * i);
  found >>>= 0;
  return `byte ${at} of ${bytes.length} holds writer ${found >>> 24} allocation ${found & 0xffffff}, expected writer ${word >>> 24} allocation ${word & 0xffffff}`;
}

function runOne(task: StressTask, run: StressRun, words: Int32Array, runIndex: number): StressResult {
  const random = seededRandom(run.seed * 257 + task.writer);
  const errors: string[] = [];
  const invalid = { count: 0 };
  const target =
    run.mode === 'arena'
      ? arenaTarget(run.descriptor as SharedEpochArenaDescriptor, { next: task.writer * 1_000_000_000 })
      : poolTarget(run.descriptor as SharedArenaPoolDescriptor, errors, invalid);
  const recentHandles = new Float64Array(RECENT);
  const recentWords = new Uint32Array(RECENT);
  const recentMade = new Float64Array(RECENT);
  let recentCount = 0;
  const result = {
    mode: run.mode,
    seed: run.seed,
    writer: task.writer,
    role: task.role,
    operations: 0,
    allocations: 0,
    largeCopies: 0,
    resets: 0,
    reopens: 0,
    checked: 0,
    foreign: 0,
    foreignSamples: [] as string[],
    invalidWhilePinned: 0,
    errors,
  };
  let sequence = 0;

  const attempt = (action: () => void): void => {
    try {
      action();
    } catch (error) {
      if (errors.length < 5) errors.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
    }
  };

  const check = (slot: number): void => {
    const word = recentWords[slot]!;
    let found: string | undefined;
    if (target.readLive(recentHandles[slot]!, recentMade[slot]!, (bytes) => (found = findForeign(bytes, word)))) {
      result.checked += 1;
      if (found !== undefined) {
        result.foreign += 1;
        if (result.foreignSamples.length < 5) result.foreignSamples.push(found);
      }
    }
  };

  /** Allocates `size` stamped bytes one of the three ways; remembers the handle. */
  const allocateOne = (size: number): void => {
    sequence += 1;
    const word = stampWord(task.writer, sequence);
    const before = target.now();
    let handle: number;
    try {
      const how = random();
      if (size >= LARGE_MIN) {
        const source = stamped(word, size);
        Atomics.add(words, WORD_COPYING, 1);
        Atomics.notify(words, WORD_COPYING);
        try {
          handle = target.allocateCopy(source);
        } finally {
          Atomics.sub(words, WORD_COPYING, 1);
          Atomics.add(words, WORD_COPIED, 1);
          Atomics.notify(words, WORD_COPIED);
        }
      } else if (size >= BURST || how < 0.4) handle = target.allocateCopy(stamped(word, size));
      else if (how < 0.7 && size <= 256) handle = target.allocateKey(stamped(word, size));
      else {
        handle = target.allocate(size);
        target.write(handle, stamped(word, size));
      }
    } catch (error) {
      // A full region until the next reset, or a handle made stale before its write: expected.
      if (isMemError(error, 'EXHAUSTED', 'STALE_HANDLE')) return;
      throw error;
    }
    result.allocations += 1;
    if (size >= LARGE_MIN) {
      result.largeCopies += 1;
      if (task.role === 'copier') Atomics.add(words, WORD_LARGE, 1);
    }
    const made = target.madeIn(handle, before);
    if (made < 0) return;
    const slot = recentCount % RECENT;
    recentHandles[slot] = handle;
    recentWords[slot] = word;
    recentMade[slot] = made;
    recentCount += 1;
  };
  const checkNewest = (): void => attempt(() => check((recentCount - 1) % RECENT));
  const checkAny = (): void => {
    const slot = Math.floor(random() * Math.min(recentCount, RECENT));
    attempt(() => check(slot));
  };
  const small = (): number => (random() < 0.8 ? Math.floor(random() * 64) : 64 + Math.floor(random() * 1024));
  const large = (): number => LARGE_MIN + Math.floor(random() * (LARGE_MAX - LARGE_MIN));

  /**
   * Resets (or advances) while a large copy is in progress if one starts soon, then allocates over
   * the bytes the old generation used, waits for that copy to end, and checks what it allocated:
   * a copy claimed before the reset that lands after it shows up there.
   */
  const churnDuringCopy = (): void => {
    for (let wait = 0; wait < 4 && Atomics.load(words, WORD_COPYING) === 0; wait += 1) {
      Atomics.wait(words, WORD_COPYING, 0, 0.25);
    }
    const copied = Atomics.load(words, WORD_COPIED);
    let cover = BURST;
    attempt(() => (cover = Math.min(BURST_COVER, Math.max(BURST, target.usedBytes()))));
    attempt(() => target.churn());
    result.resets += 1;
    const first = recentCount;
    for (let covered = 0; covered < cover; covered += BURST) attempt(() => allocateOne(BURST));
    for (let wait = 0; wait < 8 && Atomics.load(words, WORD_COPIED) === copied; wait += 1) {
      Atomics.wait(words, WORD_COPIED, copied, 0.25);
    }
    for (let index = Math.max(first, recentCount - RECENT); index < recentCount; index += 1) {
      attempt(() => check(index % RECENT));
    }
  };

  const progress = WORD_PROGRESS + runIndex;
  if (task.role === 'copier' || task.role === 'victim') {
    // Large copies with pauses, until the other workers are done (or the main thread terminates it).
    while (task.role === 'victim' || Atomics.load(words, WORD_STOP) <= runIndex) {
      attempt(() => allocateOne(random() < 0.9 ? large() : small()));
      if (recentCount > 0 && random() < 0.2) checkNewest();
      result.operations += 1;
      if (task.role === 'victim') Atomics.store(words, progress, result.operations);
      Atomics.wait(words, WORD_IDLE, 0, 0.2);
    }
  } else {
    const churnEvery = task.role === 'resetter' ? 512 : 4000;
    // At least `operations`, and until the copiers have made enough large copies to race with.
    const largeAtStart = Atomics.load(words, WORD_LARGE);
    const racedEnough = (): boolean => Atomics.load(words, WORD_LARGE) - largeAtStart >= MIN_LARGE_COPIES;
    for (let op = 0; op < task.operations || !racedEnough(); op += 1) {
      const roll = random();
      if (roll < 1 / churnEvery) {
        churnDuringCopy();
      } else if (task.role === 'mixed' && roll < 1 / churnEvery + 1 / 3000) {
        attempt(() => target.reopen());
        result.reopens += 1;
      } else {
        attempt(() => allocateOne(small()));
      }
      if (recentCount > 0 && random() < 0.3) checkNewest();
      if (recentCount > 0 && random() < 0.1) checkAny();
      result.operations += 1;
    }
    if (Atomics.add(words, WORD_FINISHED, 1) === task.parties - task.copiers - 1) {
      // The last of the resetting workers to finish stops the copiers.
      Atomics.store(words, WORD_FINISHED, 0);
      Atomics.store(words, WORD_STOP, runIndex + 1);
    }
  }

  // Everyone has stopped changing the arena: every allocation still valid must read back intact.
  barrier(words, task.parties);
  for (let slot = 0; slot < Math.min(recentCount, RECENT); slot += 1) attempt(() => check(slot));
  barrier(words, task.parties);
  attempt(() => target.close());
  result.invalidWhilePinned = invalid.count;
  return result;
}

function main(task: StressTask): void {
  const words = new Int32Array(task.control);
  if (task.role === 'victim') {
    const index = task.runIndex!;
    while (Atomics.load(words, WORD_RUN) < index) Atomics.wait(words, WORD_RUN, Atomics.load(words, WORD_RUN), 50);
    runOne(task, task.runs[0]!, words, index); // runs until terminated
    return;
  }
  const results: StressResult[] = [];
  for (let index = 0; index < task.runs.length; index += 1) {
    barrier(words, task.parties);
    if (task.writer === 1) {
      Atomics.store(words, WORD_RUN, index);
      Atomics.notify(words, WORD_RUN);
    }
    results.push(runOne(task, task.runs[index]!, words, index));
  }
  parentPort!.postMessage(results);
}

// The spec imports this module for its constants: run only as a worker.
if (!isMainThread) main(workerData as StressTask);
