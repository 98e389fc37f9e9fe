/**
 * A `Readable` whose chunks are pooled buffers the consumer owns, and the bookkeeping that keeps
 * it leak-free: a chunk the stream buffered but never delivered returns to the pool when the stream
 * is destroyed.
 *
 * This module runs in Node.js only.
 * @module
 */
import { Readable } from 'node:stream';
import type { IoBuffer } from '../io-buffer.js';
import type { IoContext } from './io-context.js';

/**
 * An object-mode `Readable` of {@link IoBuffer} chunks. Each chunk belongs to whoever reads it:
 * release it (or hand it to `PooledIo.write` or a `PooledWriter`, which release it after the write
 * completed). Chunks still buffered in the stream when it is destroyed (an error, an early
 * `break` out of `for await`, a failed `pipeline`) return to the pool, counted in the
 * `PooledIo`'s `returnedOnError`. Made by `PooledIo.fileReadable` and `PooledIo.socketReadable`.
 */
export abstract class PooledReadable extends Readable {
  /** @internal What the stream allocates from and counts into. */
  protected readonly context: IoContext;
  /** The last chunks pushed, oldest first; the last `readableLength` of them are not delivered yet. */
  #pushed: IoBuffer[] = [];

  /** @internal */
  constructor(context: IoContext, highWaterMark: number) {
    super({ objectMode: true, highWaterMark });
    this.context = context;
  }

  /**
   * The chunks, for `for await (const chunk of readable)`.
   * Cost: as `Readable`'s iterator.
   */
  override [Symbol.asyncIterator](): NodeJS.AsyncIterator<IoBuffer> {
    return super[Symbol.asyncIterator]();
  }

  /**
   * The next chunk, or `null` (none buffered, or the stream was destroyed: the chunks it still
   * buffered went back to the pool, so none is handed out after that).
   * Cost: as `Readable.read`.
   */
  override read(size?: number): IoBuffer | null {
    return this.destroyed ? null : (super.read(size) as IoBuffer | null);
  }

  /**
   * @internal Pushes `chunk` and returns whether the stream wants more; a chunk that arrives
   * after the stream was destroyed returns to the pool.
   */
  protected pushChunk(chunk: IoBuffer): boolean {
    if (this.destroyed) {
      chunk.release();
      this.context.counters.returnedOnError += 1;
      return false;
    }
    const pushed = this.#pushed;
    pushed.push(chunk);
    const more = this.push(chunk);
    // In object mode `readableLength` counts buffered chunks; older ones were delivered.
    const delivered = pushed.length - this.readableLength;
    if (delivered > 0) pushed.splice(0, delivered);
    return more;
  }

  /** @internal Stops the source (waits for a read in flight, closes what the stream opened). */
  protected abstract stopSource(error: Error | null): Promise<void>;

  /**
   * @internal Returns the undelivered chunks (those `read` will no longer hand out), then stops
   * the source.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const pushed = this.#pushed;
    const undelivered = pushed.slice(Math.max(0, pushed.length - this.readableLength));
    this.#pushed = [];
    let returned = 0;
    for (const chunk of undelivered) {
      if (!chunk.released) {
        chunk.release();
        returned += 1;
      }
    }
    this.context.counters.returnedOnError += returned;
    this.context.wake();
    this.stopSource(error).then(
      () => callback(error),
      (stopError: unknown) => callback(error ?? (stopError as Error)),
    );
  }
}
