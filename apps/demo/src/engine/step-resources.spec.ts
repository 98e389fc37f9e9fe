import { ArenaPool } from '@mem/epoch-arena';
import { WorkspacePool } from '@mem/workspace-pool';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_CONFIG } from '../model/model-config.js';
import { scratchLayout } from '../model/transformer.js';
import { StepResources } from './step-resources.js';

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
