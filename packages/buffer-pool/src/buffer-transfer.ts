/**
 * The descriptor of a buffer handed to another party: a plain, structured-cloneable object that a
 * worker posts to another worker attached to the same pool, which adopts it with `BufferPool.adopt`.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, describeValue } from '@mem/types';

/** The `type` tag of every {@link BufferTransfer}. */
export const BUFFER_TRANSFER_TYPE = 'mem.buffer-pool.transfer';

/**
 * A buffer in transit, from {@link IoBuffer.transfer} or {@link FrozenBuffer.transfer}: post it to a
 * worker attached to the same pool and call `adopt` there. It can be adopted exactly once; the
 * sender's handle is released by the transfer.
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
 * Checks that `value` has the shape of a {@link BufferTransfer} and returns it.
 * @throws MemError INVALID_ARGUMENT naming what is wrong.
 */
export function readTransfer(value: unknown): BufferTransfer {
  const candidate = value as Partial<Record<keyof BufferTransfer, unknown>> | null;
  if (typeof candidate !== 'object' || candidate === null || candidate.type !== BUFFER_TRANSFER_TYPE) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `transfer must be a descriptor from IoBuffer.transfer() or FrozenBuffer.transfer(), got ${describeValue(value)}`,
    );
  }
  const problems: string[] = [];
  if (!isIndex(candidate.poolId, 0)) problems.push(`poolId ${describeValue(candidate.poolId)}`);
  if (typeof candidate.frozen !== 'boolean') problems.push(`frozen ${describeValue(candidate.frozen)}`);
  if (!isIndex(candidate.slot, -1)) problems.push(`slot ${describeValue(candidate.slot)}`);
  if (!isIndex(candidate.start, 0)) problems.push(`start ${describeValue(candidate.start)}`);
  if (!isIndex(candidate.length, 0)) problems.push(`length ${describeValue(candidate.length)}`);
  if (!isIndex(candidate.capacity, 0)) problems.push(`capacity ${describeValue(candidate.capacity)}`);
  if (!isIndex(candidate.ticketIndex, 0)) problems.push(`ticketIndex ${describeValue(candidate.ticketIndex)}`);
  if (!isIndex(candidate.ticket, 1)) problems.push(`ticket ${describeValue(candidate.ticket)}`);
  const pooled = candidate.slot !== -1;
  if (pooled ? candidate.bytes !== null : !(candidate.bytes instanceof Uint8Array)) {
    problems.push(`bytes ${describeValue(candidate.bytes)} (${pooled ? 'null' : 'a Uint8Array'} expected)`);
  }
  if (problems.length === 0 && (candidate.length as number) > (candidate.capacity as number)) {
    problems.push(`length ${candidate.length as number} above capacity ${candidate.capacity as number}`);
  }
  if (problems.length > 0) {
    throw new MemError('INVALID_ARGUMENT', `transfer descriptor is malformed: ${problems.join(', ')}`);
  }
  return candidate as BufferTransfer;
}
