/**
 * The lease table of a coordinator: where each lent workspace is right now, and who holds it in
 * place, in a `SharedArrayBuffer` that the coordinator's worker and every client see.
 *
 * One slot of four 32-bit words per lease:
 *
 * | word | meaning |
 * | ---- | ------- |
 * | 0 `STATE` | pins held by the client (bits 0-29), and the MOVING bit (bit 30) while the worker copies it |
 * | 1 `SEGMENT` | the index of the pool segment that holds the workspace |
 * | 2 `OFFSET` | its byte offset in that segment's memory |
 * | 3 `SERIAL` | the lease's serial (0 when the slot is free), so that a reused slot is never mistaken |
 *
 * The protocol: a client pins with a compare-and-swap that only succeeds when MOVING is clear,
 * and reads SEGMENT and OFFSET after it (they cannot change while pinned). The worker moves a
 * workspace only after a compare-and-swap of STATE from 0 (no pins) to MOVING succeeded; it
 * writes the new SEGMENT and OFFSET, then stores 0 and wakes waiters. A client that finds MOVING
 * set waits (one copy: microseconds to a few milliseconds) and tries again.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError } from '@mem/types';

/** Words per slot. */
export const SLOT_WORDS = 4;
/** Word: pins and the MOVING bit. */
export const STATE = 0;
/** Word: segment index. */
export const SEGMENT = 1;
/** Word: byte offset in the segment's memory. */
export const OFFSET = 2;
/** Word: lease serial, 0 when free. */
export const SERIAL = 3;
/** The MOVING bit of STATE. */
export const MOVING = 1 << 30;
/** The pin-count bits of STATE. */
export const PIN_MASK = MOVING - 1;

/** Whether this thread may block in `Atomics.wait` (not on a browser's main thread). */
let canWait: boolean | undefined;

function pause(table: Int32Array, index: number, observed: number): void {
  if (canWait !== false) {
    try {
      Atomics.wait(table, index, observed, 1);
      canWait = true;
      return;
    } catch {
      canWait = false;
    }
  }
  // Spin briefly where blocking is not allowed; a move takes microseconds to milliseconds.
  for (let i = 0; i < 64; i += 1) if (Atomics.load(table, index) !== observed) return;
}

/**
 * Client side: adds a pin to the lease in `slot` once no move is in progress, and checks that the
 * slot still holds the lease `serial`.
 * @throws MemError STALE_HANDLE if the slot no longer holds that lease.
 * @internal
 */
export function pinSlot(table: Int32Array, slot: number, serial: number): void {
  const base = slot * SLOT_WORDS;
  for (;;) {
    if (Atomics.load(table, base + SERIAL) !== serial) {
      throw new MemError('STALE_HANDLE', `lease ${serial} in slot ${slot} was taken back by the coordinator`);
    }
    const state = Atomics.load(table, base + STATE);
    if ((state & MOVING) !== 0) {
      pause(table, base + STATE, state);
      continue;
    }
    if ((state & PIN_MASK) === PIN_MASK) {
      throw new MemError('LIMIT_EXCEEDED', `lease ${serial} is pinned ${PIN_MASK} times: no more pins fit`);
    }
    if (Atomics.compareExchange(table, base + STATE, state, state + 1) === state) return;
  }
}

/** Client side: removes one pin. @internal */
export function unpinSlot(table: Int32Array, slot: number): void {
  Atomics.sub(table, slot * SLOT_WORDS + STATE, 1);
}

/** Reads the segment of a slot. @internal */
export function slotSegment(table: Int32Array, slot: number): number {
  return Atomics.load(table, slot * SLOT_WORDS + SEGMENT);
}

/** Reads the byte offset of a slot. @internal */
export function slotOffset(table: Int32Array, slot: number): number {
  return Atomics.load(table, slot * SLOT_WORDS + OFFSET);
}

/** Reads the pins of a slot. @internal */
export function slotPins(table: Int32Array, slot: number): number {
  return Atomics.load(table, slot * SLOT_WORDS + STATE) & PIN_MASK;
}

/** Worker side: fills a slot for a new lease. @internal */
export function openSlot(table: Int32Array, slot: number, serial: number, segment: number, offset: number): void {
  const base = slot * SLOT_WORDS;
  Atomics.store(table, base + SEGMENT, segment);
  Atomics.store(table, base + OFFSET, offset);
  Atomics.store(table, base + STATE, 0);
  Atomics.store(table, base + SERIAL, serial);
}

/** Worker side: empties a slot; any later pin of the old lease fails with STALE_HANDLE. @internal */
export function closeSlot(table: Int32Array, slot: number): void {
  const base = slot * SLOT_WORDS;
  Atomics.store(table, base + SERIAL, 0);
  Atomics.store(table, base + STATE, 0);
  Atomics.notify(table, base + STATE);
}

/** Worker side: claims a slot for a move if it holds no pin. @internal */
export function beginMove(table: Int32Array, slot: number): boolean {
  return Atomics.compareExchange(table, slot * SLOT_WORDS + STATE, 0, MOVING) === 0;
}

/** Worker side: publishes the new place of a moved lease and lets pins in again. @internal */
export function endMove(table: Int32Array, slot: number, segment: number, offset: number): void {
  const base = slot * SLOT_WORDS;
  Atomics.store(table, base + SEGMENT, segment);
  Atomics.store(table, base + OFFSET, offset);
  Atomics.store(table, base + STATE, 0);
  Atomics.notify(table, base + STATE);
}
