/**
 * A file the helpers read or write: a `FileHandle` the caller gave (used through its own methods,
 * so that the caller's `close()` waits for the operations in flight, as Node guarantees), or a file
 * the helper opened itself (used through its descriptor with callbacks: no promise and no result
 * object per operation, and the helper closes it only once its operations settled).
 *
 * This module runs in Node.js only.
 * @module
 */
import { read, write } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';

/** Called when a read or write settled: the error, or the bytes it moved. */
export type FileCallback = (error: Error | null, bytes: number) => void;

/** A file open for the helpers. */
export class OpenFile {
  readonly #handle: FileHandle;
  readonly #owned: boolean;

  /** `handle`, used through its methods unless `owned` (the helper opened it and closes it). */
  constructor(handle: FileHandle, owned: boolean) {
    this.#handle = handle;
    this.#owned = owned;
  }

  /** Opens `path` with `flags`, owned by the helper. */
  static async open(path: string, flags: 'r' | 'w'): Promise<OpenFile> {
    return new OpenFile(await open(path, flags), true);
  }

  /** Reads up to `length` bytes at `position` (`null`: the current position) into `memory` at `offset`. */
  read(memory: Uint8Array, offset: number, length: number, position: number | null, callback: FileCallback): void {
    if (this.#owned) {
      read(this.#handle.fd, memory, offset, length, position, callback);
    } else {
      this.#handle.read(memory, offset, length, position).then(
        (result) => callback(null, result.bytesRead),
        (error: Error) => callback(error, 0),
      );
    }
  }

  /** Writes `length` bytes of `memory` from `offset` at `position` (`null`: the current position); may write fewer. */
  write(memory: Uint8Array, offset: number, length: number, position: number | null, callback: FileCallback): void {
    if (this.#owned) {
      write(this.#handle.fd, memory, offset, length, position, callback);
    } else {
      this.#handle.write(memory, offset, length, position).then(
        (result) => callback(null, result.bytesWritten),
        (error: Error) => callback(error, 0),
      );
    }
  }

  /** Like {@link OpenFile.read}, as a promise of the bytes read. */
  readAt(memory: Uint8Array, offset: number, length: number, position: number | null): Promise<number> {
    return new Promise((resolve, reject) =>
      this.read(memory, offset, length, position, (error, bytes) => (error === null ? resolve(bytes) : reject(error))),
    );
  }

  /** The file's status. */
  stat(): Promise<Stats> {
    return this.#handle.stat();
  }

  /** Closes the file if the helper opened it (a caller's `FileHandle` stays open). */
  async close(): Promise<void> {
    if (this.#owned) await this.#handle.close();
  }
}
