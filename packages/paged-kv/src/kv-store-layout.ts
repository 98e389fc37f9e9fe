/**
 * The layout of a `KvStore`'s memory: its dimensions and element type, checked once for
 * `new KvStore(options)`, `KvStore.createShared(options)` and `KvStore.attach(descriptor)`.
 *
 * Every layer's K and then V array follow each other in one buffer:
 * `keys(0), values(0), keys(1), values(1), ...`, each of `numBlocks * blockElements` elements.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, assertInteger, assertOneOf } from '@mem/types';

/** Element type of a `KvStore`. */
export type KvDType = 'float32' | 'float16' | 'bfloat16';

const KV_DTYPES: readonly KvDType[] = ['float32', 'float16', 'bfloat16'];

/** The option names of a {@link KvLayout}, the ones {@link checkKvLayout} reads. */
export const KV_LAYOUT_OPTION_NAMES: readonly (keyof KvLayout)[] = [
  'numLayers',
  'numBlocks',
  'numKvHeads',
  'blockSize',
  'headDim',
  'dtype',
];

/** The dimensions and element type of a `KvStore`. */
export interface KvLayout {
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
  /** Element type. */
  readonly dtype: KvDType;
}

/** A checked layout with its sizes. */
export interface KvLayoutSizes extends KvLayout {
  /** Elements of one block of one layer's K (or V): `numKvHeads * blockSize * headDim`. */
  readonly blockElements: number;
  /** Elements of one layer's K (or V). */
  readonly layerElements: number;
  /** 4 for float32, 2 for the 16-bit types. */
  readonly bytesPerElement: number;
  /** Bytes of all K and V storage. */
  readonly byteLength: number;
}

/**
 * Checks the layout fields of `source` (options or a descriptor, named `name` in messages) and
 * computes its sizes. A missing `dtype` is float32. Cost: O(1).
 * @throws MemError INVALID_ARGUMENT if a field is invalid or the store is too large for one buffer.
 */
export function checkKvLayout(source: Partial<KvLayout>, name: string): KvLayoutSizes {
  const numLayers = assertInteger(source.numLayers, `${name}.numLayers`, { min: 1, max: 4096 });
  const numBlocks = assertInteger(source.numBlocks, `${name}.numBlocks`, { min: 1, max: 1 << 24 });
  const numKvHeads = assertInteger(source.numKvHeads, `${name}.numKvHeads`, { min: 1, max: 4096 });
  const blockSize = assertInteger(source.blockSize, `${name}.blockSize`, { min: 1, max: 65536 });
  const headDim = assertInteger(source.headDim, `${name}.headDim`, { min: 1, max: 65536 });
  const dtype = source.dtype === undefined ? 'float32' : assertOneOf(source.dtype, `${name}.dtype`, KV_DTYPES);
  const blockElements = numKvHeads * blockSize * headDim;
  const layerElements = numBlocks * blockElements;
  const bytesPerElement = dtype === 'float32' ? 4 : 2;
  const byteLength = 2 * numLayers * layerElements * bytesPerElement;
  if (!Number.isSafeInteger(byteLength) || layerElements > 2 ** 32) {
    throw new MemError('INVALID_ARGUMENT', `a KV store of ${byteLength} bytes is too large for one buffer`);
  }
  return {
    numLayers,
    numBlocks,
    numKvHeads,
    blockSize,
    headDim,
    dtype,
    blockElements,
    layerElements,
    bytesPerElement,
    byteLength,
  };
}
