/**
 * The bad-input matrix of DESIGN.md for every entry point that takes an argument: negative, zero,
 * NaN, Infinity, fractional, huge, wrong-type, foreign and released arguments each get their
 * MemError code, and the pool is unchanged and still works afterwards.
 */
import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import type { MemErrorCode } from '@mem/types';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { BufferPoolStats } from './buffer-pool-stats.js';
import type { BufferTransfer } from './buffer-transfer.js';
import { FrozenBuffer } from './frozen-buffer.js';
import { IoBuffer } from './io-buffer.js';

const config = BufferPoolConfig.from({ minSize: 1024, maxSize: 4096, maxPerClass: 4 });

/** The state of a pool, without the counters that failed requests legitimately bump. */
function state(pool: BufferPool): unknown {
  const stats: BufferPoolStats = pool.stats();
  return stats.classes.map(({ size, created, globalFree, localFree, inUse }) => ({
    size,
    created,
    globalFree,
    localFree,
    inUse,
  }));
}

function expectStillWorks(pool: BufferPool): void {
  const buffer = pool.tryAlloc(1024);
  expect(buffer.isPooled).toBe(true);
  buffer.write([1]);
  buffer.release();
}

const wrongTypes: [string, unknown][] = [
  ['a numeric string', '1024'],
  ['null', null],
  ['undefined', undefined],
  ['an object', {}],
  ['an array', [1024]],
  ['a bigint', 1024n],
  ['a boolean', true],
  ['a symbol', Symbol('size')],
  ['a function', () => 1024],
];

const badSizes: [string, unknown][] = [
  ['negative', -1],
  ['negative zero... is zero', -0],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['fractional', 1.5],
  ['beyond the safe integers', 2 ** 53],
  ...wrongTypes,
];

describe('bad input', () => {
  const entryPoints: [string, (pool: BufferPool, value: never) => unknown][] = [
    ['alloc', (pool, value) => pool.alloc(value)],
    ['tryAlloc', (pool, value) => pool.tryAlloc(value)],
    ['allocZeroed', (pool, value) => pool.allocZeroed(value)],
    ['tryAllocZeroed', (pool, value) => pool.tryAllocZeroed(value)],
  ];

  for (const [name, call] of entryPoints) {
    describe(name, () => {
      it('rejects negative, NaN, infinite, fractional, unsafe and wrongly typed sizes with INVALID_ARGUMENT', () => {
        const pool = new BufferPool(config, { leakDetection: 'off' });
        pool.tryAlloc(2048).release();
        const before = state(pool);
        for (const [label, value] of badSizes) {
          if (label.startsWith('negative zero')) continue;
          expectMemError(() => call(pool, value as never), 'INVALID_ARGUMENT', label);
        }
        expect(state(pool)).toEqual(before);
        expectStillWorks(pool);
      });

      it('serves zero (and negative zero) from the smallest class', () => {
        const pool = new BufferPool(config, { leakDetection: 'off' });
        for (const zero of [0, -0]) {
          const buffer = call(pool, zero as never) as IoBuffer;
          expect(buffer.capacity).toBe(1024);
          expect(buffer.length).toBe(0);
          buffer.release();
        }
      });

      it('handles a huge but valid size without touching the pool', () => {
        const pool = new BufferPool(config, { leakDetection: 'off' });
        const before = state(pool);
        const strict = name.startsWith('try');
        // 2^45 bytes: larger than any class; the untracked fallback cannot be allocated either.
        expectMemError(() => call(pool, (2 ** 45) as never), strict ? 'OVERSIZED' : 'EXHAUSTED');
        expect(state(pool)).toEqual(before);
        expectStillWorks(pool);
      });

      it('refuses to allocate from a closed pool with USE_AFTER_RELEASE', () => {
        const pool = new BufferPool(config, { leakDetection: 'off' });
        pool.close();
        expectMemError(() => call(pool, 1024 as never), 'USE_AFTER_RELEASE');
        // Bad arguments are still reported as such.
        expectMemError(() => call(pool, -1 as never), 'INVALID_ARGUMENT');
      });
    });
  }

  it('new BufferPool rejects bad configurations and options with INVALID_ARGUMENT', () => {
    const badConfigs: unknown[] = [
      5,
      'network',
      [],
      true,
      () => config,
      { minSize: -1 },
      { maxSize: 1.5 },
      { bogus: 1 },
    ];
    for (const value of badConfigs) expectMemError(() => new BufferPool(value as never), 'INVALID_ARGUMENT');
    const badOptions: unknown[] = [
      null,
      5,
      'shared',
      [],
      { shared: 'yes' },
      { shared: 1 },
      { leakDetection: 'always' },
      { leakDetection: null },
      { leakSampleInterval: 0 },
      { leakSampleInterval: -1 },
      { leakSampleInterval: NaN },
      { leakSampleInterval: Infinity },
      { leakSampleInterval: 1.5 },
      { leakSampleInterval: 2 ** 40 },
      { leakSampleInterval: '8' },
      { onLeak: 'log' },
      { name: '' },
      { name: 7 },
      { metrics: {} },
      { metrics: null },
      { unknownOption: true },
    ];
    for (const value of badOptions) {
      expectMemError(() => new BufferPool(config, value as never), 'INVALID_ARGUMENT', JSON.stringify(value));
    }
  });

  it('BufferPool.attach rejects what descriptor() did not make, and bad options', () => {
    const pool = BufferPool.createShared(config, { leakDetection: 'off' });
    const descriptor = pool.descriptor();
    const before = state(pool);
    for (const value of [undefined, null, 0, -1, NaN, 'pool', [], {}, { ...descriptor, version: NaN }]) {
      expectMemError(() => BufferPool.attach(value as never), 'INVALID_ARGUMENT');
    }
    // A descriptor of another pool is that pool: attaching to it is legitimate.
    const other = BufferPool.createShared(config).descriptor();
    BufferPool.attach(other).close();
    for (const options of [null, 5, { leakDetection: 'x' }, { shared: true }]) {
      expectMemError(() => BufferPool.attach(descriptor, options as never), 'INVALID_ARGUMENT');
    }
    expect(state(pool)).toEqual(before);
    expectStillWorks(pool);
  });

  it('adopt rejects malformed, foreign, replayed and released descriptors with their codes', () => {
    const pool = new BufferPool(config, { leakDetection: 'off' });
    const foreign = new BufferPool(config, { leakDetection: 'off' }).alloc(1024).transfer();
    const adopted = pool.alloc(1024).transfer();
    pool.adopt(adopted).release();
    const pending = pool.alloc(1024).transfer();
    const before = state(pool);
    const cases: [unknown, MemErrorCode][] = [
      [-1, 'INVALID_ARGUMENT'],
      [0, 'INVALID_ARGUMENT'],
      [NaN, 'INVALID_ARGUMENT'],
      [Infinity, 'INVALID_ARGUMENT'],
      [1.5, 'INVALID_ARGUMENT'],
      [2 ** 60, 'INVALID_ARGUMENT'],
      ...wrongTypes.map(([, value]) => [value, 'INVALID_ARGUMENT'] as [unknown, MemErrorCode]),
      [{ ...pending, slot: -5 }, 'INVALID_ARGUMENT'],
      [{ ...pending, length: Infinity }, 'INVALID_ARGUMENT'],
      [{ ...pending, capacity: 1.5 }, 'INVALID_ARGUMENT'],
      [{ ...pending, poolId: NaN }, 'INVALID_ARGUMENT'],
      [foreign, 'FOREIGN_HANDLE'],
      [adopted, 'STALE_HANDLE'],
    ];
    for (const [value, code] of cases) expectMemError(() => pool.adopt(value as BufferTransfer), code);
    expect(state(pool)).toEqual(before);
    pool.adopt(pending).release();
    expectStillWorks(pool);
  });

  it('handles refuse released arguments and bad values, leaving the pool unchanged', () => {
    const pool = new BufferPool(config, { leakDetection: 'off' });
    const buffer = pool.alloc(1024);
    const frozen = pool.alloc(1024).freeze();
    const before = state(pool);
    for (const value of [-1, 1025, NaN, Infinity, 0.5, 2 ** 53, ...wrongTypes.map(([, v]) => v)]) {
      expectMemError(() => (buffer.length = value as number), 'INVALID_ARGUMENT');
      // `undefined` means "omitted" for slice bounds, as for Array.prototype.slice.
      if (value === undefined) continue;
      expectMemError(() => frozen.slice(value as number), 'INVALID_ARGUMENT');
      expectMemError(() => frozen.slice(0, value as number), 'INVALID_ARGUMENT');
    }
    for (const value of [-1, NaN, 'bytes', null, undefined, {}, 5n]) {
      expectMemError(() => buffer.write(value as never), 'INVALID_ARGUMENT');
    }
    for (const value of [undefined, null, 0, 'frozen', {}, buffer]) {
      expectMemError(() => IoBuffer.tryFromFrozen(value as never), 'INVALID_ARGUMENT');
    }
    expect(state(pool)).toEqual(before);
    buffer.release();
    frozen.release();
    expectMemError(() => IoBuffer.tryFromFrozen(frozen), 'USE_AFTER_RELEASE');
    expectMemError(() => buffer.freeze(), 'USE_AFTER_RELEASE');
    expectMemError(() => frozen.clone(), 'USE_AFTER_RELEASE');
    expectMemError(() => buffer.release(), 'DOUBLE_FREE');
    expectMemError(() => frozen.release(), 'DOUBLE_FREE');
    expect(frozen).toBeInstanceOf(FrozenBuffer);
    expectStillWorks(pool);
  });
});
