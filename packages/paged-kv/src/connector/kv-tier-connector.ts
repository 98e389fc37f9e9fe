/**
 * A {@link KvConnector} over any {@link KvBlockTier}: it names each block's key from the model, the
 * KV layout and the chained hash, encodes every block as one value with a header and a checksum,
 * checks values on load, and counts what happened. It never rejects: a tier that fails is a miss,
 * counted; a load ends at the first value the tier lacks or failed to answer for, or at the first
 * that is short, of another layout or corrupt (counted by kind), delivers the blocks before it, and
 * the scheduler recomputes the blocks not delivered.
 *
 * This module is browser compatible.
 * @module
 */
import {
  assertInteger,
  assertMetricsSink,
  assertNonEmptyString,
  assertOptions,
  invalidArgument,
  MemError,
  type MetricsSink,
} from '@mem/types';
import { resolveHasher } from '../block-hash-chain.js';
import type { BlockHasher } from '../block-hasher.js';
import { KvStore } from '../kv-store.js';
import type { KvBlockTier, KvConnector, KvLoadedBlocks, KvTierEntry } from './kv-connector.js';
import { KvBlockCodec, assertModelName } from './kv-block-codec.js';
import { KvTierCounts, publishKvTierMetrics, type KvTierStats } from './kv-tier-stats.js';

/** Options of a {@link KvTierConnector}. */
export interface KvTierConnectorOptions {
  /** The store of values (Redis, a directory, memory). */
  readonly tier: KvBlockTier;
  /** The KV store blocks are saved from and loaded into; its layout is part of every key. */
  readonly store: KvStore;
  /**
   * The model (and weights) the KV was computed with, part of every key: 1 to 128 printable ASCII
   * characters without spaces or '/', e.g. `'llama-3.1-8b-instruct@rev2'`. Change it with the weights.
   */
  readonly model: string;
  /** The KV cache manager's hasher (its name is part of every key). @defaultValue {@link fastBlockHasher} */
  readonly hasher?: BlockHasher;
  /** Where to publish lookups, hits, bytes, load latency and errors. @defaultValue no metrics */
  readonly metrics?: MetricsSink;
  /**
   * The `pool` label of its metrics: the `name` of the KV cache manager whose scheduler uses it,
   * so that its series sit beside the cache's. @defaultValue 'paged-kv'
   */
  readonly pool?: string;
}

const EMPTY: KvLoadedBlocks = Object.freeze({
  count: 0,
  write(index: number): void {
    throw new MemError('INVALID_ARGUMENT', `index must be below count 0, got ${index}`);
  },
});

/** Whether `values` holds a value at `from` or after. */
function holds(values: readonly unknown[], from: number): boolean {
  for (let i = from; i < values.length; i += 1) if (values[i] instanceof Uint8Array) return true;
  return false;
}

/**
 * Connects a KV store to a tier.
 *
 * @example
 * ```ts
 * import { KvCacheManager, KvStore, KvTierConnector, MemoryKvTier, Scheduler } from '@mem/paged-kv';
 * const store = new KvStore({ numLayers: 2, numBlocks: 64, numKvHeads: 2, blockSize: 16, headDim: 8 });
 * const kv = new KvCacheManager({ numBlocks: 64, copyBlock: (s, t) => store.copyBlock(s, t) });
 * const connector = new KvTierConnector({ tier: new MemoryKvTier({ maxBytes: 1 << 24 }), store, model: 'my-model' });
 * const scheduler = new Scheduler(kv, { maxTokensPerStep: 256, tier: { connector } });
 * ```
 */
export class KvTierConnector implements KvConnector {
  /** The tier's name. */
  readonly name: string;
  /** The digest width in 32-bit words. */
  readonly hashWords: number;
  /** The tier. */
  readonly tier: KvBlockTier;
  readonly #codec: KvBlockCodec;
  readonly #counts = new KvTierCounts();
  readonly #saving = new Set<Promise<boolean>>();

  /**
   * Cost: O(1). With `metrics`, its instruments are registered here.
   * @throws MemError INVALID_ARGUMENT if an option is missing or invalid (a `tier` without
   * `lookup`, `get` and `set`, a closed or foreign `store`, a bad `model` name or hasher, an empty `pool`).
   */
  constructor(options: KvTierConnectorOptions) {
    if (options === undefined) throw invalidArgument('options', options, 'an object');
    const opts = assertOptions<KvTierConnectorOptions>(options, 'options', [
      'tier',
      'store',
      'model',
      'hasher',
      'metrics',
      'pool',
    ]);
    const tier = opts.tier as Partial<KvBlockTier> | null;
    if (
      tier === null ||
      typeof tier !== 'object' ||
      typeof tier.lookup !== 'function' ||
      typeof tier.get !== 'function' ||
      typeof tier.set !== 'function' ||
      typeof tier.name !== 'string'
    ) {
      throw invalidArgument('options.tier', opts.tier, 'a KvBlockTier ({ name, lookup, get, set })');
    }
    if (!(opts.store instanceof KvStore) || opts.store.closed) {
      throw invalidArgument('options.store', opts.store, 'an open KvStore');
    }
    const model = assertModelName(opts.model, 'options.model');
    const hasher = resolveHasher(opts.hasher);
    const pool = opts.pool === undefined ? 'paged-kv' : assertNonEmptyString(opts.pool, 'options.pool');
    const metrics = assertMetricsSink(opts.metrics, 'options.metrics');
    this.tier = opts.tier as KvBlockTier;
    this.name = this.tier.name;
    this.hashWords = hasher.words;
    this.#codec = new KvBlockCodec(opts.store, model, hasher);
    if (metrics !== undefined) publishKvTierMetrics(metrics, { pool, tier: this.name }, this.#counts);
  }

  /** Bytes of one stored value (header, digest, every layer's K and V block). */
  get valueBytes(): number {
    return this.#codec.valueBytes;
  }

  /** Every key of this model and layout starts with this. */
  get keyPrefix(): string {
    return this.#codec.keyPrefix;
  }

  /**
   * The tier key of digest `index` of `hashes`.
   * Cost: O(digest words).
   * @throws MemError INVALID_ARGUMENT if `hashes` does not hold digest `index`.
   */
  keyOf(hashes: Uint32Array, index = 0): string {
    assertInteger(index, 'index', { min: 0, max: Math.max(0, this.#count(hashes) - 1) });
    this.#count(hashes, index + 1);
    return this.#codec.key(hashes, index);
  }

  /**
   * How many of the blocks, from the first, the tier holds; 0 when the tier fails (counted).
   * Cost: one tier lookup.
   * @throws MemError INVALID_ARGUMENT (synchronously) if `hashes` is not a Uint32Array of whole digests.
   */
  lookup(hashes: Uint32Array): Promise<number> {
    const keys = this.#keys(hashes);
    const counts = this.#counts;
    counts.lookups += 1;
    counts.lookupBlocks += keys.length;
    if (keys.length === 0) return Promise.resolve(0);
    return this.#attempt('lookup', () => this.tier.lookup(keys)).then((found) => {
      const hits = typeof found === 'number' && found >= 0 ? Math.min(Math.floor(found), keys.length) : 0;
      counts.hitBlocks += hits;
      return hits;
    });
  }

  /**
   * Fetches the blocks from the first up to the first the tier lacks (where the chain it holds
   * ends; counted as `missing` when the tier answered with later ones), the first it failed to
   * answer for (counted as `load`; the blocks before it are used), or the first that is short, of
   * another layout or corrupt (counted by kind); nothing when the tier fails altogether (counted).
   * Cost: one tier get, and a checksum over every value.
   * @throws MemError INVALID_ARGUMENT (synchronously) if `hashes` is not a Uint32Array of whole digests.
   */
  load(hashes: Uint32Array): Promise<KvLoadedBlocks> {
    const keys = this.#keys(hashes);
    const counts = this.#counts;
    counts.loads += 1;
    counts.loadBlocks += keys.length;
    const started = performance.now();
    if (keys.length === 0) return Promise.resolve(EMPTY);
    return this.#attempt('load', () => this.tier.get(keys)).then((values) => {
      const accepted: Uint8Array[] = [];
      for (let i = 0; i < keys.length; i += 1) {
        const value: unknown = Array.isArray(values) ? values[i] : null;
        if (value instanceof Error) {
          counts.errors.load += 1; // the tier failed for this key: the chain it delivers ends here
          break;
        }
        const checked = this.#codec.check(value as Uint8Array | null | undefined, hashes, i);
        if (typeof checked === 'string') {
          // A missing value ends the chain the tier holds (a plain miss) unless values follow it.
          if (values !== null && (checked !== 'missing' || holds(values, i + 1))) counts.errors[checked] += 1;
          break;
        }
        accepted.push(checked);
      }
      counts.observeLoad((performance.now() - started) / 1000);
      return accepted.length === 0 ? EMPTY : this.#loaded(accepted);
    });
  }

  /**
   * Encodes the blocks now (they may be reused once this returns) and writes them to the tier;
   * the promise resolves true when they are written, false when the tier failed (counted), never
   * rejecting.
   * Cost: O(value bytes) to encode, then one tier set.
   * @throws MemError INVALID_ARGUMENT (synchronously) if `hashes` and `blocks` do not pair up or a
   * block is not one of the store's.
   */
  save(hashes: Uint32Array, blocks: ArrayLike<number>): Promise<boolean> {
    const count = this.#count(hashes);
    if (blocks === null || typeof blocks !== 'object' || blocks.length !== count) {
      throw invalidArgument('blocks', blocks, `an array of ${count} block indexes (one per digest)`);
    }
    const entries: KvTierEntry[] = [];
    for (let i = 0; i < count; i += 1) {
      const block = blocks[i];
      if (typeof block !== 'number' || block >>> 0 !== block || block >= this.#codec.numBlocks) {
        throw invalidArgument(`blocks[${i}]`, block, `a block index of the store (below ${this.#codec.numBlocks})`);
      }
    }
    for (let i = 0; i < count; i += 1) {
      entries.push({ key: this.#codec.key(hashes, i), value: this.#codec.encode(blocks[i]!, hashes, i) });
    }
    if (count === 0) return Promise.resolve(true);
    const counts = this.#counts;
    const saving = this.#attempt('save', () => this.tier.set(entries)).then((done) => {
      this.#saving.delete(saving);
      if (done === null) return false;
      counts.savedBlocks += count;
      counts.savedBytes += count * this.#codec.valueBytes;
      return true;
    });
    this.#saving.add(saving);
    return saving;
  }

  /**
   * Resolves when every save started so far has settled (before closing the tier, or to know that
   * another process can load what this one saved).
   * Cost: O(saves in flight).
   * @throws never
   */
  async flush(): Promise<void> {
    while (this.#saving.size > 0) await Promise.all(this.#saving);
  }

  /**
   * A snapshot of the counts.
   * Cost: O(1).
   * @throws never
   */
  stats(): KvTierStats {
    return this.#counts.snapshot(this.name);
  }

  /** Runs a tier call; a throw or rejection is counted as `kind` and answers null. */
  #attempt<T>(kind: 'lookup' | 'load' | 'save', call: () => Promise<T>): Promise<T | null> {
    const failed = (): null => {
      this.#counts.errors[kind] += 1;
      return null;
    };
    try {
      return Promise.resolve(call()).then((value) => value, failed);
    } catch {
      return Promise.resolve(failed());
    }
  }

  #loaded(values: Uint8Array[]): KvLoadedBlocks {
    const counts = this.#counts;
    const codec = this.#codec;
    counts.loadedBlocks += values.length;
    counts.loadedBytes += values.length * codec.valueBytes;
    return {
      count: values.length,
      write(index: number, block: number): void {
        const value = values[index];
        if (value === undefined) throw invalidArgument('index', index, `an integer below count ${values.length}`);
        try {
          codec.write(value, block);
        } catch (error) {
          counts.errors.write += 1;
          throw error;
        }
      },
    };
  }

  #keys(hashes: Uint32Array): string[] {
    const count = this.#count(hashes);
    const keys = new Array<string>(count);
    for (let i = 0; i < count; i += 1) keys[i] = this.#codec.key(hashes, i);
    return keys;
  }

  /** The number of digests in `hashes` (at least `min`). */
  #count(hashes: Uint32Array, min = 0): number {
    if (
      !(hashes instanceof Uint32Array) ||
      hashes.length % this.hashWords !== 0 ||
      hashes.length < min * this.hashWords
    ) {
      throw invalidArgument('hashes', hashes, `a Uint32Array of whole digests of ${this.hashWords} words`);
    }
    return hashes.length / this.hashWords;
  }
}
