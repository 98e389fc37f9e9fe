import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { collectUntil } from '@mem/testkit/collect-garbage';
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Socket, connect } from 'node:net';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BufferPool } from '../buffer-pool.js';
import { BufferPoolConfig } from '../buffer-pool-config.js';
import type { IoBuffer } from '../io-buffer.js';
import { PooledIo } from './pooled-io.js';
import {
  close,
  exchange,
  expectAllReturned,
  inUse,
  listen,
  pattern,
  temporaryDirectory,
  until,
} from './io.test-helper.js';

function setup(leakDetection: 'off' | 'paranoid' = 'off'): { pool: BufferPool; io: PooledIo } {
  const pool = new BufferPool(BufferPoolConfig.forNetwork(), { leakDetection, onLeak: () => {} });
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

describe('PooledIo.writer', () => {
  it('copies a file through pipeline(fileReadable, writer(FileHandle)) byte for byte', () =>
    withDirectory(async (directory) => {
      const { pool, io } = setup();
      const data = pattern(3 << 20, 1);
      writeFileSync(join(directory, 'in'), data);
      const out = await open(join(directory, 'out'), 'w');
      await pipeline(io.fileReadable(join(directory, 'in')), io.writer(out, { position: 0 }));
      await out.close();
      expect(readFileSync(join(directory, 'out')).equals(data)).toBe(true);
      await expectAllReturned(pool, io);
    }));

  it('writes to a file it opens from a path, and closes it when finished', () =>
    withDirectory(async (directory) => {
      const { pool, io } = setup();
      const data = pattern(2 << 20, 8);
      writeFileSync(join(directory, 'in'), data);
      writeFileSync(join(directory, 'out'), 'an older and longer content that the writer truncates'.repeat(100_000));
      await pipeline(io.fileReadable(join(directory, 'in')), io.writer(join(directory, 'out')));
      expect(readFileSync(join(directory, 'out')).equals(data)).toBe(true);
      await expectAllReturned(pool, io);
      await expect(
        pipeline(io.fileReadable(join(directory, 'in')), io.writer(join(directory, 'no', 'such', 'dir'))),
      ).rejects.toThrow(/ENOENT/);
      await expectAllReturned(pool, io);
    }));

  it('writes to a file stream and ends it', () =>
    withDirectory(async (directory) => {
      const { pool, io } = setup();
      const data = pattern(1 << 20, 2);
      writeFileSync(join(directory, 'in'), data);
      await pipeline(io.fileReadable(join(directory, 'in')), io.writer(createWriteStream(join(directory, 'out'))));
      expect(readFileSync(join(directory, 'out')).equals(data)).toBe(true);
      await expectAllReturned(pool, io);
    }));

  it('echoes sockets through pipeline(socketReadable, writer(socket)) byte for byte, many at once', async () => {
    const { pool, io } = setup();
    const { server, port } = await listen((connection) => {
      const chunks = io.socketReadable(connection);
      pipeline(chunks, io.writer(chunks.socket)).catch(() => {});
    });
    const sent = Array.from({ length: 6 }, (_, index) => pattern((index + 1) * 400_000, index + 3));
    const echoed = await Promise.all(sent.map((data) => exchange(port, data)));
    echoed.forEach((bytes, index) => expect(bytes.equals(sent[index]!), `connection ${index}`).toBe(true));
    await close(server);
    await expectAllReturned(pool, io);
  });

  it('reads a client socket as a stream from connect options', async () => {
    const { pool, io } = setup();
    const data = pattern(700_000, 4);
    const { server, port } = await listen((connection) => {
      connection.resume();
      connection.end(data);
    });
    const parts: Buffer[] = [];
    for await (const chunk of io.socketReadable({ port, host: '127.0.0.1' })) {
      parts.push(Buffer.from(chunk.bytes));
      chunk.release();
    }
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    await close(server);
    await expectAllReturned(pool, io);
  });

  it('socketReadable refuses sources that are neither a fresh connection nor connect options', async () => {
    const { io } = setup();
    for (const source of [
      undefined,
      null,
      'host',
      42,
      new Socket(),
      { port: 1, onread: { buffer: new Uint8Array(1) } },
    ]) {
      expectMemError(() => io.socketReadable(source as never), 'INVALID_ARGUMENT');
    }
    const { server, port } = await listen((connection) => {
      expectMemError(() => io.socketReadable(connection, { highWaterMark: 0 }), 'INVALID_ARGUMENT');
      expectMemError(() => io.socketReadable(connection, { end: 1 } as never), 'INVALID_ARGUMENT');
      io.close();
      expectMemError(() => io.socketReadable(connection), 'USE_AFTER_RELEASE');
      connection.destroy();
    });
    await once(connect(port, '127.0.0.1'), 'close');
    await close(server);
  });

  it('returns every buffer when the peer goes away mid-stream', async () => {
    const { pool, io } = setup();
    const failures: unknown[] = [];
    const { server, port } = await listen((connection) => {
      const chunks = io.socketReadable(connection);
      pipeline(chunks, io.writer(chunks.socket)).catch((error: unknown) => failures.push(error));
    });
    await Promise.all(
      Array.from({ length: 6 }, async (_, index) => {
        const client = connect(port, '127.0.0.1');
        client.on('error', () => {});
        await once(client, 'connect');
        client.write(pattern(2 << 20, index));
        await once(client, 'data');
        client.destroy(); // the server is still reading and writing
      }),
    );
    await close(server);
    await expectAllReturned(pool, io);
  });

  it('returns every buffer when the source fails mid-stream', () =>
    withDirectory(async (directory) => {
      const { pool, io } = setup();
      writeFileSync(join(directory, 'in'), pattern(4 << 20, 5));
      const source = io.fileReadable(join(directory, 'in'), { highWaterMark: 16 });
      const out = await open(join(directory, 'out'), 'w');
      source.read(0); // start reading: the source buffers chunks
      await until(() => source.readableLength >= 8, 'the source buffered chunks');
      let seen = 0;
      source.on('data', () => {
        if ((seen += 1) === 2) source.destroy(new Error('the source failed'));
      });
      await expect(pipeline(source, io.writer(out))).rejects.toThrow('the source failed');
      await out.close();
      await expectAllReturned(pool, io);
      expect(io.stats().returnedOnError).toBeGreaterThan(0);
    }));

  it('returns the chunks a failing stage dropped through leak detection (paranoid): counted as leaks', () =>
    withDirectory(async (directory) => {
      const { pool, io } = setup('paranoid');
      writeFileSync(join(directory, 'in'), pattern(2 << 20, 6));
      const out = await open(join(directory, 'out'), 'w');
      let count = 0;
      const failing = new Transform({
        objectMode: true,
        highWaterMark: 8,
        transform(chunk: IoBuffer, _encoding, callback) {
          // The chunk in hand is released on failure; the chunks this stage buffered are dropped.
          if ((count += 1) === 30) {
            chunk.release();
            callback(new Error('the transform failed'));
          } else {
            callback(null, chunk);
          }
        },
      });
      await expect(pipeline(io.fileReadable(join(directory, 'in')), failing, io.writer(out))).rejects.toThrow(
        'the transform failed',
      );
      await out.close();
      await collectUntil(() => inUse(pool) === 0, { attempts: 100, pauseMs: 5 });
      expect(inUse(pool)).toBe(0);
    }));

  it('takes each chunk over when it is written, and takes end(chunk) the same way', async () => {
    const { pool, io } = setup();
    const data = pattern(10_000, 7);
    const { server, port } = await listen((connection) => {
      const writer = io.writer(io.accept(connection, (chunk) => chunk.release()));
      const first = pool.alloc(5000);
      first.write(data.subarray(0, 5000));
      writer.write(first);
      expect(first.released).toBe(true);
      expectMemError(() => first.release(), 'DOUBLE_FREE');
      const last = pool.alloc(5000);
      last.write(data.subarray(5000));
      writer.end(last);
      expect(last.released).toBe(true);
    });
    const received: Buffer[] = [];
    const client = connect(port, '127.0.0.1');
    client.on('data', (chunk: Buffer) => received.push(chunk));
    await once(client, 'end');
    client.destroy();
    expect(Buffer.concat(received).equals(data)).toBe(true);
    await close(server);
    await expectAllReturned(pool, io);
  });

  it('refuses bad targets, options and chunks, leaving the chunk alone', () =>
    withDirectory(async (directory) => {
      const { pool, io } = setup();
      const out = await open(join(directory, 'out'), 'w');
      for (const target of [undefined, null, {}, 42, { write: () => true }]) {
        expectMemError(() => io.writer(target as never), 'INVALID_ARGUMENT');
      }
      expectMemError(() => io.writer(out, { end: 'yes' } as never), 'INVALID_ARGUMENT');
      expectMemError(() => io.writer(out, { position: -1 }), 'INVALID_ARGUMENT');
      expectMemError(() => io.writer(out, { start: 0 } as never), 'INVALID_ARGUMENT');
      const writer = io.writer(out);
      writer.on('error', () => {});
      for (const chunk of [new Uint8Array(4), Buffer.alloc(4), {}, 'bytes']) {
        expectMemError(() => writer.write(chunk as never), 'INVALID_ARGUMENT');
        expectMemError(() => writer.end(chunk as never), 'INVALID_ARGUMENT');
      }
      const released = pool.alloc(10);
      released.release();
      expectMemError(() => writer.write(released), 'USE_AFTER_RELEASE');
      expectMemError(() => writer.end(released), 'USE_AFTER_RELEASE');
      writer.end();
      await once(writer, 'finish');
      await out.close();
      io.close();
      expectMemError(() => io.writer(out), 'USE_AFTER_RELEASE');
      expect(inUse(pool)).toBe(0);
    }));
});
