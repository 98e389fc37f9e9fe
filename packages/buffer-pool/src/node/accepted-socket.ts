/**
 * A server connection that reads into pooled buffers. Node's `net.Server` has no `onread` option:
 * it makes every accepted socket itself. So the server is created with `pauseOnConnect: true`
 * (nothing is read before the hand-over), and the accepted connection's handle moves into a new
 * `net.Socket` made with `onread`, which from then on is the connection. The accepted socket
 * object stays open without a handle until the new one closes, so that the server still counts the
 * connection (`server.close()` waits for it, `maxConnections` holds).
 *
 * This module runs in Node.js only.
 * @module
 */
import { Socket } from 'node:net';
import { invalidArgument } from '@mem/types';
import type { SocketReads } from './socket-reads.js';

/** What the hand-over reads of Node's socket: its handle (Node's own servers pass it the same way). */
interface HandleCarrier {
  _handle: object | null;
}

/**
 * Checks that `connection` is an accepted socket that was never read from, and returns it.
 * @throws MemError INVALID_ARGUMENT otherwise.
 */
export function assertFreshConnection(connection: unknown): Socket {
  if (!(connection instanceof Socket)) throw invalidArgument('connection', connection, 'a net.Socket');
  const fresh =
    (connection as unknown as HandleCarrier)._handle != null &&
    !connection.destroyed &&
    connection.readableFlowing === false &&
    connection.bytesRead === 0 &&
    connection.readableLength === 0;
  if (!fresh) {
    throw invalidArgument(
      'connection',
      connection,
      'an open connection of a server created with pauseOnConnect: true, not read from yet',
    );
  }
  return connection;
}

/**
 * Moves `connection` (checked by {@link assertFreshConnection}) into a new socket that reads
 * through `reads`, and returns the new socket.
 * Cost: one socket object; no byte is copied.
 */
export function handOver(connection: Socket, reads: SocketReads): Socket {
  const carrier = connection as unknown as HandleCarrier;
  const handle = carrier._handle;
  carrier._handle = null;
  const socket = new Socket({
    handle,
    readable: true,
    writable: true,
    allowHalfOpen: connection.allowHalfOpen,
    onread: reads,
  } as ConstructorParameters<typeof Socket>[0]);
  reads.attach(socket);
  socket.once('close', () => connection.destroy());
  return socket;
}
