/**
 * Paged K and V storage: per layer, one K array and one V array of
 * `numBlocks x numKvHeads x blockSize x headDim` elements. Within a block, each KV head's
 * `blockSize x headDim` slab is contiguous, so attention reads one slab per (block, head).
 *
 * Storage is float32 (`Float32Array`), or 16-bit (`Uint16Array` of IEEE float16 or bfloat16 bits)
 * to halve the memory; 16-bit values are converted on write and read. Every layer lives in one
 * ArrayBuffer (or SharedArrayBuffer with `shared: true`, for workers).
 *
 * This module is browser compatible.
 * @module
 */
import {
  BackingMemory,
  MemError,
  assertBoolean,
  assertInteger,
  assertOneOf,
  assertOptions,
  describeValue,
  invalidArgument,
} from '@mem/types';
import { toBfloat16, toFloat16, fromBfloat16, float16Decoder } from './half-float.js';
import type { BlockTableView } from './paged-sequence.js';

/** Element type of a {@link KvStore}. */
export type KvDType = 'float32' | 'float16' | 'bfloat16';

const KV_DTYPES: readonly KvDType[] = ['float32', 'float16', 'bfloat16'];

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
  /** Put the store in a SharedArrayBuffer. @defaultValue false */
  readonly shared?: boolean;
}

/** A layer's raw storage: Float32Array for float32, Uint16Array of bits for 16-bit types. */
export type KvArray = Float32Array | Uint16Array;

/** How 16-bit storage decodes to float32: a function of the bits, or a table indexed by them. */
export type KvDecoder = ((bits: number) => number) | Float32Array;

/**
 * Paged K/V storage for all layers.
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
export class KvStore {
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
  /** The memory all layers live in. */
  readonly memory: BackingMemory;
  /** Elements of one block of one layer's K (or V): `numKvHeads * blockSize * headDim`. */
  readonly blockElements: number;
  readonly #keys: KvArray[] = [];
  readonly #values: KvArray[] = [];
  readonly #encode: ((value: number) => number) | null;

  /**
   * Allocates zeroed storage.
   * Cost: O(total bytes) (zeroing): `2 * numLayers * numBlocks * blockElements * bytesPerElement`.
   * @throws MemError INVALID_ARGUMENT if an option is invalid; EXHAUSTED if the runtime cannot allocate it.
   */
  constructor(options: KvStoreOptions) {
    if (options === undefined) throw invalidArgument('options', options, 'an object');
    const opts = assertOptions<KvStoreOptions>(options, 'options');
    this.numLayers = assertInteger(opts.numLayers, 'options.numLayers', { min: 1, max: 4096 });
    this.numBlocks = assertInteger(opts.numBlocks, 'options.numBlocks', { min: 1, max: 1 << 24 });
    this.numKvHeads = assertInteger(opts.numKvHeads, 'options.numKvHeads', { min: 1, max: 4096 });
    this.blockSize = assertInteger(opts.blockSize, 'options.blockSize', { min: 1, max: 65536 });
    this.headDim = assertInteger(opts.headDim, 'options.headDim', { min: 1, max: 65536 });
    const dtype = opts.dtype === undefined ? 'float32' : assertOneOf(opts.dtype, 'options.dtype', KV_DTYPES);
    this.dtype = dtype;
    const shared = opts.shared === undefined ? false : assertBoolean(opts.shared, 'options.shared');
    this.blockElements = this.numKvHeads * this.blockSize * this.headDim;
    const layerElements = this.numBlocks * this.blockElements;
    const bytesPerElement = dtype === 'float32' ? 4 : 2;
    const total = 2 * this.numLayers * layerElements * bytesPerElement;
    if (!Number.isSafeInteger(total) || layerElements > 2 ** 32) {
      throw new MemError('INVALID_ARGUMENT', `a KV store of ${total} bytes is too large for one buffer`);
    }
    this.memory = BackingMemory.allocate(total, { shared });
    const view = (byteOffset: number): KvArray =>
      dtype === 'float32'
        ? this.memory.typedView(Float32Array, byteOffset, layerElements)
        : this.memory.typedView(Uint16Array, byteOffset, layerElements);
    for (let layer = 0; layer < this.numLayers; layer += 1) {
      const base = 2 * layer * layerElements * bytesPerElement;
      this.#keys.push(view(base));
      this.#values.push(view(base + layerElements * bytesPerElement));
    }
    this.#encode = dtype === 'float16' ? toFloat16 : dtype === 'bfloat16' ? toBfloat16 : null;
  }

  /** Bytes of all K and V storage. Cost: O(1). */
  get byteLength(): number {
    return this.memory.byteLength;
  }

  /**
   * Layer `layer`'s raw K storage (`[block][kvHead][slot][dim]`), e.g. to upload to a GPU.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `layer` is out of range.
   */
  keys(layer: number): KvArray {
    return this.#keys[this.#layer(layer)]!;
  }

  /**
   * Layer `layer`'s raw V storage, laid out as {@link KvStore.keys}.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `layer` is out of range.
   */
  values(layer: number): KvArray {
    return this.#values[this.#layer(layer)]!;
  }

  /**
   * Element offset of `(block, head, slot)` in a layer's K or V array.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if an index is out of range.
   */
  offsetOf(block: number, head: number, slot: number): number {
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
   * @throws MemError USE_AFTER_RELEASE if `sequence` was released.
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
   * @throws MemError USE_AFTER_RELEASE if `sequence` was released.
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
   */
  copyBlock(source: number, target: number): void {
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

  /** @internal Decodes elements for attention over 16-bit storage: returns the decoder or null for float32. */
  decoder(): KvDecoder | null {
    if (this.dtype === 'float32') return null;
    return this.dtype === 'float16' ? float16Decoder() : fromBfloat16;
  }

  #layer(layer: number): number {
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

/**
 * The one check of a sequence argument of the store and of attention: a live block table view with
 * `blockSize` and blocks below `numBlocks`.
 * @throws MemError USE_AFTER_RELEASE if the sequence was released.
 * @throws MemError INVALID_ARGUMENT if it is not a block table view of this block size and store.
 */
export function checkBlockTable(sequence: BlockTableView, blockSize: number, numBlocks: number): Uint32Array {
  const view = sequence as Partial<BlockTableView> | null;
  if (view !== null && typeof view === 'object' && view.released === true) {
    throw new MemError('USE_AFTER_RELEASE', 'the sequence was released: it holds no blocks to read or write');
  }
  if (
    view === null ||
    typeof view !== 'object' ||
    !(view.blockTable instanceof Uint32Array) ||
    typeof view.blockCount !== 'number' ||
    !Number.isInteger(view.blockCount) ||
    view.blockCount < 0 ||
    view.blockCount > view.blockTable.length
  ) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `sequence must have a blockTable (Uint32Array) and a blockCount, got ${describeValue(sequence)}`,
    );
  }
  if (view.blockSize !== blockSize) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `the sequence's blockSize ${describeValue(view.blockSize)} differs from the store's ${blockSize}`,
    );
  }
  const table = view.blockTable;
  for (let i = 0; i < view.blockCount; i += 1) {
    if (table[i]! >= numBlocks) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `blockTable[${i}] = ${table[i]} is not a block of this store (numBlocks ${numBlocks})`,
      );
    }
  }
  return table;
}
