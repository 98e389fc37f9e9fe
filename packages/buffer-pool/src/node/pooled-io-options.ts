/**
 * The options of `PooledIo`, and their validation against the pool they serve.
 *
 * This module runs in Node.js only.
 * @module
 */
import { assertInteger, assertMetricsSink, assertOneOf, assertOptions, type MetricsSink } from '@mem/types';
import type { BufferPoolConfig } from '../buffer-pool-config.js';

/**
 * What the helpers do when the size class they read into is exhausted (the pool's budget is spent):
 * - `'fallback'`: take an untracked buffer (a native allocation, counted in the pool's
 *   `fallbacks`), so reading never waits and memory may grow past the budget;
 * - `'backpressure'`: stop reading until a buffer is returned: a socket is paused (the kernel's
 *   receive window then slows the peer), a file read waits; pooled memory stays within the budget.
 *   Synchronous requests that cannot wait (`getBuffer`, a scope's `alloc`) throw `EXHAUSTED`.
 */
export type ExhaustionPolicy = 'fallback' | 'backpressure';

/** The exhaustion policies, for validation and option lists. */
export const EXHAUSTION_POLICIES: readonly ExhaustionPolicy[] = ['fallback', 'backpressure'];

/** Options of a `PooledIo`. */
export interface PooledIoOptions {
  /**
   * Bytes each socket or file read asks for: every open socket read into pooled buffers holds one
   * buffer of this size for its next read. A socket read of at most an eighth of it is copied into
   * a buffer of its own size class (larger reads are handed over without a copy). An integer in
   * `[max(1, poolMinSize), maxSize]` of the pool.
   * @defaultValue the smaller of 64 KiB and the pool's `maxSize`
   */
  readonly chunkSize?: number;
  /** What reads do when the pool is exhausted. @defaultValue 'fallback' */
  readonly whenExhausted?: ExhaustionPolicy;
  /**
   * Where the helpers publish their counters (`mem_buffer_pool_io_*`): the collector is
   * registered when the `PooledIo` is created and unregistered by `close()` (or when it is
   * garbage-collected). The pool's own series come from the pool's `metrics` option.
   * @defaultValue none
   */
  readonly metrics?: MetricsSink;
}

/** Options of the socket helpers. */
export interface SocketReadOptions {
  /**
   * Hand each chunk over as a copy (a Node `Buffer` of its exact length, the caller's to keep)
   * instead of the pooled buffer it was read into: the socket then holds no pooled buffer, every
   * read lands in one staging buffer and is copied out. @defaultValue false
   */
  readonly copy?: boolean;
}

/** Options of the readable streams. */
export interface PooledReadableOptions {
  /** Chunks the stream buffers before it stops reading. @defaultValue 4 */
  readonly highWaterMark?: number;
}

/** Options of {@link PooledIo.fileReadable}. */
export interface FileReadableOptions extends PooledReadableOptions {
  /** The first byte to read. @defaultValue 0 */
  readonly start?: number;
  /** Where to stop reading (exclusive). @defaultValue the end of the file */
  readonly end?: number;
}

/** Options after validation, with defaults applied. */
export interface ResolvedIoOptions {
  /** Bytes per read. */
  readonly chunkSize: number;
  /** The exhaustion policy. */
  readonly whenExhausted: ExhaustionPolicy;
  /** The sink, or undefined for none. */
  readonly metrics: MetricsSink | undefined;
}

const KNOWN: readonly (keyof PooledIoOptions)[] = ['chunkSize', 'whenExhausted', 'metrics'];

/**
 * Validates `options` for a pool of `config`.
 * @throws MemError INVALID_ARGUMENT naming the bad option.
 */
export function resolveIoOptions(options: unknown, config: BufferPoolConfig): ResolvedIoOptions {
  const given = assertOptions<PooledIoOptions>(options, 'options', KNOWN);
  const chunkSize =
    given.chunkSize === undefined
      ? Math.min(64 * 1024, config.maxSize)
      : assertInteger(given.chunkSize, 'options.chunkSize', {
          min: Math.max(1, config.poolMinSize),
          max: config.maxSize,
        });
  const whenExhausted =
    given.whenExhausted === undefined
      ? 'fallback'
      : assertOneOf(given.whenExhausted, 'options.whenExhausted', EXHAUSTION_POLICIES);
  const metrics = assertMetricsSink(given.metrics, 'options.metrics');
  return { chunkSize, whenExhausted, metrics };
}
