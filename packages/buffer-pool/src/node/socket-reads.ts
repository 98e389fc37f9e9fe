/**
 * Reading a socket into pooled buffers through Node's `onread: { buffer, callback }` option.
 *
 * How Node uses the option: it asks `buffer()` for the memory of the next read (when the socket's
 * handle starts, and again after every `callback`), reads into it, and calls
 * `callback(bytes, memory)` at once, in the same turn, before any other read. So:
 * - owned chunks: each read lands in a pooled buffer of `chunkSize` that the socket holds until
 *   it is filled (one per open socket, returned when the socket closes). A read of more than an
 *   eighth of `chunkSize` is handed to the user as it is (no copy), and the socket takes the next
 *   buffer; a smaller one is copied into a buffer of its own size class, and the socket keeps its
 *   buffer: a small chunk kept for long then holds its class, not `chunkSize`.
 * - copied chunks: every read lands in the context's one staging buffer and is copied out into a
 *   Node `Buffer` of its exact length in the callback. No pooled buffer per socket.
 * - an exhausted pool under the `'backpressure'` policy: the next read is pointed at the staging
 *   buffer and the socket is paused; when a pooled buffer is free again it is reserved, the socket
 *   resumes, and the read that lands in staging is copied into the reserved buffer.
 *
 * This module runs in Node.js only.
 * @module
 */
import { Buffer } from 'node:buffer';
import { Socket } from 'node:net';
import { MemError, invalidArgument } from '@mem/types';
import type { IoBuffer } from '../io-buffer.js';
import type { IoContext, Waiter } from './io-context.js';

/** Reads of at most `chunkSize >>> SMALL_READ_SHIFT` bytes are copied into a buffer of their own class. */
const SMALL_READ_SHIFT = 3;

/**
 * What a socket read hands to the user: a chunk, to own (an `IoBuffer`, released by whoever ends
 * up with it) or to keep (a copied `Buffer`). Return `false` to pause the socket (resume it with
 * `socket.resume()`), anything else to keep reading.
 * @typeParam T - the chunk: `IoBuffer` for owned chunks, `Buffer` for copied ones.
 */
export type ChunkHandler<T> = (chunk: T) => boolean | void;

/**
 * The value of Node's `onread` socket option that reads into pooled buffers: pass it to
 * `net.connect`, `tls.connect` or `new net.Socket` as `onread`, then call
 * {@link SocketReads.attach} with the socket, so that the buffer held for the next read returns to
 * the pool when the socket closes. `PooledIo.accept` and `PooledIo.connect` do both.
 *
 * A handler that throws gets its chunk returned to the pool (if it is still live) and the socket
 * destroyed with the error.
 */
export class SocketReads {
  /** Node calls it for the memory of the next read. Cost: O(1), no allocation. */
  readonly buffer: () => Uint8Array;
  /** Node calls it with every chunk read. Cost: O(1) (a copy of the chunk in copy mode). */
  readonly callback: (bytes: number, memory: Uint8Array) => boolean;
  readonly #context: IoContext;
  readonly #onChunk: ChunkHandler<never>;
  readonly #copy: boolean;
  /** The pooled buffer of the next read (owned chunks), if one is reserved. */
  #next: IoBuffer | undefined;
  #socket: Socket | undefined;
  #closed = false;
  /** Whether Node asked for the first read's memory. */
  #started = false;
  /** Whether the socket waits for the pool (paused by this reader, not by the user). */
  #waiting = false;
  #userPaused = false;
  readonly #retry: Waiter;

  /** @internal Made by `PooledIo.socketReads`, `accept` and `connect`. */
  constructor(context: IoContext, onChunk: ChunkHandler<never>, copy: boolean) {
    this.#context = context;
    this.#onChunk = onChunk;
    this.#copy = copy;
    this.buffer = () => this.#next?.capacityBytes ?? this.#targetWithoutBuffer();
    this.callback = (bytes, memory) => {
      try {
        return this.#read(bytes, memory);
      } catch (error) {
        // The pool refused (closed meanwhile, or the runtime is out of memory): end the socket.
        this.#fail(error);
        return false;
      }
    };
    this.#retry = () => this.#reserveAndResume();
  }

  /** Whether the socket closed (and the reader returned what it held). Cost: O(1). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Ties the reader to the socket it was given to as `onread`: when the socket closes, the buffer
   * held for its next read returns to the pool. Returns the socket.
   * Cost: O(1), one `'close'` listener.
   * @typeParam S - the socket's class (`net.Socket`, `tls.TLSSocket`), returned as given.
   * @throws MemError INVALID_ARGUMENT if `socket` is not a `net.Socket`.
   * @throws MemError IN_USE if the reader is attached already.
   *
   * @example
   * ```ts
   * import { connect, type ConnectionOptions } from 'node:tls';
   * import { BufferPool } from '@mem/buffer-pool';
   * import { PooledIo } from '@mem/buffer-pool/node';
   * const io = new PooledIo(new BufferPool());
   * const reads = io.socketReads((chunk) => chunk.release());
   * // tls.connect takes onread (Node's type definitions do not list it).
   * const options = { host: 'example.com', port: 443, onread: reads } as ConnectionOptions;
   * const socket = reads.attach(connect(options));
   * socket.end();
   * ```
   */
  attach<S extends Socket>(socket: S): S {
    if (!(socket instanceof Socket)) throw invalidArgument('socket', socket, 'a net.Socket');
    if (this.#socket !== undefined) {
      throw new MemError('IN_USE', 'this SocketReads is attached to a socket already: make one per socket');
    }
    this.#socket = socket;
    socket.once('close', () => this.#close());
    // No buffer for the first read: nothing is read (nothing can be, before this returns) until one is free.
    if (this.#waiting) socket.pause();
    return socket;
  }

  /**
   * Where the next read lands when no pooled buffer is reserved for it: the first read gets one
   * (the socket's handle just started); otherwise (copy mode, waiting for the pool) staging.
   */
  #targetWithoutBuffer(): Uint8Array {
    if (!this.#started && !this.#copy) {
      this.#started = true;
      this.#next = this.#context.take(this.#context.chunkSize);
      if (this.#next !== undefined) return this.#next.capacityBytes;
      // Exhausted before the first read: `attach` pauses the socket until a buffer is free.
      this.#waitForPool(false);
    }
    return this.#context.staging;
  }

  /** Hot path of every socket read: the branches for staging and an exhausted pool are the rare ones. */
  #read(bytes: number, memory: Uint8Array): boolean {
    const context = this.#context;
    context.counters.read(bytes);
    if (this.#copy) return this.#deliver(Buffer.copyBytesFrom(memory, 0, bytes));
    const target = this.#next;
    const inTarget = target !== undefined && memory === target.capacityBytes;
    if (!inTarget) context.counters.stagingCopies += 1;
    // A small read, or one that landed in staging, is copied into a buffer of its own class.
    const own = !inTarget || bytes <= context.chunkSize >>> SMALL_READ_SHIFT ? context.take(bytes) : undefined;
    let chunk: IoBuffer;
    if (own !== undefined) {
      own.capacityBytes.set(memory.subarray(0, bytes));
      chunk = own;
    } else if (target !== undefined) {
      // A large read is handed over as it is (or the pool is exhausted: the reserved buffer takes it).
      if (!inTarget) target.capacityBytes.set(memory.subarray(0, bytes));
      this.#next = undefined;
      chunk = target;
    } else {
      // In staging with nothing reserved and the pool exhausted: untracked memory, counted by the pool.
      chunk = context.pool.alloc(bytes);
      chunk.capacityBytes.set(memory.subarray(0, bytes));
    }
    chunk.length = bytes;
    const more = this.#deliver(chunk);
    if (this.#closed || this.#next !== undefined) return more;
    this.#next = context.take(context.chunkSize);
    if (this.#next === undefined) {
      // Exhausted under 'backpressure': Node points the next read at staging; pause until a buffer is free.
      this.#waitForPool(!more);
      return false;
    }
    return more;
  }

  #waitForPool(userPaused: boolean): void {
    this.#context.counters.exhaustedWaits += 1;
    this.#waiting = true;
    this.#userPaused = userPaused;
    this.#context.wait(this.#retry);
  }

  #deliver(chunk: IoBuffer | Buffer): boolean {
    try {
      return (this.#onChunk as ChunkHandler<IoBuffer | Buffer>)(chunk) !== false;
    } catch (error) {
      if (!Buffer.isBuffer(chunk) && !chunk.released) {
        chunk.release();
        this.#context.counters.returnedOnError += 1;
      }
      this.#fail(error);
      return false;
    }
  }

  /** Destroys the socket with `error`; not attached, nothing can be destroyed: the error goes where Node sends it. */
  #fail(error: unknown): void {
    if (this.#socket === undefined) throw error;
    this.#socket.destroy(error instanceof Error ? error : new Error(String(error)));
  }

  #reserveAndResume(): boolean {
    if (this.#closed || !this.#waiting) return true;
    const next = this.#context.take(this.#context.chunkSize);
    if (next === undefined) return false;
    this.#next = next;
    this.#waiting = false;
    if (!this.#userPaused) this.#socket?.resume();
    return true;
  }

  #close(): void {
    this.#closed = true;
    this.#waiting = false;
    this.#context.cancel(this.#retry);
    const next = this.#next;
    this.#next = undefined;
    next?.release();
  }
}
