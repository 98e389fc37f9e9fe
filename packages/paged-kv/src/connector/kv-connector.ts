/**
 * The contracts between the scheduler and a KV tier outside the process: a {@link KvConnector}
 * (what the {@link Scheduler} calls: lookup, load, save by chained block hash) and a
 * {@link KvBlockTier} (a store of byte values by string key, which {@link KvTierConnector} turns into
 * a connector). Everything here is asynchronous; the scheduler's step never waits for it.
 *
 * This module is browser compatible.
 * @module
 */

/**
 * Blocks a {@link KvConnector.load} fetched, held outside the KV store until the scheduler admits
 * the request and copies them into the blocks it allocated for it.
 */
export interface KvLoadedBlocks {
  /** How many blocks, from the first hash given to `load`, were fetched and verified. */
  readonly count: number;
  /**
   * Copies fetched block `index` (below `count`) into physical block `block` of the KV store: every
   * layer's K and V. Synchronous; it may throw, and the scheduler then recomputes that block and the
   * ones after it.
   */
  write(index: number, block: number): void;
}

/**
 * A KV tier as the {@link Scheduler} sees it: blocks named by their chained content hash (which
 * covers every token before them, the salt and the other extra keys), looked up, loaded and saved
 * asynchronously. vLLM's KV connector is the model: the scheduler asks how many leading blocks of a
 * prompt the tier holds, loads them while other requests keep running, prefills only the rest, and
 * recomputes whatever a load did not deliver.
 *
 * Each method receives digests packed one after another, `hashWords` words each (block `i`'s
 * digest at `hashes[i * hashWords ..]`). A connector should not reject: a tier that fails answers
 * 0 blocks (and counts why); a rejection is treated the same way by the scheduler.
 * {@link KvTierConnector} is the implementation over any {@link KvBlockTier}.
 */
export interface KvConnector {
  /** A short name for stats, logs and metric labels, e.g. `'redis'`. */
  readonly name: string;
  /** The digest width in 32-bit words: the KV cache manager's `hasher.words`. */
  readonly hashWords: number;
  /** How many of the given blocks, from the first, the tier holds now (a hint: a load may deliver fewer). */
  lookup(hashes: Uint32Array): Promise<number>;
  /** Fetches the given blocks from the first up to the first it cannot deliver intact. */
  load(hashes: Uint32Array): Promise<KvLoadedBlocks>;
  /**
   * Saves physical blocks `blocks[i]` of the KV store under digest `i`. It must read the blocks
   * before it returns (they may be reused right after); the promise resolves when they are written
   * (true) or when the tier failed (false: the scheduler offers those blocks again later).
   */
  save(hashes: Uint32Array, blocks: ArrayLike<number>): Promise<boolean>;
}

/** One value for {@link KvBlockTier.set}. */
export interface KvTierEntry {
  /** The key. */
  readonly key: string;
  /** The value; the tier may keep a reference to it (the caller does not change it afterwards). */
  readonly value: Uint8Array;
}

/**
 * A store of byte values by string key with its own eviction: the local disk tier of
 * `@mem/paged-kv/node`, Redis in `@mem/kv-connector-redis`, {@link MemoryKvTier}. It knows nothing
 * of KV layouts; {@link KvTierConnector} names the keys and checks the values. Its methods may
 * reject when the store fails: the connector counts that and treats it as a miss.
 */
export interface KvBlockTier {
  /** A short name for stats and logs, e.g. `'redis'`. */
  readonly name: string;
  /** How many of `keys`, from the first, the store holds (it may stop asking at the first it lacks). */
  lookup(keys: readonly string[]): Promise<number>;
  /**
   * The values of `keys` in order: `null` where one is missing, an `Error` where the store failed
   * to answer for that key (a Redis Cluster node down, a command timed out), so that the values it
   * did answer are still used; it may end early after either, and may reject when it failed for all.
   */
  get(keys: readonly string[]): Promise<readonly (Uint8Array | null | Error)[]>;
  /** Stores each value under its key, replacing what was there. */
  set(entries: readonly KvTierEntry[]): Promise<void>;
}
