/**
 * The limits every arena shares, and the argument checks of their slow paths.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, assertInteger, assertPowerOfTwo, invalidArgument } from '@mem/types';

/** The default block size of an {@link EpochArena}: 2 MiB. */
export const DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024;

/** The smallest block size: 8 KiB (twice the largest alignment). */
export const MIN_BLOCK_SIZE = 8 * 1024;

/**
 * The largest block size: 16 MiB. The handle's 28-bit address holds block and offset together,
 * so a 16 MiB block leaves room for 128 blocks (2 GiB) per generation.
 */
export const MAX_BLOCK_SIZE = 16 * 1024 * 1024;

/** Every allocation starts on an 8-byte boundary at least (the minimum alignment). */
export const MIN_ALIGNMENT = 8;

/** The largest alignment an allocation may ask for: 4096 (a page). */
export const MAX_ALIGNMENT = 4096;

/** The longest key {@link EpochArena.allocateKey} takes: 256 bytes. */
export const MAX_KEY_LENGTH = 256;

/** Keys are aligned to 16 bytes (SIMD-friendly). */
export const KEY_ALIGNMENT = 16;

/** The largest single allocation: 2 GiB. */
export const MAX_ALLOCATION_SIZE = 2 ** 31;

/** The largest epoch number (epochs are safe integers). */
export const MAX_EPOCH = Number.MAX_SAFE_INTEGER;

/**
 * Checks an epoch number: an integer in [0, 2^53 - 1].
 * @throws MemError INVALID_ARGUMENT otherwise.
 */
export function assertEpoch(value: unknown, name = 'epoch'): number {
  return assertInteger(value, name, { min: 0, max: MAX_EPOCH });
}

/**
 * Checks an allocation size: an integer in [0, 2 GiB].
 * @throws MemError INVALID_ARGUMENT if it is not an integer >= 0.
 * @throws MemError OVERSIZED if it is larger than {@link MAX_ALLOCATION_SIZE}.
 */
export function assertAllocationSize(size: unknown): number {
  const checked = assertInteger(size, 'size', { min: 0 });
  if (checked > MAX_ALLOCATION_SIZE) {
    throw new MemError('OVERSIZED', `size must be at most ${MAX_ALLOCATION_SIZE} bytes, got ${checked}`, {
      details: { size: checked, max: MAX_ALLOCATION_SIZE },
    });
  }
  return checked;
}

/**
 * Resolves the `align` argument: `undefined` is 8; otherwise a power of two in [1, 4096], raised to 8.
 * @throws MemError INVALID_ARGUMENT otherwise.
 */
export function resolveAlignment(align: unknown): number {
  if (align === undefined) return MIN_ALIGNMENT;
  const checked = assertPowerOfTwo(align, 'align', MAX_ALIGNMENT);
  return checked < MIN_ALIGNMENT ? MIN_ALIGNMENT : checked;
}

const typedArrayLength = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'length')!
  .get! as (this: Uint8Array) => number;

/**
 * The number of bytes `bytes` really views, read with the built-in getter: a subclass or an own
 * property that redefines `length` cannot make a copy reserve fewer bytes than it writes.
 * Cost: O(1).
 */
export function lengthOfBytes(bytes: Uint8Array): number {
  return typedArrayLength.call(bytes);
}

/**
 * Checks that `value` is a `Uint8Array` (a `Buffer` is one): a real view, not a proxy of one or an
 * object that only inherits from `Uint8Array.prototype`.
 * @throws MemError INVALID_ARGUMENT otherwise.
 */
export function assertBytes(value: unknown, name: string): Uint8Array {
  if (!(value instanceof Uint8Array && ArrayBuffer.isView(value))) {
    throw invalidArgument(name, value, 'a Uint8Array');
  }
  return value;
}

/**
 * Throws for a copy whose source turned out longer than its `length` property said: `set` refused
 * to write past the block or chunk (a source that says how long it is truly never gets here).
 * @throws MemError INVALID_ARGUMENT always.
 */
export function refuseMisreportedLength(bytes: Uint8Array, name: string): never {
  throw new MemError(
    'INVALID_ARGUMENT',
    `${name} views ${lengthOfBytes(bytes)} bytes but its length property says ${String(bytes.length)}`,
  );
}

/**
 * Checks a key for {@link EpochArena.allocateKey}.
 * @throws MemError INVALID_ARGUMENT if it is not a `Uint8Array`.
 * @throws MemError OVERSIZED if it is longer than {@link MAX_KEY_LENGTH}.
 */
export function assertKey(key: unknown): Uint8Array {
  const bytes = assertBytes(key, 'key');
  const length = lengthOfBytes(bytes);
  if (length > MAX_KEY_LENGTH) {
    throw new MemError('OVERSIZED', `key must be at most ${MAX_KEY_LENGTH} bytes, got ${length}`, {
      details: { length, max: MAX_KEY_LENGTH },
    });
  }
  return bytes;
}
