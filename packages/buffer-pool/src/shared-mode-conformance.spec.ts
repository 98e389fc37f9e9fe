import { describe, expect, it } from 'vitest';
import { sharedModeConformance, type SharedModeSubject } from '@mem/types/conformance';
import { collectGarbage } from '@mem/testkit/collect-garbage';
import { runWorker } from '@mem/testkit';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import { POOL_DESCRIPTOR_KIND, POOL_LAYOUT_VERSION } from './pool-descriptor.js';
import type { ConformanceAnswer } from './shared-mode-conformance.test-worker.js';

const config = BufferPoolConfig.from({ minSize: 1024, maxSize: 4096, maxPerClass: 16 });

const subject: SharedModeSubject<BufferPool> = {
  kind: POOL_DESCRIPTOR_KIND,
  version: POOL_LAYOUT_VERSION,
  create: () => BufferPool.createShared(config, { leakDetection: 'off' }),
  attach: (descriptor) => BufferPool.attach(descriptor as never, { leakDetection: 'off' }),
  use: (pool) => pool.alloc(4096).release(),
  inWorker: async (descriptor) => {
    const answer = await runWorker<ConformanceAnswer>(
      new URL('./shared-mode-conformance.test-worker.ts', import.meta.url),
      descriptor,
    );
    expect(answer).toEqual({ readBack: 9, closed: true });
  },
  collectGarbage: async () => collectGarbage(),
};

describe('BufferPool: the shared-mode contract of @mem/types', () => {
  for (const check of sharedModeConformance(subject)) it(check.name, check.run);
});
