/**
 * `@mem/buffer-pool/node`: Node-only helpers. {@link PooledIo} reads sockets and files into
 * pooled buffers, hands out `getBuffer(size)` Buffers, and writes pooled buffers so that each
 * returns to the pool only after its write completed; {@link toNodeBuffer} converts a pooled
 * buffer to a Node `Buffer` without copying.
 *
 * This module runs in Node.js only.
 * @module \@mem/buffer-pool/node
 */
export type { BufferChain } from './buffer-chain.js';
export type { BufferScope } from './buffer-scope.js';
export type { PooledFileReadable } from './file-readable.js';
export type { PooledIoStats } from './io-counters.js';
export { PooledIo } from './pooled-io.js';
export {
  EXHAUSTION_POLICIES,
  type ExhaustionPolicy,
  type FileReadableOptions,
  type PooledIoOptions,
  type PooledReadableOptions,
  type SocketReadOptions,
} from './pooled-io-options.js';
export type { PooledReadable } from './pooled-readable.js';
export type { PooledWriter, PooledWriterOptions } from './pooled-writer.js';
export type { PooledSocketReadable } from './socket-readable.js';
export type { ChunkHandler, SocketReads } from './socket-reads.js';
export { toNodeBuffer, type NodeBufferRange } from './to-node-buffer.js';
