/**
 * SHA-256 (FIPS 180-4) in plain TypeScript, synchronous, with no dependency: the cryptographic
 * block hasher for untrusted multi-tenant prefix caching. WebCrypto's `subtle.digest` is
 * asynchronous and `node:crypto` does not exist in browsers, so the prefix cache (which hashes on
 * its admission path) uses this implementation instead.
 *
 * This module is browser compatible.
 * @module
 */

import { assertInteger, assertRange, invalidArgument } from '@mem/types';

/**
 * Checks the arguments of a block digest function: `input[0..length)` and `out[outOffset..outOffset+words)`.
 * @throws MemError INVALID_ARGUMENT otherwise.
 */
export function assertDigestArguments(
  input: Uint32Array,
  length: number,
  out: Uint32Array,
  outOffset: number,
  words: number,
): void {
  if (!(input instanceof Uint32Array)) throw invalidArgument('input', input, 'a Uint32Array');
  if (!(out instanceof Uint32Array)) throw invalidArgument('out', out, 'a Uint32Array');
  assertInteger(length, 'length', { min: 0, max: input.length });
  assertRange(outOffset, words, out.length, 'out');
}

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

const INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/** Message schedule, reused by every call (the functions here are not re-entrant, and need not be). */
const W = new Uint32Array(64);

/** Compresses the 16 big-endian words in `W[0..16)` into `state`. */
function compress(state: Uint32Array): void {
  for (let t = 16; t < 64; t += 1) {
    const w15 = W[t - 15]!;
    const w2 = W[t - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[t] = (W[t - 16]! + s0 + W[t - 7]! + s1) | 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let t = 0; t < 64; t += 1) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + s1 + ch + K[t]! + W[t]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (s0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

const STATE = new Uint32Array(8);

/**
 * SHA-256 of a message given as 32-bit words, each word standing for its 4 bytes in big-endian
 * order (so `sha256Words(w)` equals `sha256` of the big-endian bytes of `w`). Writes the 8 digest
 * words (big-endian word order, as the standard prints them) to `out[outOffset..outOffset+8)`.
 *
 * Cost: O(length), one 64-round compression per 16 words.
 * @throws MemError INVALID_ARGUMENT if `input` or `out` is not a Uint32Array or a range overruns it.
 *
 * @example
 * ```ts
 * import { sha256Words } from '@mem/paged-kv/reference';
 * const out = new Uint32Array(8);
 * sha256Words(new Uint32Array([0x61626300]), 1, out, 0); // not "abc": a word is always 4 bytes
 * ```
 */
export function sha256Words(input: Uint32Array, length: number, out: Uint32Array, outOffset: number): void {
  assertDigestArguments(input, length, out, outOffset, 8);
  STATE.set(INITIAL);
  let i = 0;
  for (; i + 16 <= length; i += 16) {
    for (let t = 0; t < 16; t += 1) W[t] = input[i + t]!;
    compress(STATE);
  }
  // Tail: remaining words, the 0x80 marker word, zero padding, 64-bit bit length.
  const remaining = length - i;
  W.fill(0, 0, 16);
  for (let t = 0; t < remaining; t += 1) W[t] = input[i + t]!;
  W[remaining] = 0x80000000;
  if (remaining >= 14) {
    compress(STATE);
    W.fill(0, 0, 16);
  }
  const bits = length * 32;
  W[14] = Math.floor(bits / 0x100000000);
  W[15] = bits >>> 0;
  compress(STATE);
  for (let t = 0; t < 8; t += 1) out[outOffset + t] = STATE[t]!;
}

/**
 * SHA-256 of a byte string (for test vectors and for hashing extra keys given as bytes).
 * Cost: O(bytes.length).
 * @throws MemError INVALID_ARGUMENT if `bytes` is not a Uint8Array.
 *
 * @example
 * ```ts
 * import { sha256 } from '@mem/paged-kv';
 * const digest = sha256(new TextEncoder().encode('abc'));
 * // ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
 * ```
 */
export function sha256(bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw invalidArgument('bytes', bytes, 'a Uint8Array');
  }
  const length = bytes.length;
  const paddedWords = (((length + 8) >> 6) + 1) * 16;
  const words = new Uint32Array(paddedWords);
  for (let i = 0; i < length; i += 1) words[i >> 2]! |= bytes[i]! << (24 - (i & 3) * 8);
  words[length >> 2]! |= 0x80 << (24 - (length & 3) * 8);
  const bits = length * 8;
  words[paddedWords - 2] = Math.floor(bits / 0x100000000);
  words[paddedWords - 1] = bits >>> 0;
  STATE.set(INITIAL);
  for (let i = 0; i < paddedWords; i += 16) {
    for (let t = 0; t < 16; t += 1) W[t] = words[i + t]!;
    compress(STATE);
  }
  const digest = new Uint8Array(32);
  for (let t = 0; t < 8; t += 1) {
    const word = STATE[t]!;
    digest[t * 4] = word >>> 24;
    digest[t * 4 + 1] = (word >>> 16) & 0xff;
    digest[t * 4 + 2] = (word >>> 8) & 0xff;
    digest[t * 4 + 3] = word & 0xff;
  }
  return digest;
}
