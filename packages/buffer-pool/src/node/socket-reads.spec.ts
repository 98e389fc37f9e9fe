import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { Buffer } from 'node:buffer';
import { Socket, connect, createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { BufferPool } from '../buffer-pool.js';
import { BufferPoolConfig } from '../buffer-pool-config.js';
import type { IoBuffer } from '../io-buffer.js';
import { PooledIo } from './pooled-io.js';
import { close, exchange, expectAllReturned, inUse, listen, pattern, pooledEcho, until } from './io.test-helper.js';

function setup(): { pool: BufferPool; io: PooledIo } {
  const pool = new BufferPool(BufferPoolConfig.forNetwork(), { leakDetection: 'off' });
  return { pool, io: new PooledIo(pool, { chunkSize: 16 * 1024 }) };
}

describe('PooledIo.accept', () => {
  it('reads a server connection into pooled buffers and echoes every byte in order', async () => {
    const { pool, io } = setup();
    const { server, port } = await pooledEcho(io);
    const sent = [pattern(3 << 20, 1), pattern(100_000, 2), pattern(1, 3), pattern(777_777, 4)];
    const echoed = await Promise.all(sent.map((data) => exchange(port, data)));
    echoed.forEach((bytes, index) => expect(bytes.equals(sent[index]!), `connection ${index}`).toBe(true));
    await close(server);
    await expectAllReturned(pool, io);
    const stats = io.stats();
    const total = sent.reduce((sum, data) => sum + data.length, 0);
    expect(stats.bytesRead).toBe(total);
    expect(stats.bytesWritten).toBe(total);
    expect(stats.returnedOnError).toBe(0);
  });

  it('hands each chunk over as a pooled buffer the handler owns', async () => {
    const { pool, io } = setup();
    const chunks: IoBuffer[] = [];
    const { server, port } = await listen((connection) => {
      const socket = io.accept(connection, (chunk) => void chunks.push(chunk));
      socket.on('end', () => socket.end());
    });
    const data = pattern(200_000, 5);
    await exchange(port, data);
    for (const chunk of chunks) {
      expect(chunk.isPooled && !chunk.released).toBe(true);
      // Large reads are handed over in the read buffer itself; small ones in a buffer of their class.
      expect(chunk.capacity).toBe(
        chunk.length > 2048 ? 16 * 1024 : pool.config.classSizes[pool.config.classIndexOf(chunk.length)!],
      );
    }
    expect(Buffer.concat(chunks.map((chunk) => chunk.bytes)).equals(data)).toBe(true);
    expect(inUse(pool)).toBe(chunks.length); // the socket closed: its buffer for the next read came back
    for (const chunk of chunks) chunk.release();
    await close(server);
    expect(inUse(pool)).toBe(0);
  });

  it('copies a small read into a buffer of its own class, so that a kept chunk holds no more', async () => {
    const { pool, io } = setup();
    const kept: IoBuffer[] = [];
    const { server, port } = await listen((connection) => {
      const socket = io.accept(connection, (chunk) => {
        kept.push(chunk);
        socket.write('next'); // one message per read: the client sends the next on this answer
      });
      socket.on('end', () => socket.end());
    });
    const client = connect(port, '127.0.0.1', () => client.write(pattern(100, 0)));
    let answers = 0;
    client.on('data', () => {
      if ((answers += 1) < 50) client.write(pattern(100, answers));
      else client.end();
    });
    await once(client, 'close');
    await close(server);
    expect(kept.map((chunk) => Buffer.from(chunk.bytes))).toEqual(
      Array.from({ length: 50 }, (_, index) => pattern(100, index)),
    );
    expect(kept.every((chunk) => chunk.capacity === 1024)).toBe(true);
    expect(inUse(pool)).toBe(50); // the 16 KiB read buffer went back when the socket closed
    for (const chunk of kept) chunk.release();
  });

  it('copies each chunk out on request and then holds no pooled buffer', async () => {
    const { pool, io } = setup();
    const chunks: Buffer[] = [];
    let held = -1;
    const { server, port } = await listen((connection) => {
      const socket = io.accept(
        connection,
        (chunk) => {
          held = inUse(pool);
          chunks.push(chunk);
        },
        { copy: true },
      );
      socket.on('end', () => socket.end());
    });
    const data = pattern(300_000, 6);
    await exchange(port, data);
    expect(held).toBe(0);
    expect(chunks.every((chunk) => Buffer.isBuffer(chunk))).toBe(true);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    await close(server);
  });

  it('pauses when the handler returns false and reads on after socket.resume()', async () => {
    const { pool, io } = setup();
    const received: Buffer[] = [];
    let pauses = 0;
    const { server, port } = await listen((connection) => {
      const socket = io.accept(connection, (chunk) => {
        received.push(Buffer.from(chunk.bytes));
        chunk.release();
        pauses += 1;
        setTimeout(() => socket.resume(), 1);
        return false;
      });
      socket.on('end', () => socket.end());
    });
    const data = pattern(500_000, 7);
    await exchange(port, data);
    expect(Buffer.concat(received).equals(data)).toBe(true);
    expect(pauses).toBe(received.length);
    await close(server);
    await expectAllReturned(pool, io);
  });

  it('returns every buffer when clients disconnect early, mid-transfer', async () => {
    const { pool, io } = setup();
    const { server, port } = await pooledEcho(io);
    await Promise.all(
      Array.from({ length: 8 }, async (_, index) => {
        const client = connect(port, '127.0.0.1');
        await once(client, 'connect');
        client.write(pattern(1 << 20, index));
        // Destroy after the first echoed bytes: the server has reads and writes in flight.
        await once(client, 'data');
        client.destroy();
        await once(client, 'close');
      }),
    );
    await close(server);
    await expectAllReturned(pool, io);
  });

  it('returns the chunk and destroys the socket when the handler throws', async () => {
    const { pool, io } = setup();
    const failure = new Error('handler failed');
    let kept: IoBuffer | undefined;
    const errors: Error[] = [];
    const { server, port } = await listen((connection) => {
      const socket = io.accept(connection, (chunk) => {
        kept = chunk;
        throw failure;
      });
      socket.on('error', (error) => errors.push(error));
    });
    const client = connect(port, '127.0.0.1', () => client.write(pattern(5000, 8)));
    client.on('error', () => {});
    await once(client, 'close');
    await close(server);
    expect(errors).toEqual([failure]);
    expect(kept!.released).toBe(true);
    expect(io.stats().returnedOnError).toBe(1);
    expect(inUse(pool)).toBe(0);
  });

  it('destroys the socket with USE_AFTER_RELEASE when the pool is closed under it, and refuses new connections', async () => {
    const { pool, io } = setup();
    const errors: unknown[] = [];
    const { server, port } = await listen((connection) => {
      if (pool.closed) {
        expectMemError(() => io.accept(connection, () => {}), 'USE_AFTER_RELEASE');
        connection.destroy();
        return;
      }
      const socket = io.accept(connection, (chunk) => chunk.release());
      socket.on('error', (error) => errors.push(error));
      pool.close();
    });
    const first = connect(port, '127.0.0.1', () => first.write(pattern(70_000, 1)));
    first.on('error', () => {}); // reset by the server
    await new Promise((resolve) => first.on('close', resolve));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'USE_AFTER_RELEASE' });
    const second = connect(port, '127.0.0.1');
    second.on('error', () => {});
    await new Promise((resolve) => second.on('close', resolve));
    await close(server);
  });

  it('keeps the server counting the connection until the pooled socket closes', async () => {
    const { io } = setup();
    let socket: Socket | undefined;
    const { server, port } = await listen((connection) => {
      socket = io.accept(connection, (chunk) => chunk.release());
    });
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    await until(() => socket !== undefined, 'the connection was accepted');
    let closed = false;
    server.close(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed).toBe(false);
    expect(socket!.remoteAddress).toBe('127.0.0.1');
    client.destroy();
    await until(() => closed, 'the server closed once the connection did');
  });

  it('refuses connections that are not fresh pauseOnConnect connections, and other arguments', async () => {
    const { io } = setup();
    for (const value of [undefined, null, {}, 'socket', new Socket()]) {
      expectMemError(() => io.accept(value as never, () => {}), 'INVALID_ARGUMENT');
    }
    const plainServer = createServer();
    const accepted = once(plainServer, 'connection');
    await new Promise<void>((resolve) => plainServer.listen(0, '127.0.0.1', resolve));
    const plainClient = connect((plainServer.address() as AddressInfo).port, '127.0.0.1');
    const [plain] = (await accepted) as [Socket];
    expectMemError(() => io.accept(plain, () => {}), 'INVALID_ARGUMENT'); // not paused: Node may have read already
    plain.destroy();
    plainClient.destroy();
    await close(plainServer);
    const { server, port } = await listen((connection) => {
      expectMemError(() => io.accept(connection, 'handler' as never), 'INVALID_ARGUMENT');
      expectMemError(() => io.accept(connection, () => {}, { copy: 1 } as never), 'INVALID_ARGUMENT');
      expectMemError(() => io.accept(connection, () => {}, { copies: true } as never), 'INVALID_ARGUMENT');
      io.accept(connection, (chunk) => chunk.release()).destroy();
    });
    const client = connect(port, '127.0.0.1');
    await once(client, 'close');
    await close(server);
    io.close();
    const { server: later, port: laterPort } = await listen((connection) => {
      expectMemError(() => io.accept(connection, () => {}), 'USE_AFTER_RELEASE');
      connection.destroy();
    });
    await once(connect(laterPort, '127.0.0.1'), 'close');
    await close(later);
  });
});

describe('PooledIo.connect and socketReads', () => {
  it('reads a client socket into pooled buffers', async () => {
    const { pool, io } = setup();
    const data = pattern(2 << 20, 9);
    const { server, port } = await listen((connection) => {
      connection.resume();
      connection.end(data);
    });
    const received: Buffer[] = [];
    const socket = io.connect({ port, host: '127.0.0.1' }, (chunk) => {
      received.push(Buffer.from(chunk.bytes));
      chunk.release();
    });
    await once(socket, 'close');
    expect(Buffer.concat(received).equals(data)).toBe(true);
    await close(server);
    expect(inUse(pool)).toBe(0);
  });

  it('serves sockets made elsewhere through onread and attach()', async () => {
    const { pool, io } = setup();
    const data = pattern(100_000, 10);
    const { server, port } = await listen((connection) => {
      connection.resume();
      connection.end(data);
    });
    const received: Buffer[] = [];
    const reads = io.socketReads((chunk) => void received.push(chunk), { copy: true });
    const socket = reads.attach(new Socket({ onread: reads } as never));
    socket.connect(port, '127.0.0.1');
    await once(socket, 'close');
    expect(reads.closed).toBe(true);
    expect(Buffer.concat(received).equals(data)).toBe(true);
    await close(server);
    expect(inUse(pool)).toBe(0);
  });

  it('refuses a second attach, sockets that are not sockets, and onread in connect options', () => {
    const { io } = setup();
    const reads = io.socketReads((chunk) => chunk.release());
    expectMemError(() => reads.attach({} as never), 'INVALID_ARGUMENT');
    const socket = reads.attach(new Socket());
    expectMemError(() => reads.attach(socket), 'IN_USE');
    expectMemError(() => io.socketReads('nope' as never), 'INVALID_ARGUMENT');
    expectMemError(() => io.connect({ port: 1, onread: reads } as never, () => {}), 'INVALID_ARGUMENT');
    expectMemError(() => io.connect(null as never, () => {}), 'INVALID_ARGUMENT');
    expectMemError(() => io.connect({ port: 1 }, 'nope' as never), 'INVALID_ARGUMENT');
    io.close();
    expectMemError(() => io.socketReads(() => {}), 'USE_AFTER_RELEASE');
    expectMemError(() => io.connect({ port: 1 }, () => {}), 'USE_AFTER_RELEASE');
  });
});
