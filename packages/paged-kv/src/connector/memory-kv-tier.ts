/**
 * A {@link KvBlockTier} in this process's memory: values by key, least recently used evicted first
 * within a byte budget. A second level behind the KV store (host memory behind a GPU store), a tier
 * for a browser tab, or the tier of unit tests.
 *
 * This module is browser compatible.
 * @module
 */
import { assertOptions, assertSize, invalidArgument } from '@mem/types';
import { ByteBudgetLru } from './byte-budget-lru.js';
import type { KvBlockTier, KvTierEntry } from './kv-connector.js';

/** Options of a {@link MemoryKvTier}. */
export interface MemoryKvTierOptions {
  /** The most bytes of values it keeps; the least recently used go first. */
  readonly maxBytes: number;
}

/**
 * Values in memory, bounded in bytes, LRU. It keeps the arrays it is given (no copy) and hands them
 * out as they are.
 *
 * @example
 * ```ts
 * import { KvStore, KvTierConnector, MemoryKvTier } from '@mem/paged-kv';
 * const store = new KvStore({ numLayers: 2, numBlocks: 64, numKvHeads: 2, blockSize: 16, headDim: 8 });
 * const connector = new KvTierConnector({ tier: new MemoryKvTier({ maxBytes: 1 << 24 }), store, model: 'my-model' });
 * ```
 */
export class MemoryKvTier implements KvBlockTier {
  /** `'memory'`. */
  readonly name = 'memory';
  readonly #values: ByteBudgetLru<Uint8Array>;

  /**
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `options` is not an object or `maxBytes` is not a size.
   */
  constructor(options: MemoryKvTierOptions) {
    if (options === undefined) throw invalidArgument('options', options, 'an object');
    const opts = assertOptions<MemoryKvTierOptions>(options, 'options', ['maxBytes']);
    this.#values = new ByteBudgetLru(assertSize(opts.maxBytes, 'options.maxBytes', { min: 1 }));
  }

  /** Bytes of the values held. Cost: O(1). */
  get bytes(): number {
    return this.#values.bytes;
  }

  /** Cost: O(keys). */
  lookup(keys: readonly string[]): Promise<number> {
    let count = 0;
    while (count < keys.length && this.#values.has(keys[count]!)) count += 1;
    return Promise.resolve(count);
  }

  /** Cost: O(keys); each value found counts as a use. */
  get(keys: readonly string[]): Promise<readonly (Uint8Array | null)[]> {
    return Promise.resolve(keys.map((key) => this.#values.use(key) ?? null));
  }

  /** Cost: O(entries + evicted). */
  set(entries: readonly KvTierEntry[]): Promise<void> {
    for (const { key, value } of entries) this.#values.add(key, value.byteLength, value);
    return Promise.resolve();
  }

  /**
   * Removes `key` (to test what a missing value does). Returns whether it was held. Cost: O(1).
   * @throws never
   */
  delete(key: string): boolean {
    return this.#values.delete(key) !== undefined;
  }
}
