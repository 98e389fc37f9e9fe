import { describe, expect, it } from 'vitest';
import {
  MAX_SERIAL,
  SLOT_WORDS,
  beginMove,
  endMove,
  forceCloseSlot,
  openSlot,
  pinSlot,
  readPlace,
  slotPinned,
  slotSerial,
  tryCloseSlot,
  unpinSlot,
} from './lease-table.js';

function table(slots = 2): Int32Array {
  return new Int32Array(new SharedArrayBuffer(slots * SLOT_WORDS * 4));
}

describe('the lease table', () => {
  it('lets the holder of a lease pin it, read its place, and unpin it', () => {
    const t = table();
    openSlot(t, 1, 7, 2, 4096);
    expect(slotSerial(t, 1)).toBe(7);
    expect(pinSlot(t, 1, 7)).toBe(true);
    expect(slotPinned(t, 1)).toBe(true);
    expect(readPlace(t, 1, 7)).toEqual({ segment: 2, offset: 4096 });
    expect(unpinSlot(t, 1, 7)).toBe(true);
    expect(slotPinned(t, 1)).toBe(false);
    expect(slotSerial(t, 0)).toBe(0);
  });

  it('never lets a stale serial pin, unpin, read or block the slot’s next lease', () => {
    const t = table();
    openSlot(t, 0, 5, 0, 0);
    expect(pinSlot(t, 0, 5)).toBe(true);
    forceCloseSlot(t, 0); // the holder's client went away with its pin
    openSlot(t, 0, 6, 1, 512); // the next lease, in the same slot
    expect(pinSlot(t, 0, 6)).toBe(true);
    expect(unpinSlot(t, 0, 5)).toBe(false); // the old holder's late unpin
    expect(slotPinned(t, 0)).toBe(true); // the next holder's pin is intact
    expect(pinSlot(t, 0, 5)).toBe(false);
    expect(readPlace(t, 0, 5)).toBeUndefined();
    expect(tryCloseSlot(t, 0, 5)).toBe(false);
    expect(beginMove(t, 0, 5)).toBe(false);
    expect(unpinSlot(t, 0, 6)).toBe(true);
    expect(unpinSlot(t, 0, 5)).toBe(false); // also when the next holder holds no pin
    expect(slotSerial(t, 0)).toBe(6);
    expect(slotPinned(t, 0)).toBe(false);
    expect(beginMove(t, 0, 6)).toBe(true); // nothing left over blocks a move
    endMove(t, 0, 6, 1, 1024);
    expect(readPlace(t, 0, 6)).toEqual({ segment: 1, offset: 1024 });
  });

  it('frees a slot only when its holder does not pin it', () => {
    const t = table();
    openSlot(t, 0, 9, 0, 0);
    pinSlot(t, 0, 9);
    expect(tryCloseSlot(t, 0, 9)).toBe(false);
    expect(slotSerial(t, 0)).toBe(9);
    unpinSlot(t, 0, 9);
    expect(tryCloseSlot(t, 0, 9)).toBe(true);
    expect(slotSerial(t, 0)).toBe(0);
    expect(pinSlot(t, 0, 9)).toBe(false);
  });

  it('moves only unpinned leases, and publishes the new place whole', () => {
    const t = table();
    openSlot(t, 0, 3, 0, 64);
    pinSlot(t, 0, 3);
    expect(beginMove(t, 0, 3)).toBe(false);
    unpinSlot(t, 0, 3);
    expect(beginMove(t, 0, 3)).toBe(true);
    expect(tryCloseSlot(t, 0, 3)).toBe(false); // not while moving
    expect(unpinSlot(t, 0, 3)).toBe(false);
    endMove(t, 0, 3, 1, 128);
    expect(pinSlot(t, 0, 3)).toBe(true);
    expect(readPlace(t, 0, 3)).toEqual({ segment: 1, offset: 128 });
  });

  it('keeps serials up to 2^30 - 1 apart from the pin and move bits', () => {
    const t = table();
    openSlot(t, 0, MAX_SERIAL, 3, 8);
    expect(slotSerial(t, 0)).toBe(MAX_SERIAL);
    expect(pinSlot(t, 0, MAX_SERIAL)).toBe(true);
    expect(pinSlot(t, 0, MAX_SERIAL - 1)).toBe(false);
    expect(unpinSlot(t, 0, MAX_SERIAL)).toBe(true);
    expect(beginMove(t, 0, MAX_SERIAL)).toBe(true);
    endMove(t, 0, MAX_SERIAL, 4, 16);
    expect(readPlace(t, 0, MAX_SERIAL)).toEqual({ segment: 4, offset: 16 });
  });
});
