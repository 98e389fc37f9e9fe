/**
 * Where the server's I/O bytes live: request bodies and response chunks are written into leased
 * buffers that go back to their pool once the socket has written them.
 * @module
 */

/** One leased buffer. */
export interface IoLease {
  /** The leased bytes (at least the requested size; only the first `size` are meaningful). */
  readonly bytes: Uint8Array;
  /** A zero-copy Node `Buffer` over the first `length` bytes, for `socket.write`. */
  nodeBuffer(length: number): Buffer;
  /** Returns the buffer to its pool. Call once. */
  release(): void;
}

/** A source of leased buffers. */
export interface IoBuffers {
  /** A buffer of at least `size` bytes. */
  lease(size: number): IoLease;
}
