/**
 * Making and opening the shared state of a {@link SharedEpochArena}: its options and descriptor,
 * the region and control words that `createShared` allocates, and the checks `attach` makes on a
 * descriptor before trusting it.
 *
 * This module is browser compatible (where `SharedArrayBuffer` is available).
 * @module
 */
import {
  assertInteger,
  assertMetricsSink,
  assertOptions,
  assertSharedDescriptor,
  BackingMemory,
  invalidArgument,
  type BackingMemoryDescriptor,
  type MetricsSink,
  type SharedDescriptor,
} from '@mem/types';
import { metricsName } from './arena-metrics.js';
import type { ArenaStats } from './arena.js';
import { takeArenaId } from './arena-id.js';
import { assertEpoch } from './arena-limits.js';
import { MAX_ARENA_ID } from './handle-layout.js';
import {
  ARENA_ID,
  CAPACITY_UNITS,
  CHUNK_SIZE,
  EPOCH_HIGH,
  EPOCH_LOW,
  HAS_LIMIT,
  LIMIT_UNITS,
  MAGIC,
  MAGIC_VALUE,
  MAX_ATTACHMENTS,
  controlBytes,
  invalidControl,
} from './shared-arena-control.js';

/** The largest shared region: 1 GiB (positions stay int32 for the bump arithmetic). */
export const MAX_SHARED_CAPACITY = 2 ** 30;

/** The default chunk a worker claims from a shared arena to bump in without `Atomics`: 16 KiB. */
export const DEFAULT_CHUNK_SIZE = 16 * 1024;

/** The default number of workers that can be attached at once: 64. */
export const DEFAULT_MAX_ATTACHMENTS = 64;

/** The smallest and largest chunk. */
const MIN_CHUNK = 256;
const MAX_CHUNK = 1 << 20;

/** The `kind` of every {@link SharedEpochArenaDescriptor}. */
const KIND = 'mem.epoch-arena.shared-epoch-arena';
/** The layout version of the control words this code reads. */
const VERSION = 1;

/** Options of {@link SharedEpochArena.createShared}. */
export interface SharedEpochArenaOptions {
  /**
   * Bytes of the shared region, allocated up front (a worker cannot see memory allocated later
   * without a message): an integer from 64 to 1 GiB, rounded down to a multiple of 8. Pages the
   * arena never touches cost no physical memory on most systems.
   */
  readonly capacity: number;
  /** The epoch number of the first generation. @defaultValue 0 */
  readonly epoch?: number;
  /**
   * Bytes a worker claims from the region at once (with one `Atomics.add`) and then bumps in with
   * plain arithmetic: a power of two from 256 to 1 MiB, or 0 to bump the shared pointer with
   * `Atomics` on every allocation. Allocations larger than a quarter of a chunk always go to the
   * shared pointer. A chunk is at most 1/16 of `capacity` (smaller regions get smaller chunks, or
   * none below 4 KiB). @defaultValue 16 KiB
   */
  readonly chunkSize?: number;
  /**
   * A limit on bytes used in a generation, below `capacity`; past it allocation throws
   * LIMIT_EXCEEDED (past `capacity` it throws EXHAUSTED). @defaultValue no limit
   */
  readonly allocationLimit?: number;
  /** How many attachments (one per worker, usually) the arena can have at once: 1 to 256. @defaultValue 64 */
  readonly maxAttachments?: number;
  /** The arena id (1 to 63) its handles carry. @defaultValue the next id of a process-wide counter */
  readonly id?: number;
  /**
   * Where to publish the arena's figures (`mem_epoch_arena_*`, labelled with its name and id) when
   * the sink is scraped, from this worker's attachment. @defaultValue none
   */
  readonly metrics?: MetricsSink;
  /**
   * The `pool` label of the arena's figures (beside `arena`, its id). @defaultValue 'epoch-arena'
   */
  readonly name?: string;
}

const OPTIONS = [
  'capacity',
  'epoch',
  'chunkSize',
  'allocationLimit',
  'maxAttachments',
  'id',
  'metrics',
  'name',
] as const;

/** What a worker needs to attach to a {@link SharedEpochArena}: post it with `postMessage`. */
export interface SharedEpochArenaDescriptor extends SharedDescriptor<typeof KIND> {
  /** Always `'mem.epoch-arena.shared-epoch-arena'`. */
  readonly kind: typeof KIND;
  /** The layout version of the control words. */
  readonly version: number;
  /** The shared control words: bump pointer, generation, epoch, limits, per-worker counters. */
  readonly control: SharedArrayBuffer;
  /** The shared region the allocations live in. */
  readonly data: BackingMemoryDescriptor;
}

/** The stats of a {@link SharedEpochArena}: those of every arena plus the sharing figures. */
export interface SharedArenaStats extends ArenaStats {
  /** Attachments now (the creator's included). */
  readonly attachments: number;
  /** Bytes a worker claims at once, or 0 when every allocation bumps the shared pointer. */
  readonly chunkSize: number;
}

/** The shared state of an arena, as one attachment opens it. */
export interface ArenaState {
  readonly descriptor: SharedEpochArenaDescriptor;
  readonly data: BackingMemory;
  readonly control: Int32Array;
}

/**
 * Checks `options` and allocates the shared state of a new arena: the region and the control words
 * (id, epoch, capacity, limit, chunk size, attachment slots). Returns it with the metrics sink to
 * publish to. Cost: the region (zeroed by the runtime) and a small control buffer.
 * @throws MemError INVALID_ARGUMENT for a bad option, or a runtime without `SharedArrayBuffer`.
 * @throws MemError EXHAUSTED if the runtime cannot allocate the region.
 */
export function createArenaState(
  options: SharedEpochArenaOptions,
): ArenaState & { metrics: MetricsSink | undefined; name: string } {
  const checked = assertOptions<SharedEpochArenaOptions>(options, 'options', OPTIONS);
  const capacity = assertInteger(checked.capacity, 'capacity', { min: 64, max: MAX_SHARED_CAPACITY });
  const epoch = assertEpoch(checked.epoch ?? 0, 'epoch');
  const chunkSize = assertInteger(checked.chunkSize ?? DEFAULT_CHUNK_SIZE, 'chunkSize', { min: 0, max: MAX_CHUNK });
  if (chunkSize !== 0 && (chunkSize < MIN_CHUNK || (chunkSize & (chunkSize - 1)) !== 0)) {
    throw invalidArgument('chunkSize', chunkSize, `0 or a power of two in [${MIN_CHUNK}, ${MAX_CHUNK}]`);
  }
  const limit =
    checked.allocationLimit === undefined
      ? undefined
      : assertInteger(checked.allocationLimit, 'allocationLimit', { min: 0 });
  const maxAttachments = assertInteger(checked.maxAttachments ?? DEFAULT_MAX_ATTACHMENTS, 'maxAttachments', {
    min: 1,
    max: 256,
  });
  const id = checked.id === undefined ? takeArenaId() : assertInteger(checked.id, 'id', { min: 1, max: MAX_ARENA_ID });
  const metrics = assertMetricsSink(checked.metrics, 'metrics');
  const name = metricsName(checked.name, 'epoch-arena');
  const data = BackingMemory.allocate(capacity, { shared: true });
  const controlBuffer = BackingMemory.allocate(controlBytes(maxAttachments), { shared: true })
    .buffer as SharedArrayBuffer;
  const control = new Int32Array(controlBuffer);
  const capacityUnits = Math.floor(capacity / 8);
  control[ARENA_ID] = id;
  control[EPOCH_LOW] = epoch % 2 ** 32;
  control[EPOCH_HIGH] = Math.floor(epoch / 2 ** 32);
  control[CAPACITY_UNITS] = capacityUnits;
  control[LIMIT_UNITS] = limit === undefined ? capacityUnits : Math.min(capacityUnits, Math.floor(limit / 8));
  control[HAS_LIMIT] = limit === undefined || limit >= capacityUnits * 8 ? 0 : 1;
  control[CHUNK_SIZE] = effectiveChunkSize(chunkSize, capacity);
  control[MAX_ATTACHMENTS] = maxAttachments;
  Atomics.store(control, MAGIC, MAGIC_VALUE);
  const descriptor: SharedEpochArenaDescriptor = {
    kind: KIND,
    version: VERSION,
    control: controlBuffer,
    data: data.share(),
  };
  return { descriptor, data, control, metrics, name };
}

/**
 * Opens the shared state a descriptor describes, after checking its kind, its version and that its
 * buffers are an arena's. Cost: O(1).
 * @throws MemError INVALID_ARGUMENT otherwise.
 */
export function openArenaState(descriptor: unknown): ArenaState {
  const checked = assertSharedDescriptor<SharedEpochArenaDescriptor>(descriptor, KIND, VERSION);
  const refuse = (why: string): never => {
    throw invalidArgument('descriptor', descriptor, `a descriptor from SharedEpochArena.descriptor() (${why})`);
  };
  const buffer: unknown = checked.control;
  if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < controlBytes(1) || buffer.byteLength % 8 !== 0) {
    return refuse('no control SharedArrayBuffer');
  }
  const control = new Int32Array(buffer);
  const damaged = invalidControl(control, buffer.byteLength);
  if (damaged !== undefined) return refuse(damaged);
  const data = BackingMemory.fromDescriptor(checked.data);
  if (!data.isShared) return refuse('the data region is not shared memory');
  if (data.byteLength < control[CAPACITY_UNITS]! * 8) return refuse('the data region is smaller than the capacity');
  return { descriptor: checked, data, control };
}

/**
 * A chunk is at most 1/16 of the region, so that one worker cannot take a small region for itself;
 * below the smallest chunk, allocations bump the shared pointer directly.
 */
function effectiveChunkSize(requested: number, capacity: number): number {
  if (requested === 0) return 0;
  const cap = 2 ** Math.floor(Math.log2(capacity / 16));
  const chunk = Math.min(requested, cap);
  return chunk >= MIN_CHUNK ? chunk : 0;
}
