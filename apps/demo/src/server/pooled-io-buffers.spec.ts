import { BufferPool, BufferPoolConfig } from '@mem/buffer-pool';
import { describe, expect, it } from 'vitest';
import { PooledIoBuffers } from './pooled-io-buffers.js';

describe('pooled I/O buffers', () => {
  it('lends pooled bytes, hands them to Node without a copy, and returns them on release', () => {
    const pool = new BufferPool(BufferPoolConfig.from({ poolMinSize: 0, minSize: 256, maxSize: 4096, maxPerClass: 4 }));
    const io = new PooledIoBuffers(pool);
    const lease = io.lease(100);
    lease.bytes.set([104, 105]);
    const node = lease.nodeBuffer(2);
    expect(node.toString()).toBe('hi');
    expect(node.buffer).toBe(lease.bytes.buffer);
    const inUse = () => pool.stats().classes.reduce((sum, cls) => sum + cls.inUse, 0);
    expect(inUse()).toBe(1);
    lease.release();
    expect(inUse()).toBe(0);
    pool.close();
  });
});
