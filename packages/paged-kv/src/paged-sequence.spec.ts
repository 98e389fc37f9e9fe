import { describe, expect, it, vi } from 'vitest';
import { MemError } from '@mem/types';
import { BlockAllocator } from './block-allocator.js';
import { PagedSequence } from './paged-sequence.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

const table = (seq: PagedSequence): number[] => [...seq.blockTable.subarray(0, seq.blockCount)];

describe('PagedSequence', () => {
  it('grows its block table on ensureCapacity and is idempotent', () => {
    const blocks = new BlockAllocator(8);
    const seq = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 4 });
    expect(seq.blockCount).toBe(0);
    seq.ensureCapacity(5);
    expect(table(seq)).toEqual([0, 1]);
    seq.ensureCapacity(8);
    seq.ensureCapacity(3);
    expect(table(seq)).toEqual([0, 1]);
    expect(seq.capacityTokens).toBe(8);
    expect(seq.length).toBe(0);
    expect(seq.blockTable.length).toBe(4);
    expect([...seq.blockTable.subarray(2)]).toEqual([0, 0]);
  });

  it('appends tokens, returning the first new position, and maps positions to slots', () => {
    const blocks = new BlockAllocator(8);
    blocks.allocate(); // so that the sequence's blocks are not 0, 1
    const seq = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 4 });
    expect(seq.appendTokens(3)).toBe(0);
    expect(seq.appendTokens(3)).toBe(3);
    expect(seq.length).toBe(6);
    expect(table(seq)).toEqual([1, 2]);
    expect(seq.slotOf(0)).toBe(4);
    expect(seq.slotOf(5)).toBe(9);
    expectMemError(() => seq.slotOf(8), 'INVALID_ARGUMENT');
  });

  it('throws a clear LIMIT_EXCEEDED past the maximum blocks per sequence, taking nothing', () => {
    const blocks = new BlockAllocator(8);
    const seq = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 2 });
    seq.appendTokens(8);
    const error = expectMemError(() => seq.appendTokens(1), 'LIMIT_EXCEEDED');
    expect(error.message).toBe('a sequence of 9 tokens needs 3 blocks of 4 tokens, more than maxBlocksPerSequence 2');
    expectMemError(() => seq.ensureCapacity(100), 'LIMIT_EXCEEDED');
    expect(blocks.freeCount).toBe(6);
    expect(seq.length).toBe(8);
  });

  it('throws EXHAUSTED and takes no block when the pool cannot hold the growth', () => {
    const blocks = new BlockAllocator(3);
    const seq = new PagedSequence(blocks, { blockSize: 2, maxBlocksPerSequence: 8 });
    seq.appendTokens(3);
    const error = expectMemError(() => seq.appendTokens(4), 'EXHAUSTED');
    expect(error.message).toContain('capacity 3, free 1');
    expect(blocks.freeCount).toBe(1);
    expect(seq.length).toBe(3);
    expect(seq.blockCount).toBe(2);
  });

  it('gives its blocks back tail first on clear and stays usable; release makes it unusable', () => {
    const blocks = new BlockAllocator(8);
    const seq = new PagedSequence(blocks, { blockSize: 2, maxBlocksPerSequence: 8 });
    seq.appendTokens(6);
    const held = table(seq);
    held.forEach((b, i) => blocks.registerBlockHash(b, new Uint32Array([i + 1, 0, 0, 0])));
    seq.clear();
    expect(blocks.freeCount).toBe(8);
    expect(blocks.evictionOrder().slice(-3)).toEqual([...held].reverse());
    seq.appendTokens(1);
    seq.release();
    expect(blocks.freeCount).toBe(8);
    expectMemError(() => seq.appendTokens(1), 'USE_AFTER_RELEASE');
    expectMemError(() => seq.release(), 'DOUBLE_FREE');
  });

  it('releases with using at scope end', () => {
    const blocks = new BlockAllocator(4);
    {
      using seq = new PagedSequence(blocks, { blockSize: 2, maxBlocksPerSequence: 4 });
      seq.appendTokens(3);
      expect(blocks.freeCount).toBe(2);
    }
    expect(blocks.freeCount).toBe(4);
  });

  it('forks by sharing every block, and copies the shared last block on the first write (copy-on-write)', () => {
    const blocks = new BlockAllocator(8);
    const copyBlock = vi.fn();
    const parent = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 4, copyBlock });
    parent.appendTokens(6); // blocks 0 (full), 1 (2 of 4)
    const child = parent.fork();
    expect(table(child)).toEqual([0, 1]);
    expect(child.length).toBe(6);
    expect(blocks.refCount(0)).toBe(2);
    expect(blocks.refCount(1)).toBe(2);

    expect(child.appendTokens(1)).toBe(6);
    expect(copyBlock).toHaveBeenCalledWith(1, 2);
    expect(table(child)).toEqual([0, 2]);
    expect(blocks.refCount(1)).toBe(1);
    expect(blocks.refCount(0)).toBe(2); // the full block stays shared

    parent.appendTokens(1); // parent now holds block 1 alone: no copy
    expect(copyBlock).toHaveBeenCalledTimes(1);
    expect(table(parent)).toEqual([0, 1]);

    parent.release();
    child.release();
    expect(blocks.freeCount).toBe(8);
  });

  it('copies nothing when the fork point is at a block boundary', () => {
    const blocks = new BlockAllocator(8);
    const copyBlock = vi.fn();
    const parent = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 4, copyBlock });
    parent.appendTokens(4);
    const child = parent.fork();
    child.appendTokens(2);
    parent.appendTokens(2);
    expect(copyBlock).not.toHaveBeenCalled();
    expect(table(child)[1]).not.toBe(table(parent)[1]);
  });

  it('counts copy-on-write blocks before taking any: EXHAUSTED leaves both sequences as they were', () => {
    const blocks = new BlockAllocator(3);
    const copyBlock = vi.fn();
    const parent = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 4, copyBlock });
    parent.appendTokens(6);
    const child = parent.fork();
    expectMemError(() => child.appendTokens(4), 'EXHAUSTED'); // a copy and a new block: 2 > 1 free
    expect(copyBlock).not.toHaveBeenCalled();
    expect(table(child)).toEqual([0, 1]);
    expect(blocks.freeCount).toBe(1);
  });

  it('gives the copy back if the copy callback throws', () => {
    const blocks = new BlockAllocator(4);
    const parent = new PagedSequence(blocks, {
      blockSize: 4,
      maxBlocksPerSequence: 4,
      copyBlock: () => {
        throw new Error('device lost');
      },
    });
    parent.appendTokens(2);
    const child = parent.fork();
    expect(() => child.appendTokens(1)).toThrow('device lost');
    expect(blocks.freeCount).toBe(3);
    expect(child.length).toBe(2);
  });

  it('leaves the block table and reference counts as they were when copyBlock throws on its second copy', () => {
    const blocks = new BlockAllocator(8);
    let copies = 0;
    let failing = true;
    const copyBlock = (): void => {
      copies += 1;
      if (failing && copies === 2) throw new Error('device lost');
    };
    const seq = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 4, copyBlock });
    seq.appendTokens(6);
    seq.ensureWritable(3);
    const child = seq.fork();
    const refs = (): number[] => Array.from({ length: 8 }, (_, b) => blocks.refCount(b));
    const before = { table: table(child), refs: refs(), free: blocks.freeCount, order: blocks.evictionOrder() };
    expect(() => child.appendTokens(3)).toThrow('device lost');
    expect({ table: table(child), refs: refs(), free: blocks.freeCount, order: blocks.evictionOrder() }).toEqual(
      before,
    );
    expect(child.length).toBe(6);
    failing = false;
    expect(child.appendTokens(3)).toBe(6); // and it works once the callback does
    expect(
      table(child)
        .slice(1)
        .map((b) => blocks.refCount(b)),
    ).toEqual([1, 1]);
  });

  it('refuses changes to itself from inside its copyBlock with IN_USE, and reads work', () => {
    const blocks = new BlockAllocator(8);
    const seen: string[] = [];
    const copyBlock = (): void => {
      for (const [name, call] of [
        ['appendTokens', () => seq.appendTokens(1)],
        ['ensureWritable', () => seq.ensureWritable(1)],
        ['ensureCapacity', () => seq.ensureCapacity(16)],
        ['fork', () => seq.fork()],
        ['clear', () => seq.clear()],
        ['release', () => seq.release()],
      ] as const) {
        seen.push(`${name} ${expectMemError(call, 'IN_USE').code}`);
      }
      seen.push(`slotOf ${seq.slotOf(0)}`);
    };
    const parent = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 4, copyBlock });
    parent.appendTokens(2);
    const seq = parent.fork(); // copyBlock runs after this line
    seq.appendTokens(1);
    expect(seen).toHaveLength(7);
    expect(seq.length).toBe(3);
    expect(seq.released).toBe(false);
  });

  it('throws USE_AFTER_RELEASE from slotOf after release', () => {
    const seq = new PagedSequence(new BlockAllocator(4), { blockSize: 2, maxBlocksPerSequence: 2 });
    seq.appendTokens(2);
    expect(seq.slotOf(1)).toBe(1);
    seq.release();
    expectMemError(() => seq.slotOf(1), 'USE_AFTER_RELEASE');
  });

  it('refuses to fork or to write into a shared block without a copy callback', () => {
    const blocks = new BlockAllocator(4);
    const seq = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 4 });
    seq.appendTokens(2);
    expectMemError(() => seq.fork(), 'IN_USE');
    blocks.acquire(seq.blockTable[0]!); // shared behind its back
    const other = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 4 });
    other.attachCachedBlock(blocks.allocate());
    expectMemError(() => seq.appendTokens(1), 'IN_USE');
  });

  it('attaches a cached block as the next full block, only at a block boundary', () => {
    const blocks = new BlockAllocator(4);
    const seq = new PagedSequence(blocks, { blockSize: 4, maxBlocksPerSequence: 2 });
    const cached = blocks.allocate();
    seq.attachCachedBlock(cached);
    expect(seq.length).toBe(4);
    seq.appendTokens(1);
    expectMemError(() => seq.attachCachedBlock(cached), 'IN_USE');
    expectMemError(() => seq.attachCachedBlock(3), 'USE_AFTER_RELEASE');
    expectMemError(() => seq.attachCachedBlock(9), 'INVALID_ARGUMENT');
  });

  describe('bad input', () => {
    it.each([
      ['not an allocator', () => new PagedSequence({} as never, { maxBlocksPerSequence: 2 })],
      ['no options', () => new PagedSequence(new BlockAllocator(2), undefined as never)],
      ['a zero block size', () => new PagedSequence(new BlockAllocator(2), { blockSize: 0, maxBlocksPerSequence: 2 })],
      ['a NaN max blocks', () => new PagedSequence(new BlockAllocator(2), { maxBlocksPerSequence: Number.NaN })],
      [
        'a copyBlock that is not a function',
        () => new PagedSequence(new BlockAllocator(2), { maxBlocksPerSequence: 2, copyBlock: 5 as never }),
      ],
    ])('rejects construction with %s', (_label, make) => {
      expectMemError(make, 'INVALID_ARGUMENT');
    });

    it.each([
      ['negative', -1],
      ['NaN', Number.NaN],
      ['Infinity', Infinity],
      ['fractional', 0.5],
      ['a string', '2'],
      ['huge', 2 ** 60],
    ])('rejects a count or length that is %s and stays usable', (_label, value) => {
      const blocks = new BlockAllocator(4);
      const seq = new PagedSequence(blocks, { blockSize: 2, maxBlocksPerSequence: 4 });
      for (const call of [
        () => seq.appendTokens(value as number),
        () => seq.ensureCapacity(value as number),
        () => seq.ensureWritable(value as number),
        () => seq.slotOf(value as number),
      ]) {
        expect(call).toThrow(MemError);
      }
      expect(blocks.freeCount).toBe(4);
      expect(seq.appendTokens(2)).toBe(0);
    });
  });
});
