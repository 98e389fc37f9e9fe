import fc from 'fast-check';
import { describe, it } from 'vitest';
import { fillPattern, firstPatternMismatch } from './pool-invariants.test-helper.js';
import { configuration, runModel, step, type ModelBacking } from './pool-model.test-helper.js';
import { WorkspacePool } from './workspace-pool.js';

const cpu: ModelBacking = {
  createPool: (config) => new WorkspacePool(config),
  fill: (handle, seed) => fillPattern(handle.bytes(), seed),
  verify(entries) {
    for (const entry of entries) {
      if (firstPatternMismatch(entry.handle.bytes(), entry.seed) !== -1) {
        throw new Error(`workspace #${entry.handle.id} lost its bytes`);
      }
    }
  },
};

describe('WorkspacePool against a reference model', () => {
  it('keeps every invariant through random acquire, release, pin, write, defragment and clear steps', async () => {
    await fc.assert(
      fc.asyncProperty(configuration, fc.array(step, { minLength: 1, maxLength: 80 }), (config, steps) =>
        runModel(cpu, config, steps),
      ),
      { numRuns: 150 },
    );
  });
});
