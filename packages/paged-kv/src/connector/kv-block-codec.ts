/**
 * Keys and values of KV blocks in a tier, made so that blocks of different models or layouts
 * cannot mix.
 *
 * Key: `mem-kv/1/<model>/<hasher>/l<layers>.h<kvHeads>.d<headDim>.b<blockSize>.<dtype>/<digest hex>`:
 * the format version, the model, the hash function, the layout and the block's chained hash (which
 * covers every earlier token, the salt and the other extra keys, so tenants stay apart).
 *
 * Value (one per block: header and payload never part): a header of 12 little-endian 32-bit
 * words, the block's digest, then the payload, every layer's K block then V block as the store
 * holds them. Header words: magic `'MKV1'`, checksum of everything after it, format version,
 * header bytes, layers, KV heads, head dim, block size, dtype code, digest words, payload bytes,
 * byte order mark. A value that is missing, shorter or longer than the layout needs, of another
 * version or layout, of another digest, or whose checksum fails, is not used.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, describeValue } from '@mem/types';
import type { BlockHasher } from '../block-hasher.js';
import type { KvStore } from '../kv-store.js';
import { blockChecksum } from './block-checksum.js';

/** Why a stored value was not used. */
export type KvValueFault = 'missing' | 'short' | 'layout' | 'corrupt';

const MAGIC = 0x31564b4d; // 'MKV1' little-endian
const FORMAT_VERSION = 1;
const HEADER_WORDS = 12;
const BYTE_ORDER_MARK = 0x01020304;
const DTYPE_CODES = { float32: 1, float16: 2, bfloat16: 3 } as const;
/** Model names: printable ASCII without spaces or '/', so that keys parse and file names stay simple. */
const MODEL_NAME = /^[!-.0-~]{1,128}$/;

/**
 * Checks a model name for tier keys.
 * @throws MemError INVALID_ARGUMENT if it is not 1 to 128 printable ASCII characters without spaces or '/'.
 */
export function assertModelName(model: unknown, name: string): string {
  if (typeof model !== 'string' || !MODEL_NAME.test(model)) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `${name} must be 1 to 128 printable ASCII characters without spaces or '/', got ${describeValue(model)}`,
    );
  }
  return model;
}

/** Encodes and checks the values of one store's layout, and names their keys. */
export class KvBlockCodec {
  /** Every key starts with this: format version, model, hasher and layout. */
  readonly keyPrefix: string;
  /** Bytes of one value: header, digest and payload. */
  readonly valueBytes: number;
  /** Bytes of one layer's K (or V) block. */
  readonly blockBytes: number;
  /** Physical blocks of the store. */
  readonly numBlocks: number;
  readonly #store: KvStore;
  readonly #words: number;
  readonly #header: Uint32Array;
  /** Where an unaligned value is copied to be checked; made on first need. */
  #scratch: Uint32Array | undefined;

  constructor(store: KvStore, model: string, hasher: BlockHasher) {
    this.#store = store;
    this.#words = hasher.words;
    this.numBlocks = store.numBlocks;
    const bytesPerElement = store.dtype === 'float32' ? 4 : 2;
    this.blockBytes = store.blockElements * bytesPerElement;
    const payloadBytes = 2 * store.numLayers * this.blockBytes;
    this.valueBytes = (HEADER_WORDS + hasher.words) * 4 + payloadBytes;
    const layout = `l${store.numLayers}.h${store.numKvHeads}.d${store.headDim}.b${store.blockSize}.${store.dtype}`;
    this.keyPrefix = `mem-kv/${FORMAT_VERSION}/${model}/${hasher.name}/${layout}/`;
    this.#header = Uint32Array.of(
      MAGIC,
      0, // checksum
      FORMAT_VERSION,
      (HEADER_WORDS + hasher.words) * 4,
      store.numLayers,
      store.numKvHeads,
      store.headDim,
      store.blockSize,
      DTYPE_CODES[store.dtype],
      hasher.words,
      payloadBytes,
      BYTE_ORDER_MARK,
    );
  }

  /** The key of digest `index` of `hashes`. Cost: O(digest words). */
  key(hashes: Uint32Array, index: number): string {
    let hex = '';
    for (let i = index * this.#words; i < (index + 1) * this.#words; i += 1) {
      hex += hashes[i]!.toString(16).padStart(8, '0');
    }
    return this.keyPrefix + hex;
  }

  /** A new value holding physical block `block` of the store under digest `index`. Cost: O(value bytes). */
  encode(block: number, hashes: Uint32Array, index: number): Uint8Array {
    const words = new Uint32Array(this.valueBytes / 4);
    words.set(this.#header);
    words.set(hashes.subarray(index * this.#words, (index + 1) * this.#words), HEADER_WORDS);
    const bytes = new Uint8Array(words.buffer);
    let at = (HEADER_WORDS + this.#words) * 4;
    const store = this.#store;
    for (let layer = 0; layer < store.numLayers; layer += 1) {
      bytes.set(this.#blockView(store.keys(layer), block), at);
      bytes.set(this.#blockView(store.values(layer), block), at + this.blockBytes);
      at += 2 * this.blockBytes;
    }
    words[1] = blockChecksum(words, 2, words.length);
    return bytes;
  }

  /**
   * Checks `value` as the value of digest `index`; returns it as given or why it cannot be used.
   * A value at an offset that is not a multiple of 4 (a slice of a socket's read buffer) is checked
   * through one copy into a scratch array the codec keeps; the value itself is not copied.
   * Cost: O(value bytes).
   */
  check(value: Uint8Array | null | undefined, hashes: Uint32Array, index: number): Uint8Array | KvValueFault {
    if (value === null || value === undefined) return 'missing';
    if (!(value instanceof Uint8Array)) return 'corrupt';
    const length = Math.min(value.byteLength, this.valueBytes) >>> 2;
    const words =
      value.byteOffset % 4 === 0
        ? new Uint32Array(value.buffer, value.byteOffset, length)
        : this.#aligned(value, length);
    if (words.length < HEADER_WORDS || words[0] !== MAGIC) return words.length < HEADER_WORDS ? 'short' : 'layout';
    for (let i = 2; i < HEADER_WORDS; i += 1) if (words[i] !== this.#header[i]) return 'layout';
    if (value.byteLength !== this.valueBytes) return value.byteLength < this.valueBytes ? 'short' : 'corrupt';
    for (let i = 0; i < this.#words; i += 1) {
      if (words[HEADER_WORDS + i] !== hashes[index * this.#words + i]) return 'corrupt';
    }
    if (words[1] !== blockChecksum(words, 2, words.length)) return 'corrupt';
    return value;
  }

  /** Copies a value `check` accepted into physical block `block` of the store. Cost: O(value bytes). */
  write(value: Uint8Array, block: number): void {
    const store = this.#store;
    let at = value.byteOffset + (HEADER_WORDS + this.#words) * 4;
    for (let layer = 0; layer < store.numLayers; layer += 1) {
      this.#blockView(store.keys(layer), block).set(new Uint8Array(value.buffer, at, this.blockBytes));
      this.#blockView(store.values(layer), block).set(
        new Uint8Array(value.buffer, at + this.blockBytes, this.blockBytes),
      );
      at += 2 * this.blockBytes;
    }
  }

  /** The first `length` words of an unaligned `value`, copied into the scratch array (valid until the next call). */
  #aligned(value: Uint8Array, length: number): Uint32Array {
    this.#scratch ??= new Uint32Array(this.valueBytes >>> 2);
    new Uint8Array(this.#scratch.buffer, 0, length * 4).set(value.subarray(0, length * 4));
    return this.#scratch.subarray(0, length);
  }

  /** The bytes of physical block `block` in one layer's K or V array. */
  #blockView(array: Float32Array | Uint16Array, block: number): Uint8Array {
    return new Uint8Array(array.buffer, array.byteOffset + block * this.blockBytes, this.blockBytes);
  }
}
