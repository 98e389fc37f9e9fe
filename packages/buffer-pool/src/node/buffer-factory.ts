/**
 * `getBuffer(size)` and its inverse: plain Node `Buffer`s over pooled memory, for code that takes
 * an allocation hook of that shape (a `getBuffer(size)` option, or any `(size) => Buffer`
 * function) instead of calling `Buffer.allocUnsafe`.
 *
 * This module runs in Node.js only.
 * @module
 */
import { Buffer } from 'node:buffer';
import { MemError, assertInteger, invalidArgument } from '@mem/types';
import type { IoBuffer } from '../io-buffer.js';
import { MAX_BUFFER_SIZE } from '../pool-limits.js';
import type { IoContext } from './io-context.js';

/** Hands out pooled memory as `Buffer`s and takes it back by the same `Buffer`. */
export class BufferFactory {
  readonly #context: IoContext;
  /** The pooled buffer behind each `Buffer` handed out (weakly: a dropped `Buffer` is a leak the pool recovers). */
  readonly #issued = new WeakMap<Uint8Array, IoBuffer>();
  /** `Buffer`s given back, to tell a second release from a foreign buffer. */
  readonly #returned = new WeakSet<Uint8Array>();

  constructor(context: IoContext) {
    this.#context = context;
  }

  /**
   * A `Buffer` of exactly `size` bytes over a pooled buffer (whose bytes are whatever it last held).
   * @throws MemError INVALID_ARGUMENT if `size` is not an integer in [0, 2^30].
   * @throws MemError EXHAUSTED, OVERSIZED under `'backpressure'`, as the pool's `tryAlloc`.
   */
  getBuffer(size: number): Buffer {
    assertInteger(size, 'size', { min: 0, max: MAX_BUFFER_SIZE });
    const context = this.#context;
    context.assertOpen();
    const pooled = context.takeNow(size);
    const memory = pooled.capacityBytes;
    const buffer = Buffer.from(memory.buffer, memory.byteOffset, size);
    this.#issued.set(buffer, pooled);
    context.counters.factoryOutstanding += 1;
    return buffer;
  }

  /**
   * Returns the pooled buffer behind `buffer` (a `Buffer` from {@link BufferFactory.getBuffer}).
   * @throws MemError INVALID_ARGUMENT if `buffer` is not a Uint8Array.
   * @throws MemError DOUBLE_FREE if it was released already.
   * @throws MemError FOREIGN_HANDLE if it did not come from this factory.
   */
  releaseBuffer(buffer: Uint8Array): void {
    if (!(buffer instanceof Uint8Array)) throw invalidArgument('buffer', buffer, 'a Buffer from getBuffer()');
    const pooled = this.#issued.get(buffer);
    if (pooled === undefined) {
      if (this.#returned.has(buffer)) throw new MemError('DOUBLE_FREE', 'the Buffer was already released');
      throw new MemError('FOREIGN_HANDLE', 'the Buffer did not come from getBuffer() of this PooledIo');
    }
    this.#issued.delete(buffer);
    this.#returned.add(buffer);
    pooled.release();
    const context = this.#context;
    context.counters.factoryOutstanding -= 1;
    context.wake();
  }
}
