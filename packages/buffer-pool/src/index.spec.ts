import { describe, expect, it } from 'vitest';
import * as api from './index.js';
import * as node from './node/index.js';
import { BufferPool } from './buffer-pool.js';
import { IoBuffer } from './io-buffer.js';

describe('@mem/buffer-pool public face', () => {
  it('exports exactly the public runtime API, and nothing internal', () => {
    expect(Object.keys(api).sort()).toEqual(
      [
        'BUFFER_TRANSFER_TYPE',
        'BufferPool',
        'BufferPoolConfig',
        'DEFAULT_PAGE_SIZE',
        'FrozenBuffer',
        'IoBuffer',
        'MAX_BUFFER_SIZE',
        'MAX_TRACKED_BUFFERS',
        'MAX_TRANSFERS_IN_FLIGHT',
        'POOL_DESCRIPTOR_KIND',
        'POOL_LAYOUT_VERSION',
      ].sort(),
    );
    expect(Object.keys(node).sort()).toEqual(['EXHAUSTION_POLICIES', 'PooledIo', 'toNodeBuffer']);
  });

  it('re-exports the same objects as the modules', () => {
    expect(api.BufferPool).toBe(BufferPool);
    expect(api.IoBuffer).toBe(IoBuffer);
  });

  it('exports the documented constants', () => {
    expect(api.MAX_BUFFER_SIZE).toBe(2 ** 30);
    expect(api.MAX_TRACKED_BUFFERS).toBe(2 ** 22);
    expect(api.MAX_TRANSFERS_IN_FLIGHT).toBe(4096);
    expect(api.DEFAULT_PAGE_SIZE).toBe(4096);
    expect(api.BUFFER_TRANSFER_TYPE).toBe('mem.buffer-pool.transfer');
    expect(api.POOL_DESCRIPTOR_KIND).toBe('mem.buffer-pool');
    expect(api.POOL_LAYOUT_VERSION).toBe(2);
  });
});
