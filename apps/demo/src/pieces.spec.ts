import { BufferPool, BufferPoolConfig } from '@mem/buffer-pool';
import { ArenaPool } from '@mem/epoch-arena';
import { MemError } from '@mem/types';
import { WorkspacePool } from '@mem/workspace-pool';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { formatSummaryTable, type LoadSummary } from './load-run.js';
import { DEFAULT_TRACE_OPTIONS, buildLoadTrace } from './load-trace.js';
import { DEFAULT_MODEL_CONFIG } from './model-config.js';
import { percentile } from './percentile.js';
import { PooledIoBuffers } from './pooled-io-buffers.js';
import { PrometheusSink } from './prometheus-sink.js';
import { StatsHistory, type DemoTotals } from './stats-history.js';
import { StepResources } from './step-resources.js';
import { scratchLayout } from './transformer.js';

describe('the Prometheus sink', () => {
  it('publishes counters and gauges with labels, running collectors before a scrape', async () => {
    const registry = new Registry();
    const sink = new PrometheusSink(registry);
    const hits = sink.counter('mem_test_hits_total', 'hits', { class: '1024' });
    const level = sink.gauge('mem_test_level', 'level');
    let kept = 0;
    sink.addCollector(() => level.set(kept));
    hits.inc();
    hits.inc(2);
    kept = 7;
    sink.collect();
    const text = await registry.metrics();
    expect(text).toContain('mem_test_hits_total{class="1024"} 3');
    expect(text).toContain('mem_test_level 7');
  });

  it('rejects a name reused with another type or other label names', () => {
    const sink = new PrometheusSink(new Registry());
    sink.counter('mem_test_total', 'x', { a: '1' });
    expect(() => sink.gauge('mem_test_total', 'x', { a: '1' })).toThrow(MemError);
    expect(() => sink.counter('mem_test_total', 'x', { b: '1' })).toThrow(/labels \[a\], got \[b\]/);
    expect(() => sink.counter('mem_test_total', 'x', { a: '2' })).not.toThrow();
  });

  it('stops running a collector once it is removed', () => {
    const sink = new PrometheusSink(new Registry());
    let runs = 0;
    const remove = sink.addCollector(() => runs++);
    sink.collect();
    remove();
    sink.collect();
    expect(runs).toBe(1);
  });
});

const zeroTotals: DemoTotals = {
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

describe('step resources', () => {
  it('lends scratch sized for the step from workspaces and metadata from a new arena epoch, and takes them back', () => {
    const arenas = new ArenaPool({ ringSize: 4, blockSize: 64 * 1024 });
    const workspaces = new WorkspacePool({ initialSize: 1 << 20 });
    const resources = new StepResources(arenas, workspaces, DEFAULT_MODEL_CONFIG);
    const layout = scratchLayout(DEFAULT_MODEL_CONFIG, 40, 3);
    const memory = resources.beginStep(40, 3, ['cmpl-a', 'cmpl-b']);
    expect(arenas.currentEpoch).toBe(1);
    expect(memory.scratch.gate.length).toBe(layout.gate);
    expect(memory.scratch.logits.length).toBe(layout.logits);
    expect(memory.tokens.length).toBe(40);
    expect(memory.logitRows.length).toBe(3);
    memory.tokens.fill(7);
    memory.positions.fill(9);
    expect([...memory.tokens.slice(0, 2)]).toEqual([7, 7]); // rows do not overlap
    expect(workspaces.stats().liveWorkspaces).toBe(10);
    resources.endStep();
    resources.endStep(); // idempotent
    expect(workspaces.stats().liveWorkspaces).toBe(0);
    const stats = resources.stats();
    expect(stats.epoch).toBe(1);
    expect(stats.arenaAllocationsPerEpoch).toBe(6); // two keys, four row arrays
    expect(stats.arenaBytesPerEpoch).toBeGreaterThanOrEqual(4 * (40 + 40 + 3 + 40));
    expect(stats.workspacePeakBytes).toBeGreaterThanOrEqual(4 * Object.values(layout).reduce((a, b) => a + b, 0));
    expect(resources.memoryMap().segments.length).toBeGreaterThan(0);
  });
  it('pins the step scratch, so a defragmentation during the step moves other workspaces and never these', () => {
    const arenas = new ArenaPool({ ringSize: 4, blockSize: 64 * 1024 });
    const workspaces = new WorkspacePool({ initialSize: 1 << 20 });
    const resources = new StepResources(arenas, workspaces, DEFAULT_MODEL_CONFIG);
    const before = Array.from({ length: 8 }, () => workspaces.acquire(8 * 1024));
    before.filter((_, i) => i % 2 === 0).forEach((workspace) => workspace.release());
    const memory = resources.beginStep(16, 1, ['cmpl-a']);
    memory.scratch.hidden.fill(3.5);
    const report = workspaces.defragment();
    expect(report.pinnedWorkspaces).toBe(10);
    expect(report.workspacesMoved).toBeGreaterThan(0);
    expect(memory.scratch.hidden.every((value) => value === 3.5)).toBe(true);
    resources.endStep();
    expect(workspaces.stats().pinnedWorkspaces).toBe(0);
    before.filter((_, i) => i % 2 === 1).forEach((workspace) => workspace.release());
  });
});

describe('pooled I/O buffers', () => {
  it('lends pooled bytes, hands them to Node without a copy, and returns them on release', () => {
    const pool = new BufferPool(BufferPoolConfig.from({ poolMinSize: 0, minSize: 256, maxSize: 4096, maxPerClass: 4 }));
    const io = new PooledIoBuffers(pool);
    const lease = io.lease(100);
    lease.bytes.set([104, 105]);
    const node = lease.nodeBuffer(2);
    expect(node.toString()).toBe('hi');
    expect(node.buffer).toBe(lease.bytes.buffer);
    const inUse = () => pool.stats().classes.reduce((sum, cls) => sum + cls.inUse, 0);
    expect(inUse()).toBe(1);
    lease.release();
    expect(inUse()).toBe(0);
    pool.close();
  });
});

describe('the load generator', () => {
  it('replays a deterministic trace of printable byte tokens, turns in order', () => {
    const a = buildLoadTrace({ ...DEFAULT_TRACE_OPTIONS, conversations: 5 });
    const b = buildLoadTrace({ ...DEFAULT_TRACE_OPTIONS, conversations: 5 });
    expect(a.conversations.length).toBe(5);
    expect(a.conversations.map((turns) => turns.map((t) => t.maxTokens))).toEqual(
      b.conversations.map((turns) => turns.map((t) => t.maxTokens)),
    );
    for (const turns of a.conversations) {
      for (let i = 1; i < turns.length; i++) {
        expect(turns[i]!.prompt.length).toBeGreaterThan(turns[i - 1]!.prompt.length);
        expect(turns[i]!.arrivalMs).toBeGreaterThan(turns[i - 1]!.arrivalMs);
      }
      for (const turn of turns)
        for (const token of Array.from(turn.prompt)) expect(token >= 32 && token <= 126).toBe(true);
    }
  });

  it('prints one column per run and the ratio of the two', () => {
    const run = (label: string, rps: number, ttft: number, computed: number): LoadSummary => ({
      label,
      requests: 10,
      failed: 0,
      firstError: undefined,
      seconds: 10 / rps,
      requestsPerSecond: rps,
      generatedTokensPerSecond: rps * 20,
      promptTokensPerSecond: rps * 500,
      ttftP50Ms: ttft,
      ttftP99Ms: ttft * 2,
      prefixHitRate: computed < 1000 ? 0.8 : 0,
      prefilledTokens: computed,
      preemptions: 1,
    });
    const table = formatSummaryTable([run('on', 8, 100, 500), run('off', 4, 400, 5000)]);
    expect(table).toMatch(/\|\s+requests\/s\s+\|\s+8\.00 \|\s+4\.00 \|/);
    expect(table).toMatch(/prefix hit rate\s+\|\s+80\.0 % \|\s+0\.0 % \|/);
    expect(table).toContain(
      'prefix caching: 2.00x the requests/s, 4.0x lower TTFT p50, 90 % fewer prompt tokens computed',
    );
  });

  it('computes nearest-rank percentiles', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10);
    expect(percentile([], 50)).toBeNaN();
  });
});
