/**
 * `@mem/buffer-pool/node`: Node-only helpers. A pooled buffer converts to a Node `Buffer` without
 * copying, for `fs`, `net`, streams and every API that wants a `Buffer` (most also accept the
 * `Uint8Array` of `buffer.bytes` as is).
 *
 * This module runs in Node.js only.
 * @module \@mem/buffer-pool/node
 */
import { Buffer } from 'node:buffer';
import { FrozenBuffer } from '../frozen-buffer.js';
import { IoBuffer } from '../io-buffer.js';
import { MemError, assertOneOf, invalidArgument } from '@mem/types';

/** Which bytes {@link toNodeBuffer} covers: the readable ones, or the whole capacity (to read into). */
export type NodeBufferRange = 'readable' | 'capacity';

/**
 * A Node `Buffer` over the same memory as `buffer`, without copying: its readable bytes
 * (`[0, length)`), or with `range: 'capacity'` all of a mutable buffer's capacity (to `fs.read` or
 * `socket.read` into, then set `buffer.length`). The `Buffer` aliases pool memory: it is valid until
 * `buffer` is released, after which the slot belongs to someone else. Do not keep it longer.
 * Cost: O(1): one `Buffer` object; no copy.
 * @throws MemError INVALID_ARGUMENT if `buffer` is not an IoBuffer or a FrozenBuffer, or `range` is
 * not `'readable'` or `'capacity'` (`'capacity'` needs an IoBuffer).
 * @throws MemError USE_AFTER_RELEASE if `buffer` was released.
 *
 * @example
 * ```ts
 * import { BufferPool } from '@mem/buffer-pool';
 * import { toNodeBuffer } from '@mem/buffer-pool/node';
 * const pool = new BufferPool();
 * using buffer = pool.alloc(1024);
 * buffer.write(new TextEncoder().encode('hello'));
 * toNodeBuffer(buffer).toString('utf8'); // 'hello'
 * ```
 */
export function toNodeBuffer(buffer: IoBuffer | FrozenBuffer, range: NodeBufferRange = 'readable'): Buffer {
  assertOneOf(range, 'range', ['readable', 'capacity']);
  let view: Uint8Array;
  if (buffer instanceof IoBuffer) {
    view = range === 'capacity' ? buffer.capacityBytes : buffer.bytes;
  } else if (buffer instanceof FrozenBuffer) {
    if (range === 'capacity') {
      throw new MemError('INVALID_ARGUMENT', "a FrozenBuffer is immutable: only its 'readable' range converts");
    }
    view = buffer.bytes;
  } else {
    throw invalidArgument('buffer', buffer, 'an IoBuffer or a FrozenBuffer');
  }
  return Buffer.from(view.buffer, view.byteOffset, view.length);
}
