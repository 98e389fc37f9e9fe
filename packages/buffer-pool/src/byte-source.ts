/**
 * The bytes a caller hands to the pool (`IoBuffer.write`, the `bytes` of a transfer descriptor):
 * a `Uint8Array` (a Node `Buffer` is one), or an array of integers in [0, 255].
 *
 * A real `Uint8Array` is recognised by its internal slots, not by `instanceof` or its `length`
 * property, which a subclass or a proxy could answer with anything. An array is read exactly once,
 * element by element, into a copy that is validated before anything is written: reading it can run
 * the caller's code (getters, proxies), and no byte of a pool buffer may be written while that code
 * still runs.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, invalidArgument } from '@mem/types';

/** The `%TypedArray%.prototype` getters, which read a typed array's internal slots and run no user code. */
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
const tagOf = Object.getOwnPropertyDescriptor(typedArrayPrototype, Symbol.toStringTag)!.get! as (
  this: unknown,
) => string | undefined;
const lengthOf = Object.getOwnPropertyDescriptor(typedArrayPrototype, 'length')!.get! as (this: Uint8Array) => number;

/** Whether `value` is a real `Uint8Array` (or a subclass such as Node's `Buffer`); a proxy is not. Cost: O(1). */
export function isUint8Array(value: unknown): value is Uint8Array {
  return tagOf.call(value) === 'Uint8Array';
}

/** The number of bytes of a real `Uint8Array`, from its internal slots. Cost: O(1). */
export function byteCount(bytes: Uint8Array): number {
  return lengthOf.call(bytes);
}

/** The error of a write that does not fit: nothing was written. */
export function writeLimitError(writing: number, length: number, capacity: number): MemError {
  return new MemError('LIMIT_EXCEEDED', `cannot write ${writing} bytes after ${length}: the capacity is ${capacity}`, {
    details: { length, writing, capacity },
  });
}

/**
 * The bytes of `source`, to be written after `length` bytes of a buffer of `capacity` bytes: a
 * real `Uint8Array` as it is, an array as a validated copy.
 * Cost: O(1) for a Uint8Array; O(n) and one copy for an array.
 * @throws MemError INVALID_ARGUMENT if `source` is neither, or an element of the array is not an
 * integer in [0, 255] (naming its index and value).
 * @throws MemError LIMIT_EXCEEDED if `source` is longer than `capacity - length` (its elements unread).
 */
export function readByteSource(source: unknown, length: number, capacity: number): Uint8Array {
  if (isUint8Array(source)) {
    const count = byteCount(source);
    if (count > capacity - length) throw writeLimitError(count, length, capacity);
    return source;
  }
  if (!Array.isArray(source)) {
    throw invalidArgument('source', source, 'a Uint8Array or an array of integers in [0, 255]');
  }
  const items = source as readonly unknown[];
  // Read once: a proxy's length may change between reads (or not be a number at all).
  const count: unknown = items.length;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > 0xffffffff) {
    throw invalidArgument('source.length', count, `an integer in [0, ${0xffffffff}]`);
  }
  if (count > capacity - length) throw writeLimitError(count, length, capacity);
  const bytes = new Uint8Array(count);
  for (let i = 0; i < count; i += 1) {
    const value = items[i];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 255) {
      throw invalidArgument(`source[${i}]`, value, 'an integer in [0, 255]');
    }
    bytes[i] = value;
  }
  return bytes;
}
