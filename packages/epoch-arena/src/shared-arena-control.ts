/**
 * The control words of a {@link SharedEpochArena} and the protocol that keeps the writes of its
 * workers apart across resets.
 *
 * **Who writes where.** A worker writes into the region only inside ranges it claimed from the
 * shared bump pointer and announced in its own slot line: the chunk it bumps in (announced when it
 * claims the chunk, for as long as it holds it) and the range of a write in progress outside a chunk
 * (a large copy, a length header, `write()` or `fill()` on a handle; announced for the duration of
 * that write). An announcement is made before the worker checks that the generation has not moved
 * since its claim, and withdrawn only after the worker has stopped writing there.
 *
 * **When memory is reused.** A reset makes the generation odd, then reads every announcement (both
 * are sequentially consistent, so either the reset sees an announcement or the announcing worker
 * sees the odd generation and does not write), records the span they cover, and rewinds the bump
 * pointer. A claim of the next generation that overlaps a range another worker still announces is
 * dropped and the pointer jumps past that range, so no write that began before a reset ever lands
 * in memory handed out after it. Between resets the pointer only moves forward: a dropped claim
 * moves it past the busy range ({@link skipBusyRange}), never back, because the value it would
 * move back from may be the next generation's by then. The hot path (a bump inside the worker's announced chunk) needs no
 * `Atomics` at all; a chunk claim announces with two atomic stores and reads the announcements
 * only inside the span the last reset recorded; a copy outside a chunk costs two atomic stores to
 * announce and one to withdraw.
 *
 * **Attachments.** Each attachment holds one slot (its counters and announcements) through a
 * {@link SlotLease}; closing it, its garbage collection or a normal worker exit release
 * it. A worker that is terminated keeps its slot, and what it announced stays out of reuse.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError } from '@mem/types';
import { pause } from './spin-wait.js';

// Int32 words, laid out by cache line (16 words): line 0 is read by every allocation and written
// only by a reset; line 1 holds the bump pointer, written by every claim; line 2 the attachment
// bookkeeping. Each attachment's slot line holds its counters and announcements, written by it alone.
export const MAGIC = 0;
export const ARENA_ID = 1;
/** Twice the generation, plus 1 while a reset is in progress (a sequence lock). */
export const GENERATION = 2;
export const EPOCH_LOW = 3;
export const EPOCH_HIGH = 4;
export const CAPACITY_UNITS = 5;
export const LIMIT_UNITS = 6;
export const HAS_LIMIT = 7;
export const CHUNK_SIZE = 8;
export const MAX_ATTACHMENTS = 9;
/**
 * The span (units) of the ranges announced when the last reset ran, [low, high), empty when high
 * is 0: only a claim inside it needs to look at the announcements. Written by the reset before the
 * generation turns even, so a worker that has seen the new generation reads the right span.
 */
export const SPAN_LOW = 10;
export const SPAN_HIGH = 11;
/** The serial of the pool the arena belongs to (0 for none), and its index there. */
const OWNER = 12;
const OWNER_INDEX = 13;
/** The bump pointer, in 8-byte units; it may pass the limit by a few failed claims. */
export const POSITION = 16;
const LOCK = 32;
export const ATTACHED = 33;
const SLOT_BITS = 34; // 8 words: 256 slots
const CONTROL_WORDS = 48;
/** Doubles per slot line: counters [count, bytes], announcements, padding to 64 bytes. */
export const SLOT_STRIDE = 8;
/** Float64 offset, in a slot line and in the retired totals, of the allocation count. */
export const COUNT = 0;
/** Float64 offset, in a slot line and in the retired totals, of the bytes allocated. */
export const BYTES = 1;
/** Float64 index of the counters folded in by closed attachments: [count, bytes]. */
export const RETIRED = CONTROL_WORDS / 2;
/** Float64 index of the first slot line. */
export const SLOTS = RETIRED + SLOT_STRIDE;
export const MAGIC_VALUE = 0x45415231;
/** Int32 offset in a slot line of the announced chunk: [start, end) in units. */
const CHUNK_RANGE = 4;
/** Int32 offset in a slot line of the announced write outside the chunk: [start, end) in units. */
const WRITE_RANGE = 6;

/**
 * Checks the fixed control words of an arena that a descriptor claims to be: the magic value and
 * every setting in range. Returns why not, or undefined. Cost: O(1).
 */
export function invalidControl(control: Int32Array, byteLength: number): string | undefined {
  if (Atomics.load(control, MAGIC) !== MAGIC_VALUE) return 'the control words are not an arena';
  const max = control[MAX_ATTACHMENTS]!;
  if (!(max >= 1 && max <= 256) || byteLength < controlBytes(max)) return 'the control words are damaged';
  const capacity = control[CAPACITY_UNITS]!;
  const limit = control[LIMIT_UNITS]!;
  const chunk = control[CHUNK_SIZE]!;
  const id = control[ARENA_ID]!;
  if (
    !(capacity >= 8 && capacity <= 2 ** 27) ||
    !(limit >= 0 && limit <= capacity) ||
    !(chunk === 0 || (chunk >= 256 && chunk <= 1 << 20 && (chunk & (chunk - 1)) === 0)) ||
    !(id >= 1 && id <= 63) ||
    (control[HAS_LIMIT] !== 0 && control[HAS_LIMIT] !== 1)
  ) {
    return 'the control words are damaged';
  }
  return undefined;
}

/** Marks the arena of `control` as arena `index` of the pool whose serial is `owner`. */
export function markOwner(control: Int32Array, owner: number, index: number): void {
  Atomics.store(control, OWNER_INDEX, index);
  Atomics.store(control, OWNER, owner);
}

/** Whether the arena of `control` is arena `index` of the pool whose serial is `owner`. */
export function isOwnedBy(control: Int32Array, owner: number, index: number): boolean {
  return Atomics.load(control, OWNER) === owner && Atomics.load(control, OWNER_INDEX) === index;
}

/** Bytes of the control buffer of an arena with `maxAttachments` slots. */
export function controlBytes(maxAttachments: number): number {
  return 8 * (SLOTS + SLOT_STRIDE * maxAttachments);
}

/** Int32 index of slot `slot`'s announced chunk. */
export function chunkWord(slot: number): number {
  return 2 * (SLOTS + SLOT_STRIDE * slot) + CHUNK_RANGE;
}

/** Int32 index of slot `slot`'s announced write. */
export function writeWord(slot: number): number {
  return 2 * (SLOTS + SLOT_STRIDE * slot) + WRITE_RANGE;
}

/** Announces [start, end) (units) at `word`. Two sequentially consistent stores. */
export function announce(control: Int32Array, word: number, start: number, end: number): void {
  Atomics.store(control, word, start);
  Atomics.store(control, word + 1, end);
}

/** Withdraws the announcement at `word` (an empty range). */
export function withdraw(control: Int32Array, word: number): void {
  Atomics.store(control, word + 1, 0); // an end of 0 makes the range empty, whatever its start
}

/**
 * The end (units) of the furthest range that another slot than `own` announces and that overlaps
 * [start, end), or -1 if none does. Ranges of the current generation never overlap a fresh claim,
 * so an overlap is a write of an earlier generation that may still be in progress. Call it only for
 * a claim inside the span the last reset recorded ({@link SPAN_LOW}, {@link SPAN_HIGH}).
 * Cost: O(attached slots).
 */
export function announcedOverlap(control: Int32Array, own: number, start: number, end: number): number {
  let until = -1;
  forEachAttached(control, (slot) => {
    if (slot === own) return;
    until = Math.max(until, overlapEnd(control, chunkWord(slot), start, end));
    until = Math.max(until, overlapEnd(control, writeWord(slot), start, end));
  });
  return until;
}

/**
 * Drops a claim that ended at `claimedEnd` (units) because it overlaps a range another worker
 * still announces until `busyUntil`: the bump pointer jumps forward to `busyUntil` if it still
 * stands at `claimedEnd`, so that the next claim starts past the busy range. It never moves back,
 * even when the busy range ends inside the dropped claim: a pointer that stands at `claimedEnd`
 * may be the next generation's (a reset and new claims may have come between the claim and its
 * drop), and moving it back would hand out bytes that are in use there. Cost: one compare-and-swap.
 */
export function skipBusyRange(control: Int32Array, claimedEnd: number, busyUntil: number): void {
  if (busyUntil > claimedEnd) Atomics.compareExchange(control, POSITION, claimedEnd, busyUntil);
}

/**
 * Records the span of every announced range (run by a reset, after it made the generation odd).
 * Cost: O(attached slots).
 */
export function recordAnnouncedSpan(control: Int32Array): void {
  let low = 0x7fffffff;
  let high = 0;
  const take = (word: number): void => {
    const start = Atomics.load(control, word);
    const end = Atomics.load(control, word + 1);
    if (start < end) {
      low = Math.min(low, start);
      high = Math.max(high, end);
    }
  };
  forEachAttached(control, (slot) => {
    take(chunkWord(slot));
    take(writeWord(slot));
  });
  Atomics.store(control, SPAN_LOW, high === 0 ? 0 : low);
  Atomics.store(control, SPAN_HIGH, high);
}

/** The end of the range announced at `word` if it overlaps [start, end), else -1. */
function overlapEnd(control: Int32Array, word: number, start: number, end: number): number {
  const low = Atomics.load(control, word);
  const high = Atomics.load(control, word + 1);
  return low < end && start < high ? high : -1;
}

function forEachAttached(control: Int32Array, visit: (slot: number) => void): void {
  const max = control[MAX_ATTACHMENTS]!;
  for (let base = 0; base < max; base += 32) {
    let bits = Atomics.load(control, SLOT_BITS + (base >>> 5));
    while (bits !== 0) {
      const bit = 31 - Math.clz32(bits & -bits);
      bits &= bits - 1;
      visit(base + bit);
    }
  }
}

/** Takes the lock that orders resets and closes (held for a few stores; spins, then sleeps). */
export function lock(control: Int32Array): void {
  for (let round = 0; Atomics.compareExchange(control, LOCK, 0, 1) !== 0; round += 1) pause(control, LOCK, 1, round);
}

export function unlock(control: Int32Array): void {
  Atomics.store(control, LOCK, 0);
  Atomics.notify(control, LOCK, 1);
}

/**
 * One attachment's slot: its counters and announcements. Released once, by `close()`, by
 * garbage collection of the attachment, or at a normal worker exit; a released lease never touches
 * the slot again, whoever holds it next.
 */
export class SlotLease {
  readonly #control: Int32Array;
  readonly #counters: Float64Array;
  /** The slot number. */
  readonly slot: number;
  #released = false;

  /**
   * Takes a free slot.
   * @throws MemError EXHAUSTED if every slot is taken.
   */
  constructor(control: Int32Array, counters: Float64Array) {
    this.#control = control;
    this.#counters = counters;
    this.slot = claimSlot(control);
  }

  /** Whether the slot was given back. */
  get released(): boolean {
    return this.#released;
  }

  /** Folds the counters into the retired totals, withdraws the announcements, frees the slot. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const control = this.#control;
    const counters = this.#counters;
    const index = SLOTS + SLOT_STRIDE * this.slot;
    lock(control);
    try {
      counters[RETIRED + COUNT] = counters[RETIRED + COUNT]! + counters[index + COUNT]!;
      counters[RETIRED + BYTES] = counters[RETIRED + BYTES]! + counters[index + BYTES]!;
      counters[index + COUNT] = 0;
      counters[index + BYTES] = 0;
      withdraw(control, chunkWord(this.slot));
      withdraw(control, writeWord(this.slot));
      Atomics.and(control, SLOT_BITS + (this.slot >>> 5), ~(1 << (this.slot & 31)));
      Atomics.sub(control, ATTACHED, 1);
    } finally {
      unlock(control);
    }
  }
}

function claimSlot(control: Int32Array): number {
  const max = control[MAX_ATTACHMENTS]!;
  for (let slot = 0; slot < max; slot += 1) {
    const word = SLOT_BITS + (slot >>> 5);
    const bit = 1 << (slot & 31);
    for (;;) {
      const bits = Atomics.load(control, word);
      if ((bits & bit) !== 0) break;
      if (Atomics.compareExchange(control, word, bits, bits | bit) === bits) {
        Atomics.add(control, ATTACHED, 1);
        return slot;
      }
    }
  }
  throw new MemError(
    'EXHAUSTED',
    `the shared arena has ${max} attachments already (maxAttachments); close() unused ones`,
    { details: { maxAttachments: max } },
  );
}
