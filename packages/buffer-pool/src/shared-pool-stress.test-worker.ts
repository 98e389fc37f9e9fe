/**
 * A worker_threads worker for shared-pool-stress.spec.ts. For each round (one shared pool, one
 * seed) it attaches to the pool and runs a seeded mix of operations while other workers do the
 * same: allocations of every kind, each buffer stamped over its whole capacity and claimed in a
 * table of owners (a compare-exchange of the worker's id into the slot's entry, expecting 0);
 * verifications; releases; freezes with clones and slices; flushes; transfers to the other workers
 * through real MessagePorts, received with `receiveMessageOnPort` and verified against the
 * sender's stamp. A `closer` closes its instance halfway and attaches a new one, releasing its
 * older buffers after the close; a `victim` runs until the test terminates it. Any foreign byte or
 * slot owned twice is a violation.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { MemError } from '@mem/types';
import { seededRandom } from '@mem/testkit/seeded-random';
import { BufferPool } from './buffer-pool.js';
import type { BufferTransfer } from './buffer-transfer.js';
import type { FrozenBuffer } from './frozen-buffer.js';
import type { IoBuffer } from './io-buffer.js';
import type { BufferPoolDescriptor } from './pool-descriptor.js';

/** One round: a pool, a seed, the other workers of the round. */
export interface StressRound {
  readonly pool: BufferPoolDescriptor;
  readonly seed: number;
  readonly operations: number;
  /** One port per other worker of the round, in `peers` order. */
  readonly ports: readonly MessagePort[];
  readonly peers: readonly number[];
  /** The owner of every slot (0 when free): entry `class * maxPerClass + offset / size`. */
  readonly owners: SharedArrayBuffer;
  /**
   * Int32 words: [0] workers at the start line, [1] survivors done sending, [2] the victim's
   * progress, [3] set once the victim was terminated.
   */
  readonly flags: SharedArrayBuffer;
  /** How many workers of the round run to its end (all but the victim). */
  readonly survivors: number;
}

/** What a stress worker is given. */
export interface StressJob {
  readonly id: number;
  readonly role: 'steady' | 'closer' | 'victim';
  readonly rounds: readonly StressRound[];
}

/** What a surviving worker reports after each round. */
export interface StressAnswer {
  readonly id: number;
  readonly seed: number;
  readonly operations: number;
  readonly violations: string[];
  readonly sent: number;
  /** Transfers sent to each worker, by id. */
  readonly sentTo: Record<number, number>;
  readonly received: number;
  readonly exhausted: number;
}

/** A transfer message. */
interface Parcel {
  readonly from: number;
  readonly serial: number;
  readonly descriptor: BufferTransfer;
}

interface Held {
  buffer: IoBuffer | null;
  /** The frozen views, each with where it starts in the buffer. */
  views: { readonly view: FrozenBuffer; readonly from: number }[];
  readonly slot: number;
  /** Whose stamp the bytes carry, and which. */
  readonly stamper: number;
  readonly serial: number;
}

const job = workerData as StressJob;
const id = job.id;

function stamp(stamper: number, at: number, position: number): number {
  return (Math.imul(stamper * 65_537 + at, 0x9e3779b1) + Math.imul(position + 1, 0x85ebca6b)) >>> 24;
}

/** One round of work on one pool. */
class Round {
  readonly #round: StressRound;
  readonly #owners: Int32Array;
  readonly #next: () => number;
  readonly #held: Held[] = [];
  #pool: BufferPool;
  readonly #sizes: number[];
  readonly #maxPerClass: number;
  readonly violations: string[] = [];
  readonly sentTo: Record<number, number> = {};
  #serial = 0;
  sent = 0;
  received = 0;
  exhausted = 0;

  constructor(round: StressRound) {
    this.#round = round;
    this.#owners = new Int32Array(round.owners);
    this.#next = seededRandom(round.seed * 1000 + id);
    this.#pool = BufferPool.attach(round.pool, { leakDetection: 'off' });
    this.#sizes = this.#pool.config.classSizes;
    this.#maxPerClass = this.#pool.config.maxPerClass;
  }

  #slotOf(buffer: IoBuffer): number {
    const c = this.#pool.config.classIndexOf(buffer.capacity)!;
    return c * this.#maxPerClass + buffer.byteOffset / this.#sizes[c]!;
  }

  #claim(slot: number, what: string): void {
    const previous = Atomics.compareExchange(this.#owners, slot, 0, id);
    if (previous !== 0) this.violations.push(`${what}: slot ${slot} was owned by worker ${previous}`);
  }

  #unclaim(slot: number): void {
    const previous = Atomics.compareExchange(this.#owners, slot, id, 0);
    if (previous !== id) this.violations.push(`slot ${slot} changed owner to ${previous} while held`);
  }

  #verify(bytes: Uint8Array, entry: Held, from = 0): void {
    const owner = Atomics.load(this.#owners, entry.slot);
    if (owner !== id) this.violations.push(`slot ${entry.slot} is owned by ${owner}, not by ${id}`);
    for (let i = 0; i < bytes.length; i += 1) {
      if (bytes[i] !== stamp(entry.stamper, entry.serial, from + i)) {
        this.violations.push(`slot ${entry.slot} byte ${from + i}: foreign byte ${bytes[i]}`);
        return;
      }
    }
  }

  #allocate(): void {
    const roll = this.#next();
    const size = this.#sizes[Math.floor(this.#next() * this.#sizes.length)]!;
    const pool = this.#pool;
    let buffer: IoBuffer;
    try {
      buffer =
        roll < 0.25
          ? pool.tryAlloc(size)
          : roll < 0.5
            ? pool.tryAllocZeroed(size)
            : roll < 0.75
              ? pool.alloc(size)
              : pool.allocZeroed(size - 1);
    } catch (error) {
      if (!MemError.is(error, 'EXHAUSTED')) throw error;
      this.exhausted += 1;
      return;
    }
    if (!buffer.isPooled) {
      buffer.release(); // a fallback: not pool memory
      return;
    }
    const slot = this.#slotOf(buffer);
    this.#claim(slot, 'alloc');
    this.#serial += 1;
    const bytes = buffer.capacityBytes;
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = stamp(id, this.#serial, i);
    buffer.length = bytes.length;
    this.#held.push({ buffer, views: [], slot, stamper: id, serial: this.#serial });
  }

  #giveBack(index: number): void {
    const entry = this.#held[index]!;
    if (entry.buffer) {
      this.#verify(entry.buffer.capacityBytes, entry);
      this.#unclaim(entry.slot);
      entry.buffer.release();
      this.#held.splice(index, 1);
      return;
    }
    const { view, from } = entry.views.splice(Math.floor(this.#next() * entry.views.length), 1)[0]!;
    this.#verify(view.bytes, entry, from);
    if (entry.views.length === 0) {
      this.#unclaim(entry.slot);
      this.#held.splice(index, 1);
    }
    view.release();
  }

  #freeze(entry: Held): void {
    const frozen = entry.buffer!.freeze();
    entry.buffer = null;
    const from = Math.floor(this.#next() * frozen.length);
    entry.views = [
      { view: frozen, from: 0 },
      { view: frozen.clone(), from: 0 },
      { view: frozen.slice(from), from },
      { view: frozen.slice(0, from + 1), from: 0 },
    ];
  }

  #send(index: number): void {
    const entry = this.#held[index]!;
    const { ports, peers } = this.#round;
    if (!entry.buffer || ports.length === 0) return;
    this.#verify(entry.buffer.capacityBytes, entry);
    const peer = Math.floor(this.#next() * ports.length);
    // Handed over: the receiver claims the slot after adopting it.
    this.#unclaim(entry.slot);
    const parcel: Parcel = { from: entry.stamper, serial: entry.serial, descriptor: entry.buffer.transfer() };
    this.#held.splice(index, 1);
    ports[peer]!.postMessage(parcel);
    this.sent += 1;
    this.sentTo[peers[peer]!] = (this.sentTo[peers[peer]!] ?? 0) + 1;
  }

  receive(): void {
    for (const port of this.#round.ports) {
      for (let message = receiveMessageOnPort(port); message; message = receiveMessageOnPort(port)) {
        const parcel = message.message as Parcel;
        const buffer = this.#pool.adopt(parcel.descriptor) as IoBuffer;
        this.received += 1;
        const slot = this.#slotOf(buffer);
        this.#claim(slot, 'adopt');
        const entry: Held = { buffer, views: [], slot, stamper: parcel.from, serial: parcel.serial };
        this.#verify(buffer.capacityBytes, entry);
        this.#held.push(entry);
      }
    }
  }

  step(operation: number): void {
    const roll = this.#next();
    const held = this.#held;
    if (held.length < 12 && roll < 0.4) {
      this.#allocate();
    } else if (held.length > 0) {
      const index = Math.floor(this.#next() * held.length);
      const entry = held[index]!;
      if (roll < 0.5 && entry.buffer) this.#freeze(entry);
      else if (roll < 0.6 && entry.buffer) this.#send(index);
      else if (roll < 0.7 && entry.buffer) this.#verify(entry.buffer.capacityBytes, entry);
      else this.#giveBack(index);
    }
    if (roll > 0.99) this.#pool.flush();
    if ((operation & 7) === 0) this.receive();
    if (job.role === 'closer' && operation === this.#round.operations >> 1) {
      // Close this instance while the others allocate, holding buffers and views it issued: they
      // stay valid here, and go back to the global freelist when released after the close.
      for (let tries = 0; tries < 24 && this.#held.length < 8; tries += 1) this.#allocate();
      for (const entry of this.#held.slice(0, 3)) if (entry.buffer) this.#freeze(entry);
      this.#pool.close();
      this.#pool = BufferPool.attach(this.#round.pool, { leakDetection: 'off' });
    }
  }

  /** Gives back everything held, and closes the instance. */
  finish(): void {
    while (this.#held.length > 0) this.#giveBack(this.#held.length - 1);
    this.#pool.close();
  }
}

function waitFor(flags: Int32Array, index: number, count: number, whileWaiting?: () => void): void {
  for (let seen = Atomics.load(flags, index); seen < count; seen = Atomics.load(flags, index)) {
    Atomics.wait(flags, index, seen, 1000);
    whileWaiting?.();
  }
}

for (const round of job.rounds) {
  const flags = new Int32Array(round.flags);
  const work = new Round(round);
  // Start together, so that the workers really contend.
  Atomics.add(flags, 0, 1);
  Atomics.notify(flags, 0);
  waitFor(flags, 0, round.peers.length + 1);
  let operations = 0;
  if (job.role === 'victim') {
    // Runs until terminated, reporting its progress.
    for (;;) {
      work.step(operations);
      operations += 1;
      Atomics.store(flags, 2, operations);
    }
  }
  for (; operations < round.operations && work.violations.length === 0; operations += 1) work.step(operations);
  // Done sending: wait until the victim is gone and the other survivors are done, then take in
  // everything sent here and give it all back.
  waitFor(flags, 3, 1, () => work.receive());
  Atomics.add(flags, 1, 1);
  Atomics.notify(flags, 1);
  waitFor(flags, 1, round.survivors, () => work.receive());
  work.receive();
  work.finish();
  const answer: StressAnswer = {
    id,
    seed: round.seed,
    operations,
    violations: work.violations,
    sent: work.sent,
    sentTo: work.sentTo,
    received: work.received,
    exhausted: work.exhausted,
  };
  parentPort!.postMessage(answer);
}
