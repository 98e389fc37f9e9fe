import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { BufferPool } from '../buffer-pool.js';
import { BufferPoolConfig } from '../buffer-pool-config.js';
import type { IoBuffer } from '../io-buffer.js';
import { PooledIo } from './pooled-io.js';
import { inUse, pattern, temporaryDirectory, until } from './io.test-helper.js';

const MAX = 64 * 1024;

function setup(): { pool: BufferPool; io: PooledIo } {
  const pool = new BufferPool(BufferPoolConfig.forNetwork().withMaxSize(MAX), { leakDetection: 'off' });
  return { pool, io: new PooledIo(pool, { chunkSize: 16 * 1024 }) };
}

async function withDirectory(test: (directory: string) => Promise<void>): Promise<void> {
  const { directory, remove } = temporaryDirectory();
  try {
    await test(directory);
  } finally {
    remove();
  }
}

function concat(buffers: Iterable<IoBuffer>): Buffer {
  return Buffer.concat([...buffers].map((buffer) => Buffer.from(buffer.bytes)));
}

describe('PooledIo.read', () => {
  it('reads into one pooled buffer at a position, or at the current position', () =>
    withDirectory(async (directory) => {
      const { pool, io } = setup();
      const path = join(directory, 'data');
      writeFileSync(path, pattern(50_000, 1));
      const file = await open(path, 'r');
      const middle = await io.read(file, 1000, 20_000);
      expect(middle.isPooled).toBe(true);
      expect(Buffer.from(middle.bytes).equals(pattern(50_000, 1).subarray(20_000, 21_000))).toBe(true);
      const first = await io.read(file);
      expect(first.length).toBe(16 * 1024);
      const end = await io.read(file, 10, 50_000);
      expect(end.length).toBe(0);
      for (const buffer of [middle, first, end]) buffer.release();
      await file.close();
      expect(inUse(pool)).toBe(0);
    }));

  it('returns the buffer when the read fails, and refuses bad arguments', () =>
    withDirectory(async (directory) => {
      const { pool, io } = setup();
      const path = join(directory, 'data');
      writeFileSync(path, 'x');
      const file = await open(path, 'r');
      await file.close();
      await expect(io.read(file, 10, 0)).rejects.toThrow(/EBADF|closed/);
      expect(inUse(pool)).toBe(0);
      expect(io.stats().returnedOnError).toBe(1);
      for (const length of [0, -1, 1.5, NaN, MAX + 1, '10']) {
        await expect(io.read(file, length as never), String(length)).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        });
      }
      await expect(io.read(file, 10, -1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(io.read(path as never, 10)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      io.close();
      await expect(io.read(file, 10)).rejects.toMatchObject({ code: 'USE_AFTER_RELEASE' });
    }));
});

describe('PooledIo.readFile', () => {
  it('reads a file that fits the largest class into one buffer', () =>
    withDirectory(async (directory) => {
      const { pool, io } = setup();
      const path = join(directory, 'small');
      writeFileSync(path, pattern(40_000, 2));
      const chain = await io.readFile(path);
      expect(chain.buffers.length).toBe(1);
      expect(chain.byteLength).toBe(40_000);
      expect(concat(chain).equals(pattern(40_000, 2))).toBe(true);
      chain.release();
      expectMemError(() => chain.release(), 'DOUBLE_FREE');
      expect(inUse(pool)).toBe(0);
    }));

  it('reads a larger file into a chain of largest-class buffers, in order', () =>
    withDirectory(async (directory) => {
      const { pool, io } = setup();
      const path = join(directory, 'large');
      const data = pattern(5 * MAX + 123, 3);
      writeFileSync(path, data);
      const file = await open(path, 'r');
      {
        using chain = await io.readFile(file);
        expect(chain.buffers.map((buffer) => buffer.length)).toEqual([MAX, MAX, MAX, MAX, MAX, 123]);
        const hash = createHash('sha256');
        for (const buffer of chain) hash.update(buffer.bytes);
        expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
      }
      await file.close(); // a FileHandle stays the caller's
      expect(inUse(pool)).toBe(0);
    }));

  it('reads empty files and files that report no size', () =>
    withDirectory(async (directory) => {
      const { pool, io } = setup();
      const path = join(directory, 'empty');
      writeFileSync(path, '');
      const empty = await io.readFile(path);
      expect(empty.buffers.length).toBe(0);
      empty.release();
      const status = await io.readFile('/proc/self/status');
      expect(status.byteLength).toBeGreaterThan(0);
      expect(concat(status).toString()).toContain('Name:');
      status.release();
      expect(inUse(pool)).toBe(0);
    }));

  it('skips buffers handed on before the chain is released', () =>
    withDirectory(async (directory) => {
      const { pool, io } = setup();
      const path = join(directory, 'data');
      writeFileSync(path, pattern(3 * MAX, 4));
      const chain = await io.readFile(path);
      const frozen = chain.buffers[1]!.freeze();
      chain.release();
      expect(inUse(pool)).toBe(1);
      frozen.release();
      expect(inUse(pool)).toBe(0);
    }));

  it('returns every buffer when the read fails, and refuses what is not a file', async () => {
    const { pool, io } = setup();
    await expect(io.readFile('/proc/self/mem')).rejects.toThrow();
    await expect(io.readFile('/no/such/file')).rejects.toThrow(/ENOENT/);
    expect(inUse(pool)).toBe(0);
    for (const value of [undefined, 42, {}, Buffer.from('path')]) {
      await expect(io.readFile(value as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    io.close();
    await expect(io.readFile('/proc/self/status')).rejects.toMatchObject({ code: 'USE_AFTER_RELEASE' });
  });
});

describe('PooledIo.fileReadable', () => {
  it('streams a file range as pooled chunks the consumer owns', () =>
    withDirectory(async (directory) => {
      const { pool, io } = setup();
      const path = join(directory, 'data');
      const data = pattern(300_000, 5);
      writeFileSync(path, data);
      const parts: Buffer[] = [];
      for await (const chunk of io.fileReadable(path, { start: 1000, end: 250_000 })) {
        expect(chunk.isPooled).toBe(true);
        parts.push(Buffer.from(chunk.bytes));
        chunk.release();
      }
      expect(Buffer.concat(parts).equals(data.subarray(1000, 250_000))).toBe(true);
      expect(inUse(pool)).toBe(0);
    }));

  it('returns the chunks it buffered when the consumer stops early', () =>
    withDirectory(async (directory) => {
      const { pool, io } = setup();
      const path = join(directory, 'data');
      writeFileSync(path, pattern(1 << 20, 6));
      const stream = io.fileReadable(path, { highWaterMark: 8 });
      stream.read(0); // start reading: the stream buffers chunks
      await until(() => stream.readableLength >= 4, 'the stream buffered chunks');
      for await (const chunk of stream) {
        chunk.release();
        break;
      }
      await new Promise((resolve) => stream.once('close', resolve));
      expect(inUse(pool)).toBe(0);
      expect(io.stats().returnedOnError).toBeGreaterThan(0);
    }));

  it('fails on a missing file, and refuses bad arguments', async () => {
    const { pool, io } = setup();
    const stream = io.fileReadable('/no/such/file');
    await expect(
      (async () => {
        for await (const chunk of stream) chunk.release();
      })(),
    ).rejects.toThrow(/ENOENT/);
    expect(inUse(pool)).toBe(0);
    expectMemError(() => io.fileReadable(42 as never), 'INVALID_ARGUMENT');
    expectMemError(() => io.fileReadable('x', { start: -1 }), 'INVALID_ARGUMENT');
    expectMemError(() => io.fileReadable('x', { start: 10, end: 5 }), 'INVALID_ARGUMENT');
    expectMemError(() => io.fileReadable('x', { highWaterMark: 0 }), 'INVALID_ARGUMENT');
    expectMemError(() => io.fileReadable('x', { length: 5 } as never), 'INVALID_ARGUMENT');
    io.close();
    expectMemError(() => io.fileReadable('x'), 'USE_AFTER_RELEASE');
  });
});
