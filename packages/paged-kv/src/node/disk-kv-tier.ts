/**
 * A {@link KvBlockTier} in a local directory: one file per value, bounded in bytes, least recently
 * used removed first. Behind a KV store, it keeps blocks a server computed across evictions and
 * restarts; the files of a previous run are found again when the directory is opened.
 *
 * One process uses a directory at a time: the byte budget and the recency order live in its memory.
 * Writes go to a temporary file renamed into place, so a reader never sees half a value; a value
 * cut short anyway (a full disk, a crash) is refused by the connector's checks.
 *
 * This module runs in Node.js only.
 * @module
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs';
import { mkdir, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MemError, assertOptions, assertSize, invalidArgument } from '@mem/types';
import { ByteBudgetLru } from '../connector/byte-budget-lru.js';
import type { KvBlockTier, KvTierEntry } from '../connector/kv-connector.js';

/** Options of {@link DiskKvTier.open}. */
export interface DiskKvTierOptions {
  /** The directory of the values; created if missing. */
  readonly directory: string;
  /** The most bytes of values it keeps; the least recently used files are removed past it. */
  readonly maxBytes: number;
}

const SUFFIX = '.kv';
let temporaryCounter = 0;

/** The file name of `key`: the hex SHA-256 of the key (any key, a name of fixed length). */
function fileOf(key: string): string {
  return createHash('sha256').update(key).digest('hex') + SUFFIX;
}

/**
 * KV block values as files in one directory.
 *
 * @example
 * ```ts
 * import { KvStore, KvTierConnector } from '@mem/paged-kv';
 * import { DiskKvTier } from '@mem/paged-kv/node';
 * const store = new KvStore({ numLayers: 2, numBlocks: 64, numKvHeads: 2, blockSize: 16, headDim: 8 });
 * const tier = await DiskKvTier.open({ directory: '/tmp/kv-tier', maxBytes: 1 << 30 });
 * const connector = new KvTierConnector({ tier, store, model: 'my-model' });
 * ```
 */
export class DiskKvTier implements KvBlockTier {
  /** `'disk'`. */
  readonly name = 'disk';
  /** The directory. */
  readonly directory: string;
  /** File name to size, in recency order. */
  readonly #files: ByteBudgetLru<null>;

  private constructor(directory: string, maxBytes: number) {
    this.directory = directory;
    this.#files = new ByteBudgetLru(maxBytes);
  }

  /**
   * Opens (creating) `directory`: the values found there count as least recently used in the order
   * of their modification times, and the oldest are removed if they pass `maxBytes`; leftover
   * temporary files are removed.
   * Cost: O(files) file-system calls.
   * @throws MemError INVALID_ARGUMENT if `options` is not an object, `directory` not a non-empty
   * string or `maxBytes` not a size; NOT_FOUND if the directory cannot be created or read (the
   * cause attached).
   */
  static async open(options: DiskKvTierOptions): Promise<DiskKvTier> {
    if (options === undefined) throw invalidArgument('options', options, 'an object');
    const opts = assertOptions<DiskKvTierOptions>(options, 'options', ['directory', 'maxBytes']);
    if (typeof opts.directory !== 'string' || opts.directory === '') {
      throw invalidArgument('options.directory', opts.directory, 'a non-empty path');
    }
    const tier = new DiskKvTier(opts.directory, assertSize(opts.maxBytes, 'options.maxBytes', { min: 1 }));
    let names: string[];
    try {
      await mkdir(opts.directory, { recursive: true });
      names = await readdir(opts.directory);
    } catch (cause) {
      throw new MemError(
        'NOT_FOUND',
        `cannot use ${opts.directory} as a KV tier directory: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    const found: { name: string; bytes: number; time: number }[] = [];
    for (const name of names) {
      const path = join(opts.directory, name);
      if (name.endsWith('.tmp')) await unlink(path).catch(() => {});
      if (!name.endsWith(SUFFIX)) continue;
      const info = await stat(path).catch(() => null);
      if (info?.isFile()) found.push({ name, bytes: info.size, time: info.mtimeMs });
    }
    found.sort((a, b) => a.time - b.time);
    for (const file of found) await tier.#track(file.name, file.bytes);
    return tier;
  }

  /** Bytes of the values held. Cost: O(1). */
  get bytes(): number {
    return this.#files.bytes;
  }

  /** Cost: O(keys) hashes, no file-system call. */
  lookup(keys: readonly string[]): Promise<number> {
    let count = 0;
    while (count < keys.length && this.#files.has(fileOf(keys[count]!))) count += 1;
    return Promise.resolve(count);
  }

  /**
   * Reads the leading values it holds, in parallel; a file gone meanwhile is `null`. Cost: one
   * read per value (through `fs.readFile`'s callback form, which takes fewer turns of the event
   * loop per file than its promise form).
   */
  get(keys: readonly string[]): Promise<readonly (Uint8Array | null)[]> {
    const names: string[] = [];
    for (const key of keys) {
      const name = fileOf(key);
      if (this.#files.use(name) === undefined) break;
      names.push(name);
    }
    return Promise.all(
      names.map(
        (name) =>
          new Promise<Uint8Array | null>((resolve) => {
            readFile(join(this.directory, name), (error, bytes) => {
              if (error === null) return resolve(bytes);
              this.#files.delete(name);
              resolve(null);
            });
          }),
      ),
    );
  }

  /** Writes each value to a temporary file renamed into place, then removes files past the budget. */
  async set(entries: readonly KvTierEntry[]): Promise<void> {
    await Promise.all(
      entries.map(async ({ key, value }) => {
        const name = fileOf(key);
        const path = join(this.directory, name);
        const temporary = `${path}.${process.pid}.${(temporaryCounter += 1)}.tmp`;
        try {
          await writeFile(temporary, value);
          await rename(temporary, path);
        } catch (error) {
          await unlink(temporary).catch(() => {});
          throw error;
        }
        await this.#track(name, value.byteLength);
      }),
    );
  }

  /** Indexes file `name` as the most recent, then removes the files evicted (itself, if larger than the budget). */
  async #track(name: string, bytes: number): Promise<void> {
    const evicted = this.#files.add(name, bytes, null).filter((entry) => entry.key !== name);
    if (!this.#files.has(name)) evicted.push({ key: name, value: null });
    await Promise.all(evicted.map(({ key }) => unlink(join(this.directory, key)).catch(() => {})));
  }
}
