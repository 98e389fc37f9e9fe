/**
 * `ArenaRouter`: the handle accessors of a set of arenas, each handle routed to the arena that
 * issued it by the arena id it carries.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError } from '@mem/types';
import type { Arena, ArenaHandle } from './arena.js';
import { ADDRESS_SPAN, GENERATION_BITS, LENGTH_BITS, MAX_ARENA_ID } from './handle-layout.js';
import { rejectHandle } from './handle-rejection.js';

/** 2^47: dividing a handle by it gives its arena id. */
const ID_SPAN = ADDRESS_SPAN * 2 ** (LENGTH_BITS + GENERATION_BITS);

/**
 * Reads and writes handles of several arenas through one object: the arena id in a handle routes
 * it to its arena, which then checks it as its own accessors do. The base of {@link ArenaPool} and
 * {@link SharedArenaPool}, whose handles come from any arena of their ring.
 *
 * @example
 * ```ts
 * import { ArenaPool, type ArenaRouter } from '@mem/epoch-arena';
 * const keyOf = (router: ArenaRouter, handle: number) => new TextDecoder().decode(router.view(handle));
 * const pool = new ArenaPool();
 * keyOf(pool, pool.allocateCopy(new TextEncoder().encode('k1'))); // 'k1'
 * ```
 */
export abstract class ArenaRouter {
  /** Arena by id. */
  readonly #byId: (Arena | undefined)[] = new Array<Arena | undefined>(MAX_ARENA_ID + 1).fill(undefined);
  #ended = false;

  /**
   * The arena that issued `handle`, after checking that the handle is live.
   * Cost: the handle check.
   * @throws MemError FOREIGN_HANDLE if no arena here issued it; STALE_HANDLE or INVALID_ARGUMENT
   * as {@link EpochArena.view}.
   * @throws MemError USE_AFTER_RELEASE once a shared pool is closed.
   */
  arenaOf(handle: ArenaHandle): Arena {
    const arena = this.#route(handle);
    arena.lengthOf(handle);
    return arena;
  }

  /**
   * A view of the handle's bytes; see {@link EpochArena.view}.
   * Cost: routing by arena id plus the arena's view.
   * @throws as {@link ArenaRouter.arenaOf}.
   */
  view(handle: ArenaHandle): Uint8Array {
    return this.#route(handle).view(handle);
  }

  /**
   * A fresh copy of the handle's bytes; see {@link EpochArena.copy}.
   * Cost: routing plus the arena's copy.
   * @throws as {@link ArenaRouter.arenaOf}.
   */
  copy(handle: ArenaHandle): Uint8Array {
    return this.#route(handle).copy(handle);
  }

  /**
   * Copies the handle's bytes into `target`; see {@link EpochArena.copyTo}.
   * Cost: routing plus the arena's copy.
   * @throws as {@link ArenaRouter.arenaOf}; INVALID_ARGUMENT for a bad target.
   */
  copyTo(handle: ArenaHandle, target: Uint8Array, targetOffset = 0): number {
    return this.#route(handle).copyTo(handle, target, targetOffset);
  }

  /**
   * Copies `source` into the handle's bytes; see {@link EpochArena.write}.
   * Cost: routing plus the arena's copy.
   * @throws as {@link ArenaRouter.arenaOf}; INVALID_ARGUMENT for a bad source.
   */
  write(handle: ArenaHandle, source: Uint8Array, offset = 0): void {
    this.#route(handle).write(handle, source, offset);
  }

  /**
   * Fills the handle's bytes; see {@link EpochArena.fill}.
   * Cost: routing plus O(length).
   * @throws as {@link ArenaRouter.arenaOf}; INVALID_ARGUMENT for a bad value.
   */
  fill(handle: ArenaHandle, value = 0): void {
    this.#route(handle).fill(handle, value);
  }

  /**
   * Compares the handle's bytes with `key` without copying; see {@link EpochArena.compare}.
   * Cost: routing plus O(length).
   * @throws as {@link ArenaRouter.arenaOf}; INVALID_ARGUMENT for a bad key.
   */
  compare(handle: ArenaHandle, key: Uint8Array): number {
    return this.#route(handle).compare(handle, key);
  }

  /**
   * Tells whether the handle's bytes equal `key`, without copying; see {@link EpochArena.equals}.
   * Cost: routing plus O(length).
   * @throws as {@link ArenaRouter.arenaOf}; INVALID_ARGUMENT for a bad key.
   */
  equals(handle: ArenaHandle, key: Uint8Array): boolean {
    return this.#route(handle).equals(handle, key);
  }

  /**
   * The handle's length; see {@link EpochArena.lengthOf}.
   * Cost: routing plus the handle check.
   * @throws as {@link ArenaRouter.arenaOf}.
   */
  lengthOf(handle: ArenaHandle): number {
    return this.#route(handle).lengthOf(handle);
  }

  /**
   * The epoch the handle was issued in.
   * Cost: routing plus the handle check.
   * @throws as {@link ArenaRouter.arenaOf}.
   */
  epochOf(handle: ArenaHandle): number {
    return this.#route(handle).epochOf(handle);
  }

  /**
   * Tells whether `handle` is a live handle of an arena here. Never throws.
   * Cost: routing plus the handle check.
   * @throws never
   */
  isValid(handle: unknown): boolean {
    if (this.#ended || typeof handle !== 'number') return false;
    const arena = this.#byId[Math.floor(handle / ID_SPAN)];
    return arena !== undefined && arena.isValid(handle);
  }

  /** Names the router in error messages. */
  abstract toString(): string;

  /** Routes the handles of `arena` here. @internal */
  protected addRoute(arena: Arena): void {
    this.#byId[arena.id] = arena;
  }

  /** Ends routing: every later accessor call throws USE_AFTER_RELEASE, `isValid` answers false. @internal */
  protected endRoutes(): void {
    this.#ended = true;
  }

  /** Whether {@link ArenaRouter.endRoutes} was called. @internal */
  protected get routesEnded(): boolean {
    return this.#ended;
  }

  /**
   * Throws USE_AFTER_RELEASE once routing has ended.
   * @throws MemError USE_AFTER_RELEASE after `endRoutes`.
   * @internal
   */
  protected assertOpen(): void {
    if (this.#ended) this.#throwEnded();
  }

  #throwEnded(): never {
    throw new MemError('USE_AFTER_RELEASE', `${this.toString()} was used after close()`);
  }

  /** The arena a handle's id field names, unchecked otherwise. */
  #route(handle: ArenaHandle): Arena {
    if (this.#ended) this.#throwEnded();
    const arena = typeof handle === 'number' ? this.#byId[Math.floor(handle / ID_SPAN)] : undefined;
    if (arena !== undefined) return arena;
    return rejectHandle(handle, { id: 0, generation: 0, label: this.toString() });
  }
}
