/**
 * The model-based test of a workspace pool, shared by every backing: random acquire, release, pin,
 * unpin, write, defragment, clear and stale-use steps run against the real pool and a reference
 * model, with the memory map, the stats and every live workspace's bytes checked after each step.
 * A backing says how a workspace's bytes are written and read (CPU views, or GPU buffers).
 */
import { MemError } from '@mem/types';
import fc from 'fast-check';
import { expect } from 'vitest';
import { checkMemoryMap, fragmentationOf } from './pool-invariants.test-helper.js';
import { ALLOCATION_STRATEGIES, type WorkspaceConfigOptions } from './workspace-config.js';
import type { WorkspacePool } from './workspace-pool.js';
import type { Workspace } from './workspace.js';

/** How the model test reaches a backing's memory. */
export interface ModelBacking {
  /** A pool of this backing. */
  createPool(config: WorkspaceConfigOptions): WorkspacePool;
  /** Fills the workspace with the pattern of `seed`. */
  fill(handle: Workspace, seed: number): void;
  /** Checks that every live workspace holds its pattern. */
  verify(entries: readonly ModelWorkspace[]): void | Promise<void>;
  /** Frees what the run's pool holds beyond the garbage collector's reach. */
  dispose?(): void;
}

/** The reference model: what each live workspace holds, and where the pinned ones must stay. */
export interface ModelWorkspace {
  readonly handle: Workspace;
  readonly size: number;
  seed: number;
  pins: number;
  pinnedAt: { segment: number; offset: number } | undefined;
}

type Step =
  | { readonly kind: 'acquire'; readonly size: number }
  | { readonly kind: 'release'; readonly pick: number }
  | { readonly kind: 'pin'; readonly pick: number }
  | { readonly kind: 'unpin'; readonly pick: number }
  | { readonly kind: 'write'; readonly pick: number; readonly seed: number }
  | { readonly kind: 'defragment' }
  | { readonly kind: 'clear' }
  | { readonly kind: 'useStale'; readonly pick: number };

export const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('acquire' as const), size: fc.integer({ min: 1, max: 6000 }) }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('pin' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('unpin' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('write' as const), pick: fc.nat(), seed: fc.nat({ max: 255 }) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('defragment' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('useStale' as const), pick: fc.nat() }) },
);

export const configuration = fc.record({
  strategy: fc.constantFrom(...ALLOCATION_STRATEGIES),
  alignment: fc.constantFrom(8, 64, 256),
  initialSize: fc.constantFrom(16 * 1024, 64 * 1024),
  growthFactor: fc.constantFrom(1, 1.5, 2),
  enableDefragmentation: fc.boolean(),
  defragCheckInterval: fc.integer({ min: 1, max: 8 }),
  defragThreshold: fc.constantFrom(0, 0.3, 0.8),
  defragmentOnMiss: fc.boolean(),
  maxSegmentSize: fc.constantFrom(16 * 1024, 64 * 1024),
});

async function checkAgainstModel(
  pool: WorkspacePool,
  model: Map<number, ModelWorkspace>,
  backing: ModelBacking,
): Promise<void> {
  const snapshot = pool.snapshot();
  checkMemoryMap(snapshot);
  const used = new Map(
    snapshot.segments.flatMap((segment) =>
      segment.blocks
        .filter((block) => block.state !== 'free')
        .map((block) => [block.owner!, { segment, block }] as const),
    ),
  );
  expect([...used.keys()].sort((a, b) => a - b)).toEqual([...model.keys()].sort((a, b) => a - b));
  let requested = 0;
  let pinned = 0;
  for (const [id, entry] of model) {
    const { segment, block } = used.get(id)!;
    expect(block.requested).toBe(entry.size);
    expect(block.state).toBe(entry.pins > 0 ? 'pinned' : 'used');
    expect(entry.handle.segment).toBe(segment.index);
    expect(entry.handle.byteOffset).toBe(block.offset);
    if (entry.pinnedAt !== undefined) expect({ segment: segment.index, offset: block.offset }).toEqual(entry.pinnedAt);
    requested += entry.size;
    if (entry.pins > 0) pinned += 1;
  }
  const stats = pool.stats();
  expect(stats.liveWorkspaces).toBe(model.size);
  expect(stats.bytesRequested).toBe(requested);
  expect(stats.pinnedWorkspaces).toBe(pinned);
  expect(stats.bytesInUse + stats.bytesFree).toBe(stats.bytesReserved);
  expect(stats.largestFreeBlock).toBe(snapshot.largestFreeBlock);
  await backing.verify([...model.values()]);
}

/** Runs `steps` on a pool of `backing` made with `config`, checking the model after every step. */
export async function runModel(
  backing: ModelBacking,
  config: WorkspaceConfigOptions,
  steps: readonly Step[],
): Promise<void> {
  const pool = backing.createPool({ ...config, maxSize: 512 * 1024 });
  const model = new Map<number, ModelWorkspace>();
  /** Handles that a clear() took back: every use of them must fail and change nothing. */
  const stale: Workspace[] = [];
  const pick = (n: number): ModelWorkspace | undefined => {
    const entries = [...model.values()];
    return entries.length === 0 ? undefined : entries[n % entries.length];
  };
  for (const action of steps) {
    switch (action.kind) {
      case 'acquire': {
        const before = pool.stats();
        let handle: Workspace;
        try {
          handle = pool.acquire(action.size);
        } catch (error) {
          // Only the budget may refuse: then nothing was handed out.
          expect(MemError.is(error, 'LIMIT_EXCEEDED') || MemError.is(error, 'OVERSIZED')).toBe(true);
          expect(pool.stats().liveWorkspaces).toBe(before.liveWorkspaces);
          break;
        }
        expect(handle.size).toBe(action.size);
        backing.fill(handle, handle.id);
        model.set(handle.id, { handle, size: action.size, seed: handle.id, pins: 0, pinnedAt: undefined });
        break;
      }
      case 'release': {
        const entry = pick(action.pick);
        if (entry === undefined) break;
        if (entry.pins > 0) {
          expect(() => entry.handle.release()).toThrow(expect.objectContaining({ code: 'PINNED' }));
          break;
        }
        entry.handle.release();
        model.delete(entry.handle.id);
        break;
      }
      case 'pin': {
        const entry = pick(action.pick);
        if (entry === undefined) break;
        entry.handle.pin();
        entry.pins += 1;
        entry.pinnedAt ??= { segment: entry.handle.segment, offset: entry.handle.byteOffset };
        break;
      }
      case 'unpin': {
        const entry = pick(action.pick);
        if (entry === undefined) break;
        if (entry.pins === 0) {
          expect(() => entry.handle.unpin()).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
          break;
        }
        entry.handle.unpin();
        entry.pins -= 1;
        if (entry.pins === 0) entry.pinnedAt = undefined;
        break;
      }
      case 'write': {
        const entry = pick(action.pick);
        if (entry === undefined) break;
        entry.seed = action.seed;
        backing.fill(entry.handle, action.seed);
        break;
      }
      case 'defragment': {
        const before = pool.snapshot();
        const report = pool.defragment();
        const after = pool.snapshot();
        const anyPinned = [...model.values()].some((entry) => entry.pins > 0);
        const fragmented = fragmentationOf(before).perSegment.some((ratio) => ratio > 0);
        if (!anyPinned) expect(fragmentationOf(after).perSegment.every((ratio) => ratio === 0)).toBe(true);
        if (!anyPinned && fragmented) {
          expect(report.outcome).toBe('compacted');
          expect(report.reclaimedBytes).toBeGreaterThan(0);
        }
        if (report.outcome !== 'compacted') expect(report.reclaimedBytes).toBe(0);
        expect(report.fragmentationAfter).toBeCloseTo(fragmentationOf(after).overall, 12);
        expect(report.largestFreeBlockAfter).toBe(after.largestFreeBlock);
        break;
      }
      case 'clear': {
        if ([...model.values()].some((entry) => entry.pins > 0)) {
          expect(() => pool.clear()).toThrow(expect.objectContaining({ code: 'PINNED' }));
          break;
        }
        pool.clear();
        stale.push(...[...model.values()].map((entry) => entry.handle));
        model.clear();
        break;
      }
      case 'useStale': {
        if (stale.length === 0) break;
        const handle = stale[action.pick % stale.length]!;
        expect(handle.stale).toBe(true);
        expect(() => handle.release()).toThrow(expect.objectContaining({ code: 'STALE_HANDLE' }));
        expect(() => handle.pin()).toThrow(expect.objectContaining({ code: 'STALE_HANDLE' }));
        expect(() => handle.bytes()).toThrow(expect.objectContaining({ code: 'STALE_HANDLE' }));
        break;
      }
    }
    await checkAgainstModel(pool, model, backing);
  }
}
