/**
 * Exactly-once hand-over of buffers between workers. A buffer handed to another party by descriptor
 * ({@link IoBuffer.transfer}) claims a ticket here; the receiving pool instance redeems it with a
 * compare-exchange, so a descriptor can be adopted once, by one worker, and a copy of it (or a replay
 * after the buffer came back to the pool) is refused instead of creating a second owner.
 *
 * A ticket is bound to what it hands over: its entry records the slot, the start within the slot,
 * the length, the capacity and whether the buffer is frozen, and a descriptor is redeemed only if it
 * describes exactly that. An edited descriptor, or an old one whose table entry and id came round
 * again for another buffer, can therefore never reach another buffer's bytes.
 *
 * Protocol (each entry): free while its id word is 0. The sender claims it with a compare-exchange
 * 0 -> id, then writes the record, then hands the descriptor over (`postMessage` orders the writes
 * before the receiver's reads). The adopter compares the record with the descriptor and redeems
 * with a compare-exchange id -> 0; only one adopter can win it. The record is rewritten only after
 * the entry was freed and claimed again under a new id, so a redeem that compared an old record
 * fails its compare-exchange.
 *
 * Tickets live in shared memory for a shared pool (so any worker can redeem), in private memory
 * otherwise (allocated at the first transfer). Ticket ids come from one counter and are never 0;
 * a table of 4096 entries bounds the transfers in flight.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError } from '@mem/types';
import type { BufferTransfer } from './buffer-transfer.js';
import { MAX_TRANSFERS_IN_FLIGHT } from './pool-limits.js';

/** A claimed ticket: where it is in the table and its id. */
export interface Ticket {
  /** The table entry. */
  readonly index: number;
  /** The id stored there until it is redeemed. */
  readonly id: number;
}

/** What {@link TransferTickets.redeem} found. */
export type Redeemed = 'redeemed' | 'stale' | 'mismatch';

/** The words of one entry: the ticket id, then the buffer it was claimed for. */
const ID = 0;
const SLOT = 1;
const START = 2;
const LENGTH = 3;
const CAPACITY = 4;
const FROZEN = 5;
const WORDS = 6;
/** The id counter follows the entries. */
const COUNTER = MAX_TRANSFERS_IN_FLIGHT * WORDS;

/** The ticket table. */
export class TransferTickets {
  #table: Int32Array | undefined;

  /** Wraps shared ticket memory, or (without `memory`) private memory allocated at the first claim. Cost: O(1). */
  constructor(memory?: SharedArrayBuffer) {
    this.#table = memory === undefined ? undefined : new Int32Array(memory);
  }

  /** Bytes of ticket memory. */
  static readonly byteLength = 4 * (COUNTER + 1);

  /** Allocates shared ticket memory. Cost: 96 KiB zeroed. */
  static allocateShared(): SharedArrayBuffer {
    return new SharedArrayBuffer(TransferTickets.byteLength);
  }

  /**
   * Claims a ticket for the buffer described by the arguments.
   * Cost: two atomics and five stores, more when the table is crowded.
   * @throws MemError LIMIT_EXCEEDED if 4096 transfers are already in flight.
   */
  claim(slot: number, start: number, length: number, capacity: number, frozen: boolean): Ticket {
    const table = (this.#table ??= new Int32Array(new ArrayBuffer(TransferTickets.byteLength)));
    const id = (Atomics.add(table, COUNTER, 1) + 1) & 0x7fffffff || 1;
    for (let probe = 0; probe < MAX_TRANSFERS_IN_FLIGHT; probe += 1) {
      const index = (id + probe) % MAX_TRANSFERS_IN_FLIGHT;
      const entry = index * WORDS;
      if (Atomics.compareExchange(table, entry + ID, 0, id) === 0) {
        Atomics.store(table, entry + SLOT, slot);
        Atomics.store(table, entry + START, start);
        Atomics.store(table, entry + LENGTH, length);
        Atomics.store(table, entry + CAPACITY, capacity);
        Atomics.store(table, entry + FROZEN, frozen ? 1 : 0);
        return { index, id };
      }
    }
    throw new MemError(
      'LIMIT_EXCEEDED',
      `${MAX_TRANSFERS_IN_FLIGHT} transfers are in flight; adopt some before transferring more`,
      { details: { limit: MAX_TRANSFERS_IN_FLIGHT } },
    );
  }

  /**
   * Redeems the ticket of `transfer` once, if it is in flight and was claimed for exactly the
   * buffer the descriptor describes. `stale`: not in flight (already adopted, or never claimed);
   * `mismatch`: in flight for another buffer (nothing changes).
   * Cost: six loads and one compare-exchange.
   */
  redeem(transfer: BufferTransfer): Redeemed {
    const table = this.#table;
    const { ticketIndex: index, ticket: id } = transfer;
    if (table === undefined || index >= MAX_TRANSFERS_IN_FLIGHT || id === 0) return 'stale';
    const entry = index * WORDS;
    if (Atomics.load(table, entry + ID) !== id) return 'stale';
    if (
      Atomics.load(table, entry + SLOT) !== transfer.slot ||
      Atomics.load(table, entry + START) !== transfer.start ||
      Atomics.load(table, entry + LENGTH) !== transfer.length ||
      Atomics.load(table, entry + CAPACITY) !== transfer.capacity ||
      Atomics.load(table, entry + FROZEN) !== (transfer.frozen ? 1 : 0)
    ) {
      return 'mismatch';
    }
    return Atomics.compareExchange(table, entry + ID, id, 0) === id ? 'redeemed' : 'stale';
  }

  /** How many tickets are claimed and not redeemed. Cost: O(4096). */
  inFlight(): number {
    const table = this.#table;
    if (table === undefined) return 0;
    let count = 0;
    for (let i = 0; i < MAX_TRANSFERS_IN_FLIGHT; i += 1) if (Atomics.load(table, i * WORDS + ID) !== 0) count += 1;
    return count;
  }
}
