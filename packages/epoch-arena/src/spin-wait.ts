/**
 * Waiting for another worker to finish a few stores: spin first, then sleep in short slices, so
 * that a worker that waits does not take the core from the one it waits for (a machine with more
 * busy workers than cores preempts them).
 *
 * This module is browser compatible: where `Atomics.wait` is not allowed (a page's main thread) it
 * keeps spinning.
 * @module
 */

/** Busy rounds before the first sleep. */
const SPINS = 64;
/** Each sleep, in milliseconds. */
const SLEEP_MS = 0.05;

let canSleep = true;

/**
 * Waits a little while `words[index]` is still `value`, after `round` rounds of waiting: returns at
 * once for the first rounds, then sleeps a short slice (or until the word changes and someone
 * notifies it). Call it in the retry loop, with the round count. Cost: O(1).
 */
export function pause(words: Int32Array, index: number, value: number, round: number): void {
  if (round < SPINS || !canSleep || !(words.buffer instanceof SharedArrayBuffer)) return;
  try {
    Atomics.wait(words, index, value, SLEEP_MS);
  } catch {
    canSleep = false; // a thread that may not block: keep spinning
  }
}
