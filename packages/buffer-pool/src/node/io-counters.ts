/**
 * The counters of the Node I/O helpers (`PooledIo`), their JSON snapshot and their publication
 * into a `@mem/types` MetricsSink by a collector that runs when the sink is read.
 *
 * Series (each labelled `pool`, the name of the pool the helpers allocate from):
 * - `mem_buffer_pool_io_chunks_read_total` counter: chunks read from sockets and files into buffers
 * - `mem_buffer_pool_io_read_bytes_total` counter: bytes of those chunks
 * - `mem_buffer_pool_io_writes_total` counter: buffers handed to a write
 * - `mem_buffer_pool_io_written_bytes_total` counter: bytes of those buffers
 * - `mem_buffer_pool_io_writes_in_flight` gauge: writes whose buffer is still held until completion
 * - `mem_buffer_pool_io_exhausted_waits_total` counter: reads that found the pool exhausted and waited
 * - `mem_buffer_pool_io_staging_copies_total` counter: socket chunks copied out of the staging buffer
 * - `mem_buffer_pool_io_returned_total{by="error"|"scope"}` counter: buffers the helpers returned
 *   for their owner: after an error or a destroyed stream, or when a scope closed
 * - `mem_buffer_pool_io_factory_outstanding` gauge: buffers of `getBuffer` not released yet
 *
 * This module runs in Node.js only.
 * @module
 */
import { MemError, describeValue, mirrorCounter, type Gauge, type MetricsSink } from '@mem/types';
import { checkInstrument } from '../pool-metrics.js';

/** A JSON snapshot of what the Node I/O helpers of one `PooledIo` did. */
export interface PooledIoStats {
  /** Chunks read from sockets and files into buffers. */
  readonly chunksRead: number;
  /** Bytes of those chunks. */
  readonly bytesRead: number;
  /** Buffers handed to a write. */
  readonly writes: number;
  /** Bytes of those buffers. */
  readonly bytesWritten: number;
  /** Writes not completed yet: their buffers are held, and return when the write completes. */
  readonly writesInFlight: number;
  /** Reads that found the pool exhausted and waited for a buffer (the `'backpressure'` policy). */
  readonly exhaustedWaits: number;
  /** Socket chunks that landed in the shared staging buffer and were copied into a pooled one. */
  readonly stagingCopies: number;
  /** Buffers returned for their owner after a handler threw, a read failed or a stream was destroyed. */
  readonly returnedOnError: number;
  /** Buffers returned by a scope that closed with them still live. */
  readonly returnedByScope: number;
  /** Buffers of `getBuffer` not released yet. */
  readonly factoryOutstanding: number;
}

/** Plain counters, incremented by the helpers (one addition each). */
export class IoCounters {
  chunksRead = 0;
  bytesRead = 0;
  writes = 0;
  bytesWritten = 0;
  writesInFlight = 0;
  exhaustedWaits = 0;
  stagingCopies = 0;
  returnedOnError = 0;
  returnedByScope = 0;
  factoryOutstanding = 0;

  /** Counts one chunk of `bytes` read. */
  read(bytes: number): void {
    this.chunksRead += 1;
    this.bytesRead += bytes;
  }

  /** The snapshot. */
  snapshot(): PooledIoStats {
    return {
      chunksRead: this.chunksRead,
      bytesRead: this.bytesRead,
      writes: this.writes,
      bytesWritten: this.bytesWritten,
      writesInFlight: this.writesInFlight,
      exhaustedWaits: this.exhaustedWaits,
      stagingCopies: this.stagingCopies,
      returnedOnError: this.returnedOnError,
      returnedByScope: this.returnedByScope,
      factoryOutstanding: this.factoryOutstanding,
    };
  }
}

/**
 * Resolves the instruments once, labelled `pool`, and registers a collector that publishes
 * `counters` into `sink`; returns the function that unregisters it.
 * Cost: a dozen instruments now, a dozen copies per scrape.
 * @throws MemError INVALID_ARGUMENT if the sink hands back something that is not an instrument, or
 * `addCollector` does not return a function; whatever the sink's methods throw.
 */
export function publishIoMetrics(sink: MetricsSink, pool: string, counters: IoCounters): () => void {
  const counter = (name: string, help: string, labels?: Record<string, string>): ((total: number) => void) =>
    mirrorCounter(checkInstrument(sink.counter(name, help, { pool, ...labels }), ['inc'], `counter ${name}`));
  const gauge = (name: string, help: string): Gauge =>
    checkInstrument(sink.gauge(name, help, { pool }), ['set'], `gauge ${name}`);
  const chunksRead = counter('mem_buffer_pool_io_chunks_read_total', 'Chunks read into buffers');
  const bytesRead = counter('mem_buffer_pool_io_read_bytes_total', 'Bytes read into buffers');
  const writes = counter('mem_buffer_pool_io_writes_total', 'Buffers handed to a write');
  const bytesWritten = counter('mem_buffer_pool_io_written_bytes_total', 'Bytes of buffers handed to a write');
  const inFlight = gauge('mem_buffer_pool_io_writes_in_flight', 'Writes holding their buffer until completion');
  const waits = counter('mem_buffer_pool_io_exhausted_waits_total', 'Reads that waited for an exhausted pool');
  const staging = counter('mem_buffer_pool_io_staging_copies_total', 'Socket chunks copied out of staging');
  const onError = counter('mem_buffer_pool_io_returned_total', 'Buffers returned for their owner', { by: 'error' });
  const byScope = counter('mem_buffer_pool_io_returned_total', 'Buffers returned for their owner', { by: 'scope' });
  const outstanding = gauge('mem_buffer_pool_io_factory_outstanding', 'Buffers of getBuffer not released');
  const unpublish = sink.addCollector(() => {
    chunksRead(counters.chunksRead);
    bytesRead(counters.bytesRead);
    writes(counters.writes);
    bytesWritten(counters.bytesWritten);
    inFlight.set(counters.writesInFlight);
    waits(counters.exhaustedWaits);
    staging(counters.stagingCopies);
    onError(counters.returnedOnError);
    byScope(counters.returnedByScope);
    outstanding.set(counters.factoryOutstanding);
  });
  if (typeof unpublish !== 'function') {
    throw new MemError(
      'INVALID_ARGUMENT',
      `options.metrics.addCollector returned ${describeValue(unpublish)}, not the function that unregisters the collector`,
    );
  }
  return unpublish;
}
