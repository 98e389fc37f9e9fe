import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { Buffer } from 'node:buffer';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferPool } from '../buffer-pool.js';
import { toNodeBuffer } from './to-node-buffer.js';

describe('toNodeBuffer', () => {
  it('gives a Node Buffer over the same memory, without copying', () => {
    const pool = new BufferPool();
    const buffer = pool.alloc(1024);
    buffer.write(new TextEncoder().encode('hello'));
    const node = toNodeBuffer(buffer);
    expect(Buffer.isBuffer(node)).toBe(true);
    expect(node.toString('utf8')).toBe('hello');
    expect(node.buffer).toBe(buffer.arrayBuffer);
    expect(node.byteOffset).toBe(buffer.byteOffset);
    node[0] = 0x4a; // 'J'
    expect(new TextDecoder().decode(buffer.bytes)).toBe('Jello');
    buffer.release();
  });

  it('covers the whole capacity on request, to read into', () => {
    const pool = new BufferPool();
    const buffer = pool.alloc(3000);
    const target = toNodeBuffer(buffer, 'capacity');
    expect(target.length).toBe(4096);
    target.write('abc');
    buffer.length = 3;
    expect(toNodeBuffer(buffer).toString()).toBe('abc');
    buffer.release();
  });

  it('works with fs reads and writes', () => {
    const directory = mkdtempSync(join(tmpdir(), 'mem-buffer-pool-'));
    try {
      const pool = new BufferPool();
      const file = join(directory, 'data');
      const fd = openSync(file, 'w+');
      const out = pool.alloc(64);
      out.write(new TextEncoder().encode('pooled bytes'));
      writeSync(fd, toNodeBuffer(out), 0, out.length, 0);
      out.release();
      const into = pool.alloc(64);
      into.length = readSync(fd, toNodeBuffer(into, 'capacity'), 0, into.capacity, 0);
      closeSync(fd);
      expect(new TextDecoder().decode(into.bytes)).toBe('pooled bytes');
      into.release();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('converts frozen views (readable range only)', () => {
    const pool = new BufferPool();
    const buffer = pool.alloc(1024);
    buffer.write([1, 2, 3, 4]);
    const frozen = buffer.freeze().slice(1, 3);
    expect([...toNodeBuffer(frozen)]).toEqual([2, 3]);
    expectMemError(() => toNodeBuffer(frozen, 'capacity'), 'INVALID_ARGUMENT');
  });

  it('refuses released buffers, other values and unknown ranges', () => {
    const pool = new BufferPool();
    const buffer = pool.alloc(1024);
    for (const range of ['all', '', null, 1, 'CAPACITY']) {
      expectMemError(() => toNodeBuffer(buffer, range as never), 'INVALID_ARGUMENT');
    }
    for (const value of [undefined, null, 0, -1, NaN, 'buffer', new Uint8Array(4), Buffer.alloc(4), {}]) {
      expectMemError(() => toNodeBuffer(value as never), 'INVALID_ARGUMENT');
    }
    buffer.release();
    expectMemError(() => toNodeBuffer(buffer), 'USE_AFTER_RELEASE');
    const frozen = pool.alloc(1024).freeze();
    frozen.release();
    expectMemError(() => toNodeBuffer(frozen), 'USE_AFTER_RELEASE');
  });
});
