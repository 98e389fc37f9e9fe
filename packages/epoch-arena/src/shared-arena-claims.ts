/**
 * `RegionClaims`: how one attachment of a {@link SharedEpochArena} claims ranges of the shared
 * region from its bump pointer, under the protocol written down in `shared-arena-control.ts`.
 *
 * This module is browser compatible (where `SharedArrayBuffer` is available).
 * @module
 */
import {
  GENERATION,
  LIMIT_UNITS,
  POSITION,
  SPAN_HIGH,
  SPAN_LOW,
  announce,
  announcedOverlap,
  skipBusyRange,
  withdraw,
} from './shared-arena-control.js';
import { pause } from './spin-wait.js';

/**
 * The claims of one attachment. A claim happens inside the generation sequence lock: one taken
 * while a reset ran is dropped and made again, so a range is never handed out under the new
 * generation's tag before the reset finished. A range that will be written is announced (at
 * `announceAt`, a word of the attachment's slot line) before the generation is checked again, and
 * a claim that overlaps a range another attachment still announces from an earlier generation is
 * dropped, the bump pointer moving past that range.
 *
 * A successful claim leaves its range in {@link RegionClaims.start} and {@link RegionClaims.end}
 * and the generation word it was made in in {@link RegionClaims.generationWord}: the caller tags
 * its handles with that generation. Slow path only: one claim per chunk, or per allocation outside
 * a chunk.
 */
export class RegionClaims {
  /** Start of the last claim: in units from {@link RegionClaims.claim}, in bytes from {@link RegionClaims.claimAligned}. */
  start = 0;
  /** End (units) of the last claim. */
  end = 0;
  /** The (even) generation word the last claim was made in. */
  generationWord = 0;
  readonly #control: Int32Array;
  /** The attachment's slot, whose own announcements never block its claims. */
  readonly #slot: number;
  readonly #limitUnits: number;
  /** The generation word whose recorded span of announcements `#spanLow`/`#spanHigh` hold. */
  #spanWord = -1;
  #spanLow = 0;
  #spanHigh = 0;

  /**
   * @param control the arena's control words
   * @param slot the attachment's slot
   */
  constructor(control: Int32Array, slot: number) {
    this.#control = control;
    this.#slot = slot;
    this.#limitUnits = control[LIMIT_UNITS]!;
  }

  /**
   * Claims `units` 8-byte units with one `Atomics.add` (at least `minUnits` of them at the end of
   * the region); announces them at `announceAt` if it is >= 0. Returns false, with nothing
   * announced there, when the region is full for this generation.
   */
  claim(units: number, minUnits: number, announceAt: number): boolean {
    const control = this.#control;
    const limit = this.#limitUnits;
    for (let round = 0; ; round += 1) {
      const before = this.#generation(round);
      if (before < 0) continue;
      // A full region is not bumped further, so failed claims cannot push the pointer far past it.
      if (Atomics.load(control, POSITION) + minUnits > limit) return this.#failed(announceAt);
      const old = Atomics.add(control, POSITION, units);
      // Past the limit only the tail [old, limit) is ours: every later claim starts beyond it.
      const end = old + units <= limit ? old + units : limit;
      if (announceAt >= 0) announce(control, announceAt, old, end);
      if (Atomics.load(control, GENERATION) !== before) continue;
      if (old + minUnits > limit) return this.#failed(announceAt);
      const busyUntil = this.#busyUntil(old, end);
      if (busyUntil >= 0) {
        skipBusyRange(control, old + units, busyUntil);
        continue;
      }
      this.start = old;
      this.end = end;
      this.generationWord = before;
      return true;
    }
  }

  /**
   * Claims `size` bytes aligned to `alignment` after a `header` of 0 or 8 bytes, with a
   * compare-and-swap (for alignments above 8 without chunks), under the same protocol as
   * {@link RegionClaims.claim}. Sets `start` in bytes (the data's start); returns false when it does
   * not fit.
   */
  claimAligned(size: number, alignment: number, header: number, announceAt: number): boolean {
    const control = this.#control;
    for (let round = 0; ; round += 1) {
      const before = this.#generation(round);
      if (before < 0) continue;
      const position = Atomics.load(control, POSITION);
      const start = Math.ceil((position * 8 + header) / alignment) * alignment;
      const endUnits = Math.ceil((start + size) / 8);
      if (endUnits > this.#limitUnits) return this.#failed(announceAt);
      if (Atomics.compareExchange(control, POSITION, position, endUnits) !== position) continue;
      if (announceAt >= 0) announce(control, announceAt, position, endUnits);
      if (Atomics.load(control, GENERATION) !== before) continue;
      const busyUntil = this.#busyUntil(position, endUnits);
      if (busyUntil >= 0) {
        skipBusyRange(control, endUnits, busyUntil);
        continue;
      }
      this.start = start;
      this.end = endUnits;
      this.generationWord = before;
      return true;
    }
  }

  /**
   * The generation word to claim in, with the span of announcements its reset recorded; -1 while a
   * reset is in progress (after waiting a little: it takes a few stores).
   */
  #generation(round: number): number {
    const control = this.#control;
    const word = Atomics.load(control, GENERATION);
    if ((word & 1) === 1) {
      pause(control, GENERATION, word, round);
      return -1;
    }
    if (word !== this.#spanWord) {
      // Written by the reset before the generation turned even: a changed word means a changed span.
      this.#spanLow = Atomics.load(control, SPAN_LOW);
      this.#spanHigh = Atomics.load(control, SPAN_HIGH);
      this.#spanWord = word;
    }
    return word;
  }

  /**
   * Where the range [start, end) (units) of a claim stops overlapping ranges other attachments
   * still announce from an earlier generation, or -1 if it overlaps none. Looks only inside the span
   * the last reset recorded.
   */
  #busyUntil(start: number, end: number): number {
    if (end <= this.#spanLow || start >= this.#spanHigh) return -1;
    return announcedOverlap(this.#control, this.#slot, start, end);
  }

  #failed(announceAt: number): false {
    if (announceAt >= 0) withdraw(this.#control, announceAt);
    return false;
  }
}
