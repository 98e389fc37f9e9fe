/**
 * The shared state of a shared pool, and the descriptor that carries it to workers.
 *
 * Everything a worker needs to use the pool lives in SharedArrayBuffers: the control words (magic,
 * version, pool id, per-class created counters), the global freelists, the per-slot reference counts
 * of frozen buffers, the transfer tickets and the backing segments. The descriptor is a plain object
 * of those buffers plus the configuration's fields, so `postMessage` shares (not copies) them.
 *
 * This module is browser compatible (where SharedArrayBuffer is available).
 * @module
 */
import { assertSharedDescriptor, invalidArgument, MemError, type SharedDescriptor } from '@mem/types';
import { BufferPoolConfig, type BufferPoolConfigFields } from './buffer-pool-config.js';
import { SharedFreelist, type SharedFreelistMemory } from './shared-freelist.js';
import { SlotMemory, type SharedSegments } from './slot-memory.js';
import { TransferTickets } from './transfer-tickets.js';

/** The `kind` of every {@link BufferPoolDescriptor}. */
export const POOL_DESCRIPTOR_KIND = 'mem.buffer-pool';

/** The layout version of shared pool state this code reads: a descriptor's `version`. */
export const POOL_LAYOUT_VERSION = 2;

const MAGIC = 0x4d454d42; // "MEMB"

/** Control word indexes. */
export const CONTROL = {
  magic: 0,
  version: 1,
  poolId: 2,
  /** `created` counter of class `c` is at `createdBase + c`. */
  createdBase: 4,
} as const;

/**
 * What `BufferPool.descriptor()` returns and `BufferPool.attach()` takes: the shared memory of a
 * pool and its configuration, structured-cloneable. Post it to a worker; do not edit it.
 */
export interface BufferPoolDescriptor extends SharedDescriptor<typeof POOL_DESCRIPTOR_KIND> {
  /** Always `'mem.buffer-pool'`. */
  readonly kind: typeof POOL_DESCRIPTOR_KIND;
  /** The shared-state layout version, {@link POOL_LAYOUT_VERSION}. */
  readonly version: number;
  /** The pool's configuration fields. */
  readonly config: BufferPoolConfigFields;
  /** Control words: magic, version, pool id, per-class created counters. */
  readonly control: SharedArrayBuffer;
  /** The global freelists. */
  readonly freelist: SharedFreelistMemory;
  /** One reference count per slot, for frozen buffers. */
  readonly references: SharedArrayBuffer;
  /** The transfer ticket table. */
  readonly tickets: SharedArrayBuffer;
  /** The backing segments, per class. */
  readonly segments: SharedSegments;
}

/**
 * Allocates the shared state of a new pool.
 * Cost: every backing segment (address space, committed on first touch) plus O(slots) bookkeeping.
 * @throws MemError INVALID_ARGUMENT if SharedArrayBuffer is unavailable (a page without cross-origin isolation).
 * @throws MemError EXHAUSTED if the runtime refuses the memory.
 */
export function allocateSharedPool(config: BufferPoolConfig, poolId: number): BufferPoolDescriptor {
  if (typeof SharedArrayBuffer === 'undefined') {
    throw new MemError(
      'INVALID_ARGUMENT',
      'a shared pool needs SharedArrayBuffer, which this runtime does not expose (is the page cross-origin isolated?)',
    );
  }
  const classSizes = config.classSizes;
  const slotCount = classSizes.length * config.maxPerClass;
  let control: SharedArrayBuffer;
  let freelist: SharedFreelistMemory;
  let references: SharedArrayBuffer;
  let tickets: SharedArrayBuffer;
  try {
    control = new SharedArrayBuffer(4 * (CONTROL.createdBase + classSizes.length));
    freelist = SharedFreelist.allocate(classSizes.length, slotCount);
    references = new SharedArrayBuffer(4 * slotCount);
    tickets = TransferTickets.allocateShared();
  } catch (cause) {
    throw new MemError('EXHAUSTED', `the runtime could not allocate the shared state of ${slotCount} slots`, { cause });
  }
  const segments = SlotMemory.allocateShared(classSizes, config.maxPerClass);
  const words = new Int32Array(control);
  words[CONTROL.magic] = MAGIC;
  words[CONTROL.version] = POOL_LAYOUT_VERSION;
  words[CONTROL.poolId] = poolId;
  return {
    kind: POOL_DESCRIPTOR_KIND,
    version: POOL_LAYOUT_VERSION,
    config: config.toJSON(),
    control,
    freelist,
    references,
    tickets,
    segments,
  };
}

function isShared(value: unknown, byteLength: number): value is SharedArrayBuffer {
  return value instanceof SharedArrayBuffer && value.byteLength === byteLength;
}

/**
 * Checks that `value` is a descriptor from `BufferPool.descriptor()` (its kind and version with
 * `assertSharedDescriptor`, then its configuration and the sizes of its shared buffers) and
 * returns a copy of it with the validated configuration. Each field is read once after the kind
 * and version check, so that nothing the caller's object does later (a getter, a proxy) can change
 * what was checked.
 * Cost: O(classes + segments).
 * @throws MemError INVALID_ARGUMENT naming what does not match.
 */
export function readPoolDescriptor(value: unknown): { descriptor: BufferPoolDescriptor; config: BufferPoolConfig } {
  const fail = (what: string): MemError =>
    invalidArgument('descriptor', value, `the descriptor() of a shared BufferPool (${what})`);
  if (typeof SharedArrayBuffer === 'undefined') throw fail('this runtime has no SharedArrayBuffer');
  assertSharedDescriptor<BufferPoolDescriptor>(value, POOL_DESCRIPTOR_KIND, POOL_LAYOUT_VERSION);
  const {
    kind,
    version,
    config: fields,
    control,
    freelist,
    references,
    tickets,
    segments,
  } = value as Partial<Record<keyof BufferPoolDescriptor, unknown>>;
  // Read again, once: a getter may answer differently from what assertSharedDescriptor saw.
  if (kind !== POOL_DESCRIPTOR_KIND || version !== POOL_LAYOUT_VERSION) throw fail('its kind or version changed');
  const config = BufferPoolConfig.from(fields as Partial<BufferPoolConfigFields>);
  const classCount = config.classCount;
  const slotCount = classCount * config.maxPerClass;
  if (!isShared(control, 4 * (CONTROL.createdBase + classCount))) throw fail('control does not match');
  const words = new Int32Array(control);
  if (Atomics.load(words, CONTROL.magic) !== MAGIC || Atomics.load(words, CONTROL.version) !== POOL_LAYOUT_VERSION) {
    throw fail('control holds no pool');
  }
  if (typeof freelist !== 'object' || freelist === null) throw fail('freelist does not match');
  const { heads, links, lengths } = freelist as Partial<SharedFreelistMemory>;
  if (!isShared(heads, 8 * classCount) || !isShared(links, 4 * slotCount) || !isShared(lengths, 4 * classCount)) {
    throw fail('freelist does not match');
  }
  if (!isShared(references, 4 * slotCount)) throw fail('references do not match');
  if (!isShared(tickets, TransferTickets.byteLength)) throw fail('tickets do not match');
  const expected = SlotMemory.sharedLayout(config.classSizes, config.maxPerClass);
  const perClass: SharedArrayBuffer[][] = [];
  if (!Array.isArray(segments) || segments.length !== classCount) throw fail('segments do not match');
  for (let c = 0; c < classCount; c += 1) {
    const given: unknown = (segments as unknown[])[c];
    if (!Array.isArray(given) || given.length !== expected[c]!.length) throw fail('segments do not match');
    const copies: SharedArrayBuffer[] = [];
    for (let s = 0; s < expected[c]!.length; s += 1) {
      const segment: unknown = (given as unknown[])[s];
      if (!isShared(segment, expected[c]![s]!)) throw fail('segments do not match');
      copies.push(segment);
    }
    perClass.push(copies);
  }
  const descriptor: BufferPoolDescriptor = {
    kind: POOL_DESCRIPTOR_KIND,
    version: POOL_LAYOUT_VERSION,
    config: config.toJSON(),
    control,
    freelist: { heads, links, lengths },
    references,
    tickets,
    segments: perClass,
  };
  return { descriptor, config };
}
