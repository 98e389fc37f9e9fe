/**
 * A file's bytes as a `Readable` of pooled chunks.
 *
 * This module runs in Node.js only.
 * @module
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { IoContext } from './io-context.js';
import { PooledReadable } from './pooled-readable.js';
import { returnOnError } from './file-reads.js';

/**
 * A file's bytes from `start` to `end` (exclusive; the end of the file by default), as an
 * object-mode `Readable` of pooled chunks of up to `chunkSize` bytes (see {@link PooledReadable}).
 * A path is opened when the stream starts and closed when it ends or is destroyed; a `FileHandle`
 * given by the caller stays open. A read in flight when the stream is destroyed is waited for before
 * its buffer returns to the pool. Made by `PooledIo.fileReadable`.
 */
export class PooledFileReadable extends PooledReadable {
  readonly #path: string | undefined;
  #file: FileHandle | undefined;
  #position: number;
  readonly #end: number;
  #reading = false;
  /** The kernel read in flight, whose buffer must not return before it settles. */
  #inFlight: Promise<unknown> | undefined;

  /** @internal Made by `PooledIo.fileReadable` with checked arguments. */
  constructor(context: IoContext, file: string | FileHandle, start: number, end: number, highWaterMark: number) {
    super(context, highWaterMark);
    if (typeof file === 'string') this.#path = file;
    else this.#file = file;
    this.#position = start;
    this.#end = end;
  }

  /** @internal Opens the file when the stream was given a path. */
  override _construct(callback: (error?: Error | null) => void): void {
    if (this.#path === undefined) {
      callback();
      return;
    }
    open(this.#path, 'r').then(
      (file) => {
        this.#file = file;
        callback();
      },
      (error: Error) => callback(error),
    );
  }

  /** @internal Reads the next chunk, unless one is being read. */
  override _read(): void {
    if (!this.#reading) void this.#readChunk();
  }

  async #readChunk(): Promise<void> {
    this.#reading = true;
    const context = this.context;
    const want = Math.min(context.chunkSize, this.#end - this.#position);
    if (want <= 0) {
      this.push(null);
      return;
    }
    const chunk = await context.takeWhenFree(want);
    let bytesRead = 0;
    if (!this.destroyed) {
      try {
        const read = this.#file!.read(chunk.capacityBytes, 0, want, this.#position);
        this.#inFlight = read;
        ({ bytesRead } = await read);
      } catch (error) {
        returnOnError(context, [chunk]);
        this.destroy(error as Error);
        return;
      } finally {
        this.#inFlight = undefined;
      }
    }
    if (this.destroyed) {
      returnOnError(context, [chunk]);
      return;
    }
    this.#reading = false;
    if (bytesRead === 0) {
      chunk.release();
      this.push(null);
      return;
    }
    chunk.length = bytesRead;
    this.#position += bytesRead;
    context.counters.read(bytesRead);
    this.pushChunk(chunk);
  }

  /** @internal Waits for the read in flight, then closes the file if the stream opened it. */
  protected async stopSource(): Promise<void> {
    await this.#inFlight?.catch(() => undefined);
    if (this.#path !== undefined) await this.#file?.close();
  }
}
