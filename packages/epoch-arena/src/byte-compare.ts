/**
 * Comparing arena bytes with a key in place, without a view or a copy.
 *
 * This module is browser compatible.
 * @module
 */

/**
 * Compares `length` bytes of `bytes` from `offset` with all of `key`, byte by byte as unsigned
 * values, then by length (memcmp order, as a sorted key index wants). Returns a negative number,
 * 0 or a positive number. Cost: O(min(length, key.length)), no allocation.
 */
export function compareBytesAt(bytes: Uint8Array, offset: number, length: number, key: Uint8Array): number {
  const keyLength = key.length;
  const common = length < keyLength ? length : keyLength;
  for (let i = 0; i < common; i += 1) {
    const difference = bytes[offset + i]! - key[i]!;
    if (difference !== 0) return difference < 0 ? -1 : 1;
  }
  return length === keyLength ? 0 : length < keyLength ? -1 : 1;
}

/**
 * Tells whether `length` bytes of `bytes` from `offset` equal `key`. Cost: O(length), no allocation.
 */
export function equalBytesAt(bytes: Uint8Array, offset: number, length: number, key: Uint8Array): boolean {
  if (length !== key.length) return false;
  for (let i = 0; i < length; i += 1) {
    if (bytes[offset + i] !== key[i]) return false;
  }
  return true;
}

/**
 * Copies `length` bytes from `source` at `sourceOffset` to `target` at `targetOffset`: a byte loop
 * for short runs (no view object), `set` over one view for long ones. Cost: O(length).
 */
export function copyBytes(
  source: Uint8Array,
  sourceOffset: number,
  target: Uint8Array,
  targetOffset: number,
  length: number,
): void {
  if (length <= 256) {
    for (let i = 0; i < length; i += 1) target[targetOffset + i] = source[sourceOffset + i]!;
  } else {
    target.set(source.subarray(sourceOffset, sourceOffset + length), targetOffset);
  }
}
