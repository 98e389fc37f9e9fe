import { describe, expect, it } from 'vitest';
import { blockChecksum } from './block-checksum.js';

const WORDS = Uint32Array.from({ length: 4099 }, (_, i) => Math.imul(i + 1, 0x9e3779b1) >>> 0);

describe('blockChecksum', () => {
  it('gives the values of the stored format, whatever the range length modulo the unrolled loop', () => {
    // The value format's checksums: a change here turns every stored block into a miss (and needs a new format version).
    expect(blockChecksum(WORDS, 0, 4099)).toBe(0xe31f96b3);
    expect(blockChecksum(WORDS, 2, 4099)).toBe(0xf5d8d2f5);
    expect(blockChecksum(WORDS, 5, 21)).toBe(0xe9210e90);
    expect(blockChecksum(WORDS, 0, 0)).toBe(0xf3b72f31);
    expect(blockChecksum(WORDS, 3, 10)).toBe(0xee2b7e74);
  });

  it('changes when any one word changes, in every lane and in the tail', () => {
    for (const length of [7, 8, 12, 13, 19]) {
      const words = WORDS.slice(0, length);
      const sum = blockChecksum(words, 0, length);
      for (let i = 0; i < length; i += 1) {
        for (const flip of [1, 0x80000000, 0xffffffff]) {
          words[i]! ^= flip;
          expect(blockChecksum(words, 0, length), `length ${length}, word ${i}`).not.toBe(sum);
          words[i]! ^= flip;
        }
      }
      expect(blockChecksum(words, 0, length - 1)).not.toBe(sum); // truncated
    }
  });
});
