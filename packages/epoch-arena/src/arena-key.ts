/**
 * `ArenaKey`: a key wrapper, a handle together with its arena.
 *
 * This module is browser compatible.
 * @module
 */
import { invalidArgument } from '@mem/types';
import type { Arena, ArenaHandle } from './arena.js';

/**
 * A key stored in an arena: the handle with the arena it belongs to, so
 * it can be read, compared and ordered without passing the arena around. One small object per key:
 * for millions of keys keep bare handles (numbers) and call the arena instead.
 *
 * Every read checks the handle, so a key whose arena was reset throws STALE_HANDLE.
 *
 * @example
 * ```ts
 * import { ArenaKey, EpochArena } from '@mem/epoch-arena';
 * const arena = new EpochArena({ epoch: 42 });
 * const bytes = new TextEncoder().encode('user:12345:profile');
 * const key = new ArenaKey(arena, arena.allocateKey(bytes));
 * key.epoch; // 42
 * key.equals(bytes); // true
 * ```
 */
export class ArenaKey {
  readonly #arena: Arena;
  readonly #handle: ArenaHandle;
  readonly #epoch: number;
  readonly #length: number;

  /**
   * Wraps `handle`, which must be a live handle of `arena`.
   * Cost: one handle check.
   * @throws MemError INVALID_ARGUMENT if `arena` is not an arena; STALE_HANDLE, FOREIGN_HANDLE or
   * INVALID_ARGUMENT for a bad handle.
   */
  constructor(arena: Arena, handle: ArenaHandle) {
    if (typeof arena !== 'object' || arena === null || typeof (arena as Partial<Arena>).lengthOf !== 'function') {
      throw invalidArgument('arena', arena, 'an EpochArena or SharedEpochArena');
    }
    this.#length = arena.lengthOf(handle);
    this.#arena = arena;
    this.#handle = handle;
    this.#epoch = arena.epoch;
  }

  /** The handle. Cost: O(1). */
  get handle(): ArenaHandle {
    return this.#handle;
  }

  /** The arena the key lives in. Cost: O(1). */
  get arena(): Arena {
    return this.#arena;
  }

  /** The epoch the key was allocated in. Cost: O(1). */
  get epoch(): number {
    return this.#epoch;
  }

  /** The key's length in bytes. Cost: O(1). */
  get length(): number {
    return this.#length;
  }

  /** Whether the key is empty. Cost: O(1). */
  get isEmpty(): boolean {
    return this.#length === 0;
  }

  /**
   * Whether the key's arena has not been reset since. Cost: one handle check.
   * @throws never
   */
  isValid(): boolean {
    return this.#arena.isValid(this.#handle);
  }

  /**
   * A view of the key's bytes (valid until the arena's next reset).
   * Cost: one handle check and one view object.
   * @throws MemError STALE_HANDLE once the arena has been reset.
   */
  bytes(): Uint8Array {
    return this.#arena.view(this.#handle);
  }

  /**
   * Tells whether the key's bytes equal `other` (bytes or another key), without copying.
   * Cost: one or two handle checks plus O(length).
   * @throws MemError STALE_HANDLE once either arena has been reset; INVALID_ARGUMENT for a bad argument.
   */
  equals(other: Uint8Array | ArenaKey): boolean {
    return this.#arena.equals(this.#handle, other instanceof ArenaKey ? other.bytes() : other);
  }

  /**
   * Compares the key with `other` in memcmp order: negative, 0 or positive.
   * Cost: one or two handle checks plus O(length).
   * @throws MemError STALE_HANDLE once either arena has been reset; INVALID_ARGUMENT for a bad argument.
   */
  compare(other: Uint8Array | ArenaKey): number {
    return this.#arena.compare(this.#handle, other instanceof ArenaKey ? other.bytes() : other);
  }
}
