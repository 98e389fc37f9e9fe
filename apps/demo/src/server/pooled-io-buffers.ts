/**
 * The server's I/O buffers from `@mem/buffer-pool`: every request body and every response chunk
 * (each server-sent event, each JSON answer) is written into a pooled buffer, handed to the socket
 * as a zero-copy Node `Buffer`, and released when the socket has written it.
 * @module
 */
import type { BufferPool } from '@mem/buffer-pool';
import { toNodeBuffer } from '@mem/buffer-pool/node';
import type { IoBuffers, IoLease } from './io-buffers.js';

/** {@link IoBuffers} over a `BufferPool`. */
export class PooledIoBuffers implements IoBuffers {
  readonly #pool: BufferPool;

  constructor(pool: BufferPool) {
    this.#pool = pool;
  }

  lease(size: number): IoLease {
    // alloc falls back to an untracked buffer past the largest class or when a class is exhausted;
    // the pool counts those fallbacks, and the dashboard shows them.
    const buffer = this.#pool.alloc(size);
    return {
      bytes: buffer.capacityBytes,
      nodeBuffer: (length) => {
        buffer.length = length;
        return toNodeBuffer(buffer);
      },
      release: () => buffer.release(),
    };
  }
}
