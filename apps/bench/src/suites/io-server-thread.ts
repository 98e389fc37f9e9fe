/**
 * One server thread of the `io` suite's server process: runs the server its config asks for on a
 * loopback port of its own, and measures its own isolate (GC pauses, `arrayBuffers`) between the
 * process's `start` and `stop`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { AddressInfo } from 'node:net';
import { BufferPool, type BufferPoolDescriptor } from '@mem/buffer-pool';
import { PooledIo } from '@mem/buffer-pool/node';
import { GcRecorder } from '../gc-observer.js';
import type { ServerConfig, ThreadWindow } from './io-protocol.js';
import { createBenchServer } from './io-servers.js';

/** What the server process gives each thread. */
export interface ThreadData {
  readonly config: ServerConfig;
  /** The process's shared pool (pooled servers). */
  readonly pool: BufferPoolDescriptor | null;
}

/** Messages of the server process to a thread. */
export type ToThread = { readonly type: 'start' } | { readonly type: 'stop' } | { readonly type: 'exit' };

/** Messages of a thread to the server process. */
export type FromThread =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'window'; readonly window: ThreadWindow; readonly fallbacks: number };

const data = workerData as ThreadData;
const port = parentPort!;
const pool = data.pool === null ? undefined : BufferPool.attach(data.pool, { leakDetection: 'off' });
const io = pool === undefined ? undefined : new PooledIo(pool);
const server = createBenchServer(data.config, io);
const recorder = new GcRecorder();
let sampler: ReturnType<typeof setInterval> | undefined;
let arrayBuffersMax = 0;

port.on('message', (message: ToThread) => {
  if (message.type === 'start') {
    arrayBuffersMax = 0;
    recorder.start();
    sampler = setInterval(() => {
      arrayBuffersMax = Math.max(arrayBuffersMax, process.memoryUsage().arrayBuffers);
    }, 100);
  } else if (message.type === 'stop') {
    clearInterval(sampler);
    void recorder.stop().then((gc) => {
      const arrayBuffersLast = process.memoryUsage().arrayBuffers;
      const window: ThreadWindow = {
        gcPauseMs: gc.pauseMs,
        gcCount: gc.count,
        arrayBuffersMax: Math.max(arrayBuffersMax, arrayBuffersLast),
        arrayBuffersLast,
      };
      port.postMessage({ type: 'window', window, fallbacks: pool?.stats().fallbacks ?? 0 } satisfies FromThread);
    });
  } else {
    server.close();
    io?.close();
    pool?.close();
    process.exit(0);
  }
});

server.listen(0, '127.0.0.1', () => {
  port.postMessage({ type: 'ready', port: (server.address() as AddressInfo).port } satisfies FromThread);
});
