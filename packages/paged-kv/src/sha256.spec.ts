import { describe, expect, it } from 'vitest';
import { MemError } from '@mem/types';
import { sha256, sha256Words } from './sha256.js';

const hex = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
const text = (value: string): Uint8Array => new TextEncoder().encode(value);

describe('sha256', () => {
  it.each([
    ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    [
      'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    ],
    [
      'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
      'cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1',
    ],
    ['The quick brown fox jumps over the lazy dog', 'd7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592'],
  ])('hashes %j to the FIPS 180-4 digest', (message, digest) => {
    expect(hex(sha256(text(message)))).toBe(digest);
  });

  it('hashes a million "a" to the published digest', () => {
    expect(hex(sha256(new Uint8Array(1_000_000).fill(0x61)))).toBe(
      'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
    );
  });

  it('hashes words as their big-endian bytes, at every length around the padding boundaries', () => {
    for (let length = 0; length <= 40; length += 1) {
      const words = new Uint32Array(length).map((_, i) => Math.imul(i + 1, 0x9e3779b1));
      const bytes = new Uint8Array(length * 4);
      words.forEach((word, i) => new DataView(bytes.buffer).setUint32(i * 4, word, false));
      const out = new Uint32Array(10);
      sha256Words(words, length, out, 1);
      const expected = sha256(bytes);
      const got = new Uint8Array(32);
      for (let i = 0; i < 8; i += 1) new DataView(got.buffer).setUint32(i * 4, out[1 + i]!, false);
      expect(hex(got), `length ${length}`).toBe(hex(expected));
      expect(out[0]).toBe(0);
      expect(out[9]).toBe(0);
    }
  });
});

describe('digest functions: bad input', () => {
  it.each([
    ['an input that is not a Uint32Array', () => sha256Words([1] as never, 1, new Uint32Array(8), 0)],
    ['a length past the input', () => sha256Words(new Uint32Array(2), 3, new Uint32Array(8), 0)],
    ['a negative length', () => sha256Words(new Uint32Array(2), -1, new Uint32Array(8), 0)],
    ['a fractional length', () => sha256Words(new Uint32Array(2), 1.5, new Uint32Array(8), 0)],
    ['an out too small', () => sha256Words(new Uint32Array(2), 2, new Uint32Array(7), 0)],
    ['an offset that overruns out', () => sha256Words(new Uint32Array(2), 2, new Uint32Array(8), 1)],
    ['a NaN offset', () => sha256Words(new Uint32Array(2), 2, new Uint32Array(8), Number.NaN)],
    ['bytes that are a string', () => sha256('abc' as never)],
    ['bytes that are null', () => sha256(null as never)],
  ])('rejects %s with INVALID_ARGUMENT', (_label, call) => {
    expect(call).toThrow(MemError);
    expect(() => call()).toThrow(/must/);
    const out = new Uint32Array(8);
    sha256Words(new Uint32Array([1]), 1, out, 0); // still works
    expect(out[0]).not.toBe(0);
  });
});
