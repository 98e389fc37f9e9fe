import { describe, expect, it } from 'vitest';
import { StatsHistory, type DemoTotals } from './stats-history.js';

const zeroTotals: DemoTotals = {
  tierHitTokens: 0,
  tierLoadedBytes: 0,
  tierSavedBytes: 0,
  tierLoadSeconds: 0,
  tierLoads: 0,
  tierErrors: 0,
  requestsCompleted: 0,
  requestsCancelled: 0,
  tokensGenerated: 0,
  tokensPrefilled: 0,
  running: 0,
  waiting: 0,
  kvBlocksInUse: 0,
  kvBlocksCached: 0,
  kvBlocksTotal: 64,
  prefixQueriedTokens: 0,
  prefixHitTokens: 0,
  preemptions: 0,
  bufferAllocations: 0,
  bufferFallbacks: 0,
  buffersInUse: 0,
  arenaBytesPerEpoch: 0,
  arenaEpoch: 0,
  workspaceFragmentation: 0,
  workspacePeakBytes: 0,
  defragmentations: 0,
  steps: 0,
  ttftP50Ms: 0,
};

describe('the dashboard history', () => {
  it('turns totals into rates and levels, and keeps a hit rate over recent samples', () => {
    const history = new StatsHistory(3);
    history.record(zeroTotals);
    const sample = history.record({
      ...zeroTotals,
      tokensGenerated: 50,
      prefixQueriedTokens: 200,
      prefixHitTokens: 150,
      running: 4,
      workspaceFragmentation: 0.25,
      workspacePeakBytes: 2048,
    });
    expect(sample.generatedTokensPerSecond).toBeGreaterThan(0);
    expect(sample.prefixHitRatePercent).toBe(75);
    expect(sample.running).toBe(4);
    expect(sample.workspaceFragmentationPercent).toBe(25);
    expect(sample.workspacePeakKiB).toBe(2);
  });

  it('keeps only the newest samples and events', () => {
    const history = new StatsHistory(3, 2);
    for (let i = 0; i < 5; i++) history.record({ ...zeroTotals, preemptions: i });
    expect(history.samples().map((s) => s.preemptions)).toEqual([2, 3, 4]);
    history.event('a');
    history.event('b');
    history.event('c');
    expect(history.events().map((e) => e.message)).toEqual(['c', 'b']);
  });
});
