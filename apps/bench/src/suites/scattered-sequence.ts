/**
 * A sequence whose blocks are scattered over the pool, as after a while of serving: the paged
 * attention cases of the `paged-kv` and `paged-kv-kernels` suites read through such a table.
 * @module
 */
import { KvCacheManager, type KvSequence } from '@mem/paged-kv';

/**
 * Admits a sequence of `length` tokens into a fresh manager of `numBlocks` blocks of `blockSize`,
 * after shuffling the free order deterministically so that its blocks are not contiguous.
 */
export function scatteredSequence(numBlocks: number, blockSize: number, length: number): KvSequence {
  const kv = new KvCacheManager({ numBlocks, blockSize });
  const all = kv.allocator.allocateMany(numBlocks);
  for (let i = all.length - 1; i > 0; i -= 1) {
    const j = (Math.imul(i, 2654435761) >>> 0) % (i + 1);
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  kv.allocator.freeMany(all);
  const sequence = kv.createSequence({ tokens: new Uint32Array(length) });
  kv.admit(sequence);
  return sequence;
}
