/**
 * What every Node I/O helper of one `PooledIo` shares: the pool, the chunk size, the exhaustion
 * policy, the counters, the staging buffer and the queue of reads waiting for a buffer.
 *
 * Waiting (the `'backpressure'` policy): a read that finds its class exhausted queues a retry and
 * stops (a socket is paused, a file read awaits). The queue is retried in order every millisecond
 * while it is not empty, and at once (on the next turn of the event loop) when a helper returns a
 * buffer; a retry round stops at the first waiter that still finds nothing, so an exhausted pool
 * costs one failed allocation per round, not one per waiter.
 *
 * This module runs in Node.js only.
 * @module
 */
import { MemError, releaseWhenGone } from '@mem/types';
import type { BufferPool } from '../buffer-pool.js';
import type { IoBuffer } from '../io-buffer.js';
import { IoCounters, publishIoMetrics } from './io-counters.js';
import type { ExhaustionPolicy, ResolvedIoOptions } from './pooled-io-options.js';

/** A queued retry: returns true when it is done (it got its buffer, or no longer needs one). */
export type Waiter = () => boolean;

function nothing(): void {}

/** How long a queue of waiters waits between retries when nothing returned through the helpers. */
const RETRY_MS = 1;

/** The shared state of one `PooledIo`. */
export class IoContext {
  /** The pool the helpers allocate from. */
  readonly pool: BufferPool;
  /** Bytes per socket or file read. */
  readonly chunkSize: number;
  /** What reads do when the pool is exhausted. */
  readonly policy: ExhaustionPolicy;
  /** What the helpers did. */
  readonly counters = new IoCounters();
  #staging: Uint8Array | undefined;
  readonly #waiters: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #immediate: ReturnType<typeof setImmediate> | undefined;
  #closed = false;
  readonly #cancelGone: () => void;
  readonly #unpublish: () => void;

  /**
   * Cost: a dozen metric instruments when a sink is given.
   * @throws whatever the metrics sink throws (nothing is registered then).
   */
  constructor(owner: object, pool: BufferPool, options: ResolvedIoOptions) {
    this.pool = pool;
    this.chunkSize = options.chunkSize;
    this.policy = options.whenExhausted;
    if (options.metrics === undefined) {
      this.#unpublish = nothing;
      this.#cancelGone = nothing;
    } else {
      // Built outside this constructor's closures, so that the registry does not keep `owner` alive.
      const unpublish = publishIoMetrics(options.metrics, pool.name, this.counters);
      this.#unpublish = unpublish;
      this.#cancelGone = releaseWhenGone(owner, { afterCollection: unpublish });
    }
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Throws if this context or its pool is closed.
   * @throws MemError USE_AFTER_RELEASE once either is closed.
   */
  assertOpen(): void {
    if (this.#closed) throw new MemError('USE_AFTER_RELEASE', 'PooledIo was used after close()');
    if (this.pool.closed) throw new MemError('USE_AFTER_RELEASE', 'the BufferPool of this PooledIo was closed');
  }

  /**
   * A buffer of at least `size` bytes by the policy: `'fallback'` always gets one (untracked when
   * the class is exhausted); `'backpressure'` gets `undefined` when the class is exhausted.
   * @throws MemError OVERSIZED under `'backpressure'` if `size` exceeds the pool's `maxSize`.
   */
  take(size: number): IoBuffer | undefined {
    if (this.policy === 'fallback') return this.pool.alloc(size);
    try {
      return this.pool.tryAlloc(size);
    } catch (error) {
      if (MemError.is(error, 'EXHAUSTED')) return undefined;
      throw error;
    }
  }

  /**
   * Like {@link IoContext.take}, but a synchronous caller that cannot wait gets the pool's
   * `EXHAUSTED` error under `'backpressure'`.
   * @throws MemError EXHAUSTED under `'backpressure'` when the class is exhausted; OVERSIZED as `take`.
   */
  takeNow(size: number): IoBuffer {
    return this.policy === 'fallback' ? this.pool.alloc(size) : this.pool.tryAlloc(size);
  }

  /** A buffer of at least `size` bytes, waiting (in queue order) while the pool is exhausted. */
  takeWhenFree(size: number): Promise<IoBuffer> {
    const buffer = this.take(size);
    if (buffer !== undefined) return Promise.resolve(buffer);
    this.counters.exhaustedWaits += 1;
    return new Promise((resolve, reject) => {
      this.wait(() => {
        let taken: IoBuffer | undefined;
        try {
          taken = this.take(size);
        } catch (error) {
          reject(error);
          return true;
        }
        if (taken === undefined) return false;
        resolve(taken);
        return true;
      });
    });
  }

  /**
   * The buffer sockets read into when no pooled buffer is at hand (copy mode, or a reader waiting
   * for the pool): one per context, `chunkSize` bytes. Its bytes are copied out in the read
   * callback that filled them, before any other read can land there.
   */
  get staging(): Uint8Array {
    return (this.#staging ??= new Uint8Array(this.chunkSize));
  }

  /** Queues `waiter` for retries until it returns true (or is cancelled). */
  wait(waiter: Waiter): void {
    this.#waiters.push(waiter);
    this.#schedule();
  }

  /** Removes `waiter` from the queue, if there. */
  cancel(waiter: Waiter): void {
    const index = this.#waiters.indexOf(waiter);
    if (index >= 0) this.#waiters.splice(index, 1);
  }

  /** A helper returned a buffer: retry the waiters on the next turn of the event loop. */
  wake(): void {
    if (this.#waiters.length === 0 || this.#immediate !== undefined) return;
    this.#immediate = setImmediate(() => {
      this.#immediate = undefined;
      this.#retry();
    });
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#waiters.length === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#retry();
    }, RETRY_MS);
  }

  #retry(): void {
    const waiters = this.#waiters;
    while (waiters.length > 0) {
      const waiter = waiters[0]!;
      if (!waiter()) break;
      // A waiter may have cancelled others: remove this one by identity.
      const index = waiters.indexOf(waiter);
      if (index >= 0) waiters.splice(index, 1);
    }
    this.#schedule();
  }

  /**
   * Unregisters the metrics collector; helpers made before keep working.
   * @throws whatever the sink's unregister function throws (the context stays open then).
   */
  close(): void {
    if (this.#closed) return;
    this.#unpublish();
    this.#cancelGone();
    this.#closed = true;
  }
}
