/**
 * A segment: one contiguous range of backing memory that the pool owns and carves workspaces from.
 * A pool has one or more; the first ones are the initial reservation, later ones come from
 * expansion and may be released again by defragmentation once empty.
 *
 * This module is browser compatible.
 * @module
 */
import { BackingMemory, MemError, WASM_PAGE_SIZE, invalidArgument, isAligned } from '@mem/types';
import { looksLikeDeviceMemory, type DeviceMemory, type SegmentMemory } from './device-memory.js';
import type { SegmentBacking } from './workspace-config.js';

/**
 * Memory you own that a segment is carved from: `byteLength` bytes of `memory` from `byteOffset`
 * (for example a region your WASM module reserved in its own memory).
 */
export interface SegmentSource {
  /** The memory the segment lives in. */
  readonly memory: BackingMemory;
  /** Where the segment starts in `memory`: a multiple of the pool's alignment. @defaultValue 0 */
  readonly byteOffset?: number;
}

/**
 * Supplies the memory of a new segment of `byteLength` bytes; `index` counts the pool's segments
 * from 0. Return a `BackingMemory` (used from offset 0), a {@link SegmentSource}, or
 * {@link DeviceMemory} (GPU memory: `@mem/workspace-pool/webgpu`'s `GpuSegmentSource` makes it).
 * Throw to refuse (the allocation that needed the segment then fails with your error, or
 * EXHAUSTED wrapping it).
 */
export type SegmentProvider = (byteLength: number, index: number) => BackingMemory | SegmentSource | DeviceMemory;

/** One range of backing memory and the head of its blocks in address order. @internal */
export class Segment {
  /** The first block (lowest address) of the segment. */
  first = -1;

  constructor(
    /** The segment's position in the pool; never reused while the pool lives. */
    readonly index: number,
    /** The memory the segment lives in. */
    readonly memory: SegmentMemory,
    /** Where the segment starts in `memory`. */
    readonly base: number,
    /** The segment's size in bytes. */
    readonly byteLength: number,
    /** Whether the segment belongs to the initial reservation (never released). */
    readonly initial: boolean,
  ) {}
}

/** Allocates fresh memory of `byteLength` bytes of the given kind. @internal */
export function allocateBacking(backing: SegmentBacking, byteLength: number): BackingMemory {
  switch (backing) {
    case 'array-buffer':
      return BackingMemory.allocate(byteLength);
    case 'shared-array-buffer':
      return BackingMemory.allocate(byteLength, { shared: true });
    case 'wasm-memory':
    case 'shared-wasm-memory': {
      const pages = Math.ceil(byteLength / WASM_PAGE_SIZE);
      try {
        return BackingMemory.wrap(
          new WebAssembly.Memory({ initial: pages, maximum: pages, shared: backing === 'shared-wasm-memory' }),
        );
      } catch (cause) {
        throw new MemError('EXHAUSTED', `the runtime could not allocate a wasm memory of ${pages} pages`, {
          cause,
          details: { byteLength },
        });
      }
    }
  }
}

/**
 * Resolves what a provider returned into memory, base and a checked range.
 * @throws MemError INVALID_ARGUMENT if the provider returned something else, a misaligned offset
 * or too little memory.
 * @internal
 */
export function resolveSegmentSource(
  source: unknown,
  byteLength: number,
  alignment: number,
): { memory: SegmentMemory; base: number } {
  if (looksLikeDeviceMemory(source)) {
    if (source.byteLength < byteLength) {
      throw invalidArgument('segmentSource()', source, `device memory of at least ${byteLength} bytes`);
    }
    return { memory: source, base: 0 };
  }
  const memory = source instanceof BackingMemory ? source : (source as SegmentSource | null)?.memory;
  if (!(memory instanceof BackingMemory)) {
    throw invalidArgument('segmentSource()', source, 'a BackingMemory, { memory, byteOffset } or DeviceMemory');
  }
  const base = source instanceof BackingMemory ? 0 : ((source as SegmentSource).byteOffset ?? 0);
  if (typeof base !== 'number' || !Number.isSafeInteger(base) || base < 0 || !isAligned(base, alignment)) {
    throw invalidArgument('segmentSource().byteOffset', base, `a non-negative multiple of the alignment ${alignment}`);
  }
  if (base + byteLength > memory.byteLength) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `segmentSource returned ${memory.byteLength} bytes of memory; a segment of ${byteLength} bytes at offset ${base} needs ${base + byteLength}`,
    );
  }
  return { memory, base };
}
