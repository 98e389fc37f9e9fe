/**
 * The words of a ring's state ({@link ArenaPool}, {@link SharedArenaPool}): current epoch, ring
 * slots, and per arena the epoch it holds, its state and its pin count. They live in an
 * `Int32Array`, over a `SharedArrayBuffer` for a shared pool and over an `ArrayBuffer` otherwise,
 * and are always updated with `Atomics` (cheap, and never on an allocation's hot path) so that one
 * code path serves both.
 *
 * This module is browser compatible.
 * @module
 */
import { pause } from './spin-wait.js';

export const POOL_MAGIC = 0;
export const RING_SIZE = 1;
export const ARENA_COUNT = 2;
export const MAX_ARENAS = 3;
const POOL_LOCK = 4;
/** Low 32 bits of the current epoch: changes on every advance, so it is what caches compare. */
export const CURRENT_LOW = 5;
export const CURRENT_HIGH = 6;
export const DEFERRED_TOTAL = 7;
export const RECLAIMED_TOTAL = 8;
export const ADVANCE_TOTAL = 9;
/** A random number that the pool's arenas carry too, so that attach refuses arenas of another pool. */
export const POOL_SERIAL = 10;
/** First ring slot: the index of the arena serving epochs `e` with `e % ringSize === slot`. */
export const RING_SLOTS = 16;
export const MAX_RING_SIZE = 32;
/** First arena record: [epoch low, epoch high, state, pins] per arena. */
const ARENA_RECORDS = RING_SLOTS + MAX_RING_SIZE;
const RECORD_WORDS = 4;
export const POOL_MAGIC_VALUE = 0x45415031;

/** An arena in a ring slot that has held no epoch yet. */
export const STATE_VACANT = 0;
/** An arena in a ring slot holding the epoch in its record. */
export const STATE_LIVE = 1;
/** An arena taken out of the ring while pinned: it keeps its epoch until its last guard goes. */
export const STATE_DEFERRED = 2;
/** An arena being reset (transitional: pinners wait and look again). */
export const STATE_RECLAIMING = 3;
/** An arena outside the ring holding nothing, ready to replace a pinned one. */
export const STATE_SPARE = 4;

/** The words a pool of `maxArenas` arenas needs. */
export function poolStateWords(maxArenas: number): number {
  return ARENA_RECORDS + RECORD_WORDS * maxArenas;
}

/** The words of an arena's record: the epoch it holds (low and high words), its state, its pins. */
export const RECORD_EPOCH = 0;
export const RECORD_STATE = 2;
export const RECORD_PINS = 3;

/** Index of arena `arena`'s record word `field`: {@link RECORD_EPOCH}, {@link RECORD_STATE} or {@link RECORD_PINS}. */
export function recordWord(
  arena: number,
  field: typeof RECORD_EPOCH | typeof RECORD_STATE | typeof RECORD_PINS,
): number {
  return ARENA_RECORDS + RECORD_WORDS * arena + field;
}

/** The first arrangement of a ring's state words. */
export interface RingLayout {
  /** Arenas in the ring: arena `i` serves ring slot `i` first. */
  readonly ringSize: number;
  /** Arenas created now: the ring's, then spares. */
  readonly arenaCount: number;
  /** The most arenas the ring may ever hold. */
  readonly maxArenas: number;
  /** The epoch the ring starts at. */
  readonly initialEpoch: number;
  /** The serial that the ring's shared arenas carry too (0 in one worker). */
  readonly serial: number;
}

/**
 * Writes the first state of a ring into fresh words: arena `i` in ring slot `i` (vacant), the
 * arenas beyond the ring spare, and the arena of `initialEpoch`'s slot live with that epoch. The
 * magic word goes last, so that an attach never reads a half-made state. Cost: O(maxArenas).
 */
export function writeRingLayout(state: Int32Array, layout: RingLayout): void {
  const { ringSize, arenaCount, initialEpoch } = layout;
  state[RING_SIZE] = ringSize;
  state[MAX_ARENAS] = layout.maxArenas;
  state[POOL_SERIAL] = layout.serial;
  for (let index = 0; index < arenaCount; index += 1) {
    Atomics.store(state, recordWord(index, RECORD_STATE), index < ringSize ? STATE_VACANT : STATE_SPARE);
  }
  for (let slot = 0; slot < ringSize; slot += 1) Atomics.store(state, RING_SLOTS + slot, slot);
  const first = initialEpoch % ringSize;
  writeEpochWords(state, recordWord(first, RECORD_EPOCH), initialEpoch);
  Atomics.store(state, recordWord(first, RECORD_STATE), STATE_LIVE);
  writeEpochWords(state, CURRENT_LOW, initialEpoch);
  Atomics.store(state, ARENA_COUNT, arenaCount);
  Atomics.store(state, POOL_MAGIC, POOL_MAGIC_VALUE);
}

/** Reads an epoch stored as two words at `low` and `low + 1` (low word first: it changes on every increment). */
export function readEpochWords(state: Int32Array, low: number): number {
  for (;;) {
    const first = Atomics.load(state, low);
    const high = Atomics.load(state, low + 1);
    if (Atomics.load(state, low) === first) return high * 2 ** 32 + (first >>> 0);
  }
}

/** Writes an epoch as two words at `low` and `low + 1`. */
export function writeEpochWords(state: Int32Array, low: number, epoch: number): void {
  Atomics.store(state, low + 1, Math.floor(epoch / 2 ** 32));
  Atomics.store(state, low, epoch % 2 ** 32);
}

/** Takes the pool lock (held by an advance for a few resets; spins, then sleeps in short slices). */
export function lockPool(state: Int32Array): void {
  for (let round = 0; Atomics.compareExchange(state, POOL_LOCK, 0, 1) !== 0; round += 1) {
    pause(state, POOL_LOCK, 1, round); // another worker is advancing the epoch
  }
}

/** Releases the pool lock. */
export function unlockPool(state: Int32Array): void {
  Atomics.store(state, POOL_LOCK, 0);
  if (state.buffer instanceof SharedArrayBuffer) Atomics.notify(state, POOL_LOCK, 1);
}
