/**
 * The bad-input matrix of DESIGN.md for every entry point of the pool: negative, zero, NaN,
 * Infinity, fractional, huge, wrong-type, foreign and released arguments each get their MemError
 * code, and the pool still works afterwards, unchanged.
 */
import { RecordingMetricsSink, type MemErrorCode } from '@mem/types';
import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { fragmentationRatio } from './fragmentation.js';
import { renderMemoryMap } from './memory-map-svg.js';
import { checkMemoryMap } from './pool-invariants.test-helper.js';
import { WorkspacePool } from './workspace-pool.js';

/** Asserts the pool is unchanged since `before` and still serves an acquire and a release. */
function expectStillWorking(pool: WorkspacePool, before: ReturnType<WorkspacePool['stats']>): void {
  expect(pool.stats()).toEqual(before);
  const workspace = pool.acquire(128);
  workspace.bytes().fill(1);
  workspace.release();
  checkMemoryMap(pool.snapshot());
}

const notSizes: [string, unknown, MemErrorCode][] = [
  ['negative', -1, 'INVALID_ARGUMENT'],
  ['zero', 0, 'INVALID_ARGUMENT'],
  ['NaN', NaN, 'INVALID_ARGUMENT'],
  ['Infinity', Infinity, 'INVALID_ARGUMENT'],
  ['-Infinity', -Infinity, 'INVALID_ARGUMENT'],
  ['fractional', 1.5, 'INVALID_ARGUMENT'],
  ['huge', 2 ** 53, 'OVERSIZED'],
  ['above the largest workspace', 2 ** 31 + 1, 'OVERSIZED'],
  ['a numeric string', '64', 'INVALID_ARGUMENT'],
  ['null', null, 'INVALID_ARGUMENT'],
  ['undefined', undefined, 'INVALID_ARGUMENT'],
  ['a bigint', 64n, 'INVALID_ARGUMENT'],
  ['an object', { valueOf: () => 64 }, 'INVALID_ARGUMENT'],
];

describe('bad input', () => {
  describe('pool.acquire(size)', () => {
    it.each(notSizes)('rejects a %s size', (_, size, code) => {
      const pool = new WorkspacePool({ initialSize: 64 * 1024 });
      pool.acquire(1000);
      const before = pool.stats();
      expectMemError(() => pool.acquire(size as number), code);
      expectStillWorking(pool, before);
    });
  });

  describe('pool.acquire(size, options)', () => {
    it.each<[string, unknown]>([
      ['null options', null],
      ['numeric options', 42],
      ['a non-string label', { label: 5 }],
      ['a non-boolean zero', { zero: 'yes' }],
    ])('rejects %s', (_, options) => {
      const pool = new WorkspacePool();
      const before = pool.stats();
      expectMemError(() => pool.acquire(64, options as never), 'INVALID_ARGUMENT');
      expectStillWorking(pool, before);
    });
  });

  describe('pool.release(workspace)', () => {
    it.each<[string, unknown]>([
      ['null', null],
      ['undefined', undefined],
      ['a number (a seed-style id)', 1],
      ['a string id', 'ws_1'],
      ['a plain object', { id: 1 }],
    ])('rejects %s with INVALID_ARGUMENT', (_, value) => {
      const pool = new WorkspacePool();
      pool.acquire(64);
      const before = pool.stats();
      expectMemError(() => pool.release(value as never), 'INVALID_ARGUMENT');
      expectStillWorking(pool, before);
    });

    it('rejects a workspace of another pool with FOREIGN_HANDLE, and leaves it live there', () => {
      const pool = new WorkspacePool();
      const other = new WorkspacePool();
      const foreign = other.acquire(64);
      const before = pool.stats();
      expectMemError(() => pool.release(foreign), 'FOREIGN_HANDLE');
      expect(foreign.released).toBe(false);
      expect(other.stats().liveWorkspaces).toBe(1);
      expectStillWorking(pool, before);
    });

    it('rejects a released workspace with DOUBLE_FREE', () => {
      const pool = new WorkspacePool();
      const workspace = pool.acquire(64);
      workspace.release();
      const before = pool.stats();
      expectMemError(() => pool.release(workspace), 'DOUBLE_FREE');
      expectStillWorking(pool, before);
    });

    it('rejects a workspace taken back by clear() with STALE_HANDLE', () => {
      const pool = new WorkspacePool();
      const workspace = pool.acquire(64);
      pool.clear();
      pool.acquire(64);
      const before = pool.stats();
      expectMemError(() => pool.release(workspace), 'STALE_HANDLE');
      expectStillWorking(pool, before);
    });

    it('rejects a pinned workspace with PINNED', () => {
      const pool = new WorkspacePool();
      const workspace = pool.acquire(64);
      workspace.pin();
      const before = pool.stats();
      expectMemError(() => pool.release(workspace), 'PINNED');
      expectStillWorking(pool, before);
    });
  });

  describe('pool.defragment(options)', () => {
    it.each<[string, unknown]>([
      ['null', null],
      ['a number', 5],
      ['a non-boolean throwIfBlocked', { throwIfBlocked: 'yes' }],
    ])('rejects %s with INVALID_ARGUMENT', (_, options) => {
      const pool = new WorkspacePool();
      const before = pool.stats();
      expectMemError(() => pool.defragment(options as never), 'INVALID_ARGUMENT');
      expectStillWorking(pool, before);
    });
  });

  describe('new WorkspacePool(config, options)', () => {
    it.each<[string, unknown]>([
      ['null options', null],
      ['an empty name', { name: '' }],
      ['a numeric name', { name: 7 }],
      ['a logger that is not a function', { logger: 'console' }],
      ['a segment source that is not a function', { segmentSource: {} }],
      ['metrics that are not a sink', { metrics: {} }],
    ])('rejects %s with INVALID_ARGUMENT', (_, options) => {
      expectMemError(() => new WorkspacePool({}, options as never), 'INVALID_ARGUMENT');
    });

    it.each<[string, unknown]>([
      ['a negative initial size', { initialSize: -1 }],
      ['a NaN max size', { maxSize: NaN }],
      ['an Infinity growth factor', { growthFactor: Infinity }],
      ['a fractional alignment', { alignment: 8.5 }],
      ['a huge segment size', { maxSegmentSize: 2 ** 40 }],
      ['a non-object configuration', 'large'],
    ])('rejects %s with INVALID_ARGUMENT', (_, config) => {
      expectMemError(() => new WorkspacePool(config as never), 'INVALID_ARGUMENT');
    });

    it('accepts a metrics sink', () => {
      expect(() => new WorkspacePool({}, { metrics: new RecordingMetricsSink() })).not.toThrow();
    });
  });

  describe('workspace methods', () => {
    it('reject bad view types, unpaired unpins and released handles, and leave the pool unchanged', () => {
      const pool = new WorkspacePool();
      const workspace = pool.acquire(64);
      const released = pool.acquire(64);
      released.release();
      const before = pool.stats();
      expectMemError(() => workspace.view({} as never), 'INVALID_ARGUMENT');
      expectMemError(() => workspace.view((() => 1) as never), 'INVALID_ARGUMENT');
      expectMemError(() => workspace.unpin(), 'INVALID_ARGUMENT');
      expectMemError(() => released.bytes(), 'USE_AFTER_RELEASE');
      expectMemError(() => released.view(Float32Array), 'USE_AFTER_RELEASE');
      expectMemError(() => released.release(), 'DOUBLE_FREE');
      expect(workspace.float32().length).toBe(16);
      expectStillWorking(pool, before);
    });
  });

  describe('fragmentationRatio(largest, free)', () => {
    it.each<[string, unknown, unknown]>([
      ['a negative largest block', -1, 10],
      ['NaN free bytes', 1, NaN],
      ['Infinity free bytes', 1, Infinity],
      ['a fractional size', 0.5, 10],
      ['a largest block above the free bytes', 11, 10],
      ['strings', '1', '10'],
    ])('rejects %s with INVALID_ARGUMENT', (_, largest, free) => {
      expectMemError(() => fragmentationRatio(largest as number, free as number), 'INVALID_ARGUMENT');
    });

    it('computes the ratio for good input', () => {
      expect(fragmentationRatio(0, 0)).toBe(0);
      expect(fragmentationRatio(256, 1024)).toBe(0.75);
    });
  });

  describe('renderMemoryMap(snapshot, options)', () => {
    const snapshot = new WorkspacePool().snapshot();
    it.each<[string, unknown]>([
      ['null', null],
      ['a number', 42],
      ['an object without segments', { pool: 'x' }],
      ['a segment with a NaN length', { segments: [{ byteLength: NaN, blocks: [] }] }],
      [
        'a block with an unknown state',
        { segments: [{ byteLength: 64, blocks: [{ offset: 0, size: 64, state: 'lost' }] }] },
      ],
      [
        'a block with an Infinity size',
        { segments: [{ byteLength: 64, blocks: [{ offset: 0, size: Infinity, state: 'free' }] }] },
      ],
    ])('rejects a snapshot that is %s', (_, value) => {
      expectMemError(() => renderMemoryMap(value as never), 'INVALID_ARGUMENT');
    });

    it.each<[string, unknown]>([
      ['null options', null],
      ['a zero width', { width: 0 }],
      ['a negative width', { width: -5 }],
      ['a fractional width', { width: 640.5 }],
      ['a NaN bar height', { barHeight: NaN }],
      ['a huge width', { width: 1e9 }],
      ['a numeric title', { title: 3 }],
      ['non-boolean tooltips', { tooltips: 1 }],
      ['numeric colours', { colors: { used: 1 } }],
      ['colours that are not an object', { colors: 'red' }],
    ])('rejects %s', (_, options) => {
      expectMemError(() => renderMemoryMap(snapshot, options as never), 'INVALID_ARGUMENT');
    });
  });
});
