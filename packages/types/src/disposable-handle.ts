/**
 * The base of every handle that owns memory: released once, checked on every use, and disposable
 * with `using`.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError } from './mem-error.js';

// The disposal protocol, declared exactly as TypeScript's `esnext.disposable` lib and `@types/node`
// declare it (the declarations merge), so that the published types need no lib setting: a project
// with `lib: ["es2022", "dom"]` and no `@types/node` type-checks them as they are.
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
    readonly asyncDispose: unique symbol;
  }
  interface Disposable {
    [Symbol.dispose](): void;
  }
  interface AsyncDisposable {
    [Symbol.asyncDispose](): PromiseLike<void>;
  }
}

/**
 * A handle that owns memory until {@link DisposableHandle.release} is called. Releasing twice
 * throws `DOUBLE_FREE`; subclasses call {@link DisposableHandle.assertLive} before touching the
 * memory, which throws `USE_AFTER_RELEASE` once released. `Symbol.dispose` releases a live handle
 * and does nothing to a released one, so `using` composes with an explicit early `release()`.
 *
 * @example
 * ```ts
 * import { DisposableHandle } from '@mem/types';
 * class Lease extends DisposableHandle {
 *   protected onRelease(): void {
 *     console.log('returned');
 *   }
 * }
 * {
 *   using lease = new Lease();
 * } // logs "returned"
 * ```
 */
export abstract class DisposableHandle implements Disposable {
  #released = false;

  /** Whether the handle has been released. Cost: O(1). */
  get released(): boolean {
    return this.#released;
  }

  /**
   * Returns the memory to its owner.
   * Cost: that of the subclass's `onRelease`.
   * @throws MemError DOUBLE_FREE if the handle was already released. If `onRelease` throws, the
   * handle stays live.
   */
  release(): void {
    if (this.#released) {
      throw new MemError('DOUBLE_FREE', `${this.describe()} was already released`);
    }
    this.onRelease();
    this.#released = true;
  }

  /**
   * Releases the handle if it is still live (the `using` declaration calls this at scope end).
   * Cost: that of {@link DisposableHandle.release}.
   * @throws whatever `onRelease` throws.
   */
  [Symbol.dispose](): void {
    if (!this.#released) this.release();
  }

  /**
   * Throws if the handle was released; call before every access to the memory.
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE if released.
   */
  protected assertLive(): void {
    if (this.#released) {
      throw new MemError('USE_AFTER_RELEASE', `${this.describe()} was used after release`);
    }
  }

  /** Names the handle in error messages; subclasses add sizes or ids. Cost: O(1). */
  protected describe(): string {
    return this.constructor.name;
  }

  /** Gives the memory back; runs exactly once per handle, from `release()`. */
  protected abstract onRelease(): void;
}
