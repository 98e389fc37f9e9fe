/**
 * The pooled buffers a whole-file read returns: one buffer when the file fits the pool's largest
 * class, a chain of them when it does not.
 *
 * This module runs in Node.js only.
 * @module
 */
import { MemError } from '@mem/types';
import type { IoBuffer } from '../io-buffer.js';

/**
 * Consecutive pooled buffers holding one piece of data (a file's bytes) in order: `buffers[0]`
 * holds the first bytes. The chain owns its buffers: {@link BufferChain.release} (or `using`)
 * returns every one still live; a buffer handed on before (written with `PooledIo.write`, frozen,
 * transferred or released) is skipped.
 *
 * @example
 * ```ts
 * import { createHash } from 'node:crypto';
 * import { BufferPool } from '@mem/buffer-pool';
 * import { PooledIo } from '@mem/buffer-pool/node';
 * const io = new PooledIo(new BufferPool());
 * using chain = await io.readFile('package.json');
 * const hash = createHash('sha256');
 * for (const buffer of chain) hash.update(buffer.bytes);
 * console.log(chain.byteLength, chain.buffers.length, hash.digest('hex'));
 * ```
 */
export class BufferChain implements Disposable, Iterable<IoBuffer> {
  /** The buffers, in order. */
  readonly buffers: readonly IoBuffer[];
  /** The bytes of all buffers together (their lengths when the chain was made). */
  readonly byteLength: number;
  #released = false;

  /** @internal Made by `PooledIo.readFile`. */
  constructor(buffers: readonly IoBuffer[]) {
    this.buffers = Object.freeze([...buffers]);
    this.byteLength = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
  }

  /** Whether {@link BufferChain.release} ran. Cost: O(1). */
  get released(): boolean {
    return this.#released;
  }

  /**
   * Returns every buffer of the chain that is still live to its pool.
   * Cost: O(buffers).
   * @throws MemError DOUBLE_FREE if the chain was released already.
   */
  release(): void {
    if (this.#released) throw new MemError('DOUBLE_FREE', 'the BufferChain was already released');
    this.#released = true;
    for (const buffer of this.buffers) {
      if (!buffer.released) buffer.release();
    }
  }

  /**
   * Releases the chain if it was not released (what `using` calls).
   * Cost: as {@link BufferChain.release}.
   * @throws never
   */
  [Symbol.dispose](): void {
    if (!this.#released) this.release();
  }

  /** The buffers, in order. Cost: O(1). */
  [Symbol.iterator](): IterableIterator<IoBuffer> {
    return this.buffers[Symbol.iterator]();
  }
}
