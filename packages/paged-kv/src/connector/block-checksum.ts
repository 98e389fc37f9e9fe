/**
 * The checksum of a stored KV block value: four independent multiply-xor lanes over 32-bit words
 * (lane `k` takes words `k, k + 4, k + 8, ...`), folded into 32 bits. Each lane step is a bijection
 * of its state, so any single changed word changes the result; it is meant against corruption and
 * truncation in storage, not against someone forging values (the chained hash in the key and the
 * header guard the identity).
 * Hot path of every load and save: a few operations per word, no allocation. The loop takes two
 * rounds of the four lanes per iteration: the same result as one round per iteration, with half
 * the loop overhead and two independent multiplies per lane in flight.
 *
 * This module is browser compatible.
 * @module
 */

/** The checksum of `words[from .. to)`. Cost: O(to - from). */
export function blockChecksum(words: Uint32Array, from: number, to: number): number {
  let a = 0x243f6a88;
  let b = 0x85a308d3;
  let c = 0x13198a2e;
  let d = 0x03707344;
  let i = from;
  for (; i + 8 <= to; i += 8) {
    a = Math.imul(a ^ words[i]!, 0x9e3779b1);
    b = Math.imul(b ^ words[i + 1]!, 0x85ebca77);
    c = Math.imul(c ^ words[i + 2]!, 0xc2b2ae3d);
    d = Math.imul(d ^ words[i + 3]!, 0x27d4eb2f);
    a = Math.imul(a ^ words[i + 4]!, 0x9e3779b1);
    b = Math.imul(b ^ words[i + 5]!, 0x85ebca77);
    c = Math.imul(c ^ words[i + 6]!, 0xc2b2ae3d);
    d = Math.imul(d ^ words[i + 7]!, 0x27d4eb2f);
  }
  if (i + 4 <= to) {
    a = Math.imul(a ^ words[i]!, 0x9e3779b1);
    b = Math.imul(b ^ words[i + 1]!, 0x85ebca77);
    c = Math.imul(c ^ words[i + 2]!, 0xc2b2ae3d);
    d = Math.imul(d ^ words[i + 3]!, 0x27d4eb2f);
    i += 4;
  }
  for (; i < to; i += 1) a = Math.imul(a ^ words[i]!, 0x9e3779b1);
  const folded = a ^ Math.imul(b ^ (b >>> 15), 3) ^ Math.imul(c ^ (c >>> 13), 5) ^ Math.imul(d ^ (d >>> 16), 7);
  return (folded ^ Math.imul(to - from, 0x165667b1)) >>> 0;
}
