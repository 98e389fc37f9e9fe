import { describe, expect, it } from 'vitest';
import { runWorker } from '@mem/testkit';
import { SharedEpochArena } from './index.js';
import type { ClaimRaceAnswer, ClaimRaceTask } from './shared-claim-race.test-worker.js';

const WORKER = new URL('./shared-claim-race.test-worker.ts', import.meta.url);

describe('SharedEpochArena: a claim dropped before a reset never takes back bytes of the next generation', () => {
  it('keeps every allocation of the resetting worker in use while other workers drop overlapping claims', async () => {
    const arena = SharedEpochArena.createShared({ capacity: 4096, chunkSize: 256 });
    // This attachment's chunk, [0, 256) bytes, stays announced through every reset: claims that
    // overlap it are dropped, and the bump pointer jumps past it.
    arena.allocate(8);
    const control = new SharedArrayBuffer(8);
    const base = { descriptor: arena.descriptor(), resets: 20_000, claimers: 2, control };
    const answers = await Promise.all([
      runWorker<ClaimRaceAnswer>(WORKER, { ...base, role: 'resetter' } satisfies ClaimRaceTask),
      ...Array.from({ length: base.claimers }, () =>
        runWorker<ClaimRaceAnswer>(WORKER, { ...base, role: 'claimer' } satisfies ClaimRaceTask),
      ),
    ]);
    const resetter = answers[0]!;
    expect(resetter.firstError).toBeUndefined();
    expect(resetter.lost).toBe(0);
    arena.close();
  });
});
