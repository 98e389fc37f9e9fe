/**
 * A file's bytes as a `Readable` of pooled chunks.
 *
 * This module runs in Node.js only.
 * @module
 */
import type { FileHandle } from 'node:fs/promises';
import type { IoBuffer } from '../io-buffer.js';
import { returnOnError } from './file-reads.js';
import type { IoContext } from './io-context.js';
import { OpenFile } from './open-file.js';
import { PooledReadable } from './pooled-readable.js';

/**
 * A file's bytes from `start` to `end` (exclusive; the end of the file by default), as an
 * object-mode `Readable` of pooled chunks of up to `chunkSize` bytes (see {@link PooledReadable}).
 * A path is opened when the stream starts and closed when it ends or is destroyed; a `FileHandle`
 * given by the caller stays open. A read in flight when the stream is destroyed is waited for before
 * its buffer returns to the pool. Made by `PooledIo.fileReadable`.
 */
export class PooledFileReadable extends PooledReadable {
  readonly #path: string | undefined;
  #file: OpenFile | undefined;
  #position: number;
  readonly #end: number;
  #reading = false;
  /** Whether a read is in flight: its buffer must not return before it settles. */
  #inFlight = false;
  #afterRead: (() => void) | undefined;

  /** @internal Made by `PooledIo.fileReadable` with checked arguments. */
  constructor(context: IoContext, file: string | FileHandle, start: number, end: number, highWaterMark: number) {
    super(context, highWaterMark);
    if (typeof file === 'string') this.#path = file;
    else this.#file = new OpenFile(file, false);
    this.#position = start;
    this.#end = end;
  }

  /** @internal Opens the file when the stream was given a path. */
  override _construct(callback: (error?: Error | null) => void): void {
    if (this.#path === undefined) {
      callback();
      return;
    }
    OpenFile.open(this.#path, 'r').then(
      (file) => {
        this.#file = file;
        callback();
      },
      (error: Error) => callback(error),
    );
  }

  /** @internal Reads the next chunk, unless one is being read. */
  override _read(): void {
    if (this.#reading) return;
    this.#reading = true;
    const want = Math.min(this.context.chunkSize, this.#end - this.#position);
    if (want <= 0) {
      this.push(null);
      return;
    }
    const chunk = this.context.take(want);
    if (chunk !== undefined) this.#readInto(chunk, want);
    else {
      this.context.takeWhenFree(want).then(
        (taken) => this.#readInto(taken, want),
        (error: Error) => this.destroy(error),
      );
    }
  }

  /** Hot path of every chunk: one read into `chunk`, then a push. */
  #readInto(chunk: IoBuffer, want: number): void {
    if (this.destroyed) {
      returnOnError(this.context, [chunk]);
      return;
    }
    this.#inFlight = true;
    this.#file!.read(chunk.capacityBytes, 0, want, this.#position, (error, bytesRead) => {
      this.#inFlight = false;
      this.#afterRead?.();
      if (error !== null || this.destroyed) {
        returnOnError(this.context, [chunk]);
        if (error !== null) this.destroy(error);
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
      this.context.counters.read(bytesRead);
      this.pushChunk(chunk);
    });
  }

  /** @internal Waits for the read in flight, then closes the file if the stream opened it. */
  protected async stopSource(): Promise<void> {
    if (this.#inFlight) await new Promise<void>((resolve) => (this.#afterRead = resolve));
    await this.#file?.close();
  }
}
