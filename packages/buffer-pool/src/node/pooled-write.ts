/**
 * Writing a pooled buffer so that it returns to the pool only after the write that uses it has
 * completed. A buffer released while the kernel (or a stream's queue) still holds its memory is
 * reused by the next allocation, and the peer receives the next owner's bytes: the classic
 * corruption. Here the write takes the buffer over before it starts: an `IoBuffer` is frozen (its
 * handle is released by that: the caller can no longer write to it, release it or hand it on), a
 * `FrozenBuffer` gets a reference of the write's own; the write releases what it took in the
 * write's completion callback, whether the write succeeded or failed (a destroyed stream calls it
 * with an error). Node calls a stream write's callback once the chunk was handed to the kernel, or
 * dropped with an error; a `FileHandle` write settles once the system call returned.
 *
 * This module runs in Node.js only.
 * @module
 */
import type { FileHandle } from 'node:fs/promises';
import { invalidArgument } from '@mem/types';
import { FrozenBuffer } from '../frozen-buffer.js';
import { IoBuffer } from '../io-buffer.js';
import type { IoContext } from './io-context.js';
import type { FileCallback, OpenFile } from './open-file.js';

/** What a pooled write accepts: a writable stream (a socket, an HTTP response, a file stream, ...). */
export interface WritableTarget {
  /** A Node `Writable`'s `write(chunk, callback)`. */
  write(chunk: Uint8Array, callback: (error?: Error | null) => void): boolean;
}

/**
 * Takes `chunk` over for a write: an `IoBuffer` is frozen (the caller's handle is released), a
 * `FrozenBuffer` gets a reference of its own.
 * @throws MemError INVALID_ARGUMENT if `chunk` is neither.
 * @throws MemError USE_AFTER_RELEASE if it was released.
 */
export function takeOver(chunk: unknown): FrozenBuffer {
  if (chunk instanceof IoBuffer) return chunk.freeze();
  if (chunk instanceof FrozenBuffer) return chunk.clone();
  throw invalidArgument('chunk', chunk, 'an IoBuffer or a FrozenBuffer');
}

/** Whether `value` is a `FileHandle` of `node:fs/promises` (it has a descriptor, `read`, `write` and `stat`). */
export function isFileHandle(value: unknown): value is FileHandle {
  const file = value as Partial<FileHandle> | null;
  return (
    typeof file === 'object' &&
    file !== null &&
    typeof file.fd === 'number' &&
    typeof file.write === 'function' &&
    typeof file.read === 'function' &&
    typeof file.stat === 'function'
  );
}

/**
 * Checks that `target` is a writable stream (an object with `write` and `on` functions).
 * @throws MemError INVALID_ARGUMENT otherwise.
 */
export function assertWritableTarget(target: unknown, name: string): WritableTarget {
  const stream = target as { write?: unknown; on?: unknown } | null;
  if (
    typeof stream !== 'object' ||
    stream === null ||
    typeof stream.write !== 'function' ||
    typeof stream.on !== 'function'
  ) {
    throw invalidArgument(name, target, 'a writable stream');
  }
  return stream as WritableTarget;
}

/**
 * Writes `held` to `target` and releases it in the write's callback, then calls `callback`.
 * Returns what `target.write` returned (false: wait for `'drain'`). Hot path of every pooled
 * stream write: a few counter updates and one closure besides the stream's own work.
 */
export function writeHeld(
  context: IoContext,
  target: WritableTarget,
  held: FrozenBuffer,
  callback: ((error?: Error | null) => void) | undefined,
): boolean {
  const counters = context.counters;
  const bytes = held.bytes;
  counters.writes += 1;
  counters.bytesWritten += bytes.length;
  counters.writesInFlight += 1;
  const done = (error?: Error | null): void => {
    held.release();
    counters.writesInFlight -= 1;
    context.wake();
    callback?.(error);
  };
  try {
    return target.write(bytes, done);
  } catch (error) {
    // A stream that throws refused the chunk before queueing it: its callback will not run.
    held.release();
    counters.writesInFlight -= 1;
    throw error;
  }
}

/**
 * Writes `held` to `file` at `position` (`null`: the current position), all of it (a short write
 * is continued), releases it once the last write settled (also after an error), then calls
 * `callback` with the error or the bytes written.
 */
export function writeHeldToFile(
  context: IoContext,
  file: OpenFile,
  held: FrozenBuffer,
  position: number | null,
  callback: FileCallback,
): void {
  const counters = context.counters;
  const bytes = held.bytes;
  counters.writes += 1;
  counters.bytesWritten += bytes.length;
  counters.writesInFlight += 1;
  let written = 0;
  const finish = (error: Error | null): void => {
    held.release();
    counters.writesInFlight -= 1;
    context.wake();
    callback(error, written);
  };
  const next = (): void => {
    const at = position === null ? null : position + written;
    file.write(bytes, written, bytes.length - written, at, (error, count) => {
      if (error !== null) return finish(error);
      written += count;
      if (written === bytes.length) return finish(null);
      if (count === 0) return finish(new Error(`a file write of ${bytes.length - written} bytes wrote nothing`));
      next();
    });
  };
  next();
}
