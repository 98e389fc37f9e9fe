/**
 * The eviction order of the tiers that keep their own bytes ({@link MemoryKvTier}, the disk tier):
 * entries by key with their sizes, least recently used first, within a byte budget.
 *
 * This module is browser compatible.
 * @module
 */

/** Keys with sizes in least-recently-used order, bounded in bytes. */
export class ByteBudgetLru<V> {
  /** The most bytes the entries may add up to. */
  readonly maxBytes: number;
  /** Insertion order of a Map is the recency order: a use deletes and re-inserts. */
  readonly #entries = new Map<string, { readonly bytes: number; readonly value: V }>();
  #bytes = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Bytes of every entry. Cost: O(1). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Number of entries. Cost: O(1). */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether `key` is held (without counting as a use). Cost: O(1). */
  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The value of `key`, counted as a use, or undefined. Cost: O(1). */
  use(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /**
   * Adds (or replaces) `key` as the most recent entry, then evicts least recently used entries
   * until the budget holds. An entry larger than the whole budget is not added. Returns the
   * evicted entries (the replaced one among them), oldest first. Cost: O(1 + evicted).
   */
  add(key: string, bytes: number, value: V): { key: string; value: V }[] {
    const evicted: { key: string; value: V }[] = [];
    const previous = this.delete(key);
    if (previous !== undefined) evicted.push({ key, value: previous });
    if (bytes > this.maxBytes) return evicted;
    this.#entries.set(key, { bytes, value });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
      evicted.push({ key: oldest, value: entry.value });
    }
    return evicted;
  }

  /** Removes `key`; returns its value, or undefined if it was not held. Cost: O(1). */
  delete(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
    return entry.value;
  }
}
