/**
 * A request's buffers, returned together when the request ends, however it ends.
 *
 * This module runs in Node.js only.
 * @module
 */
import { MemError, invalidArgument } from '@mem/types';
import { FrozenBuffer } from '../frozen-buffer.js';
import { IoBuffer } from '../io-buffer.js';
import type { IoContext } from './io-context.js';

/** A scope keeps at least this many handles before it drops released ones from its list. */
const MIN_COMPACT_LENGTH = 64;

/**
 * The buffers of one request (or any unit of work): allocate through the scope, or give it buffers
 * from elsewhere with {@link BufferScope.adopt}, and {@link BufferScope.close} (or `using`, so that a
 * handler that throws half-way still gets there) returns every one that is still live to the pool,
 * counted in the `PooledIo`'s `returnedByScope`. Buffers handed on meanwhile are not touched: a
 * buffer written with `PooledIo.write` (which holds it until the write completed), frozen,
 * transferred or released is no longer live.
 *
 * @example
 * ```ts
 * import { BufferPool } from '@mem/buffer-pool';
 * import { PooledIo } from '@mem/buffer-pool/node';
 * const io = new PooledIo(new BufferPool());
 * function handle(body: Uint8Array): number {
 *   using scope = io.scope();
 *   const copy = scope.alloc(body.length);
 *   copy.write(body);
 *   if (copy.length > 1000) throw new Error('too large'); // the scope still returns `copy`
 *   return copy.length;
 * }
 * handle(new Uint8Array(10)); // 10
 * ```
 */
export class BufferScope implements Disposable {
  readonly #context: IoContext;
  #held: (IoBuffer | FrozenBuffer)[] = [];
  #compactAt = MIN_COMPACT_LENGTH;
  #closed = false;

  /** @internal Made by `PooledIo.scope`. */
  constructor(context: IoContext) {
    this.#context = context;
  }

  /** Whether the scope was closed. Cost: O(1). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * How many of the scope's buffers are still live.
   * Cost: O(buffers held).
   */
  get live(): number {
    return this.#held.reduce((count, buffer) => count + (buffer.released ? 0 : 1), 0);
  }

  /**
   * A buffer of at least `capacity` bytes (length 0), as `BufferPool.alloc`, that the scope returns
   * when it closes. Under the `'backpressure'` policy an exhausted class throws instead of falling back.
   * Cost: as `BufferPool.alloc`, plus one array slot.
   * @throws MemError INVALID_ARGUMENT if `capacity` is not an integer in [0, 2^53 - 1].
   * @throws MemError USE_AFTER_RELEASE if the scope (or its pool) was closed.
   * @throws MemError EXHAUSTED under `'backpressure'` when the class is exhausted.
   * @throws MemError OVERSIZED under `'backpressure'` when `capacity` exceeds the pool's `maxSize`.
   */
  alloc(capacity: number): IoBuffer {
    this.#assertOpen();
    const buffer = this.#context.takeNow(capacity);
    this.#keep(buffer);
    return buffer;
  }

  /**
   * Gives the scope a buffer (or frozen view) to return when it closes, if it is still live then.
   * Returns it.
   * Cost: one array slot.
   * @typeParam T - the kind of buffer, returned as given.
   * @throws MemError INVALID_ARGUMENT if `buffer` is not an IoBuffer or a FrozenBuffer.
   * @throws MemError USE_AFTER_RELEASE if the scope was closed, or `buffer` was released.
   */
  adopt<T extends IoBuffer | FrozenBuffer>(buffer: T): T {
    if (!(buffer instanceof IoBuffer) && !(buffer instanceof FrozenBuffer)) {
      throw invalidArgument('buffer', buffer, 'an IoBuffer or a FrozenBuffer');
    }
    this.#assertOpen();
    if (buffer.released) throw new MemError('USE_AFTER_RELEASE', 'a released buffer cannot join a scope');
    this.#keep(buffer);
    return buffer;
  }

  /**
   * Returns every buffer of the scope that is still live, and returns how many it returned.
   * Closing twice does nothing (and returns 0).
   * Cost: O(buffers held).
   * @throws never
   */
  close(): number {
    if (this.#closed) return 0;
    this.#closed = true;
    let returned = 0;
    for (const buffer of this.#held) {
      if (!buffer.released) {
        buffer.release();
        returned += 1;
      }
    }
    this.#held = [];
    if (returned > 0) {
      this.#context.counters.returnedByScope += returned;
      this.#context.wake();
    }
    return returned;
  }

  /**
   * Closes the scope (what `using` calls).
   * Cost: as {@link BufferScope.close}.
   * @throws never
   */
  [Symbol.dispose](): void {
    this.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new MemError('USE_AFTER_RELEASE', 'the BufferScope was used after close()');
  }

  #keep(buffer: IoBuffer | FrozenBuffer): void {
    const held = this.#held;
    held.push(buffer);
    if (held.length >= this.#compactAt) {
      // A long-lived scope whose buffers are released as it goes keeps a short list.
      this.#held = held.filter((kept) => !kept.released);
      this.#compactAt = Math.max(MIN_COMPACT_LENGTH, this.#held.length * 2);
    }
  }
}
