// Over 400 lines for one concept: the configuration value, each preset and builder documented with the rule it checks.
/**
 * The configuration of a buffer pool: a validated, immutable value with presets (`forNetwork()`,
 * `forStorage()`) and `with*` builders that return a changed copy.
 *
 * Each builder checks its own argument at once (type and range); the rules that tie fields together
 * (`minSize >= alignment`, `maxSize >= minSize`, ...) are checked by {@link BufferPoolConfig.validate},
 * which the pool runs when it is created, so that a chain of builders may pass through an
 * intermediate state that would be invalid on its own.
 *
 * This module is browser compatible.
 * @module
 */
import {
  MemError,
  assertBoolean,
  assertInteger,
  assertOptions,
  assertPowerOfTwo,
  ceilLog2,
  invalidArgument,
} from '@mem/types';
import {
  DEFAULT_PAGE_SIZE,
  MAX_BUFFER_SIZE,
  MAX_PARALLELISM,
  MAX_TRACKED_BUFFERS,
  MIN_BATCH_CACHE_CAPACITY,
} from './pool-limits.js';

/**
 * How big each worker's local cache is, per size class.
 * - `derived`: from `maxPerClass` and `parallelism`: `floor(maxPerClass / (2 * min(parallelism, maxPerClass)))`,
 *   which keeps about half of each class for the shared global freelist. Small classes may derive 0,
 *   which disables the cache so that free buffers are never stranded in another worker.
 * - `fixed`: exactly `capacity` buffers per class and worker.
 * - `disabled`: no local cache; every allocation and release goes through the global freelist.
 */
export type WorkerCachePolicy =
  | {
      /** Derived from `maxPerClass` and `parallelism`. */
      readonly kind: 'derived';
    }
  | {
      /** A fixed capacity. */
      readonly kind: 'fixed';
      /** Buffers per class and worker, in [1, maxPerClass]. */
      readonly capacity: number;
    }
  | {
      /** No worker cache. */
      readonly kind: 'disabled';
    };

/** The fields of a {@link BufferPoolConfig}, as a plain object (what `toJSON()` returns and `from()` takes). */
export interface BufferPoolConfigFields {
  /** Requests smaller than this bypass the pool and get an untracked buffer; 0 pools everything. */
  readonly poolMinSize: number;
  /** The smallest size class in bytes: a power of two, at least `alignment`. */
  readonly minSize: number;
  /** The largest size class in bytes: a power of two, at least `minSize`, at most 1 GiB. */
  readonly maxSize: number;
  /** The most tracked buffers each size class may create. */
  readonly maxPerClass: number;
  /** Whether the pool creates every tracked buffer when it is created, instead of on demand. */
  readonly prefill: boolean;
  /** The byte-offset alignment of every pooled buffer's first byte within its backing: a power of two. */
  readonly alignment: number;
  /** How many workers are expected to use the pool at once; sizes the derived worker cache. */
  readonly parallelism: number;
  /** How each worker's local cache is sized. */
  readonly workerCache: WorkerCachePolicy;
}

function conflict(message: string, details: Record<string, unknown>): MemError {
  return new MemError('INVALID_ARGUMENT', message, { details });
}

function checkWorkerCache(value: unknown): WorkerCachePolicy {
  const policy = value as Partial<{ kind: unknown; capacity: unknown }> | null;
  if (typeof policy === 'object' && policy !== null) {
    if (policy.kind === 'derived') return { kind: 'derived' };
    if (policy.kind === 'disabled') return { kind: 'disabled' };
    if (policy.kind === 'fixed') {
      return {
        kind: 'fixed',
        capacity: assertInteger(policy.capacity, 'workerCache.capacity', { min: 1, max: MAX_TRACKED_BUFFERS }),
      };
    }
  }
  throw invalidArgument(
    'workerCache',
    value,
    "{ kind: 'derived' }, { kind: 'fixed', capacity } or { kind: 'disabled' }",
  );
}

/**
 * A validated buffer-pool configuration. Instances are immutable: every `with*` builder returns a
 * new configuration. Start from a preset ({@link BufferPoolConfig.forNetwork},
 * {@link BufferPoolConfig.forStorage}) or from {@link BufferPoolConfig.from}.
 *
 * @example
 * ```ts
 * import { BufferPoolConfig } from '@mem/buffer-pool';
 * const config = BufferPoolConfig.forNetwork().withMaxSize(64 * 1024).withBudgetBytes(64 * 1024 * 1024);
 * config.classSizes; // [1024, 2048, 4096, 8192, 16384, 32768, 65536]
 * config.maxPerClass; // 520
 * ```
 */
export class BufferPoolConfig implements BufferPoolConfigFields {
  /** Requests smaller than this bypass the pool and get an untracked buffer; 0 pools everything. */
  readonly poolMinSize: number;
  /** The smallest size class in bytes. */
  readonly minSize: number;
  /** The largest size class in bytes. */
  readonly maxSize: number;
  /** The most tracked buffers each size class may create. */
  readonly maxPerClass: number;
  /** Whether every tracked buffer is created with the pool. */
  readonly prefill: boolean;
  /** The byte-offset alignment of every pooled buffer within its backing. */
  readonly alignment: number;
  /** How many workers are expected to use the pool at once. */
  readonly parallelism: number;
  /** How each worker's local cache is sized. */
  readonly workerCache: WorkerCachePolicy;

  private constructor(fields: BufferPoolConfigFields) {
    this.poolMinSize = fields.poolMinSize;
    this.minSize = fields.minSize;
    this.maxSize = fields.maxSize;
    this.maxPerClass = fields.maxPerClass;
    this.prefill = fields.prefill;
    this.alignment = fields.alignment;
    this.parallelism = fields.parallelism;
    this.workerCache = Object.freeze({ ...fields.workerCache });
    Object.freeze(this);
  }

  /**
   * Network I/O preset: 1 KiB to 128 KiB buffers, 4096 per class, not prefilled, alignment 1,
   * parallelism 1, derived worker cache. Network code needs several buffers per connection
   * (message, encoding, encryption), hence the large per-class count.
   * Cost: O(1).
   * @throws never
   *
   * @example
   * ```ts
   * import { BufferPoolConfig } from '@mem/buffer-pool';
   * BufferPoolConfig.forNetwork().classSizes.length; // 8
   * ```
   */
  static forNetwork(): BufferPoolConfig {
    return new BufferPoolConfig({
      poolMinSize: 0,
      minSize: 1024,
      maxSize: 128 * 1024,
      maxPerClass: 4096,
      prefill: false,
      alignment: 1,
      parallelism: 1,
      workerCache: { kind: 'derived' },
    });
  }

  /**
   * Storage I/O preset: `pageSize` (4 KiB unless given) to 8 MiB buffers, 64 per class, not
   * prefilled, alignment 1 (use `withAlignment(pageSize)` for direct-I/O style alignment),
   * parallelism 1, derived worker cache.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `pageSize` is not a power of two in [1, 8 MiB].
   *
   * @example
   * ```ts
   * import { BufferPoolConfig } from '@mem/buffer-pool';
   * const config = BufferPoolConfig.forStorage().withAlignment(4096);
   * config.classSizes.at(-1); // 8388608
   * ```
   */
  static forStorage(pageSize: number = DEFAULT_PAGE_SIZE): BufferPoolConfig {
    const maxSize = 8 * 1024 * 1024;
    return new BufferPoolConfig({
      poolMinSize: 0,
      minSize: assertPowerOfTwo(pageSize, 'pageSize', maxSize),
      maxSize,
      maxPerClass: 64,
      prefill: false,
      alignment: 1,
      parallelism: 1,
      workerCache: { kind: 'derived' },
    });
  }

  /**
   * Builds a configuration from plain fields; missing fields come from {@link BufferPoolConfig.forNetwork}.
   * Unlike the builders, this checks the whole result ({@link BufferPoolConfig.validate}) at once.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT naming the first bad field, its value and the rule.
   *
   * @example
   * ```ts
   * import { BufferPoolConfig } from '@mem/buffer-pool';
   * const config = BufferPoolConfig.from({ minSize: 4096, maxSize: 65536, maxPerClass: 32 });
   * ```
   */
  static from(fields: Partial<BufferPoolConfigFields>): BufferPoolConfig {
    if (fields === undefined) throw invalidArgument('config', fields, 'an object of configuration fields');
    assertOptions(fields, 'config', [
      'poolMinSize',
      'minSize',
      'maxSize',
      'maxPerClass',
      'prefill',
      'alignment',
      'parallelism',
      'workerCache',
    ]);
    let config = BufferPoolConfig.forNetwork();
    if (fields.poolMinSize !== undefined) config = config.withPoolMinSize(fields.poolMinSize);
    if (fields.minSize !== undefined) config = config.withMinSize(fields.minSize);
    if (fields.maxSize !== undefined) config = config.withMaxSize(fields.maxSize);
    if (fields.maxPerClass !== undefined) config = config.withMaxPerClass(fields.maxPerClass);
    if (fields.prefill !== undefined) config = config.withPrefill(fields.prefill);
    if (fields.alignment !== undefined) config = config.withAlignment(fields.alignment);
    if (fields.parallelism !== undefined) config = config.withParallelism(fields.parallelism);
    if (fields.workerCache !== undefined) config = config.#with({ workerCache: checkWorkerCache(fields.workerCache) });
    return config.validate();
  }

  #with(changes: Partial<BufferPoolConfigFields>): BufferPoolConfig {
    return new BufferPoolConfig({ ...this.toJSON(), ...changes });
  }

  /**
   * A copy whose requests smaller than `poolMinSize` bypass the pool (untracked buffers).
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `poolMinSize` is not an integer in [0, 1 GiB].
   */
  withPoolMinSize(poolMinSize: number): BufferPoolConfig {
    return this.#with({ poolMinSize: assertInteger(poolMinSize, 'poolMinSize', { min: 0, max: MAX_BUFFER_SIZE }) });
  }

  /**
   * A copy with another smallest size class.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `minSize` is not a power of two in [1, 1 GiB].
   */
  withMinSize(minSize: number): BufferPoolConfig {
    return this.#with({ minSize: assertPowerOfTwo(minSize, 'minSize', MAX_BUFFER_SIZE) });
  }

  /**
   * A copy with another largest size class.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `maxSize` is not a power of two in [1, 1 GiB].
   */
  withMaxSize(maxSize: number): BufferPoolConfig {
    return this.#with({ maxSize: assertPowerOfTwo(maxSize, 'maxSize', MAX_BUFFER_SIZE) });
  }

  /**
   * A copy with another per-class buffer limit.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `maxPerClass` is not an integer in [1, 2^22].
   */
  withMaxPerClass(maxPerClass: number): BufferPoolConfig {
    return this.#with({ maxPerClass: assertInteger(maxPerClass, 'maxPerClass', { min: 1, max: MAX_TRACKED_BUFFERS }) });
  }

  /**
   * A copy that does (or does not) create every tracked buffer up front.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `prefill` is not a boolean.
   */
  withPrefill(prefill: boolean): BufferPoolConfig {
    return this.#with({ prefill: assertBoolean(prefill, 'prefill') });
  }

  /**
   * A copy with another alignment (of each pooled buffer's byte offset within its backing).
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `alignment` is not a power of two in [1, 1 GiB].
   */
  withAlignment(alignment: number): BufferPoolConfig {
    return this.#with({ alignment: assertPowerOfTwo(alignment, 'alignment', MAX_BUFFER_SIZE) });
  }

  /**
   * A copy with another expected number of workers; under the derived cache policy this divides
   * half of each class among them.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `parallelism` is not an integer in [1, 1024].
   */
  withParallelism(parallelism: number): BufferPoolConfig {
    return this.#with({ parallelism: assertInteger(parallelism, 'parallelism', { min: 1, max: MAX_PARALLELISM }) });
  }

  /**
   * A copy whose worker caches hold exactly `capacity` buffers per class.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `capacity` is not an integer in [1, 2^22]
   * ({@link BufferPoolConfig.validate} also requires it to be at most `maxPerClass`).
   */
  withWorkerCacheCapacity(capacity: number): BufferPoolConfig {
    return this.#with({
      workerCache: {
        kind: 'fixed',
        capacity: assertInteger(capacity, 'workerCacheCapacity', { min: 1, max: MAX_TRACKED_BUFFERS }),
      },
    });
  }

  /**
   * A copy without worker caches: every allocation and release goes through the global freelist.
   * Cost: O(1).
   * @throws never
   */
  withWorkerCacheDisabled(): BufferPoolConfig {
    return this.#with({ workerCache: { kind: 'disabled' } });
  }

  /**
   * A copy whose worker cache capacity is derived from `maxPerClass` and `parallelism` (the default).
   * Cost: O(1).
   * @throws never
   */
  withWorkerCacheDerived(): BufferPoolConfig {
    return this.#with({ workerCache: { kind: 'derived' } });
  }

  /**
   * A copy whose `maxPerClass` is sized for an approximate budget of tracked bytes:
   * `ceil(budgetBytes / sum of all class sizes)`, at least one buffer per class, so the resulting
   * capacity may exceed the budget.
   * Cost: O(classes).
   * @throws MemError INVALID_ARGUMENT if `budgetBytes` is not an integer in [1, 2^53 - 1], if
   * `minSize > maxSize`, or if the derived per-class count is above 2^22.
   *
   * @example
   * ```ts
   * import { BufferPoolConfig } from '@mem/buffer-pool';
   * // classes 4, 8 and 16 bytes: 28 bytes per "row", so 280 bytes give 10 per class
   * BufferPoolConfig.from({ minSize: 4, maxSize: 16, alignment: 4 }).withBudgetBytes(280).maxPerClass; // 10
   * ```
   */
  withBudgetBytes(budgetBytes: number): BufferPoolConfig {
    this.#validateClassBounds();
    assertInteger(budgetBytes, 'budgetBytes', { min: 1, max: Number.MAX_SAFE_INTEGER });
    const rowBytes = this.classSizes.reduce((sum, size) => sum + size, 0);
    const maxPerClass = Math.ceil(budgetBytes / rowBytes);
    if (maxPerClass > MAX_TRACKED_BUFFERS) {
      throw conflict(
        `budgetBytes (${budgetBytes}) derives maxPerClass ${maxPerClass}, more than the limit ${MAX_TRACKED_BUFFERS}`,
        { field: 'budgetBytes', value: budgetBytes, maxPerClass },
      );
    }
    return this.#with({ maxPerClass });
  }

  #validateClassBounds(): void {
    if (this.maxSize < this.minSize) {
      throw conflict(`maxSize (${this.maxSize}) must be >= minSize (${this.minSize})`, {
        field: 'maxSize',
        value: this.maxSize,
        minSize: this.minSize,
      });
    }
  }

  /**
   * Checks the rules between fields and returns this configuration: `maxSize >= minSize`,
   * `minSize >= alignment`, `poolMinSize <= minSize`, a fixed worker cache capacity `<= maxPerClass`,
   * and `maxPerClass * classCount <= 2^22`. The pool calls this when it is created.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT naming the fields, their values and the rule.
   */
  validate(): this {
    this.#validateClassBounds();
    if (this.minSize < this.alignment) {
      throw conflict(`minSize (${this.minSize}) must be >= alignment (${this.alignment})`, {
        field: 'minSize',
        value: this.minSize,
        alignment: this.alignment,
      });
    }
    if (this.poolMinSize > this.minSize) {
      throw conflict(`poolMinSize (${this.poolMinSize}) must be <= minSize (${this.minSize})`, {
        field: 'poolMinSize',
        value: this.poolMinSize,
        minSize: this.minSize,
      });
    }
    if (this.workerCache.kind === 'fixed' && this.workerCache.capacity > this.maxPerClass) {
      throw conflict(
        `workerCacheCapacity (${this.workerCache.capacity}) must be <= maxPerClass (${this.maxPerClass})`,
        { field: 'workerCacheCapacity', value: this.workerCache.capacity, maxPerClass: this.maxPerClass },
      );
    }
    const tracked = this.maxPerClass * this.classCount;
    if (tracked > MAX_TRACKED_BUFFERS) {
      throw conflict(
        `maxPerClass (${this.maxPerClass}) times the class count (${this.classCount}) must be <= ${MAX_TRACKED_BUFFERS}`,
        { field: 'maxPerClass', value: this.maxPerClass, classCount: this.classCount },
      );
    }
    return this;
  }

  /** The number of size classes, `log2(maxSize) - log2(minSize) + 1` (0 while `maxSize < minSize`). Cost: O(1). */
  get classCount(): number {
    return Math.max(0, Math.log2(this.maxSize) - Math.log2(this.minSize) + 1);
  }

  /** Every class size, smallest first. Cost: O(classes), a new array. */
  get classSizes(): number[] {
    return Array.from({ length: this.classCount }, (_, index) => this.minSize * 2 ** index);
  }

  /**
   * The per-worker cache capacity this configuration resolves to (the same for every class).
   * Cost: O(1).
   */
  get workerCacheCapacity(): number {
    switch (this.workerCache.kind) {
      case 'disabled':
        return 0;
      case 'fixed':
        return this.workerCache.capacity;
      default: {
        const workers = Math.min(this.parallelism, this.maxPerClass);
        return Math.floor(this.maxPerClass / (2 * workers));
      }
    }
  }

  /**
   * Whether worker caches move batches of `capacity / 2` buffers to and from the global freelist
   * (capacity at least 4), rather than single buffers. Cost: O(1).
   */
  get batchesWorkerCache(): boolean {
    return this.workerCacheCapacity >= MIN_BATCH_CACHE_CAPACITY;
  }

  /**
   * The index of the size class that serves `capacity` bytes, or `undefined` if it is larger than
   * `maxSize` (such a request is oversized).
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `capacity` is not an integer in [0, 2^53 - 1].
   *
   * @example
   * ```ts
   * import { BufferPoolConfig } from '@mem/buffer-pool';
   * const config = BufferPoolConfig.forStorage();
   * config.classIndexOf(4097); // 1 (the 8 KiB class)
   * ```
   */
  classIndexOf(capacity: number): number | undefined {
    assertInteger(capacity, 'capacity', { min: 0, max: Number.MAX_SAFE_INTEGER });
    if (capacity > this.maxSize) return undefined;
    if (capacity <= this.minSize) return 0;
    return ceilLog2(capacity) - ceilLog2(this.minSize);
  }

  /** The fields as a plain, structured-cloneable and JSON-serialisable object. Cost: O(1). */
  toJSON(): BufferPoolConfigFields {
    return {
      poolMinSize: this.poolMinSize,
      minSize: this.minSize,
      maxSize: this.maxSize,
      maxPerClass: this.maxPerClass,
      prefill: this.prefill,
      alignment: this.alignment,
      parallelism: this.parallelism,
      workerCache: { ...this.workerCache },
    };
  }
}
