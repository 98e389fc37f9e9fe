/**
 * The content-hash index of a `BlockAllocator`: which block carries which digest, for
 * prefix caching. Digests of `words` 32-bit words are stored per block; the index is an
 * open-addressing table of block numbers (linear probing, backward-shift deletion so no
 * tombstones accumulate, load at most 1/2), so a lookup is O(1) expected and allocation-free.
 *
 * This module is browser compatible.
 * @module
 */
/** Digests per block and the table over them. */
export class HashIndex {
  /** Digest width in 32-bit words. */
  readonly words: number;
  /** How many blocks carry a digest. */
  size = 0;
  readonly #digests: Uint32Array;
  /** Slot -> block carrying the digest homed near it, or -1 when empty. */
  readonly #slots: Int32Array;
  readonly #mask: number;

  /** An empty index over `capacity` blocks. Cost: O(capacity), `4 * (words + 2..4)` bytes per block. */
  constructor(capacity: number, words: number) {
    this.words = words;
    this.#digests = new Uint32Array(capacity * words);
    let size = 8;
    while (size < capacity * 2) size *= 2;
    this.#slots = new Int32Array(size).fill(-1);
    this.#mask = size - 1;
  }

  /** The block carrying the digest at `hashes[offset..offset + words)`, or -1. Cost: O(1) expected. */
  find(hashes: Uint32Array, offset: number): number {
    const words = this.words;
    const digests = this.#digests;
    const slots = this.#slots;
    const mask = this.#mask;
    for (let slot = this.#home(hashes, offset); ; slot = (slot + 1) & mask) {
      const block = slots[slot]!;
      if (block < 0) return -1;
      const base = block * words;
      let equal = true;
      for (let w = 0; w < words; w += 1) {
        if (digests[base + w] !== hashes[offset + w]) {
          equal = false;
          break;
        }
      }
      if (equal) return block;
    }
  }

  /** Tags `block` (which carries no digest) with the digest at `hashes[offset..)`. Cost: O(1) expected. */
  insert(block: number, hashes: Uint32Array, offset: number): void {
    const words = this.words;
    this.#digests.set(hashes.subarray(offset, offset + words), block * words);
    const slots = this.#slots;
    const mask = this.#mask;
    let slot = this.#home(this.#digests, block * words);
    while (slots[slot]! >= 0) slot = (slot + 1) & mask;
    slots[slot] = block;
    this.size += 1;
  }

  /** Drops `block`'s digest (backward-shift deletion keeps probe chains intact). Cost: O(1) expected. */
  remove(block: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    const words = this.words;
    let hole = this.#home(this.#digests, block * words);
    while (slots[hole] !== block) hole = (hole + 1) & mask;
    for (let probe = (hole + 1) & mask; ; probe = (probe + 1) & mask) {
      const moved = slots[probe]!;
      if (moved < 0) break;
      const home = this.#home(this.#digests, moved * words);
      // `moved` may fill the hole unless its home lies cyclically in (hole, probe].
      const inRange = hole <= probe ? home > hole && home <= probe : home > hole || home <= probe;
      if (!inRange) {
        slots[hole] = moved;
        hole = probe;
      }
    }
    slots[hole] = -1;
    this.size -= 1;
  }

  /** A copy of the digest `block` carries (the caller checks that it carries one). Cost: O(words). */
  digestOf(block: number): Uint32Array {
    return this.#digests.slice(block * this.words, (block + 1) * this.words);
  }

  #home(digests: Uint32Array, offset: number): number {
    // Re-mix the first two words so that a weak user-supplied hasher still spreads over slots.
    let h = (digests[offset]! ^ Math.imul(digests[offset + (this.words > 1 ? 1 : 0)]!, 0x9e3779b1)) | 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    return (h ^ (h >>> 13)) & this.#mask;
  }
}
