import { describe, expect, it } from 'vitest';
import { fastBlockHasher, sha256BlockHasher, type BlockHasher } from './block-hasher.js';
import { blockHashChain, formatBlockHash } from './block-hash-chain.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

const digestAt = (chain: Uint32Array, i: number, words = 4): string => formatBlockHash(chain, i, words);

describe('blockHashChain: the seed cases', () => {
  it('gives one digest per full block, different for different blocks', () => {
    const chain = blockHashChain([1, 2, 3, 4, 5, 6, 7, 8], 4);
    expect(chain.length).toBe(8);
    expect(digestAt(chain, 0)).not.toBe(digestAt(chain, 1));
  });

  it('gives equal digests to an equal prefix and different ones after a difference', () => {
    const a = blockHashChain([10, 20, 30, 40, 50, 60, 70, 80], 4);
    const b = blockHashChain([10, 20, 30, 40, 99, 99, 99, 99], 4);
    expect(digestAt(a, 0)).toBe(digestAt(b, 0));
    expect(digestAt(a, 1)).not.toBe(digestAt(b, 1));
  });

  it('drops a trailing partial block', () => {
    expect(blockHashChain([1, 2, 3, 4, 5, 6, 7], 4).length).toBe(4);
    expect(blockHashChain([1, 2, 3], 4).length).toBe(0);
  });
});

describe('blockHashChain: chaining and extra keys', () => {
  it('chains: an equal block after a different one gets a different digest', () => {
    const a = blockHashChain([1, 1, 1, 1, 5, 5, 5, 5], 4);
    const b = blockHashChain([2, 2, 2, 2, 5, 5, 5, 5], 4);
    expect(digestAt(a, 1)).not.toBe(digestAt(b, 1));
  });

  it('is deterministic and accepts arrays and Uint32Arrays alike', () => {
    const tokens = Array.from({ length: 64 }, (_, i) => (i * 7919) % 50000);
    expect([...blockHashChain(tokens, 16)]).toEqual([...blockHashChain(new Uint32Array(tokens), 16)]);
  });

  it('keeps tenants with different salts from ever sharing a block, and equal salts sharing', () => {
    const tokens = [1, 2, 3, 4, 5, 6, 7, 8];
    const plain = blockHashChain(tokens, 4);
    const alice = blockHashChain(tokens, 4, { extraKeys: { salt: 'alice' } });
    const bob = blockHashChain(tokens, 4, { extraKeys: { salt: 'bob' } });
    const alice2 = blockHashChain(tokens, 4, { extraKeys: { salt: 'alice' } });
    for (let i = 0; i < 2; i += 1) {
      expect(digestAt(alice, i)).not.toBe(digestAt(bob, i));
      expect(digestAt(alice, i)).not.toBe(digestAt(plain, i));
      expect(digestAt(alice, i)).toBe(digestAt(alice2, i));
    }
    const words = blockHashChain(tokens, 4, { extraKeys: { salt: new Uint32Array([1, 2]) } });
    expect(digestAt(words, 0)).not.toBe(digestAt(plain, 0));
  });

  it('separates adapters, and a string id from the same number', () => {
    const tokens = [1, 2, 3, 4];
    const a = digestAt(blockHashChain(tokens, 4, { extraKeys: { adapterId: 'lora-a' } }), 0);
    const b = digestAt(blockHashChain(tokens, 4, { extraKeys: { adapterId: 'lora-b' } }), 0);
    const n = digestAt(blockHashChain(tokens, 4, { extraKeys: { adapterId: 7 } }), 0);
    const s = digestAt(blockHashChain(tokens, 4, { extraKeys: { adapterId: '7' } }), 0);
    expect(new Set([a, b, n, s]).size).toBe(4);
    // salt "x" with no adapter differs from adapter "x" with no salt
    const salt = digestAt(blockHashChain(tokens, 4, { extraKeys: { salt: 'x' } }), 0);
    const adapter = digestAt(blockHashChain(tokens, 4, { extraKeys: { adapterId: 'x' } }), 0);
    expect(salt).not.toBe(adapter);
  });

  it('puts a multimodal input into the blocks it overlaps and everything after, not before', () => {
    const tokens = Array.from({ length: 16 }, () => 0);
    const cat = blockHashChain(tokens, 4, { extraKeys: { multimodal: [{ hash: 'cat', offset: 5, length: 6 }] } });
    const dog = blockHashChain(tokens, 4, { extraKeys: { multimodal: [{ hash: 'dog', offset: 5, length: 6 }] } });
    const moved = blockHashChain(tokens, 4, { extraKeys: { multimodal: [{ hash: 'cat', offset: 6, length: 6 }] } });
    expect(digestAt(cat, 0)).toBe(digestAt(dog, 0));
    for (let i = 1; i < 4; i += 1) expect(digestAt(cat, i)).not.toBe(digestAt(dog, i));
    expect(digestAt(cat, 1)).not.toBe(digestAt(moved, 1));
  });

  it('uses SHA-256 digests of 8 words with the cryptographic hasher', () => {
    const chain = blockHashChain([1, 2, 3, 4, 5, 6, 7, 8], 4, { hasher: sha256BlockHasher });
    expect(chain.length).toBe(16);
    expect(formatBlockHash(chain, 0, 8)).toMatch(/^[0-9a-f]{64}$/);
    const other = blockHashChain([1, 2, 3, 4, 5, 6, 7, 9], 4, { hasher: sha256BlockHasher });
    expect(formatBlockHash(chain, 0, 8)).toBe(formatBlockHash(other, 0, 8));
    expect(formatBlockHash(chain, 1, 8)).not.toBe(formatBlockHash(other, 1, 8));
  });

  it('gives no collision among 200,000 distinct blocks and flips about half the bits for a one-bit change', () => {
    const seen = new Set<string>();
    const out = new Uint32Array(4);
    const block = new Uint32Array(21);
    let flipped = 0;
    for (let i = 0; i < 200_000; i += 1) {
      block[4] = i;
      block[5] = i >>> 3;
      fastBlockHasher.digest(block, block.length, out, 0);
      seen.add(`${out[0]},${out[1]},${out[2]},${out[3]}`);
      if (i < 1000) {
        const a = [...out];
        block[6] = 1 << (i % 32);
        fastBlockHasher.digest(block, block.length, out, 0);
        block[6] = 0;
        for (let w = 0; w < 4; w += 1) {
          let x = (a[w]! ^ out[w]!) >>> 0;
          while (x) {
            flipped += x & 1;
            x >>>= 1;
          }
        }
      }
    }
    expect(seen.size).toBe(200_000);
    const average = flipped / 1000;
    expect(average).toBeGreaterThan(56);
    expect(average).toBeLessThan(72);
  });

  it('works with a custom hasher of any width', () => {
    const xor: BlockHasher = {
      name: 'xor',
      words: 1,
      digest(input, length, out, offset) {
        let h = 0x811c9dc5;
        for (let i = 0; i < length; i += 1) h = Math.imul(h ^ input[i]!, 0x01000193);
        out[offset] = h;
      },
    };
    expect(blockHashChain([1, 2, 3, 4, 5, 6, 7, 8], 4, { hasher: xor }).length).toBe(2);
  });
});

describe('blockHashChain: bad input', () => {
  it.each([
    ['a negative token', [1, -1]],
    ['a fractional token', [1.5]],
    ['a token of 2^32', [2 ** 32]],
    ['NaN', [Number.NaN]],
    ['a string token', ['1']],
    ['not an array', 5],
    ['null', null],
  ])('rejects tokens with %s', (_label, tokens) => {
    expectMemError(() => blockHashChain(tokens as never, 4), 'INVALID_ARGUMENT');
  });

  it.each([
    ['zero', 0],
    ['negative', -4],
    ['fractional', 2.5],
    ['NaN', Number.NaN],
    ['Infinity', Infinity],
    ['huge', 2 ** 20],
    ['a string', '4'],
  ])('rejects a block size that is %s', (_label, blockSize) => {
    expectMemError(() => blockHashChain([1, 2], blockSize as number), 'INVALID_ARGUMENT');
  });

  it.each([
    ['a hasher without digest', { hasher: { name: 'x', words: 2 } }],
    ['a hasher of 0 words', { hasher: { name: 'x', words: 0, digest() {} } }],
    ['a numeric salt', { extraKeys: { salt: 5 } }],
    ['an object salt', { extraKeys: { salt: {} } }],
    ['a fractional adapter id', { extraKeys: { adapterId: 1.5 } }],
    ['multimodal that is not an array', { extraKeys: { multimodal: {} } }],
    ['a multimodal input of length 0', { extraKeys: { multimodal: [{ hash: 'a', offset: 0, length: 0 }] } }],
    ['a multimodal input at a negative offset', { extraKeys: { multimodal: [{ hash: 'a', offset: -1, length: 1 }] } }],
    ['a multimodal input without hash', { extraKeys: { multimodal: [{ offset: 0, length: 1 }] } }],
    ['a multimodal input that is undefined', { extraKeys: { multimodal: [undefined] } }],
    ['extra keys that are a string', { extraKeys: 'salt' }],
    ['options that are a number', 4],
  ])('rejects %s', (_label, options) => {
    expectMemError(() => blockHashChain([1, 2, 3, 4], 4, options as never), 'INVALID_ARGUMENT');
  });

  it('rejects a formatBlockHash index past the digests', () => {
    expectMemError(() => formatBlockHash(new Uint32Array(4), 1, 4), 'INVALID_ARGUMENT');
    expectMemError(() => formatBlockHash([1] as never, 0, 1), 'INVALID_ARGUMENT');
    expect(formatBlockHash(new Uint32Array([255]), 0, 1)).toBe('000000ff');
  });
});

describe('fastBlockHasher: bad input', () => {
  it.each([
    ['an input that is not a Uint32Array', () => fastBlockHasher.digest([1] as never, 1, new Uint32Array(4), 0)],
    ['a length past the input', () => fastBlockHasher.digest(new Uint32Array(1), 2, new Uint32Array(4), 0)],
    ['an out too small', () => fastBlockHasher.digest(new Uint32Array(1), 1, new Uint32Array(3), 0)],
    ['an offset that overruns out', () => fastBlockHasher.digest(new Uint32Array(1), 1, new Uint32Array(4), 2)],
  ])('rejects %s with INVALID_ARGUMENT', (_label, call) => {
    expectMemError(call, 'INVALID_ARGUMENT');
  });
});
