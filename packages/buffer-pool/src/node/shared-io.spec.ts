import { describe, expect, it } from 'vitest';
import { startWorker } from '@mem/testkit';
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { BufferPool } from '../buffer-pool.js';
import { BufferPoolConfig } from '../buffer-pool-config.js';
import type { IoBuffer } from '../io-buffer.js';
import { PooledIo } from './pooled-io.js';
import { close, inUse, listen, pattern, temporaryDirectory, until } from './io.test-helper.js';
import type { SharedIoJob, SharedIoMessage } from './shared-io.test-worker.js';

const MASK = 0x5a;

const workerUrl = new URL('./shared-io.test-worker.ts', import.meta.url);

function sharedPool(): BufferPool {
  const config = BufferPoolConfig.forNetwork().withMaxPerClass(1024).withParallelism(3);
  return BufferPool.createShared(config, { leakDetection: 'off' });
}

function start(job: SharedIoJob): Worker {
  const worker = startWorker(workerUrl, { workerData: job });
  worker.on('error', (error) => {
    throw error;
  });
  return worker;
}

describe('PooledIo over a shared pool, with real workers', () => {
  it('reads sockets in the main thread and hands each chunk to a worker and back: every byte arrives transformed, every buffer returns', async () => {
    const pool = sharedPool();
    const io = new PooledIo(pool, { chunkSize: 16 * 1024 });
    const workers = [
      start({ pool: pool.descriptor(), scenario: 'transform', mask: MASK }),
      start({ pool: pool.descriptor(), scenario: 'transform', mask: MASK }),
    ];
    const sockets = new Map<number, Socket>();
    for (const worker of workers) {
      worker.on('message', (message: SharedIoMessage) => {
        if (message.kind !== 'chunk') return;
        io.write(sockets.get(message.connection)!, pool.adopt(message.transfer) as IoBuffer);
      });
    }
    let connections = 0;
    const { server, port } = await listen((connection) => {
      const id = connections++;
      // One worker per connection keeps its chunks in order.
      const worker = workers[id % workers.length]!;
      const socket = io.accept(connection, (chunk) => {
        worker.postMessage({ kind: 'chunk', connection: id, transfer: chunk.transfer() } satisfies SharedIoMessage);
      });
      sockets.set(id, socket);
      socket.on('error', () => socket.destroy());
    });
    const sent = Array.from({ length: 6 }, (_, index) => pattern(200_000 + index * 50_000, index + 1));
    const clients = sent.map(async (data) => {
      // Connections end their echo once all bytes came back (the server does not know when).
      const received: Buffer[] = [];
      let length = 0;
      const client = connect(port, '127.0.0.1', () => client.write(data));
      client.on('data', (chunk: Buffer) => {
        received.push(chunk);
        if ((length += chunk.length) === data.length) client.end();
      });
      await once(client, 'close');
      return Buffer.concat(received);
    });
    const echoed = await Promise.all(clients);
    echoed.forEach((bytes, index) => {
      const expected = Buffer.from(sent[index]!.map((byte) => byte ^ MASK));
      expect(bytes.equals(expected), `connection ${index}`).toBe(true);
    });
    await close(server);
    const answers = workers.map((worker) => once(worker, 'message'));
    for (const worker of workers) worker.postMessage({ kind: 'done', chunks: 0 } satisfies SharedIoMessage);
    const done = (await Promise.all(answers)).map(([message]) => (message as { chunks: number }).chunks);
    expect(done[0]! + done[1]!).toBe(io.stats().chunksRead);
    expect(done.every((chunks) => chunks > 0)).toBe(true);
    await until(() => inUse(pool) === 0 && io.stats().writesInFlight === 0, 'every buffer back in the shared pool');
    pool.close();
  });

  it('reads a file in a worker with its own PooledIo; the main thread writes the buffers to a socket', async () => {
    const { directory, remove } = temporaryDirectory();
    try {
      const path = join(directory, 'data');
      const data = pattern(1_000_000, 9);
      writeFileSync(path, data);
      const pool = sharedPool();
      const io = new PooledIo(pool);
      const receiver = createServer((socket) => {
        const parts: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => parts.push(chunk));
        socket.on('end', () => receiver.emit('received', Buffer.concat(parts)));
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      const socket = connect((receiver.address() as AddressInfo).port, '127.0.0.1');
      await once(socket, 'connect');
      const received = once(receiver, 'received');
      const worker = start({ pool: pool.descriptor(), scenario: 'read-file', path });
      const [chunks] = await new Promise<[number]>((resolve) =>
        worker.on('message', (message: SharedIoMessage) => {
          if (message.kind === 'done') resolve([message.chunks]);
          else io.write(socket, pool.adopt(message.transfer) as IoBuffer);
        }),
      );
      expect(chunks).toBe(Math.ceil(data.length / pool.config.maxSize));
      socket.end();
      const [bytes] = (await received) as [Buffer];
      expect(bytes.equals(data)).toBe(true);
      await close(receiver);
      await until(() => inUse(pool) === 0, 'every buffer back in the shared pool');
      pool.close();
    } finally {
      remove();
    }
  });
});
