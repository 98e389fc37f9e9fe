/**
 * `PooledIo`: the Node I/O helpers over one pool, the documented face of every helper (each method
 * checks its arguments and delegates to the file of its helper); most of its 400 lines are TSDoc.
 *
 * This module runs in Node.js only.
 * @module
 */
import type { Buffer } from 'node:buffer';
import type { FileHandle } from 'node:fs/promises';
import { Socket, connect, type NetConnectOpts } from 'node:net';
import {
  assertBoolean,
  assertFunction,
  assertInteger,
  assertOptions,
  invalidArgument,
  MemError,
  type StatsSource,
} from '@mem/types';
import { assertConnectOptions, assertFile, assertPosition, readCopy, readHighWaterMark } from './io-arguments.js';
import { BufferPool } from '../buffer-pool.js';
import type { FrozenBuffer } from '../frozen-buffer.js';
import type { IoBuffer } from '../io-buffer.js';
import { assertFreshConnection, handOver } from './accepted-socket.js';
import type { BufferChain } from './buffer-chain.js';
import { BufferFactory } from './buffer-factory.js';
import { BufferScope } from './buffer-scope.js';
import { readOnce, readWhole } from './file-reads.js';
import { PooledFileReadable } from './file-readable.js';
import { IoContext } from './io-context.js';
import { OpenFile } from './open-file.js';
import type { PooledIoStats } from './io-counters.js';
import {
  resolveIoOptions,
  type ExhaustionPolicy,
  type FileReadableOptions,
  type PooledIoOptions,
  type PooledReadableOptions,
  type SocketReadOptions,
} from './pooled-io-options.js';
import { assertWritableTarget, isFileHandle, takeOver, writeHeld, writeHeldToFile } from './pooled-write.js';
import { PooledWriter, type PooledWriterOptions } from './pooled-writer.js';
import { PooledSocketReadable } from './socket-readable.js';
import { SocketReads, type ChunkHandler } from './socket-reads.js';

/**
 * The Node I/O helpers over one {@link BufferPool}: sockets read into pooled buffers through
 * Node's `onread` option, files read into pooled buffers (one read, a whole file, a stream),
 * `getBuffer(size)` for allocation hooks, writes that return each buffer only after the write that
 * uses it completed, and scopes that return a request's buffers however it ends.
 *
 * - Ownership: a chunk read for you is yours (release it, or hand it to {@link PooledIo.write} or
 *   a {@link PooledWriter}); a write takes its buffer over at once and releases it on completion,
 *   so a buffer cannot return to the pool while the kernel still copies it.
 * - Exhaustion: `whenExhausted: 'fallback'` (the default) reads into untracked memory when the
 *   pool's budget is spent; `'backpressure'` stops reading (pauses sockets, delays file reads)
 *   until buffers return, so pooled memory stays within the budget.
 * - Workers: over a shared pool (`BufferPool.attach` in each worker, one `PooledIo` per worker),
 *   chunks move between threads with `IoBuffer.transfer` and `BufferPool.adopt`.
 * - Errors: a handler that throws, a failed read and a destroyed stream return the buffers they
 *   held, counted in {@link PooledIo.stats} (`returnedOnError`) and in the metrics sink.
 *
 * Cost: each helper adds O(1) work per chunk to Node's own; figures are in the repository's
 * `docs/benchmarks.md` (suite `io`).
 *
 * @example
 * ```ts
 * import { createServer, type Socket } from 'node:net';
 * import { BufferPool } from '@mem/buffer-pool';
 * import { PooledIo } from '@mem/buffer-pool/node';
 * const io = new PooledIo(new BufferPool());
 * // An echo server: chunks are read into pooled buffers and written back; each returns to the
 * // pool when its write completed. pauseOnConnect lets `accept` take the connection over.
 * const server = createServer({ pauseOnConnect: true }, (connection) => {
 *   const socket: Socket = io.accept(connection, (chunk) => io.write(socket, chunk));
 *   socket.on('drain', () => socket.resume()); // io.write returned false: reading paused until then
 *   socket.on('error', () => socket.destroy());
 * });
 * server.listen(0, () => server.close());
 * ```
 */
export class PooledIo implements StatsSource<PooledIoStats>, Disposable {
  readonly #context: IoContext;

  /**
   * A `Buffer` of exactly `size` bytes over a pooled buffer, for code that takes an allocation
   * hook of the shape `getBuffer(size)`; give it back with {@link PooledIo.releaseBuffer}. Its bytes
   * are whatever the pooled buffer last held. Bound: pass `io.getBuffer` as it is.
   * Cost: as `BufferPool.alloc`, plus one `Buffer` object and a weak-map entry.
   * @throws MemError INVALID_ARGUMENT if `size` is not an integer in [0, 2^30].
   * @throws MemError USE_AFTER_RELEASE if this `PooledIo` or its pool was closed.
   * @throws MemError EXHAUSTED under `'backpressure'` when the class is exhausted.
   * @throws MemError OVERSIZED under `'backpressure'` when `size` exceeds the pool's `maxSize`.
   */
  readonly getBuffer: (size: number) => Buffer;

  /**
   * Returns the pooled buffer behind a `Buffer` from {@link PooledIo.getBuffer}. Bound.
   * Cost: a weak-map lookup and a release.
   * @throws MemError INVALID_ARGUMENT if `buffer` is not a Uint8Array.
   * @throws MemError DOUBLE_FREE if it was released already.
   * @throws MemError FOREIGN_HANDLE if it did not come from this `PooledIo`.
   */
  readonly releaseBuffer: (buffer: Uint8Array) => void;

  /**
   * Helpers over `pool` (private or shared; in a worker, the pool attached there).
   * Cost: O(1); a dozen metric instruments with a sink.
   * @throws MemError INVALID_ARGUMENT if `pool` is not a BufferPool, or an option is bad
   * (`chunkSize` outside `[max(1, poolMinSize), maxSize]`, an unknown `whenExhausted`, a sink
   * that is not a MetricsSink or hands back something other than an instrument).
   * @throws MemError USE_AFTER_RELEASE if `pool` was closed.
   * @throws whatever the metrics sink's methods throw (nothing is registered then).
   *
   * @example
   * ```ts
   * import { BufferPool, BufferPoolConfig } from '@mem/buffer-pool';
   * import { PooledIo } from '@mem/buffer-pool/node';
   * const pool = new BufferPool(BufferPoolConfig.forNetwork().withBudgetBytes(64 * 1024 * 1024));
   * const io = new PooledIo(pool, { chunkSize: 16 * 1024, whenExhausted: 'backpressure' });
   * ```
   */
  constructor(pool: BufferPool, options?: PooledIoOptions) {
    if (!(pool instanceof BufferPool)) throw invalidArgument('pool', pool, 'a BufferPool');
    if (pool.closed) throw new MemError('USE_AFTER_RELEASE', 'the BufferPool was closed');
    this.#context = new IoContext(this, pool, resolveIoOptions(options, pool.config));
    const factory = new BufferFactory(this.#context);
    this.getBuffer = (size) => factory.getBuffer(size);
    this.releaseBuffer = (buffer) => factory.releaseBuffer(buffer);
  }

  /** The pool. Cost: O(1). */
  get pool(): BufferPool {
    return this.#context.pool;
  }

  /** Bytes each socket or file read asks for. Cost: O(1). */
  get chunkSize(): number {
    return this.#context.chunkSize;
  }

  /** What reads do when the pool is exhausted. Cost: O(1). */
  get whenExhausted(): ExhaustionPolicy {
    return this.#context.policy;
  }

  /** Whether {@link PooledIo.close} was called. Cost: O(1). */
  get closed(): boolean {
    return this.#context.closed;
  }

  /**
   * The value of Node's `onread` socket option that reads into pooled buffers, for sockets this
   * class does not make (`tls.connect`, `new net.Socket`): pass it as `onread`, then
   * `reads.attach(socket)`. Each chunk goes to `onChunk` as an `IoBuffer` it owns (or, with
   * `copy: true`, as a `Buffer` copy). One per socket.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `onChunk` is not a function or an option is bad.
   * @throws MemError USE_AFTER_RELEASE if this `PooledIo` or its pool was closed.
   */
  socketReads(onChunk: ChunkHandler<IoBuffer>, options?: SocketReadOptions & { readonly copy?: false }): SocketReads;
  socketReads(onChunk: ChunkHandler<Buffer>, options: SocketReadOptions & { readonly copy: true }): SocketReads;
  socketReads(onChunk: ChunkHandler<never>, options?: SocketReadOptions): SocketReads {
    return this.#reads(onChunk, options);
  }

  #reads(onChunk: unknown, options: unknown): SocketReads {
    const handler = assertFunction<ChunkHandler<never>>(onChunk, 'onChunk');
    const copy = readCopy(options);
    this.#context.assertOpen();
    return new SocketReads(this.#context, handler, copy);
  }

  /**
   * Takes over a connection of a server created with `pauseOnConnect: true` and returns the socket
   * that now carries it, reading into pooled buffers: each chunk goes to `onChunk` (return `false`
   * to pause; `socket.resume()` resumes). Use the returned socket from then on (write, listen for
   * `'error'` and `'close'`); the server still counts the connection until it closes.
   * Cost: one socket object; per chunk, O(1): the chunk's handle, and a copy of a small read.
   * @throws MemError INVALID_ARGUMENT if `connection` is not an open, never-read connection of a
   * `pauseOnConnect` server, `onChunk` is not a function, or an option is bad.
   * @throws MemError USE_AFTER_RELEASE if this `PooledIo` or its pool was closed.
   *
   * @example
   * ```ts
   * import { createServer } from 'node:net';
   * import { BufferPool } from '@mem/buffer-pool';
   * import { PooledIo } from '@mem/buffer-pool/node';
   * const io = new PooledIo(new BufferPool());
   * createServer({ pauseOnConnect: true }, (connection) => {
   *   const socket = io.accept(connection, (line) => console.log(line.toString()), { copy: true });
   *   socket.on('error', () => socket.destroy());
   * }).close();
   * ```
   */
  accept(
    connection: Socket,
    onChunk: ChunkHandler<IoBuffer>,
    options?: SocketReadOptions & { readonly copy?: false },
  ): Socket;
  accept(
    connection: Socket,
    onChunk: ChunkHandler<Buffer>,
    options: SocketReadOptions & { readonly copy: true },
  ): Socket;
  accept(connection: Socket, onChunk: ChunkHandler<never>, options?: SocketReadOptions): Socket {
    const fresh = assertFreshConnection(connection);
    return handOver(fresh, this.#reads(onChunk, options));
  }

  /**
   * `net.connect(options)` with reads into pooled buffers: each chunk goes to `onChunk` (return
   * `false` to pause). Returns the socket.
   * Cost: as `net.connect`; per chunk as {@link PooledIo.accept}.
   * @throws MemError INVALID_ARGUMENT if `options` is not an object or has `onread`, `onChunk` is
   * not a function, or an option is bad.
   * @throws MemError USE_AFTER_RELEASE if this `PooledIo` or its pool was closed.
   */
  connect(
    options: NetConnectOpts,
    onChunk: ChunkHandler<IoBuffer>,
    readOptions?: SocketReadOptions & { readonly copy?: false },
  ): Socket;
  connect(
    options: NetConnectOpts,
    onChunk: ChunkHandler<Buffer>,
    readOptions: SocketReadOptions & { readonly copy: true },
  ): Socket;
  connect(options: NetConnectOpts, onChunk: ChunkHandler<never>, readOptions?: SocketReadOptions): Socket {
    const checked = assertConnectOptions(options, 'options');
    const reads = this.#reads(onChunk, readOptions);
    return reads.attach(connect({ ...checked, onread: reads }));
  }

  /**
   * A socket's chunks as an object-mode `Readable` of pooled buffers, for `pipeline`: `source` is a
   * connection of a `pauseOnConnect` server (taken over as by {@link PooledIo.accept}) or
   * `net.connect` options. Write replies to the stream's `socket`.
   * Cost: as {@link PooledIo.accept}, plus the stream's bookkeeping per chunk.
   * @throws MemError INVALID_ARGUMENT if `source` is neither (or has `onread`), or an option is bad.
   * @throws MemError USE_AFTER_RELEASE if this `PooledIo` or its pool was closed.
   *
   * @example
   * ```ts
   * import { createServer } from 'node:net';
   * import { pipeline } from 'node:stream';
   * import { BufferPool } from '@mem/buffer-pool';
   * import { PooledIo } from '@mem/buffer-pool/node';
   * const io = new PooledIo(new BufferPool());
   * createServer({ pauseOnConnect: true }, (connection) => {
   *   const chunks = io.socketReadable(connection);
   *   pipeline(chunks, io.writer(chunks.socket), () => {}); // echo
   * }).close();
   * ```
   */
  socketReadable(source: Socket | NetConnectOpts, options?: PooledReadableOptions): PooledSocketReadable {
    const accepted = source instanceof Socket;
    const checked = accepted ? assertFreshConnection(source) : assertConnectOptions(source, 'source');
    const given = assertOptions<PooledReadableOptions>(options, 'options', ['highWaterMark']);
    const highWaterMark = readHighWaterMark(given.highWaterMark);
    this.#context.assertOpen();
    return new PooledSocketReadable(this.#context, checked, accepted, highWaterMark);
  }

  /**
   * A file's bytes as an object-mode `Readable` of pooled chunks of up to `chunkSize` bytes. A path
   * is opened by the stream and closed when it ends; a `FileHandle` stays the caller's.
   * Cost: one read per chunk, no copy.
   * @throws MemError INVALID_ARGUMENT if `file` is not a path or a FileHandle, or an option is bad
   * (`start`, `end` not integers with `0 <= start <= end`).
   * @throws MemError USE_AFTER_RELEASE if this `PooledIo` or its pool was closed.
   */
  fileReadable(file: string | FileHandle, options?: FileReadableOptions): PooledFileReadable {
    const checked = assertFile(file, 'file');
    const given = assertOptions<FileReadableOptions>(options, 'options', ['start', 'end', 'highWaterMark']);
    const start = given.start === undefined ? 0 : assertInteger(given.start, 'options.start', { min: 0 });
    const end = given.end === undefined ? Infinity : assertInteger(given.end, 'options.end', { min: start });
    const highWaterMark = readHighWaterMark(given.highWaterMark);
    this.#context.assertOpen();
    return new PooledFileReadable(this.#context, checked, start, end, highWaterMark);
  }

  /**
   * Reads up to `length` bytes of `file` at `position` (`null`: its current position) into one
   * pooled buffer, yours to release; its length is the bytes read (0 at the end of the file).
   * Waits for a buffer under `'backpressure'` when the pool is exhausted.
   * Cost: one read, no copy.
   * @throws MemError INVALID_ARGUMENT if `file` is not a FileHandle, `length` is not an integer in
   * [1, maxSize] of the pool, or `position` is not `null` or an integer >= 0.
   * @throws MemError USE_AFTER_RELEASE if this `PooledIo` or its pool was closed.
   * @throws the read's error (the buffer is returned first).
   */
  async read(file: FileHandle, length: number = this.chunkSize, position: number | null = null): Promise<IoBuffer> {
    if (!isFileHandle(file)) throw invalidArgument('file', file, 'a FileHandle');
    assertInteger(length, 'length', { min: 1, max: this.pool.config.maxSize });
    const at = assertPosition(position, 'position');
    this.#context.assertOpen();
    return readOnce(this.#context, file, length, at);
  }

  /**
   * Reads a whole file (a path, or a FileHandle read from its start) into one pooled buffer when
   * it fits the pool's largest class, else into a chain of them, in order; release the chain (or
   * `using`) when done. On an error every buffer read so far returns to the pool.
   * Cost: one read per buffer (more if the system returns short reads), no copy.
   * @throws MemError INVALID_ARGUMENT if `file` is not a path or a FileHandle.
   * @throws MemError USE_AFTER_RELEASE if this `PooledIo` or its pool was closed.
   * @throws the file system's error (opening, reading).
   */
  async readFile(file: string | FileHandle): Promise<BufferChain> {
    const checked = assertFile(file, 'file');
    this.#context.assertOpen();
    return readWhole(this.#context, checked);
  }

  /**
   * Writes `chunk` to a writable stream (a socket, an HTTP response, a file stream) and returns
   * what the stream's `write` returned (false: wait for `'drain'`). The write takes `chunk` over
   * at once: an `IoBuffer` is frozen (your handle is released), a `FrozenBuffer` gets a reference
   * of the write's own; the write releases it when the stream's write callback ran, then calls
   * `callback`. So the memory cannot return to the pool while the kernel may still read it.
   * Cost: a freeze (or a reference) and the stream's write.
   * @throws MemError INVALID_ARGUMENT if `target` is not a writable stream, `chunk` not an IoBuffer
   * or a FrozenBuffer, or `callback` not a function.
   * @throws MemError USE_AFTER_RELEASE if `chunk` was released.
   */
  write(
    target: NodeJS.WritableStream,
    chunk: IoBuffer | FrozenBuffer,
    callback?: (error?: Error | null) => void,
  ): boolean {
    const stream = assertWritableTarget(target, 'target');
    if (callback !== undefined) assertFunction(callback, 'callback');
    return writeHeld(this.#context, stream, takeOver(chunk), callback);
  }

  /**
   * Writes `chunk` to `file` at `position` (`null`: its current position), all of it, and resolves
   * with the bytes written; `chunk` is taken over as by {@link PooledIo.write} and released once
   * the write settled (also when it failed).
   * Cost: one write (more if the system writes short).
   * @throws MemError INVALID_ARGUMENT if `file` is not a FileHandle, `chunk` not an IoBuffer or a
   * FrozenBuffer, or `position` not `null` or an integer >= 0.
   * @throws MemError USE_AFTER_RELEASE if `chunk` was released.
   * @throws the write's error.
   */
  async writeToFile(file: FileHandle, chunk: IoBuffer | FrozenBuffer, position: number | null = null): Promise<number> {
    if (!isFileHandle(file)) throw invalidArgument('file', file, 'a FileHandle');
    const at = assertPosition(position, 'position');
    const held = takeOver(chunk);
    return new Promise((resolve, reject) =>
      writeHeldToFile(this.#context, new OpenFile(file, false), held, at, (error, written) =>
        error === null ? resolve(written) : reject(error),
      ),
    );
  }

  /**
   * A `Writable` of pooled buffers that writes each to `target` and releases it after its write
   * completed: the end of a `pipeline` of {@link PooledReadable} chunks. `target` is a writable
   * stream, a `FileHandle` (written at `position`, left open), or a path (created or truncated when
   * the writer starts, closed when it finishes). See {@link PooledWriter}.
   * Cost: O(1); per chunk, a freeze and the stream's bookkeeping.
   * @throws MemError INVALID_ARGUMENT if `target` is none of these, or an option is bad.
   * @throws MemError USE_AFTER_RELEASE if this `PooledIo` or its pool was closed.
   */
  writer(target: NodeJS.WritableStream | FileHandle | string, options?: PooledWriterOptions): PooledWriter {
    const given = assertOptions<PooledWriterOptions>(options, 'options', ['end', 'position']);
    const end = given.end === undefined ? true : assertBoolean(given.end, 'options.end');
    const position = given.position === undefined ? null : assertPosition(given.position, 'options.position');
    const checked =
      typeof target === 'string' || isFileHandle(target) ? target : assertWritableTarget(target, 'target');
    this.#context.assertOpen();
    return new PooledWriter(this.#context, checked, end, position);
  }

  /**
   * A scope for one request's buffers: what it still holds when it closes (`using`, or
   * `close()`) returns to the pool. See {@link BufferScope}.
   * Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE if this `PooledIo` or its pool was closed.
   */
  scope(): BufferScope {
    this.#context.assertOpen();
    return new BufferScope(this.#context);
  }

  /**
   * A JSON snapshot of what the helpers did (the pool's own figures are in `pool.stats()`).
   * Cost: O(1).
   * @throws never
   */
  stats(): PooledIoStats {
    return this.#context.counters.snapshot();
  }

  /**
   * Unregisters the metrics collector and refuses new helpers (`USE_AFTER_RELEASE`); sockets,
   * streams and writes already made keep working and return their buffers as usual. The pool stays
   * open (it is the caller's). Closing twice does nothing.
   * Cost: O(1).
   * @throws whatever the metrics sink's unregister function throws (the instance stays open then).
   */
  close(): void {
    this.#context.close();
  }

  /**
   * Closes (so that `using io = new PooledIo(pool)` closes at scope end).
   * Cost: as {@link PooledIo.close}.
   * @throws as {@link PooledIo.close}.
   */
  [Symbol.dispose](): void {
    this.#context.close();
  }
}
