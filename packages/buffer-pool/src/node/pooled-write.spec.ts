import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { open, readFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { BufferPool } from '../buffer-pool.js';
import { BufferPoolConfig } from '../buffer-pool-config.js';
import type { IoBuffer } from '../io-buffer.js';
import { PooledIo } from './pooled-io.js';
import { toNodeBuffer } from './to-node-buffer.js';
import { close, expectAllReturned, inUse, pattern, temporaryDirectory } from './io.test-helper.js';

const CHUNK = 64 * 1024;

function setup(): { pool: BufferPool; io: PooledIo } {
  const pool = new BufferPool(BufferPoolConfig.forNetwork().withMaxPerClass(2048), { leakDetection: 'off' });
  return { pool, io: new PooledIo(pool) };
}

/**
 * A receiver that reads nothing for `stallMs` (so that the sender's writes back up in the kernel
 * and in the socket's queue), then everything; resolves with each connection's bytes.
 */
async function stallingReceiver(
  stallMs: number,
): Promise<{ port: number; received: Promise<Buffer>[]; stop: () => Promise<void> }> {
  const received: Promise<Buffer>[] = [];
  const server = createServer((connection) => {
    connection.pause();
    const chunks: Buffer[] = [];
    received.push(
      new Promise((resolve) => {
        connection.on('data', (chunk: Buffer) => chunks.push(chunk));
        connection.on('end', () => resolve(Buffer.concat(chunks)));
      }),
    );
    setTimeout(() => connection.resume(), stallMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, received, stop: () => close(server) };
}

/**
 * Writes `chunks` chunks of a known pattern per connection over `connections` connections, with
 * `send`, and after each write takes a pooled buffer of the same class and scribbles over it: if
 * a written buffer had returned to the pool before its write completed, the scribbler gets it and
 * the receiver sees the scribble. Resolves with what each connection sent and received.
 */
async function writeUnderLoad(
  pool: BufferPool,
  connections: number,
  chunks: number,
  send: (socket: Socket, buffer: IoBuffer) => void,
): Promise<{ sent: Buffer; received: Buffer }[]> {
  const receiver = await stallingReceiver(100);
  const sockets = await Promise.all(
    Array.from({ length: connections }, async () => {
      const socket = connect(receiver.port, '127.0.0.1');
      await once(socket, 'connect');
      return socket;
    }),
  );
  const sent = sockets.map(() => [] as Buffer[]);
  for (let i = 0; i < chunks; i += 1) {
    sockets.forEach((socket, k) => {
      const bytes = pattern(CHUNK, i * connections + k + 1);
      sent[k]!.push(bytes);
      const buffer = pool.alloc(CHUNK);
      buffer.write(bytes);
      send(socket, buffer);
      const scribble = pool.alloc(CHUNK);
      scribble.capacityBytes.fill(0xee);
      scribble.release();
    });
    if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
  }
  for (const socket of sockets) socket.end();
  const received = await Promise.all(receiver.received);
  await receiver.stop();
  // The receiver accepted the connections in order, but pair by content to be safe.
  return sent.map((parts) => {
    const expected = Buffer.concat(parts);
    return {
      sent: expected,
      received: received.find((bytes) => bytes.subarray(0, 16).equals(expected.subarray(0, 16)))!,
    };
  });
}

describe('PooledIo.write', () => {
  it('never lets a written buffer return to the pool before its write completed: every byte arrives as sent, under load', async () => {
    const { pool, io } = setup();
    const results = await writeUnderLoad(pool, 4, 160, (socket, buffer) => io.write(socket, buffer));
    for (const { sent, received } of results) {
      expect(received.length).toBe(sent.length);
      expect(received.equals(sent)).toBe(true);
    }
    await expectAllReturned(pool, io);
    expect(io.stats().writes).toBe(4 * 160);
  });

  it('(control) the same load with a release right after socket.write does corrupt what arrives', async () => {
    const { pool } = setup();
    const results = await writeUnderLoad(pool, 4, 160, (socket, buffer) => {
      socket.write(toNodeBuffer(buffer));
      buffer.release(); // the classic mistake: the socket may still hold this memory
    });
    const corrupted = results.filter(({ sent, received }) => received === undefined || !received.equals(sent));
    expect(corrupted.length).toBeGreaterThan(0);
  });

  it('takes the buffer over at once: the caller can no longer release, read or write it', async () => {
    const { pool, io } = setup();
    const receiver = await stallingReceiver(0);
    const socket = connect(receiver.port, '127.0.0.1');
    await once(socket, 'connect');
    const buffer = pool.alloc(1024);
    buffer.write([1, 2, 3]);
    let completed = false;
    io.write(socket, buffer, () => (completed = true));
    expect(buffer.released).toBe(true);
    expectMemError(() => buffer.release(), 'DOUBLE_FREE');
    expectMemError(() => buffer.bytes, 'USE_AFTER_RELEASE');
    expectMemError(() => buffer.write([4]), 'USE_AFTER_RELEASE');
    expectMemError(() => io.write(socket, buffer), 'USE_AFTER_RELEASE');
    socket.end();
    const [received] = await Promise.all(receiver.received);
    expect([...received!]).toEqual([1, 2, 3]);
    expect(completed).toBe(true);
    await receiver.stop();
    expect(inUse(pool)).toBe(0);
  });

  it('writes a frozen view with a reference of its own, so the caller may release the view at once', async () => {
    const { pool, io } = setup();
    const receiver = await stallingReceiver(50);
    const socket = connect(receiver.port, '127.0.0.1');
    await once(socket, 'connect');
    const source = pool.alloc(CHUNK);
    source.write(pattern(CHUNK, 42));
    const frozen = source.freeze();
    for (let i = 0; i < 100; i += 1) {
      const part = frozen.slice(i * 100, i * 100 + 100);
      io.write(socket, part);
      part.release();
    }
    io.write(socket, frozen);
    frozen.release();
    expect(inUse(pool)).toBe(1); // held by the writes, not by the caller
    socket.end();
    const [received] = await Promise.all(receiver.received);
    const expected = pattern(CHUNK, 42);
    expect(received!.equals(Buffer.concat([expected.subarray(0, 10_000), expected]))).toBe(true);
    await receiver.stop();
    await expectAllReturned(pool, io);
  });

  it('returns the buffer with the error when the socket was destroyed', async () => {
    const { pool, io } = setup();
    const receiver = await stallingReceiver(0);
    const socket = connect(receiver.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.destroy();
    const error = await new Promise<Error | null | undefined>((resolve) => io.write(socket, pool.alloc(100), resolve));
    expect(error).toBeInstanceOf(Error);
    await receiver.stop();
    await expectAllReturned(pool, io);
  });

  it('refuses targets that are not streams, chunks that are not buffers and callbacks that are not functions', () => {
    const { pool, io } = setup();
    const socket = connect({ port: 1, host: '127.0.0.1' });
    socket.on('error', () => {});
    const buffer = pool.alloc(100);
    for (const target of [undefined, null, {}, 'socket', { write: () => true }]) {
      expectMemError(() => io.write(target as never, buffer), 'INVALID_ARGUMENT');
    }
    for (const chunk of [undefined, null, new Uint8Array(4), Buffer.alloc(4), {}]) {
      expectMemError(() => io.write(socket, chunk as never), 'INVALID_ARGUMENT');
    }
    expectMemError(() => io.write(socket, buffer, 'callback' as never), 'INVALID_ARGUMENT');
    expect(buffer.released).toBe(false); // every refused call left it alone
    buffer.release();
    socket.destroy();
    expect(inUse(pool)).toBe(0);
  });
});

describe('PooledIo.writeToFile', () => {
  it('writes all of the buffer at the position and returns it once the write settled', async () => {
    const { pool, io } = setup();
    const { directory, remove } = temporaryDirectory();
    try {
      const path = join(directory, 'out');
      const file = await open(path, 'w+');
      const first = pool.alloc(CHUNK);
      first.write(pattern(CHUNK, 1));
      const second = pool.alloc(1000);
      second.write(pattern(1000, 2));
      const frozen = second.freeze();
      const written = await Promise.all([io.writeToFile(file, first, 0), io.writeToFile(file, frozen, CHUNK)]);
      frozen.release();
      expect(written).toEqual([CHUNK, 1000]);
      await file.close();
      expect((await readFile(path)).equals(Buffer.concat([pattern(CHUNK, 1), pattern(1000, 2)]))).toBe(true);
      expect(inUse(pool)).toBe(0);
    } finally {
      remove();
    }
  });

  it('returns the buffer when the write fails, and refuses bad arguments', async () => {
    const { pool, io } = setup();
    const { directory, remove } = temporaryDirectory();
    try {
      const file = await open(join(directory, 'out'), 'w');
      await file.close();
      const buffer = pool.alloc(100);
      buffer.write([1, 2, 3]);
      await expect(io.writeToFile(file, buffer)).rejects.toThrow(/EBADF|closed/);
      expect(inUse(pool)).toBe(0);
      await expect(io.writeToFile({} as never, buffer)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(io.writeToFile(file, buffer, -1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(io.writeToFile(file, 'bytes' as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(io.writeToFile(file, buffer)).rejects.toMatchObject({ code: 'USE_AFTER_RELEASE' });
    } finally {
      remove();
    }
  });
});
