/**
 * A `Writable` of pooled buffers for `pipeline`: it writes each chunk to a target stream or file
 * and returns the chunk to the pool only after the write that uses it completed.
 *
 * This module runs in Node.js only.
 * @module
 */
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { FrozenBuffer } from '../frozen-buffer.js';
import type { IoContext } from './io-context.js';
import { takeOver, writeHeld, writeHeldToFile, type WritableTarget } from './pooled-write.js';

/** Options of `PooledIo.writer`. */
export interface PooledWriterOptions {
  /** Whether the target stream is ended when the writer finishes (a `FileHandle` is never closed). @defaultValue true */
  readonly end?: boolean;
  /** For a `FileHandle` target: where the first chunk goes, or `null` for the file's current position. @defaultValue null */
  readonly position?: number | null;
}

/** A target stream, as the writer uses it besides `write`. */
interface TargetStream extends WritableTarget {
  once(event: 'drain', listener: () => void): unknown;
  off(event: 'drain' | 'error', listener: (...args: never[]) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  end(callback: (error?: Error | null) => void): unknown;
  destroy(error?: Error): unknown;
  readonly destroyed?: boolean;
}

/**
 * An object-mode `Writable` of `IoBuffer`s and {@link FrozenBuffer}s that writes each to a
 * target stream (a socket, an HTTP response, a file stream) or a `FileHandle`, for
 * `pipeline(source, writer)`.
 *
 * Ownership: `write(chunk)` takes the chunk over at once, before it is queued: an `IoBuffer` is
 * frozen (the caller's handle is released: it can no longer be written to, released or handed
 * on), a `FrozenBuffer` gets a reference of the writer's own. The writer releases what it took
 * when the target's write callback ran (a `FileHandle` write: when it settled), never earlier.
 * Flow: the next chunk is taken when the target accepted this one (its `write` returned true) or
 * after its `'drain'`; file writes go one at a time. Finishing waits for every write's completion,
 * then ends the target stream (option `end`). Destroying the writer returns the chunks it queued,
 * and destroys the target stream when it is destroyed with an error; an error of the target
 * destroys the writer. Made by `PooledIo.writer`.
 */
export class PooledWriter extends Writable {
  readonly #context: IoContext;
  readonly #stream: TargetStream | undefined;
  readonly #file: FileHandle | undefined;
  readonly #end: boolean;
  #position: number | null;
  /** Chunks taken over by `write()` and not handed to the target yet, oldest first. */
  readonly #queued: FrozenBuffer[] = [];
  #inFlight = 0;
  #whenIdle: (() => void) | undefined;
  readonly #onTargetError = (error: Error): void => {
    this.destroy(error);
  };

  /** @internal Made by `PooledIo.writer` with a checked target and options. */
  constructor(
    context: IoContext,
    target: WritableTarget | FileHandle,
    isFile: boolean,
    end: boolean,
    position: number | null,
  ) {
    super({ objectMode: true });
    this.#context = context;
    this.#end = end;
    this.#position = position;
    if (isFile) {
      this.#file = target as FileHandle;
    } else {
      this.#stream = target as TargetStream;
      this.#stream.on('error', this.#onTargetError);
    }
  }

  /**
   * Takes `chunk` (an `IoBuffer` or a {@link FrozenBuffer}: typed `unknown` so that the writer
   * fits every `Writable` slot of `pipeline`) over and queues it for writing; returns false when
   * the writer's queue is full (wait for `'drain'`).
   * Cost: a freeze (or a reference) and the stream's bookkeeping.
   * @throws MemError INVALID_ARGUMENT if `chunk` is not an IoBuffer or a FrozenBuffer.
   * @throws MemError USE_AFTER_RELEASE if `chunk` was released.
   */
  override write(chunk: unknown, callback?: (error?: Error | null) => void): boolean;
  override write(chunk: unknown, encoding: BufferEncoding, callback?: (error?: Error | null) => void): boolean;
  override write(chunk: unknown, ...rest: unknown[]): boolean {
    const held = takeOver(chunk);
    if (this.destroyed || this.writableEnded) {
      // Refused by the stream (with an error to the callback): the chunk is not queued.
      held.release();
    } else {
      this.#queued.push(held);
    }
    return (super.write as (chunk: unknown, ...rest: unknown[]) => boolean)(held, ...rest);
  }

  /**
   * Ends the writer, after writing `chunk` if given (taken over as by `write`).
   * Cost: as `Writable.end`.
   * @throws MemError INVALID_ARGUMENT if `chunk` is given and is not an IoBuffer or a FrozenBuffer.
   * @throws MemError USE_AFTER_RELEASE if `chunk` was released.
   */
  override end(callback?: () => void): this;
  override end(chunk: unknown, callback?: () => void): this;
  override end(chunk: unknown, encoding: BufferEncoding, callback?: () => void): this;
  override end(...args: unknown[]): this {
    const [first] = args;
    if (first !== undefined && first !== null && typeof first !== 'function') {
      const callback = args.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      this.write(first);
      return callback === undefined ? super.end() : super.end(callback);
    }
    return (super.end as (...args: unknown[]) => this)(...args);
  }

  /** @internal Hands one taken-over chunk to the target. */
  override _write(held: FrozenBuffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#queued.shift();
    if (this.#file !== undefined) {
      this.#writeFile(this.#file, held, callback);
      return;
    }
    const stream = this.#stream!;
    let answered = false;
    const answer = (error?: Error | null): void => {
      stream.off('drain', onDrain);
      if (!answered) {
        answered = true;
        callback(error);
      } else if (error) {
        this.destroy(error);
      }
    };
    const onDrain = (): void => answer();
    this.#inFlight += 1;
    const accepted = writeHeld(this.#context, stream, held, (error) => {
      this.#inFlight -= 1;
      if (this.#inFlight === 0) this.#whenIdle?.();
      if (error) answer(error);
    });
    if (accepted) answer();
    else if (!answered) stream.once('drain', onDrain);
  }

  #writeFile(file: FileHandle, held: FrozenBuffer, callback: (error?: Error | null) => void): void {
    const position = this.#position;
    writeHeldToFile(this.#context, file, held, position).then(
      (written) => {
        if (position !== null) this.#position = position + written;
        callback();
      },
      (error: Error) => callback(error),
    );
  }

  /** @internal Waits for every write's completion, then ends the target stream (option `end`). */
  override _final(callback: (error?: Error | null) => void): void {
    const finish = (): void => {
      this.#whenIdle = undefined;
      if (this.#stream !== undefined && this.#end) this.#stream.end((error) => callback(error));
      else callback();
    };
    if (this.#inFlight === 0) finish();
    else this.#whenIdle = finish;
  }

  /** @internal Returns the queued chunks; destroys the target stream when destroyed with an error. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const context = this.#context;
    for (const held of this.#queued.splice(0)) {
      held.release();
      context.counters.returnedOnError += 1;
    }
    context.wake();
    const stream = this.#stream;
    if (stream !== undefined) {
      stream.off('error', this.#onTargetError);
      if (error !== null && stream.destroyed !== true) stream.destroy(error);
    }
    callback(error);
  }
}
