/**
 * Worker side of shared-claim-race.spec.ts. A resetter resets the shared arena, claims a chunk
 * and checks its one allocation again and again; claimers keep claiming ranges that overlap a
 * chunk an idle attachment still announces from before the reset, so that they drop their claim
 * while the resetter starts the next generation and claims the same bytes again.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SharedEpochArena, type SharedEpochArenaDescriptor } from './index.js';

export interface ClaimRaceTask {
  readonly role: 'resetter' | 'claimer';
  readonly descriptor: SharedEpochArenaDescriptor;
  /** Resets the resetter makes. */
  readonly resets: number;
  /** Claimers: the resetter starts once they all run. */
  readonly claimers: number;
  /** Int32 words: [0] stop, set by the resetter when it is done; [1] claimers running. */
  readonly control: SharedArrayBuffer;
}

export interface ClaimRaceAnswer {
  readonly resets: number;
  readonly checks: number;
  /** Checks of a live allocation that failed, with the first error's message. */
  readonly lost: number;
  readonly firstError: string | undefined;
  readonly claims: number;
}

const WORD_STOP = 0;
const WORD_READY = 1;

function resetter(arena: SharedEpochArena, task: ClaimRaceTask, words: Int32Array): ClaimRaceAnswer {
  let checks = 0;
  let lost = 0;
  let firstError: string | undefined;
  let allocations = 0;
  while (Atomics.load(words, WORD_READY) < task.claimers)
    Atomics.wait(words, WORD_READY, Atomics.load(words, WORD_READY), 5);
  for (let reset = 1; reset <= task.resets; reset += 1) {
    arena.reset(reset);
    // Give the claimers a moment to be first in the new generation.
    for (let spin = 0; spin < (reset * 7) % 256; spin += 1) Atomics.load(words, WORD_STOP);
    let handle: number;
    try {
      handle = arena.allocate(8);
    } catch {
      continue; // the claimers filled the region first
    }
    allocations += 1;
    // Only this worker resets: the allocation stays live until the next loop.
    for (let check = 0; check < 32; check += 1) {
      checks += 1;
      try {
        arena.lengthOf(handle);
      } catch (error) {
        lost += 1;
        firstError ??= String(error);
        break;
      }
    }
  }
  Atomics.store(words, WORD_STOP, 1);
  return { resets: task.resets, checks, lost, firstError, claims: allocations };
}

function claimer(arena: SharedEpochArena, words: Int32Array): ClaimRaceAnswer {
  let claims = 0;
  let seen = -1;
  Atomics.add(words, WORD_READY, 1);
  Atomics.notify(words, WORD_READY);
  while (Atomics.load(words, WORD_STOP) === 0) {
    // One claim as soon as a generation starts: 64 units from its start, over the idle chunk.
    const generation = arena.generation;
    if (generation === seen) continue;
    seen = generation;
    try {
      arena.allocate(505);
      claims += 1;
    } catch {
      // the resetter filled the region first
    }
  }
  return { resets: 0, checks: 0, lost: 0, firstError: undefined, claims };
}

const task = workerData as ClaimRaceTask;
const arena = SharedEpochArena.attach(task.descriptor);
const words = new Int32Array(task.control);
const answer = task.role === 'resetter' ? resetter(arena, task, words) : claimer(arena, words);
arena.close();
parentPort!.postMessage(answer);
