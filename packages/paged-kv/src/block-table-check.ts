/**
 * The one check of a sequence argument of the KV store and of paged attention: before either reads
 * or writes through a block table, the table must be live, of the store's block size, and name
 * only the store's blocks.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, describeValue, invalidArgument } from '@mem/types';
import type { BlockTableView } from './paged-sequence.js';

/**
 * The one check of a sequence argument of the store and of attention: a live block table view with
 * `blockSize` and blocks below `numBlocks`.
 * @throws MemError USE_AFTER_RELEASE if the sequence was released.
 * @throws MemError INVALID_ARGUMENT if it is not a block table view of this block size and store.
 */
export function checkBlockTable(sequence: BlockTableView, blockSize: number, numBlocks: number): Uint32Array {
  const view = sequence as Partial<BlockTableView> | null;
  if (view !== null && typeof view === 'object' && view.released === true) {
    throw new MemError('USE_AFTER_RELEASE', 'the sequence was released: it holds no blocks to read or write');
  }
  if (
    view === null ||
    typeof view !== 'object' ||
    !(view.blockTable instanceof Uint32Array) ||
    typeof view.blockCount !== 'number' ||
    !Number.isInteger(view.blockCount) ||
    view.blockCount < 0 ||
    view.blockCount > view.blockTable.length
  ) {
    throw invalidArgument('sequence', sequence, 'a sequence with a blockTable (Uint32Array) and a blockCount');
  }
  if (view.blockSize !== blockSize) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `the sequence's blockSize ${describeValue(view.blockSize)} differs from the store's ${blockSize}`,
    );
  }
  const table = view.blockTable;
  for (let i = 0; i < view.blockCount; i += 1) {
    if (table[i]! >= numBlocks) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `blockTable[${i}] = ${table[i]} is not a block of this store (numBlocks ${numBlocks})`,
      );
    }
  }
  return table;
}
