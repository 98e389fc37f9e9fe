import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { RecordingMetricsSink } from '@mem/types';
import { BlockAllocator } from './block-allocator.js';
import { KvTierConnector } from './connector/kv-tier-connector.js';
import { MemoryKvTier } from './connector/memory-kv-tier.js';
import { KvCacheManager } from './kv-cache-manager.js';
import { KvStore } from './kv-store.js';
import { Scheduler } from './scheduler.js';

const NOT_SINKS: unknown[] = [null, 5, 'sink', {}, { counter() {}, gauge() {} }];

describe('the metrics option', () => {
  const store = new KvStore({ numLayers: 1, numBlocks: 4, numKvHeads: 1, blockSize: 4, headDim: 4 });
  const makers: [string, (metrics: unknown) => unknown][] = [
    ['BlockAllocator', (metrics) => new BlockAllocator(4, { metrics: metrics as never })],
    ['KvCacheManager', (metrics) => new KvCacheManager({ numBlocks: 4, metrics: metrics as never })],
    [
      'Scheduler',
      (metrics) =>
        new Scheduler(new KvCacheManager({ numBlocks: 4 }), { maxTokensPerStep: 8, metrics: metrics as never }),
    ],
    [
      'KvTierConnector',
      (metrics) =>
        new KvTierConnector({
          tier: new MemoryKvTier({ maxBytes: 1 << 20 }),
          store,
          model: 'm',
          metrics: metrics as never,
        }),
    ],
  ];

  it.each(makers)('%s refuses what is not a MetricsSink with INVALID_ARGUMENT naming it', (_name, make) => {
    for (const metrics of NOT_SINKS) {
      const error = expectMemError(() => make(metrics), 'INVALID_ARGUMENT');
      expect(error.message).toContain('options.metrics');
    }
    expect(make(new RecordingMetricsSink())).toBeDefined();
  });
});
