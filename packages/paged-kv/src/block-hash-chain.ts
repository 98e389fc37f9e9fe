/**
 * Chained block hashes over token ids: the content address of every full KV block.
 *
 * Block `i`'s digest covers block `i - 1`'s digest, block `i`'s `blockSize` token ids and the extra
 * keys that overlap it, so two requests share block `i` only when they agree on every token before
 * and in it and on every extra key. The chain's root (the "parent" of block 0) is derived from the
 * request-wide extra keys: the per-tenant salt and the adapter id. Requests with different salts
 * or adapters therefore never share a block. Multimodal inputs (an image's hash and the token
 * range of its placeholder) enter every block their range overlaps. A trailing partial block has
 * no digest: its content is not final until it fills.
 *
 * Message layout of one block (32-bit words, unambiguous because every part has a fixed size or a
 * count): `parent digest (W words) | tokens (blockSize words) | extra count | per extra item:
 * offset in block, length, digest words (W)`.
 *
 * This module is browser compatible.
 * @module
 */
import { assertInteger, assertOptions, assertSize, invalidArgument } from '@mem/types';
import { type BlockHasher, fastBlockHasher } from './block-hasher.js';
import { copyTokenIds } from './token-ids.js';

/** A multimodal input in a prompt: the hash of its content and the token range its placeholder fills. */
export interface MultimodalInput {
  /** The content's hash: a string (e.g. a hex digest) or 32-bit words. */
  readonly hash: string | Uint32Array;
  /** The first token position of its placeholder in the prompt. */
  readonly offset: number;
  /** How many placeholder tokens it spans (at least 1). */
  readonly length: number;
}

/** Keys besides the token ids that decide whether two requests may share KV blocks. */
export interface ExtraKeys {
  /**
   * A per-tenant (or per-user) salt: requests with different salts never share a block, even
   * with equal tokens. Use it when tenants must not learn about each other's prompts through
   * cache timing. A string or 32-bit words. @defaultValue no salt
   */
  readonly salt?: string | Uint32Array;
  /** The id of the LoRA adapter (or other weight variant) the request runs with. @defaultValue none */
  readonly adapterId?: string | number;
  /** Multimodal inputs (images, audio) whose placeholders are in the prompt. @defaultValue none */
  readonly multimodal?: readonly MultimodalInput[];
}

/** Options of {@link blockHashChain}. */
export interface BlockHashChainOptions {
  /** The hash function. @defaultValue {@link fastBlockHasher} */
  readonly hasher?: BlockHasher;
  /** Extra keys entering the chain. @defaultValue none */
  readonly extraKeys?: ExtraKeys;
}

const ROOT_TAG = 0x6b76726f; // 'kvro'
const encoder = new TextEncoder();

/**
 * Resolves a `hasher` option: {@link fastBlockHasher} when it is `undefined`, else the hasher after
 * checking that it implements {@link BlockHasher}.
 * @throws MemError INVALID_ARGUMENT naming `options.hasher` otherwise.
 */
export function resolveHasher(hasher: unknown): BlockHasher {
  if (hasher === undefined) return fastBlockHasher;
  const candidate = hasher as Partial<BlockHasher> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.digest !== 'function' ||
    typeof candidate.name !== 'string' ||
    typeof candidate.words !== 'number' ||
    !Number.isInteger(candidate.words) ||
    candidate.words < 1 ||
    candidate.words > 16
  ) {
    throw invalidArgument('options.hasher', hasher, 'a BlockHasher ({ name, words in [1, 16], digest() })');
  }
  return candidate as BlockHasher;
}

/** Words of a string key (UTF-8 bytes packed little-endian, byte length first) or of given words. */
function keyWords(value: unknown, name: string, allowNumber: boolean): Uint32Array {
  if (value instanceof Uint32Array) {
    const out = new Uint32Array(value.length + 1);
    out[0] = value.length | 0x80000000; // tagged: words, not a string
    out.set(value, 1);
    return out;
  }
  if (typeof value === 'number' && allowNumber) {
    if (!Number.isSafeInteger(value)) {
      throw invalidArgument(name, value, 'a safe integer or a string');
    }
    return new Uint32Array([0x40000000, value >>> 0, Math.floor(value / 0x100000000) >>> 0]);
  }
  if (typeof value !== 'string') {
    throw invalidArgument(name, value, 'a string or a Uint32Array');
  }
  const bytes = encoder.encode(value);
  const out = new Uint32Array(1 + Math.ceil(bytes.length / 4));
  out[0] = bytes.length;
  for (let i = 0; i < bytes.length; i += 1) out[1 + (i >> 2)]! |= bytes[i]! << ((i & 3) * 8);
  return out;
}

/** One validated multimodal input with its hash already reduced to the hasher's width. */
interface PreparedMultimodal {
  readonly offset: number;
  readonly length: number;
  readonly digest: Uint32Array;
}

/**
 * The per-request part of the chain: the root digest (from salt and adapter) and the multimodal
 * inputs, validated once. Used by {@link blockHashChain} and the KV cache manager.
 */
export class ChainKeys {
  /** The digest that plays block 0's parent. */
  readonly root: Uint32Array;
  /** Multimodal inputs sorted by offset. */
  readonly multimodal: readonly PreparedMultimodal[];
  /** The hasher the digests are made with. */
  readonly hasher: BlockHasher;

  /**
   * @throws MemError INVALID_ARGUMENT for malformed extra keys.
   */
  constructor(hasher: BlockHasher, extraKeys: unknown) {
    this.hasher = hasher;
    const keys = assertOptions<ExtraKeys>(extraKeys, 'extraKeys');
    this.root = new Uint32Array(hasher.words);
    const hasSalt = keys.salt !== undefined;
    const hasAdapter = keys.adapterId !== undefined;
    if (hasSalt || hasAdapter) {
      const salt = hasSalt ? keyWords(keys.salt, 'extraKeys.salt', false) : new Uint32Array(0);
      const adapter = hasAdapter ? keyWords(keys.adapterId, 'extraKeys.adapterId', true) : new Uint32Array(0);
      const message = new Uint32Array(3 + salt.length + adapter.length);
      message[0] = ROOT_TAG;
      message[1] = hasSalt ? salt.length : 0xffffffff;
      message.set(salt, 2);
      message[2 + salt.length] = hasAdapter ? adapter.length : 0xffffffff;
      message.set(adapter, 3 + salt.length);
      hasher.digest(message, message.length, this.root, 0);
    }
    this.multimodal = prepareMultimodal(hasher, keys.multimodal);
  }
}

function prepareMultimodal(hasher: BlockHasher, inputs: unknown): PreparedMultimodal[] {
  if (inputs === undefined) return [];
  if (!Array.isArray(inputs)) {
    throw invalidArgument('extraKeys.multimodal', inputs, 'an array');
  }
  const prepared = inputs.map((input: unknown, index) => {
    const name = `extraKeys.multimodal[${index}]`;
    if (input === undefined) throw invalidArgument(name, input, 'an object');
    const item = assertOptions<MultimodalInput>(input, name);
    const offset = assertSize(item.offset, `${name}.offset`);
    const length = assertInteger(item.length, `${name}.length`, { min: 1 });
    const words = keyWords(item.hash, `${name}.hash`, false);
    const digest = new Uint32Array(hasher.words);
    hasher.digest(words, words.length, digest, 0);
    return { offset, length, digest };
  });
  return prepared.sort((a, b) => a.offset - b.offset);
}

/**
 * Hashes full blocks `[from, to)` of `tokens` into `out` (block `i` at `out[i * W]`), where block
 * `from - 1`'s digest is already in `out` (or `from` is 0). `scratch` must hold at least
 * {@link chainScratchWords} words. Cost: O((to - from) * blockSize).
 * Hot path of prefix caching: no allocation, no validation (callers validate).
 */
export function hashBlocks(
  keys: ChainKeys,
  tokens: Uint32Array,
  blockSize: number,
  from: number,
  to: number,
  out: Uint32Array,
  scratch: Uint32Array,
): void {
  const hasher = keys.hasher;
  const words = hasher.words;
  const multimodal = keys.multimodal;
  for (let block = from; block < to; block += 1) {
    if (block === 0) scratch.set(keys.root, 0);
    else scratch.set(out.subarray((block - 1) * words, block * words), 0);
    const start = block * blockSize;
    scratch.set(tokens.subarray(start, start + blockSize), words);
    let length = words + blockSize;
    const countAt = length;
    length += 1;
    let count = 0;
    for (let m = 0; m < multimodal.length; m += 1) {
      const item = multimodal[m]!;
      if (item.offset >= start + blockSize) break;
      if (item.offset + item.length <= start) continue;
      if (length + 2 + words > scratch.length) break; // bounded by chainScratchWords; never hit
      scratch[length] = (item.offset - start) | 0;
      scratch[length + 1] = item.length;
      scratch.set(item.digest, length + 2);
      length += 2 + words;
      count += 1;
    }
    scratch[countAt] = count;
    hasher.digest(scratch, length, out, block * words);
  }
}

/** The scratch size {@link hashBlocks} needs for a given hasher, block size and extra keys. */
export function chainScratchWords(keys: ChainKeys, blockSize: number): number {
  return keys.hasher.words + blockSize + 1 + keys.multimodal.length * (2 + keys.hasher.words);
}

/**
 * Computes the chained digests of every full block of `tokens`.
 * Returns `floor(tokens.length / blockSize) * hasher.words` words: block `i`'s digest is
 * `result.subarray(i * W, (i + 1) * W)`. The trailing partial block is dropped.
 *
 * Cost: O(tokens.length) plus one digest per block.
 * @throws MemError INVALID_ARGUMENT if a token is not an integer in [0, 2^32), `blockSize` is not an
 * integer in [1, 65536], or the hasher or extra keys are malformed.
 *
 * @example
 * ```ts
 * import { blockHashChain } from '@mem/paged-kv';
 * const a = blockHashChain([1, 2, 3, 4, 5, 6, 7, 8], 4);
 * const b = blockHashChain([1, 2, 3, 4, 9, 9, 9, 9], 4);
 * a.length; // 8: two blocks of 4 words
 * a[0] === b[0]; // true: the first blocks agree
 * ```
 */
export function blockHashChain(
  tokens: ArrayLike<number>,
  blockSize: number,
  options: BlockHashChainOptions = {},
): Uint32Array {
  const ids = copyTokenIds(tokens, 'tokens');
  assertInteger(blockSize, 'blockSize', { min: 1, max: 65536 });
  const opts = assertOptions<BlockHashChainOptions>(options, 'options');
  const hasher = resolveHasher(opts.hasher);
  const keys = new ChainKeys(hasher, opts.extraKeys);
  const blocks = Math.floor(ids.length / blockSize);
  const out = new Uint32Array(blocks * hasher.words);
  hashBlocks(keys, ids, blockSize, 0, blocks, out, new Uint32Array(chainScratchWords(keys, blockSize)));
  return out;
}

/**
 * Renders one digest as lowercase hex (for logs and debugging).
 * Cost: O(words).
 * @throws MemError INVALID_ARGUMENT if `digests` is not a Uint32Array holding digest `index`.
 *
 * @example
 * ```ts
 * import { blockHashChain, formatBlockHash } from '@mem/paged-kv';
 * formatBlockHash(blockHashChain([1, 2, 3, 4], 4), 0, 4); // 32 hex digits
 * ```
 */
export function formatBlockHash(digests: Uint32Array, index: number, words: number): string {
  if (!(digests instanceof Uint32Array)) {
    throw invalidArgument('digests', digests, 'a Uint32Array');
  }
  assertInteger(words, 'words', { min: 1, max: 16 });
  assertInteger(index, 'index', { min: 0, max: Math.floor(digests.length / words) - 1 });
  let text = '';
  for (let i = 0; i < words; i += 1) text += digests[index * words + i]!.toString(16).padStart(8, '0');
  return text;
}
