/**
 * Reading files into pooled buffers: one read into one buffer, and a whole file into one buffer
 * (or a chain of them). A buffer a read is filling is returned only after that read settled, also
 * when it failed: the kernel never writes into memory the pool gave to someone else.
 *
 * This module runs in Node.js only.
 * @module
 */
import type { FileHandle } from 'node:fs/promises';
import type { IoBuffer } from '../io-buffer.js';
import { BufferChain } from './buffer-chain.js';
import type { IoContext } from './io-context.js';
import { OpenFile } from './open-file.js';

/** Returns `buffers` to the pool for their owner (a read failed), counting them. */
export function returnOnError(context: IoContext, buffers: readonly IoBuffer[]): void {
  for (const buffer of buffers) {
    if (!buffer.released) {
      buffer.release();
      context.counters.returnedOnError += 1;
    }
  }
  context.wake();
}

/**
 * Reads up to `length` bytes at `position` (`null`: the file's current position) of `file` into a
 * pooled buffer; its length is the bytes read (0 at the end of the file).
 */
export async function readOnce(
  context: IoContext,
  file: FileHandle,
  length: number,
  position: number | null,
): Promise<IoBuffer> {
  const buffer = await context.takeWhenFree(length);
  try {
    const { bytesRead } = await file.read(buffer.capacityBytes, 0, length, position);
    buffer.length = bytesRead;
    context.counters.read(bytesRead);
    return buffer;
  } catch (error) {
    returnOnError(context, [buffer]);
    throw error;
  }
}

/** Fills `buffer` from `position` with up to `want` bytes; returns the bytes read (fewer at the end of the file). */
async function fill(file: OpenFile, buffer: IoBuffer, want: number, position: number): Promise<number> {
  const memory = buffer.capacityBytes;
  let filled = 0;
  while (filled < want) {
    const bytesRead = await file.readAt(memory, filled, want - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  buffer.length = filled;
  return filled;
}

/**
 * Reads the whole of `file` (a path, or an open handle read from its start) into pooled buffers:
 * one buffer if its size (when the read starts) fits the pool's largest class, else buffers of the
 * largest class in order. A file that reports size 0 (as some special files do) is read until its
 * end in buffers of `chunkSize`. On an error every buffer read so far returns to the pool.
 */
export async function readWhole(context: IoContext, file: string | FileHandle): Promise<BufferChain> {
  const open = typeof file === 'string' ? await OpenFile.open(file, 'r') : new OpenFile(file, false);
  const buffers: IoBuffer[] = [];
  try {
    const { size } = await open.stat();
    const largest = context.pool.config.maxSize;
    let position = 0;
    for (;;) {
      const want = size > 0 ? Math.min(size - position, largest) : context.chunkSize;
      if (want <= 0) break;
      const buffer = await context.takeWhenFree(want);
      buffers.push(buffer);
      const read = await fill(open, buffer, want, position);
      context.counters.read(read);
      position += read;
      if (read < want) break; // the end of the file
    }
    if (buffers.length > 0 && buffers.at(-1)!.length === 0) buffers.pop()!.release();
    return new BufferChain(buffers);
  } catch (error) {
    returnOnError(context, buffers);
    throw error;
  } finally {
    await open.close();
  }
}
