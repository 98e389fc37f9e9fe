/**
 * A worker_threads worker for shared-io.spec.ts: attaches to the shared pool in `workerData` and
 * either transforms the chunks the main thread hands it (in place, then hands them back), or reads
 * a file into the shared pool with a `PooledIo` of its own and hands the buffers over.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BufferPool } from '../buffer-pool.js';
import type { BufferPoolDescriptor } from '../pool-descriptor.js';
import type { BufferTransfer } from '../buffer-transfer.js';
import type { IoBuffer } from '../io-buffer.js';
import { PooledIo } from './pooled-io.js';

/** What the worker gets. */
export interface SharedIoJob {
  readonly pool: BufferPoolDescriptor;
  readonly scenario: 'transform' | 'read-file';
  /** For `transform`: the byte every chunk's bytes are XORed with. */
  readonly mask?: number;
  /** For `read-file`: the file to read. */
  readonly path?: string;
}

/** A message between the main thread and the worker: a chunk of a connection, or the end of the work. */
export type SharedIoMessage =
  | { readonly kind: 'chunk'; readonly connection: number; readonly transfer: BufferTransfer }
  | { readonly kind: 'done'; readonly chunks: number };

const job = workerData as SharedIoJob;
const pool = BufferPool.attach(job.pool, { leakDetection: 'off' });
const port = parentPort!;

if (job.scenario === 'transform') {
  let chunks = 0;
  port.on('message', (message: SharedIoMessage) => {
    if (message.kind === 'done') {
      pool.close();
      port.postMessage({ kind: 'done', chunks } satisfies SharedIoMessage);
      port.close();
      return;
    }
    const chunk = pool.adopt(message.transfer) as IoBuffer;
    const bytes = chunk.bytes;
    for (let i = 0; i < bytes.length; i += 1) bytes[i]! ^= job.mask!;
    chunks += 1;
    port.postMessage({
      kind: 'chunk',
      connection: message.connection,
      transfer: chunk.transfer(),
    } satisfies SharedIoMessage);
  });
} else {
  const io = new PooledIo(pool, { chunkSize: 16 * 1024 });
  const chain = await io.readFile(job.path!);
  for (const buffer of chain) {
    port.postMessage({ kind: 'chunk', connection: 0, transfer: buffer.transfer() } satisfies SharedIoMessage);
  }
  chain.release(); // every buffer was handed on: nothing left to return
  pool.close();
  port.postMessage({ kind: 'done', chunks: chain.buffers.length } satisfies SharedIoMessage);
}
