/**
 * The retention case of the `io` suite, one case per process: how many bytes stay unusable while
 * one small live slice is kept, per kept slice.
 * - `node-slices`: `Buffer.allocUnsafe(1 KiB)` slices of Node's pool, one kept per slab's worth;
 *   measured as `arrayBuffers` still alive after a full collection.
 * - `pooled-slices`: 1 KiB pooled buffers, one kept of the same number; measured as the bytes of
 *   the buffers still out (the others are free for the next allocations, which create nothing new).
 * - `node-socket` / `pooled-socket` / `pooled-socket-copy`: 1 KiB replies read from a loopback
 *   socket, every one kept: Node's chunks (`arrayBuffers` after a collection), pooled chunks
 *   (the bytes of the buffers out: each holds a `chunkSize` buffer), copied-out chunks (`arrayBuffers`).
 * Prints one JSON line.
 */
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { BufferPool, BufferPoolConfig, type IoBuffer } from '@mem/buffer-pool';
import { PooledIo } from '@mem/buffer-pool/node';

/** The retention cases. */
export type RetentionCase = 'node-slices' | 'pooled-slices' | 'node-socket' | 'pooled-socket' | 'pooled-socket-copy';

/** What a case measured. */
export interface RetentionResult {
  readonly kept: number;
  /** Bytes unusable per kept slice. */
  readonly bytesPerKept: number;
  /** For the pooled cases: tracked buffers created when the freed ones were allocated again. */
  readonly createdAgain: number;
}

const SLICE = 1024;
const SLICES = 64 * 1024;

function collect(): number {
  for (let i = 0; i < 4; i += 1) globalThis.gc!();
  return process.memoryUsage().arrayBuffers;
}

function pooledBytesOut(pool: BufferPool): number {
  return pool.stats().classes.reduce((sum, entry) => sum + entry.inUse * entry.size, 0);
}

function nodeSlices(): RetentionResult {
  const every = Buffer.poolSize / SLICE;
  const before = collect();
  const kept: Buffer[] = [];
  for (let i = 0; i < SLICES; i += 1) {
    const slice = Buffer.allocUnsafe(SLICE);
    if (i % every === 0) kept.push(slice);
  }
  const after = collect();
  return { kept: kept.length, bytesPerKept: (after - before) / kept.length, createdAgain: 0 };
}

function pooledSlices(): RetentionResult {
  const pool = new BufferPool(BufferPoolConfig.forNetwork().withMaxPerClass(SLICES), { leakDetection: 'off' });
  const every = Buffer.poolSize / SLICE;
  // All allocated first, as Node's slices fill their slabs; then all but one in `every` released.
  const all = Array.from({ length: SLICES }, () => pool.alloc(SLICE));
  const kept = all.filter((_, index) => index % every === 0);
  all.forEach((buffer, index) => {
    if (index % every !== 0) buffer.release();
  });
  const held = pooledBytesOut(pool);
  const created = pool.stats().classes[0]!.created;
  const again = Array.from({ length: SLICES - kept.length }, () => pool.alloc(SLICE));
  const createdAgain = pool.stats().classes[0]!.created - created;
  for (const buffer of [...again, ...kept]) buffer.release();
  return { kept: kept.length, bytesPerKept: held / kept.length, createdAgain };
}

/** Reads `replies` 1 KiB replies, one request at a time (each reply is one read), through `read`. */
async function socketReplies(
  replies: number,
  read: (port: number, onReply: (bytes: number) => void) => { write(data: Uint8Array): unknown; destroy(): unknown },
): Promise<void> {
  const reply = Buffer.alloc(SLICE, 7);
  const server = createServer((socket) => socket.on('data', () => socket.write(reply)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => {
    let received = 0;
    const socket = read(port, (bytes) => {
      received += bytes;
      if (received % SLICE !== 0) return;
      if (received / SLICE === replies) {
        socket.destroy();
        resolve();
      } else {
        socket.write(Buffer.of(1));
      }
    });
    socket.write(Buffer.of(1));
  });
  server.close();
  await once(server, 'close');
}

async function nodeSocket(replies: number): Promise<RetentionResult> {
  const before = collect();
  const kept: Buffer[] = [];
  await socketReplies(replies, (port, onReply) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('data', (chunk: Buffer) => {
      kept.push(chunk);
      onReply(chunk.length);
    });
    return socket;
  });
  const after = collect();
  return { kept: kept.length, bytesPerKept: (after - before) / kept.length, createdAgain: 0 };
}

async function pooledSocket(replies: number, copy: boolean): Promise<RetentionResult> {
  const pool = new BufferPool(BufferPoolConfig.forNetwork(), { leakDetection: 'off' });
  const io = new PooledIo(pool);
  const before = collect();
  const kept: (IoBuffer | Buffer)[] = [];
  await socketReplies(replies, (port, onReply) => {
    const keep = (chunk: IoBuffer | Buffer): void => {
      kept.push(chunk);
      onReply(chunk.length);
    };
    return copy
      ? io.connect({ port, host: '127.0.0.1' }, keep, { copy: true })
      : io.connect({ port, host: '127.0.0.1' }, keep);
  });
  await new Promise((resolve) => setTimeout(resolve, 20)); // the socket's close returns its next-read buffer
  const held = copy ? collect() - before : pooledBytesOut(pool);
  return { kept: kept.length, bytesPerKept: held / kept.length, createdAgain: 0 };
}

const which = process.argv[2] as RetentionCase;
const replies = 2000;
const result =
  which === 'node-slices'
    ? nodeSlices()
    : which === 'pooled-slices'
      ? pooledSlices()
      : which === 'node-socket'
        ? await nodeSocket(replies)
        : await pooledSocket(replies, which === 'pooled-socket-copy');
process.stdout.write(`${JSON.stringify(result)}\n`);
