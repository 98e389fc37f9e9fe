/**
 * The bytes behind the slots: large backing segments the pool owns, carved into fixed-size slots,
 * and one cached `Uint8Array` view per slot so that allocation never creates a view or an
 * ArrayBuffer.
 *
 * Slot `s` belongs to class `c = floor(s / maxPerClass)` and is that class's buffer number
 * `i = s - c * maxPerClass`; it lives in segment `floor(i / slotsPerSegment)` at byte offset
 * `(i % slotsPerSegment) * classSize`. Class sizes are powers of two no smaller than `alignment`, so
 * every slot's offset is a multiple of the configured alignment.
 *
 * A private pool allocates segments of about 1 MiB (at least one buffer) when a class first needs
 * them; a shared pool allocates every segment up front as SharedArrayBuffers (so that every worker
 * can see every slot without a message), up to 1 GiB each. The OS commits shared pages on first
 * touch, so the up-front reservation is address space rather than resident memory.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError } from '@mem/types';
import { PRIVATE_SEGMENT_BYTES, SHARED_SEGMENT_BYTES } from './pool-limits.js';

/** Stands for "no view created in this worker yet", so that the view array stays packed. */
const NO_VIEW = new Uint8Array(0);

/** The backing segments of a shared pool, per class, structured-cloneable to workers. */
export type SharedSegments = readonly (readonly SharedArrayBuffer[])[];

function slotsPerSegment(size: number, maxPerClass: number, segmentBytes: number): number {
  return Math.max(1, Math.min(maxPerClass, Math.floor(segmentBytes / size)));
}

function allocationFailed(bytes: number, cause: unknown): MemError {
  return new MemError('EXHAUSTED', `the runtime could not allocate a backing segment of ${bytes} bytes`, {
    cause,
    details: { bytes },
  });
}

/** Segments and cached per-slot views of one pool instance. */
export class SlotMemory {
  /** The cached view of each slot (`length === classSize`); a zero-length placeholder until first needed here. */
  readonly views: Uint8Array[];
  readonly #classSizes: readonly number[];
  readonly #maxPerClass: number;
  readonly #slotsPerSegment: readonly number[];
  readonly #segments: (ArrayBuffer | SharedArrayBuffer | undefined)[][];

  /**
   * Memory for a private pool (segments allocated on demand), or for a shared pool over `shared`
   * segments from {@link SlotMemory.allocateShared}.
   * Cost: O(classes * maxPerClass) for the view table.
   */
  constructor(classSizes: readonly number[], maxPerClass: number, shared?: SharedSegments) {
    this.#classSizes = classSizes;
    this.#maxPerClass = maxPerClass;
    const segmentBytes = shared ? SHARED_SEGMENT_BYTES : PRIVATE_SEGMENT_BYTES;
    this.#slotsPerSegment = classSizes.map((size) => slotsPerSegment(size, maxPerClass, segmentBytes));
    this.#segments = shared
      ? shared.map((segments) => [...segments])
      : classSizes.map((_, c) => new Array(Math.ceil(maxPerClass / this.#slotsPerSegment[c]!)).fill(undefined));
    this.views = new Array<Uint8Array>(classSizes.length * maxPerClass).fill(NO_VIEW);
  }

  /**
   * Allocates every segment of a shared pool.
   * Cost: one SharedArrayBuffer per segment (zeroed lazily by the OS).
   * @throws MemError EXHAUSTED if the runtime refuses a segment.
   */
  static allocateShared(classSizes: readonly number[], maxPerClass: number): SharedSegments {
    return SlotMemory.sharedLayout(classSizes, maxPerClass).map((sizes) =>
      sizes.map((bytes) => {
        try {
          return new SharedArrayBuffer(bytes);
        } catch (cause) {
          throw allocationFailed(bytes, cause);
        }
      }),
    );
  }

  /** The byte length of every segment of a shared pool, per class, without allocating. Cost: O(segments). */
  static sharedLayout(classSizes: readonly number[], maxPerClass: number): number[][] {
    return classSizes.map((size) => {
      const perSegment = slotsPerSegment(size, maxPerClass, SHARED_SEGMENT_BYTES);
      const sizes: number[] = [];
      for (let first = 0; first < maxPerClass; first += perSegment) {
        sizes.push(Math.min(perSegment, maxPerClass - first) * size);
      }
      return sizes;
    });
  }

  /** The byte offset of `slot` within its segment. Cost: O(1). */
  byteOffsetOf(slot: number): number {
    const c = Math.floor(slot / this.#maxPerClass);
    return ((slot - c * this.#maxPerClass) % this.#slotsPerSegment[c]!) * this.#classSizes[c]!;
  }

  /**
   * The cached view of `slot`, creating its segment (private pools) and view on first use.
   * Cost: O(1) when cached; otherwise one view, plus one segment allocation when the segment is new.
   * @throws MemError EXHAUSTED if the runtime refuses a new segment.
   */
  viewOf(slot: number): Uint8Array {
    const cached = this.views[slot]!;
    if (cached !== NO_VIEW) return cached;
    const c = Math.floor(slot / this.#maxPerClass);
    const index = slot - c * this.#maxPerClass;
    const perSegment = this.#slotsPerSegment[c]!;
    const segmentIndex = Math.floor(index / perSegment);
    const size = this.#classSizes[c]!;
    const segments = this.#segments[c]!;
    let segment = segments[segmentIndex];
    if (segment === undefined) {
      const bytes = Math.min(perSegment, this.#maxPerClass - segmentIndex * perSegment) * size;
      try {
        segment = new ArrayBuffer(bytes);
      } catch (cause) {
        throw allocationFailed(bytes, cause);
      }
      segments[segmentIndex] = segment;
    }
    const view = new Uint8Array(segment, (index % perSegment) * size, size);
    this.views[slot] = view;
    return view;
  }

  /** Bytes of backing memory allocated so far by this instance (all of it for a shared pool). Cost: O(segments). */
  get reservedBytes(): number {
    let bytes = 0;
    for (const segments of this.#segments) for (const segment of segments) bytes += segment?.byteLength ?? 0;
    return bytes;
  }

  /** Drops every segment and view (a private pool closing); views already handed out stay valid. Cost: O(slots). */
  clear(): void {
    this.views.fill(NO_VIEW);
    for (const segments of this.#segments) segments.fill(undefined);
  }
}
