/**
 * Exactly-once hand-over of buffers between workers. A buffer handed to another party by descriptor
 * ({@link IoBuffer.transfer}) claims a ticket here; the receiving pool instance redeems it with a
 * compare-exchange, so a descriptor can be adopted once, by one worker, and a copy of it (or a replay
 * after the buffer came back to the pool) is refused instead of creating a second owner.
 *
 * Tickets live in shared memory for a shared pool (so any worker can redeem), in private memory
 * otherwise. Ticket ids come from one counter and are never 0; a table of 4096 entries bounds the
 * transfers in flight.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError } from '@mem/types';
import { MAX_TRANSFERS_IN_FLIGHT } from './pool-limits.js';

/** A claimed ticket: where it is in the table and its id. */
export interface Ticket {
  /** The table entry. */
  readonly index: number;
  /** The id stored there until it is redeemed. */
  readonly id: number;
}

/** The ticket table: `MAX_TRANSFERS_IN_FLIGHT` entries, then the id counter. */
export class TransferTickets {
  readonly #table: Int32Array;

  /** Wraps (or, without `memory`, allocates private) ticket memory. Cost: O(1), or 16 KiB zeroed. */
  constructor(memory?: SharedArrayBuffer) {
    this.#table = new Int32Array(memory ?? new ArrayBuffer(TransferTickets.byteLength));
  }

  /** Bytes of ticket memory. */
  static readonly byteLength = 4 * (MAX_TRANSFERS_IN_FLIGHT + 1);

  /** Allocates shared ticket memory. Cost: 16 KiB zeroed. */
  static allocateShared(): SharedArrayBuffer {
    return new SharedArrayBuffer(TransferTickets.byteLength);
  }

  /**
   * Claims a ticket.
   * Cost: two atomics, more when the table is crowded.
   * @throws MemError LIMIT_EXCEEDED if 4096 transfers are already in flight.
   */
  claim(): Ticket {
    const table = this.#table;
    const id = (Atomics.add(table, MAX_TRANSFERS_IN_FLIGHT, 1) + 1) & 0x7fffffff || 1;
    for (let probe = 0; probe < MAX_TRANSFERS_IN_FLIGHT; probe += 1) {
      const index = (id + probe) % MAX_TRANSFERS_IN_FLIGHT;
      if (Atomics.compareExchange(table, index, 0, id) === 0) return { index, id };
    }
    throw new MemError(
      'LIMIT_EXCEEDED',
      `${MAX_TRANSFERS_IN_FLIGHT} transfers are in flight; adopt some before transferring more`,
      { details: { limit: MAX_TRANSFERS_IN_FLIGHT } },
    );
  }

  /** Redeems ticket `id` at `index` once; returns whether this call redeemed it. Cost: one compare-exchange. */
  redeem(index: number, id: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= MAX_TRANSFERS_IN_FLIGHT || id === 0) return false;
    return Atomics.compareExchange(this.#table, index, id, 0) === id;
  }

  /** How many tickets are claimed and not redeemed. Cost: O(4096). */
  inFlight(): number {
    let count = 0;
    for (let i = 0; i < MAX_TRANSFERS_IN_FLIGHT; i += 1) if (Atomics.load(this.#table, i) !== 0) count += 1;
    return count;
  }
}
