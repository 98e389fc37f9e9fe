/**
 * One abstraction over the three kinds of memory a pool can live in: `ArrayBuffer`,
 * `SharedArrayBuffer` (seen by every worker it is sent to) and `WebAssembly.Memory` (seen by WASM
 * code, and by workers too when created with `shared: true`).
 *
 * Growth is the hazard it handles: growing a non-shared `WebAssembly.Memory` detaches every view of
 * its old buffer (they read as length 0), and growing any wasm memory replaces the `buffer` object.
 * A `BackingMemory` never hands out a view it knows to be stale: {@link BackingMemory.bytes} and
 * {@link BackingMemory.view} re-resolve the current buffer, {@link BackingMemory.generation} counts
 * buffer replacements so that a holder of cached views can tell when to rebuild them, and
 * {@link BackingMemory.onGrow} notifies when growth went through this object.
 *
 * This module is browser compatible.
 * @module
 */
import { describeValue } from './describe-value.js';
import { MemError } from './mem-error.js';
import { assertSize } from './validators.js';

/** Which kind of memory backs a {@link BackingMemory}. */
export type BackingKind = 'array-buffer' | 'shared-array-buffer' | 'wasm-memory';

/**
 * `WebAssembly.Memory`, named through `globalThis` so that these types need no particular lib: it
 * is the lib's `WebAssembly.Memory` where the project's lib declares one (the `dom` and
 * `webworker` libs do), and `never` where none does (a Node project with `lib: ["es2023"]`).
 */
export type WasmMemory =
  typeof globalThis extends Record<'WebAssembly', Record<'Memory', Record<'prototype', infer M>>> ? M : never;

/** What a {@link BackingMemory} can wrap. */
export type BackingSource = ArrayBuffer | SharedArrayBuffer | WasmMemory;

/**
 * A structured-cloneable description of shared backing memory: post it to a worker and call
 * {@link BackingMemory.fromDescriptor} there to see the same bytes.
 */
export type BackingMemoryDescriptor =
  | {
      /** The memory is a SharedArrayBuffer. */
      readonly kind: 'shared-array-buffer';
      /** The shared bytes. */
      readonly buffer: SharedArrayBuffer;
    }
  | {
      /** The memory is a shared WebAssembly.Memory. */
      readonly kind: 'wasm-memory';
      /** The shared memory object. */
      readonly memory: WasmMemory;
    };

/** Options of {@link BackingMemory.allocate}. */
export interface AllocateBackingOptions {
  /** Allocate a `SharedArrayBuffer` that workers can share. @defaultValue false */
  readonly shared?: boolean;
}

/** The size of a WebAssembly page in bytes. */
export const WASM_PAGE_SIZE = 65536;

/** Called after the memory grew through {@link BackingMemory.grow}, with the new byte length. */
export type GrowListener = (byteLength: number, memory: BackingMemory) => void;

/** A typed-array constructor such as `Float32Array`, for {@link BackingMemory.typedView}. */
export type TypedArrayConstructor<T> = {
  /** The size of one element in bytes. */
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBuffer | SharedArrayBuffer, byteOffset: number, length: number): T;
};

/**
 * A range of bytes a pool owns: an `ArrayBuffer`, a `SharedArrayBuffer` or a `WebAssembly.Memory`.
 *
 * @example
 * ```ts
 * import { BackingMemory } from '@mem/types';
 * const memory = BackingMemory.wrap(new WebAssembly.Memory({ initial: 1, maximum: 4 }));
 * const before = memory.bytes();
 * memory.grow(65536); // detaches `before`
 * memory.bytes().length; // 131072: always the current buffer
 * ```
 */
export class BackingMemory {
  readonly #source: BackingSource;
  readonly #kind: BackingKind;
  #buffer: ArrayBuffer | SharedArrayBuffer;
  #bytes: Uint8Array;
  #generation = 0;
  readonly #growListeners = new Set<GrowListener>();

  private constructor(source: BackingSource, kind: BackingKind) {
    this.#source = source;
    this.#kind = kind;
    this.#buffer = kind === 'wasm-memory' ? (source as WebAssembly.Memory).buffer : (source as ArrayBuffer);
    this.#bytes = new Uint8Array(this.#buffer);
  }

  /**
   * Allocates fresh zeroed memory of `byteLength` bytes.
   * Cost: one buffer allocation, O(byteLength) zeroing by the runtime.
   * @throws MemError INVALID_ARGUMENT if `byteLength` is not a size, or if
   * `shared` is requested where `SharedArrayBuffer` is unavailable (a page without cross-origin isolation).
   * @throws MemError EXHAUSTED if the runtime cannot allocate that much.
   */
  static allocate(byteLength: number, options: AllocateBackingOptions = {}): BackingMemory {
    assertSize(byteLength, 'byteLength');
    const shared = options?.shared ?? false;
    if (typeof shared !== 'boolean') {
      throw new MemError('INVALID_ARGUMENT', `shared must be a boolean, got ${describeValue(shared)}`);
    }
    if (shared && typeof SharedArrayBuffer === 'undefined') {
      throw new MemError(
        'INVALID_ARGUMENT',
        'shared memory needs SharedArrayBuffer, which this runtime does not expose (is the page cross-origin isolated?)',
      );
    }
    let buffer: ArrayBuffer | SharedArrayBuffer;
    try {
      buffer = shared ? new SharedArrayBuffer(byteLength) : new ArrayBuffer(byteLength);
    } catch (cause) {
      throw new MemError('EXHAUSTED', `the runtime could not allocate ${byteLength} bytes of backing memory`, {
        cause,
        details: { byteLength },
      });
    }
    return BackingMemory.wrap(buffer);
  }

  /**
   * Wraps existing memory without copying it.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `source` is not an ArrayBuffer, SharedArrayBuffer or WebAssembly.Memory,
   * or is a detached ArrayBuffer.
   */
  static wrap(source: BackingSource): BackingMemory {
    if (typeof WebAssembly !== 'undefined' && source instanceof WebAssembly.Memory) {
      return new BackingMemory(source, 'wasm-memory');
    }
    if (typeof SharedArrayBuffer !== 'undefined' && source instanceof SharedArrayBuffer) {
      return new BackingMemory(source, 'shared-array-buffer');
    }
    if (source instanceof ArrayBuffer) {
      if (isDetached(source)) {
        throw new MemError('INVALID_ARGUMENT', 'source is a detached ArrayBuffer; expected live memory');
      }
      return new BackingMemory(source, 'array-buffer');
    }
    throw new MemError(
      'INVALID_ARGUMENT',
      `source must be an ArrayBuffer, SharedArrayBuffer or WebAssembly.Memory, got ${describeValue(source)}`,
    );
  }

  /**
   * Attaches to memory another party shared with {@link BackingMemory.share}.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `descriptor` is not a backing-memory descriptor.
   */
  static fromDescriptor(descriptor: BackingMemoryDescriptor): BackingMemory {
    const candidate = descriptor as Partial<{ kind: unknown; buffer: unknown; memory: unknown }> | null;
    // The typeof guards keep a runtime without SharedArrayBuffer or WebAssembly on the MemError path.
    if (
      candidate?.kind === 'shared-array-buffer' &&
      typeof SharedArrayBuffer !== 'undefined' &&
      candidate.buffer instanceof SharedArrayBuffer
    ) {
      return BackingMemory.wrap(candidate.buffer);
    }
    if (
      candidate?.kind === 'wasm-memory' &&
      typeof WebAssembly !== 'undefined' &&
      candidate.memory instanceof WebAssembly.Memory
    ) {
      return BackingMemory.wrap(candidate.memory);
    }
    throw new MemError(
      'INVALID_ARGUMENT',
      `descriptor must come from BackingMemory.share(), got ${describeValue(descriptor)}`,
    );
  }

  /** Which kind of memory this is. Cost: O(1). */
  get kind(): BackingKind {
    return this.#kind;
  }

  /** Whether other workers can see these bytes (a SharedArrayBuffer, or a wasm memory over one). Cost: O(1). */
  get isShared(): boolean {
    return typeof SharedArrayBuffer !== 'undefined' && this.buffer instanceof SharedArrayBuffer;
  }

  /** The current underlying buffer: after growth, the new one. Cost: O(1). */
  get buffer(): ArrayBuffer | SharedArrayBuffer {
    this.#refresh();
    return this.#buffer;
  }

  /** The current size in bytes. Cost: O(1). */
  get byteLength(): number {
    return this.buffer.byteLength;
  }

  /**
   * How many times the underlying buffer has been replaced (by growth here, by WASM code, or by
   * another worker). Views taken at an older generation may be detached or too short. Cost: O(1).
   */
  get generation(): number {
    this.#refresh();
    return this.#generation;
  }

  /** The wrapped source, for handing to WASM code. Cost: O(1). */
  get source(): BackingSource {
    return this.#source;
  }

  /**
   * A `Uint8Array` over all of the current memory. The same view is returned until the buffer is
   * replaced, so calling this per access is cheap. Cost: O(1).
   * @throws never
   */
  bytes(): Uint8Array {
    this.#refresh();
    return this.#bytes;
  }

  /**
   * A fresh `Uint8Array` over `[byteOffset, byteOffset + byteLength)` of the current memory.
   * Cost: O(1), one view object.
   * @throws MemError INVALID_ARGUMENT if the range is not inside the memory.
   */
  view(byteOffset: number, byteLength: number): Uint8Array {
    return this.typedView(Uint8Array, byteOffset, byteLength);
  }

  /**
   * A fresh typed array of `length` elements at `byteOffset` of the current memory
   * (for example `typedView(Float32Array, 64, 16)`).
   * Cost: O(1), one view object.
   * @throws MemError INVALID_ARGUMENT if `type` is not a typed array constructor, the range is outside
   * the memory or `byteOffset` is not a multiple of the element size.
   */
  typedView<T>(type: TypedArrayConstructor<T>, byteOffset: number, length: number): T {
    const buffer = this.buffer;
    const elementSize = typeof type === 'function' ? type.BYTES_PER_ELEMENT : undefined;
    if (typeof elementSize !== 'number' || !Number.isInteger(elementSize) || elementSize < 1) {
      throw new MemError('INVALID_ARGUMENT', `type must be a typed array constructor, got ${describeValue(type)}`);
    }
    assertSize(length, 'length');
    assertSize(byteOffset, 'byteOffset', { max: buffer.byteLength });
    if (byteOffset % elementSize !== 0) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `byteOffset must be a multiple of ${elementSize} for a view of ${elementSize}-byte elements, got ${byteOffset}`,
      );
    }
    if (byteOffset + length * elementSize > buffer.byteLength) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `range [${byteOffset}, ${byteOffset + length * elementSize}) must lie inside the memory of ${buffer.byteLength} bytes`,
      );
    }
    return new type(buffer, byteOffset, length);
  }

  /**
   * Grows a `WebAssembly.Memory` by at least `additionalBytes` (rounded up to whole 64 KiB pages)
   * and returns the new byte length. Views of a non-shared memory taken before the call are
   * detached afterwards; listeners registered with {@link BackingMemory.onGrow} run after growth.
   * Growing by 0 bytes does nothing (it neither detaches views nor runs listeners).
   * Cost: the runtime's growth (may copy the whole memory), plus the listeners. Every listener runs;
   * if any threw, the first error is rethrown after all ran (the memory has grown by then). A
   * listener may call any method, `grow` included: the listeners that run are those registered
   * when this growth happened, and each receives the byte length at the time it runs.
   * @throws MemError INVALID_ARGUMENT if `additionalBytes` is not a size, or the memory is not a
   * `WebAssembly.Memory` (array buffers here have a fixed size).
   * @throws MemError LIMIT_EXCEEDED if growth would pass the memory's maximum or the runtime refuses it;
   * the memory is then unchanged.
   */
  grow(additionalBytes: number): number {
    assertSize(additionalBytes, 'additionalBytes');
    if (this.#kind !== 'wasm-memory') {
      throw new MemError('INVALID_ARGUMENT', `a ${this.#kind} backing has a fixed size; only wasm-memory can grow`);
    }
    const pages = Math.ceil(additionalBytes / WASM_PAGE_SIZE);
    // `memory.grow(0)` replaces the buffer and detaches every view of a non-shared memory: skip it.
    if (pages === 0) return this.byteLength;
    try {
      (this.#source as WebAssembly.Memory).grow(pages);
    } catch (cause) {
      throw new MemError(
        'LIMIT_EXCEEDED',
        `cannot grow the wasm memory of ${this.byteLength} bytes by ${pages} pages (${additionalBytes} bytes requested)`,
        { cause, details: { byteLength: this.byteLength, pages } },
      );
    }
    // Every listener runs even if one throws: each may hold views that must be rebuilt. The
    // listeners are those registered now; each is told the length at the time it runs, so that one
    // that grows the memory again never leaves a later listener with an older length.
    const failures: unknown[] = [];
    for (const listener of [...this.#growListeners]) {
      try {
        listener(this.byteLength, this);
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
    return this.byteLength;
  }

  /**
   * Registers `listener` to run after each {@link BackingMemory.grow}; returns a function that
   * unregisters it. Growth by WASM code or by another worker is not observed here: compare
   * {@link BackingMemory.generation} for that.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `listener` is not a function.
   */
  onGrow(listener: GrowListener): () => void {
    if (typeof listener !== 'function') {
      throw new MemError('INVALID_ARGUMENT', `listener must be a function, got ${describeValue(listener)}`);
    }
    this.#growListeners.add(listener);
    return () => this.#growListeners.delete(listener);
  }

  /**
   * A descriptor that a worker turns back into a `BackingMemory` over the same bytes
   * (send it with `postMessage`; shared memory is shared, not copied).
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if the memory is not shared.
   */
  share(): BackingMemoryDescriptor {
    if (!this.isShared) {
      throw new MemError('INVALID_ARGUMENT', `a non-shared ${this.#kind} backing cannot be shared with workers`);
    }
    return this.#kind === 'wasm-memory'
      ? { kind: 'wasm-memory', memory: this.#source as WebAssembly.Memory }
      : { kind: 'shared-array-buffer', buffer: this.#source as SharedArrayBuffer };
  }

  #refresh(): void {
    if (this.#kind !== 'wasm-memory') return;
    const current = (this.#source as WebAssembly.Memory).buffer;
    if (current !== this.#buffer) {
      this.#buffer = current;
      this.#bytes = new Uint8Array(current);
      this.#generation += 1;
    }
  }
}

function isDetached(buffer: ArrayBuffer): boolean {
  const withDetached = buffer as ArrayBuffer & { detached?: boolean };
  if (typeof withDetached.detached === 'boolean') return withDetached.detached;
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}
