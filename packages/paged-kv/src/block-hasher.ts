/**
 * Block hashers: the functions that turn one KV block's content (its parent's hash, its token ids
 * and its extra keys, all as 32-bit words) into a fixed-width digest of 32-bit words.
 *
 * Two are provided:
 * - {@link fastBlockHasher} (the default): 128 bits from four 32-bit lanes mixed with
 *   MurmurHash3's x86_128 round and finaliser. Non-cryptographic, O(words) with no allocation.
 *   Collision odds: for a cache holding `m` blocks, a lookup of new content matches an unrelated
 *   block with probability about `m / 2^128`; after `L` lookups the chance of any false hit is about
 *   `L * m / 2^128`, e.g. 10^15 lookups against 10^6 cached blocks gives 3e-18. A 64-bit digest
 *   would give `L * m / 2^64` = 5% for the same load, which is why the default is 128 bits. These
 *   odds hold for inputs that are not chosen to collide: someone who can choose the tokens (a
 *   tenant of a shared service) can construct collisions of any non-cryptographic hash, and then
 *   read another tenant's KV. Use {@link sha256BlockHasher} (or per-tenant salts) there.
 * - {@link sha256BlockHasher}: SHA-256, 256 bits, collisions infeasible; several times the cost of the default for
 *   a 16-token block, still small next to a prefill.
 *
 * This module is browser compatible.
 * @module
 */
import { assertDigestArguments, sha256Words } from './sha256.js';

/**
 * Hashes a message of 32-bit words into `words` 32-bit words. The prefix cache calls it once per
 * full block, with the parent's digest, the block's tokens and its extra keys as the message.
 * Implementations must be deterministic and synchronous; the first digest word should be well
 * mixed (the hash index buckets by it).
 */
export interface BlockHasher {
  /** A short name for logs and stats, e.g. `'murmur3-128'`. */
  readonly name: string;
  /** The digest width in 32-bit words (an integer in [1, 16]). */
  readonly words: number;
  /**
   * Hashes `input[0..length)` and writes `words` digest words to `out[outOffset..)`.
   * Must not keep references to its arguments; the provided hashers throw MemError
   * INVALID_ARGUMENT for arrays that are not Uint32Arrays or ranges that overrun them.
   */
  digest(input: Uint32Array, length: number, out: Uint32Array, outOffset: number): void;
}

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;
const SEED = 0x9747b28c;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * MurmurHash3 x86_128 over a message of 32-bit words (each word is one 4-byte chunk, little-endian,
 * so this is the x86_128 hash of the words' little-endian bytes with seed 0x9747b28c).
 * Hot path: called once per full block on admission and as blocks fill.
 */
function murmur128(input: Uint32Array, length: number, out: Uint32Array, outOffset: number): void {
  assertDigestArguments(input, length, out, outOffset, 4);
  let h1 = SEED;
  let h2 = SEED;
  let h3 = SEED;
  let h4 = SEED;
  const whole = length & ~3;
  let k1: number;
  let k2: number;
  let k3: number;
  let k4: number;
  for (let i = 0; i < whole; i += 4) {
    k1 = Math.imul(input[i]!, C1);
    k1 = Math.imul((k1 << 15) | (k1 >>> 17), C2);
    h1 ^= k1;
    h1 = (h1 << 19) | (h1 >>> 13);
    h1 = (h1 + h2) | 0;
    h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0;

    k2 = Math.imul(input[i + 1]!, C2);
    k2 = Math.imul((k2 << 16) | (k2 >>> 16), C3);
    h2 ^= k2;
    h2 = (h2 << 17) | (h2 >>> 15);
    h2 = (h2 + h3) | 0;
    h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;

    k3 = Math.imul(input[i + 2]!, C3);
    k3 = Math.imul((k3 << 17) | (k3 >>> 15), C4);
    h3 ^= k3;
    h3 = (h3 << 15) | (h3 >>> 17);
    h3 = (h3 + h4) | 0;
    h3 = (Math.imul(h3, 5) + 0x96cd1c35) | 0;

    k4 = Math.imul(input[i + 3]!, C4);
    k4 = Math.imul((k4 << 18) | (k4 >>> 14), C1);
    h4 ^= k4;
    h4 = (h4 << 13) | (h4 >>> 19);
    h4 = (h4 + h1) | 0;
    h4 = (Math.imul(h4, 5) + 0x32ac3b17) | 0;
  }
  const tail = length - whole;
  if (tail >= 3) {
    k3 = Math.imul(input[whole + 2]!, C3);
    k3 = Math.imul((k3 << 17) | (k3 >>> 15), C4);
    h3 ^= k3;
  }
  if (tail >= 2) {
    k2 = Math.imul(input[whole + 1]!, C2);
    k2 = Math.imul((k2 << 16) | (k2 >>> 16), C3);
    h2 ^= k2;
  }
  if (tail >= 1) {
    k1 = Math.imul(input[whole]!, C1);
    k1 = Math.imul((k1 << 15) | (k1 >>> 17), C2);
    h1 ^= k1;
  }
  const bytes = length * 4;
  h1 ^= bytes;
  h2 ^= bytes;
  h3 ^= bytes;
  h4 ^= bytes;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix32(h1);
  h2 = fmix32(h2);
  h3 = fmix32(h3);
  h4 = fmix32(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  out[outOffset] = h1;
  out[outOffset + 1] = h2;
  out[outOffset + 2] = h3;
  out[outOffset + 3] = h4;
}

/**
 * The default block hasher: 128-bit MurmurHash3 (x86_128) over 32-bit words. Fast and
 * non-cryptographic; see the module notes for its collision odds and when not to use it.
 * Cost: O(words), no allocation.
 *
 * @example
 * ```ts
 * import { KvCacheManager, fastBlockHasher } from '@mem/paged-kv';
 * const kv = new KvCacheManager({ numBlocks: 64, hasher: fastBlockHasher });
 * ```
 */
export const fastBlockHasher: BlockHasher = Object.freeze({
  name: 'murmur3-128',
  words: 4,
  digest: murmur128,
});

/**
 * The cryptographic block hasher: SHA-256 (256 bits) over the message words in big-endian byte
 * order. Use it when requests come from parties who could craft colliding token sequences, for
 * example the tenants of a shared service. Cost: O(words), one 64-round compression per 16 words, no allocation.
 *
 * @example
 * ```ts
 * import { KvCacheManager, sha256BlockHasher } from '@mem/paged-kv';
 * const kv = new KvCacheManager({ numBlocks: 64, hasher: sha256BlockHasher });
 * ```
 */
export const sha256BlockHasher: BlockHasher = Object.freeze({
  name: 'sha-256',
  words: 8,
  digest: sha256Words,
});
