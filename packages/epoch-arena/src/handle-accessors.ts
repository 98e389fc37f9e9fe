/**
 * `HandleAccessors`: the checked handle accessors of every arena (view, copy, copyTo, write, fill,
 * compare, equals, lengthOf, epochOf, isValid), written once for {@link EpochArena} and
 * {@link SharedEpochArena}. The two differ only in how a handle resolves to its bytes: each
 * implements `resolve`, its fast handle check.
 *
 * This module is browser compatible.
 * @module
 */
import { assertInteger, assertRange } from '@mem/types';
import type { ArenaHandle } from './arena.js';
import { assertBytes, lengthOfBytes } from './arena-limits.js';
import { compareBytesAt, copyBytes, equalBytesAt } from './byte-compare.js';

/**
 * The checked handle accessors of every arena ({@link EpochArena}, {@link SharedEpochArena}):
 * each first checks the handle against the arena's generation and the bytes in use, then reads or
 * writes the allocation in place. The base class of both arenas; it is not meant to be extended
 * outside this package.
 *
 * @example
 * ```ts
 * import { EpochArena, type HandleAccessors } from '@mem/epoch-arena';
 * const hex = (arena: HandleAccessors, handle: number) => Buffer.from(arena.view(handle)).toString('hex');
 * const arena = new EpochArena();
 * hex(arena, arena.allocateCopy(new Uint8Array([1, 255]))); // '01ff'
 * ```
 */
export abstract class HandleAccessors {
  // Where the allocation the last `resolve` found lies in the bytes it returned. Kept here rather
  // than returned, so that resolving a handle creates no object.
  #offset = 0;
  #length = 0;

  /** The epoch number of the current generation. Cost: O(1). */
  abstract get epoch(): number;

  /**
   * The handle check: returns the bytes holding `handle`'s allocation, passed through
   * `found` to record where in them it lies, or throws why it is no live handle of this arena.
   * @internal
   */
  protected abstract resolve(handle: ArenaHandle): Uint8Array;

  /**
   * Called by `write` and `fill` after their checks and before they write the allocation `resolve`
   * found last: a shared arena announces the write here, and throws STALE_HANDLE if a reset began
   * since the check. Each call is followed by one call of `endWrite`, once the write is done.
   * @internal
   */
  protected beginWrite(_handle: ArenaHandle, _offset: number, _length: number): void {}

  /** Ends what `beginWrite` began. @internal */
  protected endWrite(): void {}

  /**
   * Records the allocation `resolve` found (its offset in `bytes` and its length) and returns `bytes`.
   * @internal
   */
  protected found(bytes: Uint8Array, offset: number, length: number): Uint8Array {
    this.#offset = offset;
    this.#length = length;
    return bytes;
  }

  /**
   * A `Uint8Array` over the allocation's bytes, without copying. It aliases the arena's memory:
   * valid until the next reset (of a shared arena, in any worker), after which it sees the next
   * generation's bytes. Keep handles, not views, across epochs.
   * Cost: the handle check plus one view object.
   * @throws MemError STALE_HANDLE if the handle is from before the last reset.
   * @throws MemError FOREIGN_HANDLE if another arena issued it.
   * @throws MemError INVALID_ARGUMENT if it is no handle of this arena (not a safe integer >= 0,
   * outside the bytes in use, or with a damaged length header).
   * @throws MemError USE_AFTER_RELEASE once this {@link SharedEpochArena} attachment is closed.
   */
  view(handle: ArenaHandle): Uint8Array {
    const bytes = this.resolve(handle);
    return new Uint8Array(bytes.buffer, this.#offset, this.#length);
  }

  /**
   * A fresh copy of the allocation's bytes, independent of the arena (and unshared).
   * Cost: the handle check plus one allocation and copy.
   * @throws as {@link Arena.view}.
   */
  copy(handle: ArenaHandle): Uint8Array {
    const bytes = this.resolve(handle);
    return bytes.slice(this.#offset, this.#offset + this.#length);
  }

  /**
   * Copies the allocation's bytes into `target` at `targetOffset` (default 0) and returns how many
   * bytes were copied (the allocation's length).
   * Cost: the handle check plus the copy; no allocation up to 256 bytes (one view object above).
   * @throws as {@link Arena.view}.
   * @throws MemError INVALID_ARGUMENT if `target` is not a `Uint8Array` or the bytes do not fit at
   * `targetOffset`.
   */
  copyTo(handle: ArenaHandle, target: Uint8Array, targetOffset = 0): number {
    const bytes = this.resolve(handle);
    const offset = this.#offset;
    const length = this.#length;
    fits(targetOffset, length, assertBytes(target, 'target').length, 'target');
    copyBytes(bytes, offset, target, targetOffset, length);
    return length;
  }

  /**
   * Copies `source` into the allocation, starting `offset` bytes (default 0) into it.
   * Cost: the handle check plus the copy; no allocation.
   * @throws as {@link Arena.view}.
   * @throws MemError INVALID_ARGUMENT if `source` is not a `Uint8Array` or does not fit at `offset`.
   */
  write(handle: ArenaHandle, source: Uint8Array, offset = 0): void {
    const bytes = this.resolve(handle);
    const start = this.#offset;
    const length = this.#length;
    const checkedSource = assertBytes(source, 'source');
    const count = lengthOfBytes(checkedSource);
    fits(offset, count, length, 'write');
    if (count === 0) return; // also a detached view, which `set` would refuse
    this.beginWrite(handle, start, length);
    try {
      bytes.set(checkedSource, start + offset);
    } finally {
      this.endWrite();
    }
  }

  /**
   * Sets every byte of the allocation to `value` (default 0).
   * Cost: the handle check plus O(length).
   * @throws as {@link Arena.view}.
   * @throws MemError INVALID_ARGUMENT if `value` is not an integer in [0, 255].
   */
  fill(handle: ArenaHandle, value = 0): void {
    const bytes = this.resolve(handle);
    const start = this.#offset;
    const length = this.#length;
    const checkedValue = assertInteger(value, 'value', { min: 0, max: 255 });
    this.beginWrite(handle, start, length);
    try {
      bytes.fill(checkedValue, start, start + length);
    } finally {
      this.endWrite();
    }
  }

  /**
   * Compares the allocation's bytes with `key` in memcmp order (unsigned bytes, then length)
   * without copying: negative, 0 or positive.
   * Cost: the handle check plus O(length); no allocation.
   * @throws as {@link Arena.view}.
   * @throws MemError INVALID_ARGUMENT if `key` is not a `Uint8Array`.
   */
  compare(handle: ArenaHandle, key: Uint8Array): number {
    const bytes = this.resolve(handle);
    return compareBytesAt(bytes, this.#offset, this.#length, assertBytes(key, 'key'));
  }

  /**
   * Tells whether the allocation's bytes equal `key`, without copying.
   * Cost: the handle check plus O(length); no allocation.
   * @throws as {@link Arena.compare}.
   */
  equals(handle: ArenaHandle, key: Uint8Array): boolean {
    const bytes = this.resolve(handle);
    return equalBytesAt(bytes, this.#offset, this.#length, assertBytes(key, 'key'));
  }

  /**
   * The allocation's length in bytes.
   * Cost: the handle check.
   * @throws as {@link Arena.view}.
   */
  lengthOf(handle: ArenaHandle): number {
    this.resolve(handle);
    return this.#length;
  }

  /**
   * The epoch the handle was issued in: the current epoch, since older handles are stale.
   * Cost: the handle check.
   * @throws as {@link Arena.view}.
   */
  epochOf(handle: ArenaHandle): number {
    this.resolve(handle);
    return this.epoch;
  }

  /**
   * Tells whether `handle` is a live handle of this arena. Never throws, whatever it is given.
   * Cost: the handle check.
   * @throws never
   */
  isValid(handle: unknown): boolean {
    try {
      this.resolve(handle as number);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * Checks that `length` bytes fit at `offset` of `capacity` bytes: an inline test, and the
 * `assertRange` validator (which throws the error) only when it fails.
 * @throws MemError INVALID_ARGUMENT if `offset` is not an integer in [0, capacity - length].
 */
function fits(offset: number, length: number, capacity: number, name: string): void {
  if (!(Number.isInteger(offset) && offset >= 0 && offset <= capacity - length)) {
    assertRange(offset, length, capacity, name);
  }
}
