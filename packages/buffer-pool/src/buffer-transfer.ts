/**
 * The descriptor of a buffer handed to another party: a plain, structured-cloneable object that a
 * worker posts to another worker attached to the same pool, which adopts it with `BufferPool.adopt`.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, describeValue, invalidArgument } from '@mem/types';
import { byteCount, isUint8Array } from './byte-source.js';

/** The `type` tag of every {@link BufferTransfer}. */
export const BUFFER_TRANSFER_TYPE = 'mem.buffer-pool.transfer';

/**
 * A buffer in transit, from {@link IoBuffer.transfer} or {@link FrozenBuffer.transfer}: post it to a
 * worker attached to the same pool and call `adopt` there. It can be adopted exactly once, and
 * only as issued (its ticket is bound to its slot, start, length, capacity and kind); the sender's
 * handle is released by the transfer. A descriptor that is never adopted keeps its buffer out of
 * the pool.
 */
export interface BufferTransfer {
  /** Always `'mem.buffer-pool.transfer'`. */
  readonly type: typeof BUFFER_TRANSFER_TYPE;
  /** The id of the pool the buffer belongs to. */
  readonly poolId: number;
  /** Whether it is a frozen (immutable, reference-counted) view rather than a mutable buffer. */
  readonly frozen: boolean;
  /** The slot of a pooled buffer, or -1 for an untracked one. */
  readonly slot: number;
  /** Where the buffer starts within its slot (0 unless it was made from a slice). */
  readonly start: number;
  /** Its readable length. */
  readonly length: number;
  /** Its capacity (equal to `length` for a frozen view). */
  readonly capacity: number;
  /** The table entry of its transfer ticket. */
  readonly ticketIndex: number;
  /** Its transfer ticket, redeemed by the adopter. */
  readonly ticket: number;
  /**
   * The bytes of an untracked buffer (they are not in the pool's shared memory, so they travel with
   * the descriptor: copied by `postMessage`, or moved if the caller lists `bytes.buffer` as transferable);
   * `null` for a pooled buffer.
   */
  readonly bytes: Uint8Array | null;
}

function isIndex(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= 0x7fffffff;
}

/**
 * Checks that `value` has the shape of a {@link BufferTransfer} and returns a copy of it: every
 * field is read exactly once, so that nothing the caller's object does later (a getter, a proxy)
 * can change what was checked.
 * @throws MemError INVALID_ARGUMENT naming what is wrong.
 */
export function readTransfer(value: unknown): BufferTransfer {
  if (typeof value !== 'object' || value === null) throw notATransfer(value);
  const candidate = value as Partial<Record<keyof BufferTransfer, unknown>>;
  if (candidate.type !== BUFFER_TRANSFER_TYPE) throw notATransfer(value);
  const { poolId, frozen, slot, start, length, capacity, ticketIndex, ticket, bytes } = candidate;
  const problems: string[] = [];
  if (!isIndex(poolId, 0)) problems.push(`poolId ${describeValue(poolId)}`);
  if (typeof frozen !== 'boolean') problems.push(`frozen ${describeValue(frozen)}`);
  if (!isIndex(slot, -1)) problems.push(`slot ${describeValue(slot)}`);
  if (!isIndex(start, 0)) problems.push(`start ${describeValue(start)}`);
  if (!isIndex(length, 0)) problems.push(`length ${describeValue(length)}`);
  if (!isIndex(capacity, 0)) problems.push(`capacity ${describeValue(capacity)}`);
  if (!isIndex(ticketIndex, 0)) problems.push(`ticketIndex ${describeValue(ticketIndex)}`);
  if (!isIndex(ticket, 1)) problems.push(`ticket ${describeValue(ticket)}`);
  const pooled = slot !== -1;
  if (pooled ? bytes !== null : !isUint8Array(bytes)) {
    problems.push(`bytes ${describeValue(bytes)} (${pooled ? 'null' : 'a Uint8Array'} expected)`);
  }
  if (problems.length === 0 && (length as number) > (capacity as number)) {
    problems.push(`length ${length as number} above capacity ${capacity as number}`);
  }
  if (problems.length === 0 && !pooled && byteCount(bytes as Uint8Array) !== capacity) {
    problems.push(`bytes of ${byteCount(bytes as Uint8Array)} bytes for a capacity of ${capacity as number}`);
  }
  if (problems.length > 0) {
    throw new MemError('INVALID_ARGUMENT', `transfer descriptor is malformed: ${problems.join(', ')}`);
  }
  return Object.freeze({
    type: BUFFER_TRANSFER_TYPE,
    poolId: poolId as number,
    frozen: frozen as boolean,
    slot: slot as number,
    start: start as number,
    length: length as number,
    capacity: capacity as number,
    ticketIndex: ticketIndex as number,
    ticket: ticket as number,
    bytes: bytes as Uint8Array | null,
  });
}

function notATransfer(value: unknown): MemError {
  return invalidArgument('transfer', value, 'a descriptor from IoBuffer.transfer() or FrozenBuffer.transfer()');
}
