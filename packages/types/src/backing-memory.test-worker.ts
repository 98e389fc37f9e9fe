/**
 * A worker_threads worker for backing-memory.spec.ts: attaches to shared backing memory from the
 * descriptor in `workerData`, writes its signature bytes, hammers a shared counter with Atomics,
 * optionally waits for the main thread's go signal and reads what the main thread wrote after the
 * worker started, optionally grows the (wasm) memory, and posts what it saw.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BackingMemory, type BackingMemoryDescriptor } from './backing-memory.js';

/** What the spec sends each worker. Flag indexes are Int32Array indexes into the first 16 bytes. */
export interface BackingWorkerJob {
  readonly descriptor: BackingMemoryDescriptor;
  /** This worker's number, 0-based. */
  readonly id: number;
  /** How many times to `Atomics.add(flags, counterIndex, 1)`. */
  readonly increments: number;
  readonly counterIndex: number;
  /** The worker adds 1 here (and notifies) when it is ready for the go signal. */
  readonly readyIndex: number;
  /** The main thread stores 1 here (and notifies) once its payload is written. */
  readonly goIndex: number;
  /** Where this worker writes its 16 signature bytes `(id * 16 + i) & 0xff`. */
  readonly signatureOffset: number;
  /** Where the main thread writes its payload after every worker is ready. */
  readonly payloadOffset: number;
  readonly payloadLength: number;
  /** Grow the memory by this many bytes after the handshake (wasm memory only); 0 for none. */
  readonly growBytes: number;
}

/** What a worker posts back. */
export interface BackingWorkerAnswer {
  readonly id: number;
  readonly kind: string;
  readonly isShared: boolean;
  readonly waitResult: string;
  /** The main thread's payload, as this worker read it after the go signal. */
  readonly payload: number[];
  readonly byteLengthAtEnd: number;
  /** The worker's own generation count after its growth. */
  readonly generation: number;
}

const job = workerData as BackingWorkerJob;
const memory = BackingMemory.fromDescriptor(job.descriptor);
const flags = memory.typedView(Int32Array, 0, 4);

const signature = memory.view(job.signatureOffset, 16);
for (let i = 0; i < signature.length; i += 1) signature[i] = (job.id * 16 + i) & 0xff;

for (let i = 0; i < job.increments; i += 1) Atomics.add(flags, job.counterIndex, 1);

Atomics.add(flags, job.readyIndex, 1);
Atomics.notify(flags, job.readyIndex);
const waitResult = Atomics.wait(flags, job.goIndex, 0, 20_000);
const payload = [...memory.view(job.payloadOffset, job.payloadLength)];

if (job.growBytes > 0) {
  const grownTo = memory.grow(job.growBytes);
  memory.bytes()[grownTo - 1] = 0xab;
}

const answer: BackingWorkerAnswer = {
  id: job.id,
  kind: memory.kind,
  isShared: memory.isShared,
  waitResult,
  payload,
  byteLengthAtEnd: memory.byteLength,
  generation: memory.generation,
};
parentPort?.postMessage(answer);
