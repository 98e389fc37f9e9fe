import { describe, expect, it } from 'vitest';
import { MemError } from '@mem/types';
import { BufferPoolConfig } from './buffer-pool-config.js';
import { MAX_TRACKED_BUFFERS } from './pool-limits.js';

const page = 4096;

function testConfig(minSize: number, maxSize: number, maxPerClass: number): BufferPoolConfig {
  return BufferPoolConfig.from({ minSize, maxSize, maxPerClass, alignment: page });
}

function invalid(action: () => unknown): MemError {
  try {
    action();
  } catch (error) {
    expect(MemError.is(error, 'INVALID_ARGUMENT')).toBe(true);
    return error as MemError;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('BufferPoolConfig', () => {
  it('accepts a valid configuration', () => {
    const config = testConfig(page, page * 4, 10);
    expect(config.validate()).toBe(config);
    expect(config.classSizes).toEqual([page, page * 2, page * 4]);
  });

  it('rejects a fixed worker cache larger than maxPerClass, naming both values', () => {
    const error = invalid(() =>
      testConfig(page, page * 4, 10)
        .withWorkerCacheCapacity(11)
        .validate(),
    );
    expect(error.message).toBe('workerCacheCapacity (11) must be <= maxPerClass (10)');
  });

  it('rejects a minSize that is not a power of two, naming the field, the value and the rule', () => {
    const error = invalid(() => BufferPoolConfig.forNetwork().withMinSize(3000));
    expect(error.message).toBe('minSize must be a power of two in [1, 1073741824], got 3000');
    expect(error.details).toMatchObject({ argument: 'minSize', value: 3000 });
  });

  it('rejects a minSize below the alignment', () => {
    const error = invalid(() => BufferPoolConfig.forStorage().withAlignment(8192).validate());
    expect(error.message).toBe('minSize (4096) must be >= alignment (8192)');
  });

  it('rejects a maxSize below minSize', () => {
    const error = invalid(() => BufferPoolConfig.forNetwork().withMaxSize(512).validate());
    expect(error.message).toBe('maxSize (512) must be >= minSize (1024)');
  });

  it('rejects a poolMinSize above minSize', () => {
    const error = invalid(() => BufferPoolConfig.forNetwork().withPoolMinSize(2048).validate());
    expect(error.message).toBe('poolMinSize (2048) must be <= minSize (1024)');
  });

  it('rejects more tracked buffers than the pool can keep books for', () => {
    const error = invalid(() => BufferPoolConfig.forNetwork().withMaxPerClass(MAX_TRACKED_BUFFERS).validate());
    expect(error.message).toContain(`must be <= ${MAX_TRACKED_BUFFERS}`);
  });

  it('computes the class index of a request', () => {
    const config = testConfig(page, page * 8, 10);
    expect(config.classCount).toBe(4);
    expect(config.classIndexOf(0)).toBe(0);
    expect(config.classIndexOf(1)).toBe(0);
    expect(config.classIndexOf(page)).toBe(0);
    expect(config.classIndexOf(page + 1)).toBe(1);
    expect(config.classIndexOf(page * 2)).toBe(1);
    expect(config.classIndexOf(page * 4 + 1)).toBe(3);
    expect(config.classIndexOf(page * 8 - 1)).toBe(3);
    expect(config.classIndexOf(page * 8)).toBe(3);
    expect(config.classIndexOf(page * 8 + 1)).toBeUndefined();
  });

  it('has a network preset of 1 KiB to 128 KiB, 4096 per class', () => {
    const config = BufferPoolConfig.forNetwork().validate();
    expect(config.toJSON()).toEqual({
      poolMinSize: 0,
      minSize: 1024,
      maxSize: 128 * 1024,
      maxPerClass: 4096,
      prefill: false,
      alignment: 1,
      parallelism: 1,
      workerCache: { kind: 'derived' },
    });
  });

  it('has a storage preset of a page to 8 MiB, 64 per class', () => {
    const config = BufferPoolConfig.forStorage().validate();
    expect(config.toJSON()).toEqual({
      poolMinSize: 0,
      minSize: page,
      maxSize: 8 * 1024 * 1024,
      maxPerClass: 64,
      prefill: false,
      alignment: 1,
      parallelism: 1,
      workerCache: { kind: 'derived' },
    });
    expect(BufferPoolConfig.forStorage(16384).minSize).toBe(16384);
    invalid(() => BufferPoolConfig.forStorage(3000));
  });

  it('chains builders into a new value each time, leaving the original untouched', () => {
    const base = BufferPoolConfig.forStorage();
    const config = base
      .withPoolMinSize(1024)
      .withMaxPerClass(64)
      .withParallelism(4)
      .withWorkerCacheCapacity(8)
      .withPrefill(true)
      .withMinSize(page)
      .withMaxSize(128 * 1024)
      .validate();
    expect(config.poolMinSize).toBe(1024);
    expect(config.minSize).toBe(page);
    expect(config.maxSize).toBe(128 * 1024);
    expect(config.maxPerClass).toBe(64);
    expect(config.parallelism).toBe(4);
    expect(config.workerCache).toEqual({ kind: 'fixed', capacity: 8 });
    expect(config.prefill).toBe(true);
    expect(config.alignment).toBe(1);
    expect(base.prefill).toBe(false);
    expect(Object.isFrozen(config)).toBe(true);

    // Alignment can be raised as long as minSize follows.
    const aligned = BufferPoolConfig.forNetwork()
      .withPoolMinSize(256)
      .withParallelism(4)
      .withAlignment(256)
      .withMinSize(256)
      .validate();
    expect(aligned.parallelism).toBe(4);
    expect(aligned.workerCache).toEqual({ kind: 'derived' });
    expect(aligned.alignment).toBe(256);
    expect(aligned.minSize).toBe(256);
  });

  it('switches the worker cache policy between derived, fixed and disabled', () => {
    const config = BufferPoolConfig.forNetwork();
    expect(config.withWorkerCacheDisabled().workerCacheCapacity).toBe(0);
    expect(config.withWorkerCacheCapacity(7).workerCacheCapacity).toBe(7);
    expect(config.withWorkerCacheCapacity(7).withWorkerCacheDerived().workerCacheCapacity).toBe(2048);
  });

  it('moves buffers between worker caches and the global freelist in batches from a capacity of 4', () => {
    const config = BufferPoolConfig.forNetwork();
    expect(config.withWorkerCacheDisabled().batchesWorkerCache).toBe(false);
    expect(config.withWorkerCacheCapacity(3).batchesWorkerCache).toBe(false);
    expect(config.withWorkerCacheCapacity(4).batchesWorkerCache).toBe(true);
    expect(config.batchesWorkerCache).toBe(true);
  });

  it('derives the worker cache from half of each class divided among the expected workers', () => {
    expect(testConfig(page, page, 64).withParallelism(8).workerCacheCapacity).toBe(4);
    expect(testConfig(page, page, 4096).withParallelism(8).workerCacheCapacity).toBe(256);
    // More expected workers than buffers: the share rounds to zero, which disables the cache.
    expect(testConfig(page, page, 2).withParallelism(8).workerCacheCapacity).toBe(0);
    expect(testConfig(page, page, 2).workerCacheCapacity).toBe(1);
  });

  it('lets a fixed worker cache capacity override the derived one', () => {
    expect(testConfig(page, page, 64).withParallelism(8).withWorkerCacheCapacity(7).workerCacheCapacity).toBe(7);
  });

  it('sizes maxPerClass from a byte budget, rounding up to at least one per class', () => {
    // Classes 4, 8 and 16 bytes: 28 bytes per row, 280 bytes give 10 per class.
    const config = BufferPoolConfig.from({ minSize: 4, maxSize: 16, maxPerClass: 1, alignment: 4 });
    expect(config.withBudgetBytes(280).maxPerClass).toBe(10);
    expect(config.withBudgetBytes(281).maxPerClass).toBe(11);
    expect(config.withBudgetBytes(10).maxPerClass).toBe(1);
  });

  it('checks the class bounds and the budget before sizing from it', () => {
    const reversed = BufferPoolConfig.forNetwork().withMaxSize(512);
    expect(invalid(() => reversed.withBudgetBytes(1 << 20)).message).toBe('maxSize (512) must be >= minSize (1024)');
    invalid(() => BufferPoolConfig.forNetwork().withBudgetBytes(0));
    const tooMany = invalid(() => BufferPoolConfig.from({ minSize: 1, maxSize: 1 }).withBudgetBytes(2 ** 40));
    expect(tooMany.message).toContain('more than the limit');
  });

  it('builds from plain fields, defaulting to the network preset, and rejects unknown fields', () => {
    const config = BufferPoolConfig.from({ minSize: 4096, maxSize: 65536, maxPerClass: 32 });
    expect(config.classSizes).toEqual([4096, 8192, 16384, 32768, 65536]);
    expect(config.alignment).toBe(1);
    expect(BufferPoolConfig.from({ workerCache: { kind: 'fixed', capacity: 3 } }).workerCacheCapacity).toBe(3);
    expect(BufferPoolConfig.from({ workerCache: { kind: 'disabled' } }).workerCacheCapacity).toBe(0);
    expect(invalid(() => BufferPoolConfig.from({ minsize: 4096 } as never)).message).toContain(
      'config.minsize must be absent',
    );
    invalid(() => BufferPoolConfig.from({ workerCache: { kind: 'fixed' } } as never));
    invalid(() => BufferPoolConfig.from({ workerCache: 'off' } as never));
    invalid(() => BufferPoolConfig.from(null as never));
    invalid(() => BufferPoolConfig.from([] as never));
    invalid(() => BufferPoolConfig.from({ minSize: 4096, maxSize: 1024 }));
  });

  it('round-trips through toJSON and from', () => {
    const config = BufferPoolConfig.forStorage().withParallelism(3).withWorkerCacheCapacity(5).withPrefill(true);
    expect(BufferPoolConfig.from(JSON.parse(JSON.stringify(config)))).toEqual(config);
  });

  describe('rejects bad builder arguments with INVALID_ARGUMENT', () => {
    const bad = [-1, 0.5, NaN, Infinity, -Infinity, 2 ** 60, '4096', null, undefined, {}, 10n];
    const builders: [string, (config: BufferPoolConfig, value: never) => unknown, unknown[]][] = [
      ['withPoolMinSize', (c, v) => c.withPoolMinSize(v), bad.filter((v) => v !== 0)],
      ['withMinSize', (c, v) => c.withMinSize(v), [...bad, 0, 3, 2 ** 31]],
      ['withMaxSize', (c, v) => c.withMaxSize(v), [...bad, 0, 3, 2 ** 31]],
      ['withMaxPerClass', (c, v) => c.withMaxPerClass(v), [...bad, 0, MAX_TRACKED_BUFFERS + 1]],
      ['withAlignment', (c, v) => c.withAlignment(v), [...bad, 0, 3]],
      ['withParallelism', (c, v) => c.withParallelism(v), [...bad, 0, 1025]],
      ['withWorkerCacheCapacity', (c, v) => c.withWorkerCacheCapacity(v), [...bad, 0]],
      ['withBudgetBytes', (c, v) => c.withBudgetBytes(v), [...bad, 0]],
      ['withPrefill', (c, v) => c.withPrefill(v), [0, 1, 'true', null, undefined]],
      ['classIndexOf', (c, v) => c.classIndexOf(v), [-1, 0.5, NaN, Infinity, 2 ** 60, '1', null]],
    ];
    for (const [name, build, values] of builders) {
      it(`${name} rejects ${values.length} bad values and leaves the configuration usable`, () => {
        const config = BufferPoolConfig.forNetwork();
        for (const value of values) invalid(() => build(config, value as never));
        expect(config.validate().classCount).toBe(8);
      });
    }
  });
});
