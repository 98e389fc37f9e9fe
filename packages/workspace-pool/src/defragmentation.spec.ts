import { MemError } from '@mem/types';
import { describe, expect, it } from 'vitest';
import type { DefragmentationReport } from './defragmentation-report.js';
import type { MemoryMapSnapshot } from './memory-map.js';
import { checkMemoryMap, fillPattern, firstPatternMismatch, fragmentationOf } from './pool-invariants.test-helper.js';
import { WorkspacePool } from './workspace-pool.js';
import type { WorkspaceLogEntry } from './workspace-pool-options.js';
import type { Workspace } from './workspace.js';
import type { SegmentBacking } from './workspace-config.js';
import { seededRandom } from '@mem/testkit/seeded-random';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Fills a pool with patterned workspaces of mixed sizes and releases every other one. */
function scatter(pool: WorkspacePool, count: number, seed = 1): Workspace[] {
  const next = seededRandom(seed);
  const all: Workspace[] = [];
  for (let i = 0; i < count; i += 1) {
    const workspace = pool.acquire(64 + Math.floor(next() * 8 * KiB));
    fillPattern(workspace.bytes(), workspace.id);
    all.push(workspace);
  }
  const kept: Workspace[] = [];
  all.forEach((workspace, i) => (i % 2 === 0 ? workspace.release() : kept.push(workspace)));
  return kept;
}

function expectPatterns(workspaces: readonly Workspace[]): void {
  for (const workspace of workspaces) {
    expect(firstPatternMismatch(workspace.bytes(), workspace.id), `workspace #${workspace.id}`).toBe(-1);
  }
}

/** reclaimedBytes as the report documents it, computed from two snapshots. */
function reclaimedFromSnapshots(before: MemoryMapSnapshot, after: MemoryMapSnapshot, released: number): number {
  const largest = (segment: MemoryMapSnapshot['segments'][number]): number =>
    Math.max(0, ...segment.blocks.filter((block) => block.state === 'free').map((block) => block.size));
  let reclaimed = released;
  for (const old of before.segments) {
    const now = after.segments.find((segment) => segment.index === old.index);
    if (now !== undefined) reclaimed += Math.max(0, largest(now) - largest(old));
  }
  return reclaimed;
}

describe('defragment', () => {
  it('brings fragmentation to 0 when nothing is pinned, as the snapshot shows independently', () => {
    const pool = new WorkspacePool({ initialSize: 4 * MiB });
    scatter(pool, 600);
    const before = pool.snapshot();
    expect(fragmentationOf(before).overall).toBeGreaterThan(0.3);
    const report = pool.defragment();
    const after = pool.snapshot();
    checkMemoryMap(after);
    expect(fragmentationOf(after).overall).toBe(0);
    expect(fragmentationOf(after).perSegment).toEqual([0]);
    expect(report.fragmentationAfter).toBe(0);
    expect(report.fragmentationBefore).toBeCloseTo(fragmentationOf(before).overall, 12);
    expect(report.outcome).toBe('compacted');
    expect(report.reclaimedBytes).toBeGreaterThan(0);
    expect(report.largestFreeBlockAfter).toBe(after.bytesFree);
    // Live workspaces sit at the start of the segment, free space in one block at the end.
    const blocks = after.segments[0]!.blocks;
    expect(blocks.at(-1)!.state).toBe('free');
    expect(blocks.slice(0, -1).every((block) => block.state === 'used')).toBe(true);
  });

  it('keeps the bytes of every workspace through compaction', () => {
    const pool = new WorkspacePool({ initialSize: 2 * MiB });
    const kept = scatter(pool, 400, 7);
    const report = pool.defragment();
    expect(report.workspacesMoved).toBeGreaterThan(100);
    expectPatterns(kept);
  });

  it.each<SegmentBacking>(['shared-array-buffer', 'wasm-memory'])('compacts %s segments too', (backing) => {
    const pool = new WorkspacePool({ initialSize: MiB, backing });
    const kept = scatter(pool, 150, 3);
    expect(pool.defragment().fragmentationAfter).toBe(0);
    expectPatterns(kept);
  });

  it('reports figures that match the memory maps before and after', () => {
    const pool = new WorkspacePool({ initialSize: MiB });
    scatter(pool, 120, 11);
    const before = pool.snapshot();
    const report = pool.defragment();
    const after = pool.snapshot();
    expect(report.freeBlocksBefore).toBe(before.segments[0]!.blocks.filter((b) => b.state === 'free').length);
    expect(report.freeBlocksAfter).toBe(1);
    expect(report.blocksCoalesced).toBe(report.freeBlocksBefore - report.freeBlocksAfter);
    expect(report.freeBytesBefore).toBe(before.bytesFree);
    expect(report.freeBytesAfter).toBe(after.bytesFree);
    expect(report.largestFreeBlockBefore).toBe(before.largestFreeBlock);
    expect(report.largestFreeBlockAfter).toBe(after.largestFreeBlock);
    expect(report.reclaimedBytes).toBe(reclaimedFromSnapshots(before, after, report.bytesReleased));
    const moved = after.segments[0]!.blocks.filter((block) => {
      const old = before.segments[0]!.blocks.find((candidate) => candidate.owner === block.owner);
      return block.state !== 'free' && old!.offset !== block.offset;
    });
    expect(report.workspacesMoved).toBe(moved.length);
    expect(report.bytesMoved).toBe(moved.reduce((sum, block) => sum + block.size, 0));
    expect(report.durationMs).toBeGreaterThanOrEqual(0);
    expect(report.segments).toHaveLength(1);
    expect(report.segments[0]).toMatchObject({ segment: 0, compacted: true, released: false, fragmentationAfter: 0 });
  });

  it('never moves a pinned workspace, and compacts around it', () => {
    const pool = new WorkspacePool({ initialSize: MiB });
    const kept = scatter(pool, 100, 5);
    const pinned = kept.filter((_, i) => i % 10 === 3);
    const places = pinned.map((workspace) => ({ workspace, offset: workspace.byteOffset, raw: workspace.pin() }));
    const report = pool.defragment();
    for (const { workspace, offset, raw } of places) {
      expect(workspace.byteOffset).toBe(offset);
      expect(firstPatternMismatch(raw, workspace.id)).toBe(-1);
    }
    expectPatterns(kept);
    expect(report.pinnedWorkspaces).toBe(pinned.length);
    expect(report.reclaimedBytes).toBeGreaterThan(0);
    const snapshot = pool.snapshot();
    checkMemoryMap(snapshot);
    for (const { workspace, offset } of places) {
      expect(snapshot.segments[0]!.blocks.find((block) => block.owner === workspace.id)).toMatchObject({
        state: 'pinned',
        offset,
      });
    }
    places.forEach(({ workspace }) => workspace.unpin());
    expect(pool.defragment().fragmentationAfter).toBe(0);
    expectPatterns(kept);
  });

  it('moves workspaces from above a pinned one into the gap below it', () => {
    const pool = new WorkspacePool({ initialSize: 64 * KiB });
    const a = pool.acquire(8 * KiB);
    const pinned = pool.acquire(4 * KiB);
    const b = pool.acquire(2 * KiB);
    const c = pool.acquire(4 * KiB);
    fillPattern(b.bytes(), b.id);
    fillPattern(c.bytes(), c.id);
    a.release(); // an 8 KiB gap below the pinned workspace
    pinned.pin();
    const report = pool.defragment();
    expect(b.byteOffset + c.byteOffset).toBeLessThan(pinned.byteOffset * 2);
    expect(b.byteOffset).toBeLessThan(pinned.byteOffset);
    expect(c.byteOffset).toBeLessThan(pinned.byteOffset);
    expectPatterns([b, c]);
    expect(report.outcome).toBe('compacted');
    checkMemoryMap(pool.snapshot());
  });

  it('says so, and reclaims nothing, when everything is pinned', () => {
    const pool = new WorkspacePool({ initialSize: 256 * KiB });
    const kept = scatter(pool, 40, 9);
    kept.forEach((workspace) => workspace.pin());
    const before = pool.snapshot();
    const report = pool.defragment();
    expect(report.outcome).toBe('blocked-by-pins');
    expect(report.reclaimedBytes).toBe(0);
    expect(report.workspacesMoved).toBe(0);
    expect(report.movesBlockedByPins).toBeGreaterThan(0);
    expect(report.fragmentationAfter).toBe(report.fragmentationBefore);
    expect(report.message).toMatch(/pinned/);
    expect(pool.snapshot()).toEqual(before);
  });

  it('throws PINNED with the report when asked to, if pins blocked everything', () => {
    const pool = new WorkspacePool({ initialSize: 256 * KiB });
    scatter(pool, 40, 9).forEach((workspace) => workspace.pin());
    try {
      pool.defragment({ throwIfBlocked: true });
      expect.unreachable('defragment should have thrown');
    } catch (error) {
      expect(MemError.is(error, 'PINNED')).toBe(true);
      expect((error as MemError).details['report']).toMatchObject({ outcome: 'blocked-by-pins' });
    }
  });

  it('reports nothing to do on a compact pool (the seed empty-pool case) without faking a success', () => {
    const pool = new WorkspacePool();
    const report = pool.defragment();
    expect(report).toMatchObject({
      outcome: 'already-compact',
      reclaimedBytes: 0,
      workspacesMoved: 0,
      fragmentationAfter: 0,
    });
    pool.acquire(4096);
    expect(pool.defragment().outcome).toBe('already-compact');
    expect(pool.stats().defragmentations).toBe(2);
  });

  it('merges free blocks when its threshold is met (the seed case, for real)', () => {
    const pool = new WorkspacePool({ initialSize: 64 * KiB, defragThreshold: 0 });
    const blocks = Array.from({ length: 8 }, () => pool.acquire(8 * KiB));
    blocks.filter((_, i) => i % 2 === 0).forEach((workspace) => workspace.release());
    const report = pool.defragment();
    expect(report.blocksCoalesced).toBe(3);
    expect(report.freeBlocksAfter).toBe(1);
    expect(report.reclaimedBytes).toBe(32 * KiB - 8 * KiB);
  });

  it('releases empty expansion segments but keeps the initial reservation', () => {
    const pool = new WorkspacePool({ initialSize: 64 * KiB, maxSize: 4 * MiB });
    const big = pool.acquire(MiB);
    const small = pool.acquire(KiB);
    expect(pool.stats().segments).toBe(2);
    big.release();
    small.release();
    const report = pool.defragment();
    expect(report.segmentsReleased).toBe(1);
    expect(report.bytesReleased).toBe(MiB);
    expect(report.reclaimedBytes).toBeGreaterThanOrEqual(MiB);
    expect(report.segments.find((segment) => segment.released)).toMatchObject({ segment: 1, largestFreeBlockAfter: 0 });
    expect(pool.stats()).toMatchObject({
      segments: 1,
      bytesReserved: 64 * KiB,
      segmentsReleased: 1,
      bytesReleased: MiB,
    });
    expect(pool.snapshot().segments.map((segment) => segment.index)).toEqual([0]);
  });

  it('moves workspaces of an expansion segment into free space of the initial one, then releases it', () => {
    const pool = new WorkspacePool({ initialSize: 256 * KiB, maxSize: 4 * MiB, growthFactor: 1 });
    const first = Array.from({ length: 4 }, () => pool.acquire(64 * KiB));
    const late = [pool.acquire(16 * KiB), pool.acquire(16 * KiB)];
    late.forEach((workspace) => fillPattern(workspace.bytes(), workspace.id));
    expect(late.map((workspace) => workspace.segment)).toEqual([1, 2]); // growth factor 1: one segment each
    first[1]!.release();
    first[3]!.release();
    const before = pool.snapshot();
    const report = pool.defragment();
    expect(late.map((workspace) => workspace.segment)).toEqual([0, 0]);
    expectPatterns(late);
    expect(report.segmentsReleased).toBe(2);
    expect(report.fragmentationAfter).toBe(0);
    expect(report.reclaimedBytes).toBe(reclaimedFromSnapshots(before, pool.snapshot(), report.bytesReleased));
    checkMemoryMap(pool.snapshot());
  });

  it('says no-fit when free space is split across segments and nothing fits elsewhere', () => {
    const pool = new WorkspacePool({
      initialSize: 64 * KiB,
      maxSize: 4 * MiB,
      growthFactor: 2,
      maxSegmentSize: 64 * KiB,
    });
    pool.acquire(40 * KiB);
    pool.acquire(40 * KiB); // a second segment of 64 KiB: 24 KiB free in each
    const report = pool.defragment();
    expect(report.fragmentationBefore).toBe(0.5);
    expect(report.outcome).toBe('no-fit');
    expect(report.reclaimedBytes).toBe(0);
    expect(report.workspacesMoved).toBe(0);
  });
});

describe('automatic defragmentation', () => {
  it('compacts the roomiest segment when an allocation finds no fit, before expanding', () => {
    const entries: WorkspaceLogEntry[] = [];
    const pool = new WorkspacePool({ initialSize: 64 * KiB }, { logger: (entry) => entries.push(entry) });
    const blocks = Array.from({ length: 8 }, () => pool.acquire(8 * KiB));
    blocks.forEach((workspace) => fillPattern(workspace.bytes(), workspace.id));
    blocks.filter((_, i) => i % 2 === 0).forEach((workspace) => workspace.release());
    const kept = blocks.filter((_, i) => i % 2 === 1);
    const large = pool.acquire(32 * KiB);
    expect(pool.stats()).toMatchObject({ expansions: 0, misses: 1, defragmentations: 1, segments: 1 });
    expect(large.segment).toBe(0);
    expectPatterns(kept);
    expect(entries.map((entry) => entry.report?.trigger)).toEqual(['miss']);
    expect(entries[0]!.report!.outcome).toBe('compacted');
  });

  it('expands without compacting when no segment has enough free bytes', () => {
    const entries: WorkspaceLogEntry[] = [];
    const pool = new WorkspacePool({ initialSize: 64 * KiB }, { logger: (entry) => entries.push(entry) });
    pool.acquire(48 * KiB);
    pool.acquire(32 * KiB);
    expect(entries.map((entry) => entry.event)).toEqual(['expand']);
  });

  it('does not compact on a miss when defragmentOnMiss is off', () => {
    const pool = new WorkspacePool({ initialSize: 64 * KiB, defragmentOnMiss: false });
    const blocks = Array.from({ length: 8 }, () => pool.acquire(8 * KiB));
    blocks.filter((_, i) => i % 2 === 0).forEach((workspace) => workspace.release());
    pool.acquire(32 * KiB);
    expect(pool.stats()).toMatchObject({ expansions: 1, defragmentations: 0 });
  });

  it('runs at its threshold, checked every defragCheckInterval releases', () => {
    const reports: DefragmentationReport[] = [];
    const pool = new WorkspacePool(
      { initialSize: 64 * KiB, enableDefragmentation: true, defragThreshold: 0.3, defragCheckInterval: 4 },
      { logger: (entry) => entry.report && reports.push(entry.report) },
    );
    const blocks = Array.from({ length: 8 }, () => pool.acquire(8 * KiB));
    blocks.forEach((workspace) => fillPattern(workspace.bytes(), workspace.id));
    blocks[0]!.release();
    blocks[2]!.release();
    blocks[4]!.release();
    expect(reports).toHaveLength(0);
    blocks[6]!.release(); // the fourth release: fragmentation 0.75 >= 0.3
    expect(reports.map((report) => report.trigger)).toEqual(['threshold']);
    expect(pool.fragmentationRatio()).toBe(0);
    expectPatterns([blocks[1]!, blocks[3]!, blocks[5]!, blocks[7]!]);
  });

  it('does not run below its threshold', () => {
    const pool = new WorkspacePool({
      initialSize: 64 * KiB,
      enableDefragmentation: true,
      defragThreshold: 0.9,
      defragCheckInterval: 1,
    });
    const blocks = Array.from({ length: 8 }, () => pool.acquire(8 * KiB));
    blocks[0]!.release();
    blocks[2]!.release();
    expect(pool.stats().defragmentations).toBe(0);
  });

  it('logs every defragmentation, with a warning when nothing could be reclaimed', () => {
    const entries: WorkspaceLogEntry[] = [];
    const pool = new WorkspacePool({ initialSize: 64 * KiB }, { logger: (entry) => entries.push(entry), name: 'kv' });
    const blocks = Array.from({ length: 4 }, () => pool.acquire(16 * KiB));
    blocks[0]!.release();
    blocks[2]!.release();
    blocks[1]!.pin();
    blocks[3]!.pin();
    pool.defragment();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ event: 'defragment', level: 'warn', pool: 'kv' });
    expect(entries[0]!.message).toMatch(/^manual defragmentation: nothing reclaimed/);
  });
});

describe('fragmentation ratio', () => {
  it('is in [0, 1) and matches the seed definition', () => {
    const pool = new WorkspacePool();
    expect(pool.fragmentationRatio()).toBe(0);
    const blocks = Array.from({ length: 16 }, () => pool.acquire(64 * KiB));
    blocks.filter((_, i) => i % 2 === 0).forEach((workspace) => workspace.release());
    const ratio = pool.fragmentationRatio();
    expect(ratio).toBeGreaterThanOrEqual(0);
    expect(ratio).toBeLessThan(1);
    expect(ratio).toBeCloseTo(1 - 64 / 512, 12);
    expect(pool.fragmentation().segments[0]).toMatchObject({ freeBlocks: 8, largestFreeBlock: 64 * KiB });
  });
});
