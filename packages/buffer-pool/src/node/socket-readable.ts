/**
 * A socket's bytes as a `Readable` of pooled chunks.
 *
 * This module runs in Node.js only.
 * @module
 */
import { connect, type NetConnectOpts, type Socket } from 'node:net';
import type { IoBuffer } from '../io-buffer.js';
import { handOver } from './accepted-socket.js';
import type { IoContext } from './io-context.js';
import { PooledReadable } from './pooled-readable.js';
import { SocketReads } from './socket-reads.js';

/**
 * The chunks a socket reads, as an object-mode `Readable` of {@link IoBuffer}s (see
 * {@link PooledReadable}): the socket reads into pooled buffers through `onread`, and is paused
 * while the stream's buffer is full. The stream ends when the socket's readable side ends (or the
 * socket closes); destroying the stream before its end destroys the socket. Made by
 * `PooledIo.socketReadable`; write to {@link PooledSocketReadable.socket}.
 */
export class PooledSocketReadable extends PooledReadable {
  /** The socket that reads into the stream's chunks (write the replies there). */
  readonly socket: Socket;
  #pausedByStream = false;

  /** @internal Made by `PooledIo.socketReadable` from a checked connection or connect options. */
  constructor(context: IoContext, source: Socket | NetConnectOpts, accepted: boolean, highWaterMark: number) {
    super(context, highWaterMark);
    const reads = new SocketReads(context, (chunk: IoBuffer) => this.#onChunk(chunk), false);
    this.socket = accepted
      ? handOver(source as Socket, reads)
      : reads.attach(connect({ ...(source as NetConnectOpts), onread: reads }));
    this.socket.on('end', () => this.push(null));
    this.socket.on('close', () => {
      if (!this.destroyed) this.push(null);
    });
    this.socket.on('error', (error) => this.destroy(error));
  }

  #onChunk(chunk: IoBuffer): boolean {
    const more = this.pushChunk(chunk);
    if (!more && !this.destroyed) this.#pausedByStream = true;
    return more;
  }

  /** @internal Resumes the socket when the consumer wants more. */
  override _read(): void {
    if (!this.#pausedByStream) return;
    this.#pausedByStream = false;
    this.socket.resume();
  }

  /** @internal Destroys the socket if the stream ends before the socket's readable side did, or fails. */
  protected async stopSource(error: Error | null): Promise<void> {
    if (error !== null || !this.readableEnded) this.socket.destroy(error ?? undefined);
  }
}
