// Over 400 lines for one concept: the store, with its private and shared construction and the conversion of each element type on write and read.
/**
 * Paged K and V storage: per layer, one K array and one V array of
 * `numBlocks x numKvHeads x blockSize x headDim` elements. Within a block, each KV head's
 * `blockSize x headDim` slab is contiguous, so attention reads one slab per (block, head).
 *
 * Storage is float32 (`Float32Array`), or 16-bit (`Uint16Array` of IEEE float16 or bfloat16 bits)
 * to halve the memory; 16-bit values are converted on write and read. Every layer lives in one
 * memory: a WebAssembly.Memory where the WebAssembly SIMD128 attention kernels run (see
 * `kv-store-memory.ts`), else an ArrayBuffer; shared for a store made with `KvStore.createShared`,
 * which other workers attach to through its descriptor (see the README, "Concurrency protocol").
 *
 * This module is browser compatible.
 * @module
 */
import {
  MemError,
  type BackingMemory,
  assertInteger,
  assertOneOf,
  assertOptions,
  assertSharedDescriptor,
  describeValue,
  invalidArgument,
  type SharedAttachment,
  type SharedDescriptor,
  type WasmMemory,
} from '@mem/types';
import { toBfloat16, toFloat16, fromBfloat16, float16Decoder } from './half-float.js';
import {
  KV_LAYOUT_OPTION_NAMES,
  checkKvLayout,
  type KvDType,
  type KvLayout,
  type KvLayoutSizes,
} from './kv-store-layout.js';
import type { KvKernels, KvStoreStats } from './kv-kernels.js';
import { allocateKvMemory, attachKvMemory, type KvMemory } from './kv-store-memory.js';
import type { WasmAttention } from './wasm/wasm-attention.js';
import { checkBlockTable } from './block-table-check.js';
import type { BlockTableView } from './paged-sequence.js';

export type { KvDType, KvLayout } from './kv-store-layout.js';

/** The descriptor kind of a shared {@link KvStore}. */
const KIND = 'mem.paged-kv.kv-store';
/** The layout version of a shared {@link KvStore}'s memory. */
const VERSION = 1;
const OPTION_NAMES: readonly string[] = [...KV_LAYOUT_OPTION_NAMES, 'kernels'];
const KERNELS: readonly KvKernels[] = ['auto', 'js'];

/** Options of a {@link KvStore}. */
export interface KvStoreOptions {
  /** Transformer layers. */
  readonly numLayers: number;
  /** Physical blocks (the allocator's capacity). */
  readonly numBlocks: number;
  /** KV heads (fewer than query heads under grouped-query attention). */
  readonly numKvHeads: number;
  /** Tokens per block (the allocator's block size). */
  readonly blockSize: number;
  /** Elements per head. */
  readonly headDim: number;
  /** Element type. @defaultValue 'float32' */
  readonly dtype?: KvDType;
  /**
   * The attention kernels: `'auto'` runs the WebAssembly SIMD128 kernels where the runtime has
   * them (the store's memory is then a WebAssembly.Memory), `'js'` the JavaScript kernels.
   * `stats().kernel` says which run. @defaultValue 'auto'
   */
  readonly kernels?: KvKernels;
}

/**
 * What another worker attaches a shared {@link KvStore} with: the store's layout and the
 * SharedArrayBuffer that holds every layer's K and V (`keys(0), values(0), keys(1), ...`).
 * Structured-cloneable; post it with `postMessage(descriptor)` (the buffer is shared, not copied).
 */
export interface KvStoreDescriptor extends SharedDescriptor<'mem.paged-kv.kv-store'>, KvLayout {
  /** The memory of every layer's K and V. */
  readonly buffer: SharedArrayBuffer;
  /**
   * The shared WebAssembly.Memory whose buffer `buffer` is, where the store runs the WebAssembly
   * kernels: an attachment runs them over the same memory. Absent for a SharedArrayBuffer alone.
   */
  readonly memory?: WasmMemory;
}

/** A layer's raw storage: Float32Array for float32, Uint16Array of bits for 16-bit types. */
export type KvArray = Float32Array | Uint16Array;

/** How 16-bit storage decodes to float32: a function of the bits, or a table indexed by them. */
export type KvDecoder = ((bits: number) => number) | Float32Array;

/**
 * @internal The checked layout and the memory a {@link KvStore} is made over. Not exported: only
 * this module's factories build one, so only they reach the constructor's second form.
 */
class KvStorage {
  constructor(
    readonly layout: KvLayoutSizes,
    readonly memory: KvMemory,
  ) {}

  /** Checks `options` and allocates zeroed memory for them. */
  static allocate(options: KvStoreOptions, shared: boolean): KvStorage {
    if (options === undefined) throw invalidArgument('options', options, 'an object');
    const checked = assertOptions<KvStoreOptions>(options, 'options', OPTION_NAMES);
    const layout = checkKvLayout(checked, 'options');
    const kernels = checked.kernels === undefined ? 'auto' : assertOneOf(checked.kernels, 'options.kernels', KERNELS);
    return new KvStorage(layout, allocateKvMemory(layout, shared, kernels));
  }
}

/**
 * Paged K/V storage for all layers.
 *
 * A store made with `new KvStore(options)` is private to its thread. One made with
 * {@link KvStore.createShared} lives in a SharedArrayBuffer: {@link KvStore.descriptor} describes it
 * and {@link KvStore.attach} gives another worker a store over the same memory. Each attachment
 * ends with {@link KvStore.close}; the memory is reclaimed once every attachment is closed or
 * collected. The stores share bytes only (no locks, no counters): who writes where, and when, is
 * the owner's protocol (README, "Concurrency protocol").
 *
 * @example
 * ```ts
 * import { KvCacheManager, KvStore } from '@mem/paged-kv';
 * const store = new KvStore({ numLayers: 2, numBlocks: 64, numKvHeads: 2, blockSize: 16, headDim: 8 });
 * const kv = new KvCacheManager({ numBlocks: 64, copyBlock: (s, t) => store.copyBlock(s, t) });
 * const seq = kv.createSequence({ tokens: [5, 6, 7] });
 * kv.admit(seq);
 * const k = new Float32Array(2 * 8).fill(1);
 * store.writeToken(0, seq, 0, k, k); // layer 0, position 0
 * ```
 */
export class KvStore implements SharedAttachment<KvStoreDescriptor> {
  /** Transformer layers. */
  readonly numLayers: number;
  /** Physical blocks. */
  readonly numBlocks: number;
  /** KV heads. */
  readonly numKvHeads: number;
  /** Tokens per block. */
  readonly blockSize: number;
  /** Elements per head. */
  readonly headDim: number;
  /** Element type. */
  readonly dtype: KvDType;
  /** Elements of one block of one layer's K (or V): `numKvHeads * blockSize * headDim`. */
  readonly blockElements: number;
  #memory: BackingMemory | null;
  #kernel: WasmAttention | null;
  readonly #fallbackReason: string | null;
  readonly #byteLength: number;
  #keys: KvArray[] = [];
  #values: KvArray[] = [];
  readonly #encode: ((value: number) => number) | null;

  /**
   * Allocates zeroed storage, private to this thread.
   * Cost: O(total bytes) (zeroing): `2 * numLayers * numBlocks * blockElements * bytesPerElement`,
   * plus 256 KiB of scratch for the WebAssembly kernels.
   * @throws MemError INVALID_ARGUMENT if an option is invalid or unknown; EXHAUSTED if the runtime cannot allocate it.
   */
  constructor(options: KvStoreOptions);
  /** @internal Makes a store over checked storage (the shared factories). */
  constructor(storage: KvStorage);
  constructor(source: KvStoreOptions | KvStorage) {
    const storage = source instanceof KvStorage ? source : KvStorage.allocate(source, false);
    const { layout } = storage;
    const { memory, kernel, fallbackReason } = storage.memory;
    this.numLayers = layout.numLayers;
    this.numBlocks = layout.numBlocks;
    this.numKvHeads = layout.numKvHeads;
    this.blockSize = layout.blockSize;
    this.headDim = layout.headDim;
    this.dtype = layout.dtype;
    this.blockElements = layout.blockElements;
    this.#memory = memory;
    this.#kernel = kernel;
    this.#fallbackReason = fallbackReason;
    this.#byteLength = layout.byteLength;
    const { layerElements, bytesPerElement } = layout;
    const view = (byteOffset: number): KvArray =>
      layout.dtype === 'float32'
        ? memory.typedView(Float32Array, byteOffset, layerElements)
        : memory.typedView(Uint16Array, byteOffset, layerElements);
    for (let layer = 0; layer < this.numLayers; layer += 1) {
      const base = 2 * layer * layerElements * bytesPerElement;
      this.#keys.push(view(base));
      this.#values.push(view(base + layerElements * bytesPerElement));
    }
    this.#encode = layout.dtype === 'float16' ? toFloat16 : layout.dtype === 'bfloat16' ? toBfloat16 : null;
  }

  /**
   * Allocates zeroed storage in shared memory (a shared WebAssembly.Memory where the WebAssembly
   * kernels run, else a SharedArrayBuffer); the result is this worker's attachment.
   * Cost: as the constructor, with 2 MiB of scratch for the WebAssembly kernels (8 slots, so that
   * up to 8 workers attend at once; a call that finds all busy runs the JavaScript kernels).
   * @throws MemError INVALID_ARGUMENT if an option is invalid or unknown; EXHAUSTED if the runtime cannot allocate it.
   *
   * @example
   * ```ts
   * import { KvStore } from '@mem/paged-kv';
   * const store = KvStore.createShared({ numLayers: 1, numBlocks: 8, numKvHeads: 1, blockSize: 4, headDim: 2 });
   * const descriptor = store.descriptor(); // post it to a worker, which calls KvStore.attach(descriptor)
   * const attached = KvStore.attach(descriptor);
   * attached.keys(0).buffer === store.keys(0).buffer; // true: the same memory
   * attached.close();
   * store.close();
   * ```
   */
  static createShared(options: KvStoreOptions): KvStore {
    return new KvStore(KvStorage.allocate(options, true));
  }

  /**
   * Attaches to the shared store that `descriptor` describes: a store of the same layout over
   * the same memory, running the WebAssembly kernels where the descriptor carries the store's
   * WebAssembly.Memory and this runtime has SIMD128. Cost: O(numLayers), no copy.
   * @throws MemError INVALID_ARGUMENT if `descriptor` is not a KV store descriptor of this layout
   * version, a layout field is invalid, or its memory is not shared memory of the layout's size.
   */
  static attach(descriptor: KvStoreDescriptor): KvStore {
    const checked = assertSharedDescriptor<KvStoreDescriptor>(descriptor, KIND, VERSION);
    const layout = checkKvLayout(checked, 'descriptor');
    return new KvStore(new KvStorage(layout, attachKvMemory(layout, checked.buffer, checked.memory)));
  }

  /**
   * The descriptor another worker attaches with (a plain object; its buffer is shared, not copied).
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if the store is private (made with `new KvStore`).
   * @throws MemError USE_AFTER_RELEASE after {@link KvStore.close}.
   */
  descriptor(): KvStoreDescriptor {
    const buffer = this.#live().buffer;
    if (typeof SharedArrayBuffer === 'undefined' || !(buffer instanceof SharedArrayBuffer)) {
      throw new MemError(
        'INVALID_ARGUMENT',
        'this KV store is private: create it with KvStore.createShared to share it with workers',
      );
    }
    const { numLayers, numBlocks, numKvHeads, blockSize, headDim, dtype } = this;
    const layout = {
      kind: KIND,
      version: VERSION,
      numLayers,
      numBlocks,
      numKvHeads,
      blockSize,
      headDim,
      dtype,
    } as const;
    const memory = this.#live();
    return memory.kind === 'wasm-memory'
      ? { ...layout, buffer, memory: memory.source as WasmMemory }
      : { ...layout, buffer };
  }

  /**
   * Ends this store (this worker's attachment, for a shared one): it drops its views of the
   * memory, and every method then throws USE_AFTER_RELEASE. Other attachments keep working.
   * Idempotent. Cost: O(1).
   * @throws never
   */
  close(): void {
    this.#memory = null;
    this.#kernel = null;
    this.#keys = [];
    this.#values = [];
  }

  /** Calls {@link KvStore.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Whether {@link KvStore.close} was called. */
  get closed(): boolean {
    return this.#memory === null;
  }

  /**
   * The memory all layers live in, K and V from byte 0: a WebAssembly.Memory (kind `'wasm-memory'`)
   * where the WebAssembly kernels run, its scratch after the K/V bytes; else an ArrayBuffer or
   * SharedArrayBuffer of exactly the K/V bytes.
   * @throws MemError USE_AFTER_RELEASE after {@link KvStore.close}.
   */
  get memory(): BackingMemory {
    return this.#live();
  }

  /**
   * Bytes of all K and V storage. Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE after {@link KvStore.close}.
   */
  get byteLength(): number {
    this.#live();
    return this.#byteLength;
  }

  /**
   * A snapshot: which attention kernels run over this store (and why the JavaScript ones, where
   * they do) and its sizes. Cost: O(1).
   * @throws MemError USE_AFTER_RELEASE after {@link KvStore.close}.
   */
  stats(): KvStoreStats {
    const memory = this.#live();
    return {
      kernel: this.#kernel === null ? 'js' : 'wasm-simd128',
      fallbackReason: this.#fallbackReason,
      busyFallbacks: this.#kernel === null ? 0 : this.#kernel.busyCalls,
      byteLength: this.#byteLength,
      memoryBytes: memory.byteLength,
    };
  }

  /**
   * Layer `layer`'s raw K storage (`[block][kvHead][slot][dim]`), e.g. to upload to a GPU.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `layer` is out of range.
   * @throws MemError USE_AFTER_RELEASE after {@link KvStore.close}.
   */
  keys(layer: number): KvArray {
    return this.#keys[this.#layer(layer)]!;
  }

  /**
   * Layer `layer`'s raw V storage, laid out as {@link KvStore.keys}.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `layer` is out of range.
   * @throws MemError USE_AFTER_RELEASE after {@link KvStore.close}.
   */
  values(layer: number): KvArray {
    return this.#values[this.#layer(layer)]!;
  }

  /**
   * Element offset of `(block, head, slot)` in a layer's K or V array.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if an index is out of range.
   * @throws MemError USE_AFTER_RELEASE after {@link KvStore.close}.
   */
  offsetOf(block: number, head: number, slot: number): number {
    this.#live();
    assertInteger(block, 'block', { min: 0, max: this.numBlocks - 1 });
    assertInteger(head, 'head', { min: 0, max: this.numKvHeads - 1 });
    assertInteger(slot, 'slot', { min: 0, max: this.blockSize - 1 });
    return ((block * this.numKvHeads + head) * this.blockSize + slot) * this.headDim;
  }

  /**
   * Writes one token's K and V (`numKvHeads * headDim` elements each, head-major) for `layer` at
   * `position` of `sequence`, through its block table.
   * Cost: O(numKvHeads * headDim).
   * @throws MemError INVALID_ARGUMENT if `layer` or `position` is out of range (the position must
   * have a slot: below `blockCount * blockSize`), the block size differs from the store's, or a
   * vector has the wrong length.
   * @throws MemError USE_AFTER_RELEASE if `sequence` was released, or after {@link KvStore.close}.
   * @throws MemError IN_USE if `position` is below the sequence's `computedTokens`: its K/V is final
   * and its block may be shared with other requests (through the prefix cache or a fork), so a write
   * there, for example through a step entry kept past its commit, would change their bytes.
   */
  writeToken(layer: number, sequence: BlockTableView, position: number, key: Float32Array, value: Float32Array): void {
    const l = this.#layer(layer);
    const offset = this.#tokenOffset(sequence, position);
    const computed = sequence.computedTokens;
    if (computed !== undefined && position < computed) {
      throw new MemError(
        'IN_USE',
        `position ${position} holds final K/V (the sequence has ${computed} computed tokens) in a block other requests may share: write only positions from computedTokens on`,
      );
    }
    this.#checkVector(key, 'key');
    this.#checkVector(value, 'value');
    this.#writeHeads(this.#keys[l]!, offset, key);
    this.#writeHeads(this.#values[l]!, offset, value);
  }

  /**
   * Reads one token's K and V (as float32) into `keyOut` and `valueOut`.
   * Cost: O(numKvHeads * headDim).
   * @throws MemError INVALID_ARGUMENT as {@link KvStore.writeToken}.
   * @throws MemError USE_AFTER_RELEASE if `sequence` was released, or after {@link KvStore.close}.
   */
  readToken(
    layer: number,
    sequence: BlockTableView,
    position: number,
    keyOut: Float32Array,
    valueOut: Float32Array,
  ): void {
    const l = this.#layer(layer);
    const offset = this.#tokenOffset(sequence, position);
    this.#checkVector(keyOut, 'keyOut');
    this.#checkVector(valueOut, 'valueOut');
    this.#readHeads(this.#keys[l]!, offset, keyOut);
    this.#readHeads(this.#values[l]!, offset, valueOut);
  }

  /**
   * Copies block `source` into block `target` in every layer, K and V (the copy-on-write callback:
   * pass `(s, t) => store.copyBlock(s, t)` as `copyBlock`).
   * Cost: O(numLayers * blockElements).
   * @throws MemError INVALID_ARGUMENT if a block index is out of range.
   * @throws MemError USE_AFTER_RELEASE after {@link KvStore.close}.
   */
  copyBlock(source: number, target: number): void {
    this.#live();
    assertInteger(source, 'source', { min: 0, max: this.numBlocks - 1 });
    assertInteger(target, 'target', { min: 0, max: this.numBlocks - 1 });
    if (source === target) return;
    const size = this.blockElements;
    for (let l = 0; l < this.numLayers; l += 1) {
      const keys = this.#keys[l]!;
      const values = this.#values[l]!;
      keys.copyWithin(target * size, source * size, (source + 1) * size);
      values.copyWithin(target * size, source * size, (source + 1) * size);
    }
  }

  /** @internal The WebAssembly kernels over this store's memory, or null where the JavaScript ones run. */
  kernel(): WasmAttention | null {
    this.#live();
    return this.#kernel;
  }

  /** @internal Decodes elements for attention over 16-bit storage: returns the decoder or null for float32. */
  decoder(): KvDecoder | null {
    this.#live();
    if (this.dtype === 'float32') return null;
    return this.dtype === 'float16' ? float16Decoder() : fromBfloat16;
  }

  /** The memory of an open store. */
  #live(): BackingMemory {
    const memory = this.#memory;
    if (memory === null) throw new MemError('USE_AFTER_RELEASE', 'the KV store was closed');
    return memory;
  }

  #layer(layer: number): number {
    this.#live();
    return assertInteger(layer, 'layer', { min: 0, max: this.numLayers - 1 });
  }

  /** Offset of head 0 of `position`'s slot. */
  #tokenOffset(sequence: BlockTableView, position: number): number {
    const table = checkBlockTable(sequence, this.blockSize, this.numBlocks);
    assertInteger(position, 'position', { min: 0, max: sequence.blockCount * this.blockSize - 1 });
    const block = table[Math.floor(position / this.blockSize)]!;
    return (block * this.numKvHeads * this.blockSize + (position % this.blockSize)) * this.headDim;
  }

  #checkVector(vector: Float32Array, name: string): void {
    const expected = this.numKvHeads * this.headDim;
    if (!(vector instanceof Float32Array) || vector.length !== expected) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `${name} must be a Float32Array of numKvHeads * headDim = ${expected} elements, got ${describeValue(vector)}${vector instanceof Float32Array ? ` of ${vector.length}` : ''}`,
      );
    }
  }

  #writeHeads(target: KvArray, offset: number, source: Float32Array): void {
    const headDim = this.headDim;
    const headStride = this.blockSize * headDim;
    const encode = this.#encode;
    for (let h = 0; h < this.numKvHeads; h += 1) {
      const at = offset + h * headStride;
      if (encode === null) (target as Float32Array).set(source.subarray(h * headDim, (h + 1) * headDim), at);
      else for (let d = 0; d < headDim; d += 1) target[at + d] = encode(source[h * headDim + d]!);
    }
  }

  #readHeads(source: KvArray, offset: number, target: Float32Array): void {
    const headDim = this.headDim;
    const headStride = this.blockSize * headDim;
    const decode = this.decoder();
    for (let h = 0; h < this.numKvHeads; h += 1) {
      const at = offset + h * headStride;
      for (let d = 0; d < headDim; d += 1) {
        const raw = source[at + d]!;
        target[h * headDim + d] = decode === null ? raw : typeof decode === 'function' ? decode(raw) : decode[raw]!;
      }
    }
  }
}
