/**
 * The documented error codes, one test per method and code: each `@throws MemError CODE` of an
 * exported member that no behaviour spec produces on its own is produced here, and the call
 * changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { BlockAllocator } from './block-allocator.js';
import { syntheticChatTrace } from './reference/chat-trace.js';
import { KvCacheManager } from './kv-cache-manager.js';
import type { KvSequence } from './kv-sequence.js';
import { KvStore } from './kv-store.js';
import { gatherContiguous } from './reference/contiguous-attention.js';
import { PagedSequence } from './paged-sequence.js';
import { sha256, sha256Words } from './sha256.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

const NOT_BLOCKS: unknown[] = [-1, 1.5, Number.NaN, 8, '0', null, undefined, {}];

describe('BlockAllocator', () => {
  it('acquire throws INVALID_ARGUMENT for anything but a block index, and acquires nothing', () => {
    const blocks = new BlockAllocator(8);
    const b = blocks.allocate();
    for (const value of NOT_BLOCKS) expectMemError(() => blocks.acquire(value as number), 'INVALID_ARGUMENT');
    expect(blocks.refCount(b)).toBe(1);
  });

  it('blockHash throws INVALID_ARGUMENT for anything but a block index', () => {
    const blocks = new BlockAllocator(8);
    for (const value of NOT_BLOCKS) expectMemError(() => blocks.blockHash(value as number), 'INVALID_ARGUMENT');
    expect(blocks.blockHash(0)).toBeNull();
  });
});

describe('sha256', () => {
  it('sha256 throws INVALID_ARGUMENT for anything but a Uint8Array', () => {
    for (const value of [null, 'abc', [1, 2], new Uint16Array(2)]) {
      expectMemError(() => sha256(value as never), 'INVALID_ARGUMENT');
    }
  });

  it('sha256Words throws INVALID_ARGUMENT for arrays that are not Uint32Arrays or ranges that overrun them', () => {
    const input = new Uint32Array(4);
    const out = new Uint32Array(8);
    for (const call of [
      () => sha256Words([1, 2] as never, 2, out, 0),
      () => sha256Words(input, 5, out, 0),
      () => sha256Words(input, -1, out, 0),
      () => sha256Words(input, 4, new Uint32Array(7), 0),
      () => sha256Words(input, 4, out, 1),
      () => sha256Words(input, 4, new Int32Array(8) as never, 0),
    ]) {
      expectMemError(call, 'INVALID_ARGUMENT');
    }
    const before = [...out];
    sha256Words(input, 4, out, 0);
    expect([...out]).not.toEqual(before);
  });
});

describe('PagedSequence', () => {
  const make = () => {
    const blocks = new BlockAllocator(8);
    return { blocks, seq: new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 2 }) };
  };

  it('ensureCapacity and ensureWritable throw USE_AFTER_RELEASE after release', () => {
    const { blocks, seq } = make();
    seq.appendTokens(3);
    seq.release();
    expectMemError(() => seq.ensureCapacity(4), 'USE_AFTER_RELEASE');
    expectMemError(() => seq.ensureWritable(1), 'USE_AFTER_RELEASE');
    expect(blocks.freeCount).toBe(8);
  });

  it('ensureWritable throws LIMIT_EXCEEDED past maxBlocksPerSequence and takes nothing', () => {
    const { blocks, seq } = make();
    seq.appendTokens(3);
    expectMemError(() => seq.ensureWritable(6), 'LIMIT_EXCEEDED');
    expect(blocks.freeCount).toBe(7);
    expect(seq.writableLength).toBe(3);
  });

  it('attachCachedBlock throws LIMIT_EXCEEDED when the block table is full, keeping the caller s reference', () => {
    const { blocks, seq } = make();
    seq.attachCachedBlock(blocks.allocate());
    seq.attachCachedBlock(blocks.allocate());
    const third = blocks.allocate();
    expectMemError(() => seq.attachCachedBlock(third), 'LIMIT_EXCEEDED');
    expect(seq.blockCount).toBe(2);
    expect(blocks.refCount(third)).toBe(1);
  });

  it('release throws DOUBLE_FREE the second time', () => {
    const { seq } = make();
    seq.release();
    expectMemError(() => seq.release(), 'DOUBLE_FREE');
  });
});

describe('KvCacheManager', () => {
  it('reserve throws EXHAUSTED when too few blocks are free, and reserves nothing', () => {
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 4 });
    const seq = kv.createSequence({ tokens: [1, 2, 3] });
    kv.admit(seq);
    kv.markComputed(seq, 3);
    kv.appendTokens(
      seq,
      Array.from({ length: 13 }, (_, i) => i),
    );
    const other = kv.createSequence({ tokens: [9, 9, 9, 9, 9] });
    kv.admit(other); // 2 blocks: 1 left, the reservation needs 3
    const before = { free: kv.allocator.freeCount, blocks: seq.blockCount, writable: seq.paged.writableLength };
    const error = expectMemError(() => kv.reserve(seq), 'EXHAUSTED');
    expect(error.message).toContain('capacity 4, free 1');
    expect({ free: kv.allocator.freeCount, blocks: seq.blockCount, writable: seq.paged.writableLength }).toEqual(
      before,
    );
    expect(kv.tryReserve(seq)).toBe(false);
  });

  it('every method that takes a sequence throws INVALID_ARGUMENT for anything but a KvSequence', () => {
    const kv = new KvCacheManager({ numBlocks: 4, blockSize: 4 });
    for (const value of [{}, null, 1, kv.createSequence({ tokens: [1] }).paged]) {
      const seq = value as unknown as KvSequence;
      for (const call of [
        () => kv.blocksToAdmit(seq),
        () => kv.admit(seq),
        () => kv.tryAdmit(seq),
        () => kv.reserve(seq),
        () => kv.tryReserve(seq),
        () => kv.markComputed(seq, 0),
        () => kv.appendTokens(seq, [1]),
        () => kv.fork(seq),
        () => kv.preempt(seq),
        () => kv.release(seq),
      ]) {
        expectMemError(call, 'INVALID_ARGUMENT');
      }
    }
    expect(kv.allocator.inUseCount).toBe(0);
  });
});

describe('KvStore and attention', () => {
  it('new KvStore throws EXHAUSTED when the runtime cannot allocate its memory', () => {
    // 2 x 4096 layers x 2^24 blocks x 256 elements x 4 bytes = 2^47 bytes: valid, but not allocatable.
    const options = { numLayers: 4096, numBlocks: 1 << 24, numKvHeads: 4, blockSize: 16, headDim: 4 };
    const error = expectMemError(() => new KvStore(options), 'EXHAUSTED');
    expect(error.message).toContain(String(2 ** 47));
  });

  it('values throws INVALID_ARGUMENT for a layer out of range', () => {
    const store = new KvStore({ numLayers: 2, numBlocks: 2, numKvHeads: 1, blockSize: 2, headDim: 2 });
    for (const layer of [-1, 2, 0.5, Number.NaN, '1']) {
      expectMemError(() => store.values(layer as number), 'INVALID_ARGUMENT');
    }
    expect(store.values(1).length).toBe(8);
  });

  it('gatherContiguous throws INVALID_ARGUMENT for a bad store, layer, sequence or length', () => {
    const store = new KvStore({ numLayers: 1, numBlocks: 4, numKvHeads: 1, blockSize: 2, headDim: 2 });
    const table = { blockTable: new Uint32Array([1, 2]), blockCount: 2, blockSize: 2 };
    for (const call of [
      () => gatherContiguous({} as never, 0, table, 1),
      () => gatherContiguous(store, 1, table, 1),
      () => gatherContiguous(store, 0, {} as never, 1),
      () => gatherContiguous(store, 0, { ...table, blockSize: 4 }, 1),
      () => gatherContiguous(store, 0, table, 0),
      () => gatherContiguous(store, 0, table, 5),
      () => gatherContiguous(store, 0, table, Number.NaN),
    ]) {
      expectMemError(call, 'INVALID_ARGUMENT');
    }
    expect(gatherContiguous(store, 0, table, 4).maxLength).toBe(4);
  });
});

describe('syntheticChatTrace', () => {
  it.each([
    ['a negative seed', { seed: -1 }],
    ['a seed of 2^32', { seed: 2 ** 32 }],
    ['zero conversations', { seed: 1, conversations: 0 }],
    ['a reversed range', { seed: 1, turns: [6, 2] }],
    ['a range that is not a pair', { seed: 1, userTokens: [16] }],
    ['options that are not an object', 5],
  ])('syntheticChatTrace throws INVALID_ARGUMENT for %s', (_label, options) => {
    expectMemError(() => syntheticChatTrace(options as never), 'INVALID_ARGUMENT');
  });
});
