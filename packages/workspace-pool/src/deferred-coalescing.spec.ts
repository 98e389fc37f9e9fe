import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkMemoryMap } from './pool-invariants.test-helper.js';
import type { MemoryMapSnapshot } from './memory-map.js';
import { ALLOCATION_STRATEGIES, type WorkspaceConfigOptions } from './workspace-config.js';
import { WorkspacePool } from './workspace-pool.js';
import type { WorkspacePoolStats } from './workspace-pool-options.js';
import type { Workspace } from './workspace.js';

// A release leaves its block pending and merges it at the next allocation (or inspection), where
// LIFO churn re-cuts it in place. These tests prove that nothing can tell: a pool inspected after
// every step (so every release merges at once) and a pool inspected only at the end end up with
// the same memory map, the same handles' places and the same figures.

/** A scripted step: acquire `size` bytes, or release the workspace acquired `index`-th (from 0). */
type Op = readonly ['acquire', number] | readonly ['release', number];

type Step =
  | { readonly kind: 'acquire'; readonly size: number }
  | { readonly kind: 'churn'; readonly sizes: readonly number[] }
  | { readonly kind: 'release'; readonly pick: number; readonly newest: boolean }
  | { readonly kind: 'pin'; readonly pick: number }
  | { readonly kind: 'defragment' };

/** Sizes are fractions of a segment, so that holes, tails and requests meet in the same bins. */
const size = fc.integer({ min: 1, max: 1000 });

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('acquire' as const), size }) },
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat(), newest: fc.boolean() }),
  },
  {
    // LIFO scratch: give the newest back and take another, a few times over (the re-cut path).
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('churn' as const),
      sizes: fc.array(size, { minLength: 1, maxLength: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pin' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('defragment' as const) }) },
);

const configuration = fc.record({
  strategy: fc.constantFrom(...ALLOCATION_STRATEGIES),
  alignment: fc.constantFrom(8, 64),
  /** Segment size over 1000 (the largest size step): requests are up to a quarter of a segment, or much less. */
  segmentScale: fc.constantFrom(4, 16, 256),
  segments: fc.integer({ min: 1, max: 3 }),
  defragmentOnMiss: fc.boolean(),
  enableDefragmentation: fc.boolean(),
  defragCheckInterval: fc.integer({ min: 1, max: 4 }),
});

type Configuration = typeof configuration extends fc.Arbitrary<infer T> ? T : never;

const base = fc.array(size, { maxLength: 12 });

/** Runs the steps; `inspect` after each one when asked. Returns the pool and its live handles by id. */
function play(
  config: Configuration,
  base: readonly number[],
  steps: readonly Step[],
  inspectEveryStep: boolean,
): { pool: WorkspacePool; live: Map<number, Workspace> } {
  const { segmentScale, segments, ...options } = config;
  const segment = 1024 * segmentScale;
  const pool = new WorkspacePool({
    ...options,
    initialSize: segments * segment,
    maxSegmentSize: segment,
    maxSize: (segments + 4) * segment,
  });
  const live = new Map<number, Workspace>();
  // Workspaces that stay (unless a step releases them), so that churn happens above live blocks.
  for (const size of base) {
    const workspace = pool.acquire(size);
    live.set(workspace.id, workspace);
  }
  for (const action of steps) {
    const handles = [...live.values()];
    switch (action.kind) {
      case 'acquire': {
        try {
          const workspace = pool.acquire(action.size);
          live.set(workspace.id, workspace);
        } catch {
          // The budget refused: the same in both runs.
        }
        break;
      }
      case 'churn': {
        for (const size of action.sizes) {
          const newest = [...live.values()].at(-1);
          if (newest === undefined || newest.pinned) break;
          newest.release();
          live.delete(newest.id);
          if (inspectEveryStep) pool.snapshot();
          try {
            const workspace = pool.acquire(size);
            live.set(workspace.id, workspace);
          } catch {
            // The budget refused: the same in both runs.
          }
        }
        break;
      }
      case 'release': {
        if (handles.length === 0) break;
        const workspace = action.newest ? handles[handles.length - 1]! : handles[action.pick % handles.length]!;
        if (workspace.pinned) break;
        workspace.release();
        live.delete(workspace.id);
        break;
      }
      case 'pin': {
        if (handles.length === 0) break;
        const workspace = handles[action.pick % handles.length]!;
        if (workspace.pinned) workspace.unpin();
        else workspace.pin();
        break;
      }
      case 'defragment':
        pool.defragment();
        break;
    }
    if (inspectEveryStep) pool.snapshot();
  }
  return { pool, live };
}

describe('deferred coalescing', () => {
  it('leaves the same memory map, places and figures as merging at once', () => {
    fc.assert(
      fc.property(configuration, base, fc.array(step, { minLength: 1, maxLength: 120 }), (config, kept, steps) => {
        const atOnce = play(config, kept, steps, true);
        const deferred = play(config, kept, steps, false);
        const expected = atOnce.pool.snapshot();
        const actual = deferred.pool.snapshot();
        checkMemoryMap(actual);
        expect(actual.segments).toEqual(expected.segments);
        expect(deferred.pool.stats()).toEqual(atOnce.pool.stats());
        expect([...deferred.live.keys()]).toEqual([...atOnce.live.keys()]);
        for (const [id, workspace] of deferred.live) {
          const twin = atOnce.live.get(id)!;
          expect([workspace.segment, workspace.byteOffset, workspace.capacity]).toEqual([
            twin.segment,
            twin.byteOffset,
            twin.capacity,
          ]);
        }
      }),
      { numRuns: 150 },
    );
  });

  // Each case below is a state where re-cutting the pending block in place would differ from
  // merging it and then cutting by best fit (other free blocks about, or a free block below), so
  // the allocation must settle the block and search the bins instead.
  it.each<[string, WorkspaceConfigOptions, readonly Op[]]>([
    [
      'the merge would move the free block above to another bin, behind which a block of its old bin waits',
      { initialSize: 32 * 1024, maxSegmentSize: 16 * 1024 },
      // #0 and #1 fill segment 1; #2, #3, #4 go to segment 0 above a tail of 13312 bytes.
      [
        ['acquire', 2048],
        ['acquire', 14336],
        ['acquire', 1536],
        ['acquire', 512],
        ['acquire', 1024],
        ['release', 1],
        ['release', 4],
        ['release', 3],
        ['acquire', 64],
      ],
    ],
    [
      'another block heads the bin of the free block above',
      { initialSize: 128 * 1024, maxSegmentSize: 64 * 1024 },
      [
        ['acquire', 1024],
        ['acquire', 64512],
        ['acquire', 1024],
        ['acquire', 1024],
        ['release', 1],
        ['release', 3],
        ['acquire', 64],
      ],
    ],
    [
      'the free block below would absorb the pending block',
      { initialSize: 64 * 1024 },
      [
        ['acquire', 2048],
        ['acquire', 1024],
        ['acquire', 64],
        ['release', 1],
        ['release', 2],
        ['acquire', 2000],
      ],
    ],
    [
      'the request is the merged block exactly',
      { initialSize: 64 * 1024 },
      [
        ['acquire', 1024],
        ['acquire', 1024],
        ['release', 1],
        ['acquire', 64512],
      ],
    ],
    [
      'the request is larger than the merged block',
      { initialSize: 64 * 1024 },
      [
        ['acquire', 1024],
        ['acquire', 1024],
        ['release', 1],
        ['acquire', 64520],
        ['acquire', 64],
      ],
    ],
    [
      'the only free block is the exact size (it is taken whole)',
      { initialSize: 16 * 1024, maxSegmentSize: 16 * 1024, strategy: 'first-fit' },
      [
        ['acquire', 1024],
        ['acquire', 1024],
        ['release', 1],
        ['acquire', 15360],
        ['acquire', 64],
      ],
    ],
    [
      'the merge moves the only free block up a bin and the cut leaves it there',
      { initialSize: 16 * 1024, maxSegmentSize: 16 * 1024, defragmentOnMiss: false },
      [
        ['acquire', 1024],
        ['acquire', 1024],
        ['release', 1],
        ['acquire', 64],
        ['acquire', 15000],
      ],
    ],
    [
      'the request falls into the bin of the free block above, where a smaller block fits',
      { initialSize: 32 * 1024, maxSegmentSize: 16 * 1024 },
      // #0, #1 fill segment 1; #1 given back is the smaller block; #4 merged back refiles the block above #3.
      [
        ['acquire', 1984],
        ['acquire', 14400],
        ['acquire', 1600],
        ['acquire', 64],
        ['acquire', 1024],
        ['release', 1],
        ['release', 4],
        ['release', 3],
        ['acquire', 14336],
      ],
    ],
    [
      'the rest of the cut falls into a lower bin',
      { initialSize: 64 * 1024 },
      [
        ['acquire', 1024],
        ['acquire', 64],
        ['release', 1],
        ['acquire', 8192],
        ['acquire', 60000],
      ],
    ],
    [
      'the request has a block of its own size class',
      { initialSize: 64 * 1024 },
      [
        ['acquire', 128],
        ['acquire', 128],
        ['acquire', 64],
        ['acquire', 1024],
        ['release', 1],
        ['release', 3],
        ['acquire', 100],
      ],
    ],
  ])('steps aside when %s', (_, options, ops) => {
    const run = (inspectEveryStep: boolean): { snapshot: MemoryMapSnapshot; stats: WorkspacePoolStats } => {
      const pool = new WorkspacePool({ alignment: 64, maxSize: 1024 * 1024, ...options });
      const handles: Workspace[] = [];
      for (const [kind, value] of ops) {
        if (kind === 'acquire') handles.push(pool.acquire(value));
        else handles[value]!.release();
        if (inspectEveryStep) pool.snapshot();
      }
      return { snapshot: pool.snapshot(), stats: pool.stats() };
    };
    const deferred = run(false);
    checkMemoryMap(deferred.snapshot);
    expect(deferred).toEqual(run(true));
  });

  it('re-cuts the block released last in place under LIFO churn, with the neighbours merged', () => {
    const pool = new WorkspacePool({ initialSize: 64 * 1024 });
    const below = pool.acquire(1000);
    let top = pool.acquire(3000);
    const offset = top.byteOffset;
    for (const size of [200, 5000, 64, 4096, 1]) {
      top.release();
      top = pool.acquire(size);
      expect(top.byteOffset).toBe(offset);
      expect(top.capacity).toBe(Math.ceil(size / 64) * 64);
    }
    const snapshot = pool.snapshot();
    checkMemoryMap(snapshot);
    expect(snapshot.segments[0]!.blocks.map((block) => block.state)).toEqual(['used', 'used', 'free']);
    expect(pool.stats().largestFreeBlock).toBe(64 * 1024 - below.capacity - top.capacity);
  });

  it('shows a released block merged to every inspection, before any allocation', () => {
    const pool = new WorkspacePool({ initialSize: 64 * 1024 });
    const first = pool.acquire(1024);
    const second = pool.acquire(1024);
    pool.acquire(1024);
    first.release();
    second.release();
    expect(pool.stats().largestFreeBlock).toBe(61 * 1024);
    expect(pool.fragmentation().freeBlocks).toBe(2);
    const blocks = pool.snapshot().segments[0]!.blocks;
    expect(blocks.map((block) => [block.offset, block.size, block.state])).toEqual([
      [0, 2048, 'free'],
      [2048, 1024, 'used'],
      [3072, 62 * 1024 - 1024, 'free'],
    ]);
  });
});
