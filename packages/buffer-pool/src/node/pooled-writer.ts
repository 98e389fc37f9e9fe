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
import { OpenFile } from './open-file.js';
import { isFileHandle, takeOver, writeHeld, writeHeldToFile, type WritableTarget } from './pooled-write.js';

/** Options of `PooledIo.writer`. */
export interface PooledWriterOptions {
  /**
   * Whether the target stream is ended when the writer finishes (a caller's `FileHandle` is never
   * closed; a file the writer opened from a path always is). @defaultValue true
   */
  readonly end?: boolean;
  /** For a file target: where the first chunk goes, or `null` for the file's current position. @defaultValue null */
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
 * target stream (a socket, an HTTP response, a file stream), a `FileHandle`, or a file it opens
 * from a path, for `pipeline(source, writer)`.
 *
 * Ownership: `write(chunk)` takes the chunk over at once, before it is queued: an `IoBuffer` is
 * frozen (the caller's handle is released: it can no longer be written to, released or handed
 * on), a `FrozenBuffer` gets a reference of the writer's own. The writer releases what it took
 * when the target's write callback ran (a file write: when it settled), never earlier.
 * Flow: the next chunk is taken when the target accepted this one (its `write` returned true) or
 * after its `'drain'`; file writes go one at a time. Finishing waits for every write's completion,
 * then ends the target stream (option `end`) or closes the file it opened. Destroying the writer
 * returns the chunks it queued (and closes its file once the write in flight settled),
 * and destroys the target stream when it is destroyed with an error; an error of the target
 * destroys the writer. Made by `PooledIo.writer`.
 */
export class PooledWriter extends Writable {
  readonly #context: IoContext;
  readonly #stream: TargetStream | undefined;
  readonly #path: string | undefined;
  #file: OpenFile | undefined;
  readonly #end: boolean;
  #position: number | null;
  /** Chunks taken over by `write()` and not handed to the target yet, oldest first. */
  readonly #queued: FrozenBuffer[] = [];
  /** Writes whose completion has not come back yet. */
  #inFlight = 0;
  #whenIdle: (() => void) | undefined;
  readonly #onTargetError = (error: Error): void => {
    this.destroy(error);
  };

  /** @internal Made by `PooledIo.writer` with a checked target and options. */
  constructor(context: IoContext, target: WritableTarget | FileHandle | string, end: boolean, position: number | null) {
    super({ objectMode: true });
    this.#context = context;
    this.#end = end;
    this.#position = position;
    if (typeof target === 'string') {
      this.#path = target;
    } else if (isFileHandle(target)) {
      this.#file = new OpenFile(target, false);
    } else {
      this.#stream = target as TargetStream;
      this.#stream.on('error', this.#onTargetError);
    }
  }

  /** @internal Opens the file when the writer was given a path. */
  override _construct(callback: (error?: Error | null) => void): void {
    if (this.#path === undefined) {
      callback();
      return;
    }
    OpenFile.open(this.#path, 'w').then(
      (file) => {
        this.#file = file;
        callback();
      },
      (error: Error) => callback(error),
    );
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
      this.#settled();
      if (error) answer(error);
    });
    if (accepted) answer();
    else if (!answered) stream.once('drain', onDrain);
  }

  #writeFile(file: OpenFile, held: FrozenBuffer, callback: (error?: Error | null) => void): void {
    const position = this.#position;
    this.#inFlight += 1;
    writeHeldToFile(this.#context, file, held, position, (error, written) => {
      if (position !== null) this.#position = position + written;
      this.#settled();
      callback(error);
    });
  }

  /** One write completed: wake `_final` or `_destroy` if they wait for the last one. */
  #settled(): void {
    this.#inFlight -= 1;
    if (this.#inFlight === 0) this.#whenIdle?.();
  }

  /** Runs `then` once no write is in flight. */
  #whenWritesSettled(then: () => void): void {
    if (this.#inFlight === 0) then();
    else this.#whenIdle = then;
  }

  /** @internal Waits for every write's completion, then ends the target stream (option `end`) or closes the file it opened. */
  override _final(callback: (error?: Error | null) => void): void {
    this.#whenWritesSettled(() => {
      this.#whenIdle = undefined;
      if (this.#stream !== undefined) {
        if (this.#end) this.#stream.end((error) => callback(error));
        else callback();
      } else {
        this.#file!.close().then(() => callback(), callback);
      }
    });
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
      callback(error);
      return;
    }
    // A file: close it (if the writer opened it) once the write in flight settled.
    this.#whenWritesSettled(() => {
      const file = this.#file;
      if (file === undefined) callback(error);
      else
        file.close().then(
          () => callback(error),
          (closeError: Error) => callback(error ?? closeError),
        );
    });
  }
}
