import { MemError } from '@mem/types';
import { describe, expect, it } from 'vitest';
import { ALLOCATION_STRATEGIES, WorkspaceConfig } from './workspace-config.js';

const MiB = 1 << 20;

describe('WorkspaceConfig', () => {
  it('has the seed defaults', () => {
    const config = WorkspaceConfig.defaults();
    expect(config.toJSON()).toEqual({
      initialSize: MiB,
      maxSize: 1024 * MiB,
      growthFactor: 2,
      strategy: 'best-fit',
      autoExpand: true,
      enableDefragmentation: false,
      defragThreshold: 0.5,
      defragCheckInterval: 256,
      defragmentOnMiss: true,
      alignment: 64,
      maxSegmentSize: 1024 * MiB,
      backing: 'array-buffer',
    });
  });

  it('gives large models a larger initial size and small models a smaller maximum than the default', () => {
    expect(WorkspaceConfig.largeModel().initialSize).toBeGreaterThan(WorkspaceConfig.defaults().initialSize);
    expect(WorkspaceConfig.smallModel().maxSize).toBeLessThan(WorkspaceConfig.defaults().maxSize);
  });

  it('has the seed presets', () => {
    expect(WorkspaceConfig.largeModel()).toMatchObject({
      initialSize: 64 * MiB,
      maxSize: 8192 * MiB,
      growthFactor: 1.5,
    });
    expect(WorkspaceConfig.smallModel()).toMatchObject({
      initialSize: 256 * 1024,
      maxSize: 128 * MiB,
      growthFactor: 2,
    });
    expect(WorkspaceConfig.memoryOptimized()).toMatchObject({
      initialSize: 512 * 1024,
      maxSize: 256 * MiB,
      growthFactor: 1.2,
      enableDefragmentation: true,
      defragThreshold: 0.3,
    });
  });

  it('caps the segment size at 1 GiB for an 8 GiB large-model budget', () => {
    expect(WorkspaceConfig.largeModel().maxSegmentSize).toBe(1024 * MiB);
    expect(WorkspaceConfig.smallModel().maxSegmentSize).toBe(128 * MiB);
  });

  it('is frozen', () => {
    const config = WorkspaceConfig.defaults();
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { alignment: number }).alignment = 8;
    }).toThrow(TypeError);
  });

  it('applies changes with with() and validates them together with the rest', () => {
    const config = WorkspaceConfig.largeModel().with({ strategy: 'first-fit', alignment: 256 });
    expect(config.strategy).toBe('first-fit');
    expect(config.alignment).toBe(256);
    expect(config.initialSize).toBe(64 * MiB);
    expect(() => WorkspaceConfig.smallModel().with({ initialSize: 256 * MiB })).toThrow(/initialSize/);
  });

  it('lets a derived segment size follow a new maximum', () => {
    expect(WorkspaceConfig.defaults().with({ maxSize: 4 * MiB }).maxSegmentSize).toBe(4 * MiB);
    expect(
      WorkspaceConfig.defaults()
        .with({ maxSegmentSize: 2 * MiB })
        .with({ maxSize: 8 * MiB }).maxSegmentSize,
    ).toBe(2 * MiB);
  });

  it('rounds the initial size up to the alignment, and to 64 KiB pages for wasm memory', () => {
    expect(WorkspaceConfig.from({ initialSize: 1000 }).initialSize).toBe(1024);
    expect(WorkspaceConfig.from({ initialSize: 1000, backing: 'wasm-memory' }).initialSize).toBe(65536);
    expect(WorkspaceConfig.from({ backing: 'wasm-memory' }).segmentGranule).toBe(65536);
  });

  it('accepts every strategy and returns a WorkspaceConfig given to from() as it is', () => {
    for (const strategy of ALLOCATION_STRATEGIES) expect(WorkspaceConfig.from({ strategy }).strategy).toBe(strategy);
    const config = WorkspaceConfig.defaults();
    expect(WorkspaceConfig.from(config)).toBe(config);
  });

  it('round-trips through toJSON and JSON', () => {
    const config = WorkspaceConfig.memoryOptimized();
    expect(WorkspaceConfig.from(JSON.parse(JSON.stringify(config)))).toEqual(config);
  });

  const bad: [string, Record<string, unknown>][] = [
    ['negative initialSize', { initialSize: -1 }],
    ['zero initialSize', { initialSize: 0 }],
    ['NaN initialSize', { initialSize: NaN }],
    ['fractional initialSize', { initialSize: 1.5 }],
    ['string initialSize', { initialSize: '1024' }],
    ['initialSize above maxSize', { initialSize: 4096, maxSize: 2048 }],
    ['Infinity maxSize', { maxSize: Infinity }],
    ['maxSize below the alignment', { maxSize: 32 }],
    ['huge maxSize', { maxSize: 2 ** 60 }],
    ['growthFactor below 1', { growthFactor: 0.5 }],
    ['NaN growthFactor', { growthFactor: NaN }],
    ['growthFactor above 16', { growthFactor: 17 }],
    ['unknown strategy', { strategy: 'worst-fit' }],
    ['non-boolean autoExpand', { autoExpand: 1 }],
    ['non-boolean enableDefragmentation', { enableDefragmentation: 'yes' }],
    ['defragThreshold above 1', { defragThreshold: 1.5 }],
    ['negative defragThreshold', { defragThreshold: -0.1 }],
    ['zero defragCheckInterval', { defragCheckInterval: 0 }],
    ['fractional defragCheckInterval', { defragCheckInterval: 2.5 }],
    ['non-boolean defragmentOnMiss', { defragmentOnMiss: null }],
    ['alignment not a power of two', { alignment: 48 }],
    ['alignment below 8', { alignment: 4 }],
    ['alignment above 64 KiB', { alignment: 1 << 17 }],
    ['maxSegmentSize above 2 GiB', { maxSegmentSize: 2 ** 32 }],
    ['maxSegmentSize not a multiple of the alignment', { maxSegmentSize: 1000 }],
    ['maxSegmentSize not a multiple of a wasm page', { backing: 'wasm-memory', maxSegmentSize: 4096 }],
    ['unknown backing', { backing: 'gpu' }],
    ['unknown option', { initalSize: 1024 }],
  ];
  it.each(bad)('rejects %s with INVALID_ARGUMENT', (_, options) => {
    expect(() => WorkspaceConfig.from(options as never)).toThrow(MemError);
    try {
      WorkspaceConfig.from(options as never);
    } catch (error) {
      expect(MemError.is(error, 'INVALID_ARGUMENT')).toBe(true);
    }
  });

  it.each([null, 42, 'options', [1]])('rejects options %s that are not an object', (options) => {
    expect(() => WorkspaceConfig.from(options as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => WorkspaceConfig.defaults().with(options as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('names the option, the value and the rule in its message', () => {
    expect(() => WorkspaceConfig.from({ growthFactor: 0 })).toThrow('growthFactor must be a number in [1, 16], got 0');
  });
});
