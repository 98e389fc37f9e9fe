/**
 * The lease table of a coordinator: which lease each slot holds, where that workspace is right
 * now, and whether its holder has it pinned, in a `SharedArrayBuffer` that the coordinator's
 * worker and every client see.
 *
 * One slot of four 32-bit words per lease:
 *
 * | word | meaning |
 * | ---- | ------- |
 * | 0 `STATE` | the lease's serial (bits 2-31; 0 when the slot is free), PINNED (bit 0) while its holder pins it, MOVING (bit 1) while the worker copies it |
 * | 1 `SEGMENT` | the index of the pool segment that holds the workspace |
 * | 2 `OFFSET` | its byte offset in that segment's memory |
 * | 3 `VERSION` | bumped when a move begins and when it ends (odd while moving), so that a reader without a pin can tell a place it read whole |
 *
 * The serial shares its word with the pin and move bits, so every change a party makes is a
 * compare-and-swap that names the serial it expects: a handle whose lease the worker took back
 * (the slot now free, or holding another lease) can never pin, unpin or block the slot's next
 * owner, whatever the timing. Serials run from 1 to 2^30 - 1 and then start again.
 *
 * Who writes what:
 * - the worker opens a slot (SEGMENT and OFFSET, then STATE = serial) when it lends a workspace,
 *   and frees it (STATE = 0) only after a compare-and-swap from "serial, no pin" to 0 succeeded
 *   (a release, or a client's close), or once the client's thread is gone (its port closed);
 * - the client that holds the lease pins with a compare-and-swap from "serial, not moving" to
 *   "serial, pinned", reads SEGMENT and OFFSET (they cannot change while pinned), and unpins with
 *   a compare-and-swap back; nested pins are counted by the client's handle, not here;
 * - the worker moves a workspace only after a compare-and-swap from "serial, no pin" to
 *   "serial, moving" succeeded; it bumps VERSION (odd while moving), copies the bytes, writes
 *   SEGMENT and OFFSET, bumps VERSION again, then stores "serial" and wakes waiters. A client
 *   that finds MOVING set waits (for one copy of the workspace's bytes) and tries again.
 *
 * This module is browser compatible.
 * @module
 */

/** Words per slot. */
export const SLOT_WORDS = 4;
/** Word: serial, PINNED and MOVING. */
const STATE = 0;
/** Word: segment index. */
const SEGMENT = 1;
/** Word: byte offset in the segment's memory. */
const OFFSET = 2;
/** Word: moves so far. */
const VERSION = 3;
/** The PINNED bit of STATE. */
const PINNED = 1;
/** The MOVING bit of STATE. */
const MOVING = 2;
/** The largest serial; the next one is 1 again. */
export const MAX_SERIAL = 2 ** 30 - 1;
/** The most lease slots a coordinator may have (`maxWorkspaces`). */
export const MAX_WORKSPACES = 1 << 24;

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
  // Spin briefly where blocking is not allowed; a move is one copy of the workspace's bytes.
  for (let i = 0; i < 64; i += 1) if (Atomics.load(table, index) !== observed) return;
}

/** The STATE word of lease `serial` with no pin and no move. */
function held(serial: number): number {
  return serial << 2;
}

/** The serial of the lease a slot holds now, 0 when free. @internal */
export function slotSerial(table: Int32Array, slot: number): number {
  return Atomics.load(table, slot * SLOT_WORDS + STATE) >>> 2;
}

/**
 * Client side: pins lease `serial` in `slot` once no move is in progress. Returns false, and
 * changes nothing, when the slot no longer holds that lease.
 * @internal
 */
export function pinSlot(table: Int32Array, slot: number, serial: number): boolean {
  const index = slot * SLOT_WORDS + STATE;
  for (;;) {
    const state = Atomics.load(table, index);
    if (state >>> 2 !== serial) return false;
    if ((state & MOVING) !== 0) {
      pause(table, index, state);
      continue;
    }
    if (Atomics.compareExchange(table, index, state, state | PINNED) === state) return true;
  }
}

/**
 * Client side: removes the pin of lease `serial`. Returns false, and changes nothing, when the
 * slot no longer holds that lease pinned (the worker took it back with its pin).
 * @internal
 */
export function unpinSlot(table: Int32Array, slot: number, serial: number): boolean {
  const state = held(serial);
  return Atomics.compareExchange(table, slot * SLOT_WORDS + STATE, state | PINNED, state) === (state | PINNED);
}

/**
 * Client side: the place of lease `serial` (segment and offset read whole: not torn by a move),
 * or undefined when the slot no longer holds that lease. Without a pin it may change at once.
 * @internal
 */
export function readPlace(
  table: Int32Array,
  slot: number,
  serial: number,
): { segment: number; offset: number } | undefined {
  const base = slot * SLOT_WORDS;
  for (;;) {
    const state = Atomics.load(table, base + STATE);
    if (state >>> 2 !== serial) return undefined;
    if ((state & MOVING) !== 0) {
      pause(table, base + STATE, state);
      continue;
    }
    const version = Atomics.load(table, base + VERSION);
    const segment = Atomics.load(table, base + SEGMENT);
    const offset = Atomics.load(table, base + OFFSET);
    // A move that began in between changed VERSION (odd while it runs) or STATE: read again.
    if ((version & 1) === 0 && Atomics.load(table, base + VERSION) === version) {
      if (Atomics.load(table, base + STATE) === state) return { segment, offset };
    }
  }
}

/** Whether the holder of a slot pins it now. @internal */
export function slotPinned(table: Int32Array, slot: number): boolean {
  return (Atomics.load(table, slot * SLOT_WORDS + STATE) & PINNED) !== 0;
}

/** Worker side: fills a free slot for lease `serial`. @internal */
export function openSlot(table: Int32Array, slot: number, serial: number, segment: number, offset: number): void {
  const base = slot * SLOT_WORDS;
  Atomics.store(table, base + SEGMENT, segment);
  Atomics.store(table, base + OFFSET, offset);
  Atomics.store(table, base + STATE, held(serial));
}

/**
 * Worker side: frees the slot of lease `serial` if its holder does not pin it. Returns false,
 * and changes nothing, when it is pinned.
 * @internal
 */
export function tryCloseSlot(table: Int32Array, slot: number, serial: number): boolean {
  return Atomics.compareExchange(table, slot * SLOT_WORDS + STATE, held(serial), 0) === held(serial);
}

/**
 * Worker side: frees a slot whatever its pin, once its holder's thread can no longer use it.
 * A late unpin of the old lease then changes nothing. @internal
 */
export function forceCloseSlot(table: Int32Array, slot: number): void {
  const index = slot * SLOT_WORDS + STATE;
  Atomics.store(table, index, 0);
  Atomics.notify(table, index);
}

/** Worker side: claims the slot of lease `serial` for a move if its holder does not pin it. @internal */
export function beginMove(table: Int32Array, slot: number, serial: number): boolean {
  const base = slot * SLOT_WORDS;
  if (Atomics.compareExchange(table, base + STATE, held(serial), held(serial) | MOVING) !== held(serial)) return false;
  Atomics.add(table, base + VERSION, 1);
  return true;
}

/** Worker side: publishes the new place of a moved lease and lets pins in again. @internal */
export function endMove(table: Int32Array, slot: number, serial: number, segment: number, offset: number): void {
  const base = slot * SLOT_WORDS;
  Atomics.store(table, base + SEGMENT, segment);
  Atomics.store(table, base + OFFSET, offset);
  Atomics.add(table, base + VERSION, 1);
  Atomics.store(table, base + STATE, held(serial));
  Atomics.notify(table, base + STATE);
}
