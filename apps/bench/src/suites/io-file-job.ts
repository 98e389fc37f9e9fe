/**
 * The file job of the `io` suite, one run per process: read a file in 64 KiB chunks, hash every
 * chunk (SHA-256) and write it to another file, the plain Node way (`fs.createReadStream`, a
 * `Buffer` per read, `fs.createWriteStream`) or with pooled buffers (`PooledIo.fileReadable` and a
 * `PooledWriter`, both on files they open). Prints one JSON line: time, CPU time, GC pauses, RSS,
 * the digest.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { BufferPool, BufferPoolConfig } from '@mem/buffer-pool';
import { PooledIo } from '@mem/buffer-pool/node';
import { GcRecorder } from '../gc-observer.js';
import type { IoImpl } from './io-protocol.js';

/** What the suite asks for. */
export interface FileJob {
  readonly impl: IoImpl;
  readonly source: string;
  readonly target: string;
  readonly chunk: number;
}

/** What the job measured. */
export interface FileJobResult {
  readonly seconds: number;
  /** CPU time of the process over the job (all threads, libuv's file threads included), in microseconds. */
  readonly cpuMicros: number;
  readonly bytes: number;
  readonly gcPauseMs: number;
  readonly gcCount: number;
  readonly rss: readonly number[];
  readonly arrayBuffersMax: number;
  readonly digest: string;
}

async function viaNode(job: FileJob, hash: ReturnType<typeof createHash>): Promise<number> {
  let bytes = 0;
  const out = createWriteStream(job.target);
  for await (const chunk of createReadStream(job.source, { highWaterMark: job.chunk }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
  return bytes;
}

async function viaPool(job: FileJob, hash: ReturnType<typeof createHash>): Promise<number> {
  const pool = new BufferPool(BufferPoolConfig.forStorage(), { leakDetection: 'off' });
  const io = new PooledIo(pool, { chunkSize: job.chunk });
  const writer = io.writer(job.target);
  let bytes = 0;
  for await (const chunk of io.fileReadable(job.source)) {
    hash.update(chunk.bytes);
    bytes += chunk.length;
    if (!writer.write(chunk)) await once(writer, 'drain');
  }
  writer.end();
  await once(writer, 'close');
  pool.close();
  return bytes;
}

const job = JSON.parse(process.argv[2]!) as FileJob;
globalThis.gc?.();
const recorder = new GcRecorder();
const rss = [process.memoryUsage.rss()];
let arrayBuffersMax = 0;
const sampler = setInterval(() => {
  const usage = process.memoryUsage();
  rss.push(usage.rss);
  arrayBuffersMax = Math.max(arrayBuffersMax, usage.arrayBuffers);
}, 100);
recorder.start();
const hash = createHash('sha256');
const started = performance.now();
const cpu = process.cpuUsage();
const bytes = await (job.impl === 'node' ? viaNode(job, hash) : viaPool(job, hash));
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
clearInterval(sampler);
rss.push(process.memoryUsage.rss());
const gc = await recorder.stop();
const result: FileJobResult = {
  seconds,
  cpuMicros: used.user + used.system,
  bytes,
  gcPauseMs: gc.pauseMs,
  gcCount: gc.count,
  rss,
  arrayBuffersMax,
  digest: hash.digest('hex'),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
