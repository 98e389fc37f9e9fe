/**
 * SharedEpochArena and SharedArenaPool against the shared-mode contract of @mem/types: the
 * conformance checks, with a real worker and a garbage collection.
 */
import { describe, expect, it } from 'vitest';
import { sharedModeConformance, type SharedModeSubject } from '@mem/types/conformance';
import { runWorker } from '@mem/testkit';
import { collectGarbage } from '@mem/testkit/collect-garbage';
import { SharedArenaPool, SharedEpochArena } from './index.js';
import type { ConformanceAnswer, ConformanceTask } from './shared-mode-conformance.test-worker.js';

const WORKER = new URL('./shared-mode-conformance.test-worker.ts', import.meta.url);

/** An allocation that reads back, on an open attachment; USE_AFTER_RELEASE on a closed one. */
function use(attachment: SharedEpochArena | SharedArenaPool): number {
  const handle = attachment.allocateCopy(new Uint8Array([4, 5, 6]));
  return attachment.view(handle)[2]!;
}

/** Runs the conformance worker on `attachment`'s descriptor; the worker's bytes read back here. */
async function inWorker(attachment: SharedEpochArena | SharedArenaPool): Promise<void> {
  const handle = attachment.allocateCopy(new Uint8Array([7, 8, 9]));
  const task: ConformanceTask = { descriptor: attachment.descriptor(), handle };
  const answer = await runWorker<ConformanceAnswer>(WORKER, task);
  expect(answer.read).toEqual([7, 8, 9]);
  expect(answer.closed).toBe(true);
  expect([...attachment.view(answer.written)]).toEqual([1, 2, 3]);
}

describe('SharedEpochArena: the shared-mode contract of @mem/types', () => {
  const subject: SharedModeSubject<SharedEpochArena> = {
    kind: 'mem.epoch-arena.shared-epoch-arena',
    version: 1,
    create: () => SharedEpochArena.createShared({ capacity: 1 << 16 }),
    attach: (descriptor) => SharedEpochArena.attach(descriptor as never),
    use,
    async inWorker(descriptor) {
      const attachment = SharedEpochArena.attach(descriptor as never);
      try {
        await inWorker(attachment);
      } finally {
        attachment.close();
      }
    },
    collectGarbage: async () => collectGarbage(),
  };
  for (const check of sharedModeConformance(subject)) it(check.name, check.run);
});

describe('SharedArenaPool: the shared-mode contract of @mem/types', () => {
  const subject: SharedModeSubject<SharedArenaPool> = {
    kind: 'mem.epoch-arena.shared-arena-pool',
    version: 1,
    create: () => SharedArenaPool.createShared({ ringSize: 2, capacity: 1 << 16, leakDetection: 'off' }),
    attach: (descriptor) => SharedArenaPool.attach(descriptor as never, { leakDetection: 'off' }),
    use,
    async inWorker(descriptor) {
      const attachment = SharedArenaPool.attach(descriptor as never, { leakDetection: 'off' });
      try {
        await inWorker(attachment);
      } finally {
        attachment.close();
      }
    },
    collectGarbage: async () => collectGarbage(),
  };
  for (const check of sharedModeConformance(subject)) it(check.name, check.run);
});
