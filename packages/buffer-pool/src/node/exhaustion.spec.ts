import { describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { BufferPool } from '../buffer-pool.js';
import { BufferPoolConfig } from '../buffer-pool-config.js';
import type { IoBuffer } from '../io-buffer.js';
import type { ExhaustionPolicy } from './pooled-io-options.js';
import { PooledIo } from './pooled-io.js';
import { close, exchange, inUse, listen, pattern, temporaryDirectory } from './io.test-helper.js';

const CHUNK = 16 * 1024;
const BUDGET = 8; // buffers of the chunk's class

function setup(whenExhausted: ExhaustionPolicy): { pool: BufferPool; io: PooledIo } {
  const config = BufferPoolConfig.from({ minSize: CHUNK, maxSize: CHUNK, maxPerClass: BUDGET });
  const pool = new BufferPool(config, { leakDetection: 'off' });
  return { pool, io: new PooledIo(pool, { chunkSize: CHUNK, whenExhausted }) };
}

/**
 * A burst: `clients` connections each send 256 KiB at once to a server whose handler keeps every
 * chunk for a few milliseconds before releasing it (a slow consumer). Resolves with what each
 * connection echoed, the most pooled buffers held at once, and the pool's fallbacks.
 */
async function burst(pool: BufferPool, io: PooledIo, clients: number): Promise<{ ok: boolean; peak: number }> {
  let peak = 0;
  const { server, port } = await listen((connection) => {
    const received: Buffer[] = [];
    const socket = io.accept(connection, (chunk: IoBuffer) => {
      peak = Math.max(peak, inUse(pool));
      received.push(Buffer.from(chunk.bytes));
      setTimeout(() => chunk.release(), 3);
    });
    socket.on('end', () => socket.end(Buffer.concat(received)));
  });
  const sent = Array.from({ length: clients }, (_, index) => pattern(256 * 1024, index + 1));
  const echoed = await Promise.all(sent.map((data) => exchange(port, data)));
  await close(server);
  return { ok: echoed.every((bytes, index) => bytes.equals(sent[index]!)), peak };
}

describe('PooledIo when the pool is exhausted', () => {
  it("'backpressure' pauses reads until buffers return: the budget holds through a burst and every byte arrives", async () => {
    const { pool, io } = setup('backpressure');
    const { ok, peak } = await burst(pool, io, 12); // more connections than buffers
    expect(ok).toBe(true);
    expect(peak).toBeLessThanOrEqual(BUDGET);
    expect(pool.stats().fallbacks).toBe(0);
    expect(io.stats().exhaustedWaits).toBeGreaterThan(0);
    expect(io.stats().stagingCopies).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(inUse(pool)).toBe(0);
  });

  it("'fallback' keeps reading into untracked memory past the budget, counted as fallbacks", async () => {
    const { pool, io } = setup('fallback');
    const { ok } = await burst(pool, io, 12);
    expect(ok).toBe(true);
    expect(pool.stats().fallbacks).toBeGreaterThan(0);
    expect(io.stats().exhaustedWaits).toBe(0);
  });

  it("'backpressure' file reads wait for a buffer instead of exceeding the budget", async () => {
    const { pool, io } = setup('backpressure');
    const { directory, remove } = temporaryDirectory();
    try {
      const path = join(directory, 'data');
      const file = await open(path, 'w+');
      await file.write(pattern(CHUNK * 4, 3), 0, CHUNK * 4, 0);
      const held = Array.from({ length: BUDGET }, () => pool.tryAlloc(CHUNK));
      const reading = io.read(file, CHUNK, 0);
      let settled = false;
      void reading.then(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(settled).toBe(false);
      expect(io.stats().exhaustedWaits).toBe(1);
      held.pop()!.release();
      const chunk = await reading;
      expect(Buffer.from(chunk.bytes).equals(pattern(CHUNK * 4, 3).subarray(0, CHUNK))).toBe(true);
      chunk.release();
      for (const buffer of held) buffer.release();
      await file.close();
      expect(pool.stats().fallbacks).toBe(0);
    } finally {
      remove();
    }
  });
});
