import { BackingMemory, RecordingMetricsSink } from '@mem/types';
import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { checkMemoryMap } from './pool-invariants.test-helper.js';
import { ALLOCATION_STRATEGIES, WorkspaceConfig } from './workspace-config.js';
import { WorkspacePool, type WorkspaceLogEntry } from './workspace-pool.js';
import { Workspace } from './workspace.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('WorkspacePool creation', () => {
  it('reserves the initial size up front as one free block', () => {
    const pool = new WorkspacePool();
    const stats = pool.stats();
    expect(stats.bytesReserved).toBe(MiB);
    expect(stats.bytesFree).toBe(MiB);
    expect(stats.largestFreeBlock).toBe(MiB);
    expect(stats.segments).toBe(1);
    expect(stats.hitRate).toBe(0);
    checkMemoryMap(pool.snapshot());
  });

  it('splits an initial reservation larger than the segment limit into several segments', () => {
    const pool = new WorkspacePool({ initialSize: 5 * MiB, maxSegmentSize: 2 * MiB, maxSize: 16 * MiB });
    const snapshot = pool.snapshot();
    expect(snapshot.segments.map((segment) => segment.byteLength)).toEqual([2 * MiB, 2 * MiB, MiB]);
    expect(snapshot.segments.every((segment) => segment.initial)).toBe(true);
  });

  it('accepts a preset', () => {
    const pool = new WorkspacePool(WorkspaceConfig.smallModel(), { name: 'small' });
    expect(pool.config.initialSize).toBe(256 * KiB);
    expect(pool.name).toBe('small');
    expect(pool.stats().bytesReserved).toBe(256 * KiB);
  });
});

describe('WorkspacePool acquire and release', () => {
  it('lends a workspace of at least the requested size, at an aligned offset', () => {
    const pool = new WorkspacePool();
    const workspace = pool.acquire(512);
    expect(workspace).toBeInstanceOf(Workspace);
    expect(workspace.size).toBe(512);
    expect(workspace.capacity).toBeGreaterThanOrEqual(512);
    expect(workspace.bytes().length).toBe(512);
    expect(workspace.byteOffset % 64).toBe(0);
    expect(pool.stats()).toMatchObject({ liveWorkspaces: 1, bytesInUse: 512, bytesRequested: 512, acquisitions: 1 });
  });

  it('marks the block used while lent and free again after release', () => {
    const pool = new WorkspacePool();
    const workspace = pool.acquire(512);
    expect(pool.snapshot().segments[0]!.blocks[0]).toMatchObject({ state: 'used', owner: workspace.id, size: 512 });
    workspace.release();
    expect(workspace.released).toBe(true);
    const blocks = pool.snapshot().segments[0]!.blocks;
    expect(blocks).toEqual([{ offset: 0, size: MiB, state: 'free', owner: null, requested: null, label: null }]);
    expect(pool.stats()).toMatchObject({ liveWorkspaces: 0, bytesInUse: 0, releases: 1 });
  });

  it('rounds block sizes up to the alignment', () => {
    const pool = new WorkspacePool({ alignment: 256 });
    const workspace = pool.acquire(300);
    expect(workspace.capacity).toBe(512);
    expect(workspace.byteOffset % 256).toBe(0);
    expect(pool.stats().bytesInUse).toBe(512);
  });

  it('reuses the most fitting freed block (the block is recycled, not reallocated)', () => {
    const pool = new WorkspacePool();
    const a = pool.acquire(4096);
    const b = pool.acquire(4096);
    const offset = a.byteOffset;
    a.release();
    const c = pool.acquire(4096);
    expect(c.byteOffset).toBe(offset);
    expect(c.buffer).toBe(b.buffer);
  });

  it('merges a released block with free neighbours on both sides', () => {
    const pool = new WorkspacePool({ initialSize: 64 * KiB });
    const [a, b, c] = [pool.acquire(16 * KiB), pool.acquire(16 * KiB), pool.acquire(16 * KiB)];
    a.release();
    c.release(); // merges with the free tail
    expect(pool.fragmentation().freeBlocks).toBe(2);
    b.release(); // merges with both
    expect(pool.fragmentation()).toMatchObject({ freeBlocks: 1, largestFreeBlock: 64 * KiB, fragmentation: 0 });
    checkMemoryMap(pool.snapshot());
  });

  it('releases through pool.release() as through workspace.release()', () => {
    const pool = new WorkspacePool();
    const workspace = pool.acquire(100);
    pool.release(workspace);
    expect(workspace.released).toBe(true);
    expectMemError(() => pool.release(workspace), 'DOUBLE_FREE');
  });

  it('gives each workspace a distinct id and keeps labels in the memory map', () => {
    const pool = new WorkspacePool();
    const a = pool.acquire(64, { label: 'q' });
    const b = pool.acquire(64);
    expect(a.id).not.toBe(b.id);
    expect(a.label).toBe('q');
    const blocks = pool.snapshot().segments[0]!.blocks;
    expect(blocks.find((block) => block.owner === a.id)?.label).toBe('q');
    expect(blocks.find((block) => block.owner === b.id)?.label).toBeNull();
  });

  it('zeroes a reused workspace when asked to', () => {
    const pool = new WorkspacePool();
    const a = pool.acquire(256);
    a.bytes().fill(9);
    a.release();
    const dirty = pool.acquire(256);
    expect(dirty.bytes()[0]).toBe(9); // reused memory is not zeroed by default
    dirty.release();
    const clean = pool.acquire(256, { zero: true });
    expect(clean.bytes().every((byte) => byte === 0)).toBe(true);
  });

  it('serves many live workspaces without a scan and keeps the map consistent', () => {
    const pool = new WorkspacePool({ initialSize: 16 * MiB });
    const live = Array.from({ length: 10_000 }, (_, i) => pool.acquire(64 + (i % 13) * 64));
    expect(pool.stats().liveWorkspaces).toBe(10_000);
    for (let i = 0; i < live.length; i += 3) live[i]!.release();
    checkMemoryMap(pool.snapshot());
  });
});

describe('WorkspacePool strategies', () => {
  it.each(ALLOCATION_STRATEGIES)('serves a request with %s', (strategy) => {
    const pool = new WorkspacePool({ strategy });
    const workspace = pool.acquire(512);
    expect(workspace.size).toBe(512);
    workspace.release();
    checkMemoryMap(pool.snapshot());
  });

  function holes(strategy: (typeof ALLOCATION_STRATEGIES)[number]): {
    pool: WorkspacePool;
    offsets: Record<string, number>;
  } {
    // Free blocks of 8 KiB, 2 KiB and 4 KiB, separated by live ones, and the free tail.
    const pool = new WorkspacePool({ initialSize: 64 * KiB, strategy });
    const offsets: Record<string, number> = {};
    const blocks = [8, 1, 2, 1, 4, 1].map((k) => pool.acquire(k * KiB));
    offsets['8k'] = blocks[0]!.byteOffset;
    offsets['2k'] = blocks[2]!.byteOffset;
    offsets['4k'] = blocks[4]!.byteOffset;
    offsets['tail'] = blocks[5]!.byteOffset + KiB;
    blocks[0]!.release();
    blocks[2]!.release();
    blocks[4]!.release();
    return { pool, offsets };
  }

  it('best fit takes the smallest free block that fits', () => {
    const { pool, offsets } = holes('best-fit');
    expect(pool.acquire(3 * KiB).byteOffset).toBe(offsets['4k']);
    expect(pool.acquire(2 * KiB).byteOffset).toBe(offsets['2k']);
  });

  it('exact fit takes a block of exactly the size, else cuts from the largest', () => {
    const { pool, offsets } = holes('exact-fit');
    expect(pool.acquire(4 * KiB).byteOffset).toBe(offsets['4k']);
    expect(pool.acquire(3 * KiB).byteOffset).toBe(offsets['tail']);
  });

  it('first fit takes a block from the first size class that surely fits', () => {
    const { pool, offsets } = holes('first-fit');
    // 3 KiB rounds up to the class of 3.0-3.25 KiB and above: the 4 KiB block is the first non-empty.
    expect(pool.acquire(3 * KiB).byteOffset).toBe(offsets['4k']);
  });

  it('power of two rounds every block up to a power of two', () => {
    const pool = new WorkspacePool({ strategy: 'power-of-two' });
    expect(pool.acquire(3000).capacity).toBe(4096);
    expect(pool.acquire(5).capacity).toBe(64);
    expect(pool.acquire(65536).capacity).toBe(65536);
  });
});

describe('WorkspacePool expansion', () => {
  it('adds a segment when nothing fits and counts an expansion', () => {
    const pool = new WorkspacePool({ initialSize: 1024, maxSize: MiB });
    const before = pool.stats().expansions;
    const workspace = pool.acquire(5 * KiB);
    expect(workspace.size).toBe(5 * KiB);
    expect(pool.stats().expansions).toBeGreaterThan(before);
    expect(pool.stats().segments).toBe(2);
  });

  it('grows the reservation by the growth factor, at least by what the request needs', () => {
    const pool = new WorkspacePool({ initialSize: 64 * KiB, maxSize: 16 * MiB, growthFactor: 1.5 });
    pool.acquire(64 * KiB);
    pool.acquire(KiB);
    expect(pool.stats().bytesReserved).toBe(96 * KiB); // 64 KiB * 1.5
    pool.acquire(MiB);
    expect(pool.stats().bytesReserved).toBe(96 * KiB + MiB);
  });

  it('fails with LIMIT_EXCEEDED past the maximum, leaving the pool as it was', () => {
    const pool = new WorkspacePool({ initialSize: 64 * KiB, maxSize: 128 * KiB });
    pool.acquire(64 * KiB);
    pool.acquire(32 * KiB);
    const before = pool.stats();
    expectMemError(() => pool.acquire(64 * KiB), 'LIMIT_EXCEEDED');
    expect(pool.stats()).toEqual(before);
    expect(pool.acquire(32 * KiB).size).toBe(32 * KiB);
  });

  it('fails with EXHAUSTED when nothing fits and expansion is off', () => {
    const pool = new WorkspacePool({ initialSize: 1024, maxSize: 2048, autoExpand: false });
    expectMemError(() => pool.acquire(2048), 'EXHAUSTED');
    expect(pool.acquire(1024).size).toBe(1024);
    expectMemError(() => pool.acquire(64), 'EXHAUSTED');
  });

  it('fails with OVERSIZED for a request larger than the pool can ever hold', () => {
    const pool = new WorkspacePool({ initialSize: 1024, maxSize: 4096 });
    expectMemError(() => pool.acquire(100 * KiB), 'OVERSIZED');
    const powers = new WorkspacePool({ initialSize: 1024, maxSize: 6144, strategy: 'power-of-two' });
    expectMemError(() => powers.acquire(5000), 'OVERSIZED'); // rounds up to 8192
  });

  it('counts hits as acquisitions without expansion (the seed hit rate)', () => {
    const pool = new WorkspacePool({ initialSize: 8 * KiB, maxSize: MiB });
    for (let i = 0; i < 8; i += 1) pool.acquire(KiB);
    pool.acquire(KiB); // expands
    pool.acquire(KiB);
    const stats = pool.stats();
    expect(stats.acquisitions).toBe(10);
    expect(stats.expansions).toBe(1);
    expect(stats.hitRate).toBe(0.9);
  });

  it('logs each expansion', () => {
    const entries: WorkspaceLogEntry[] = [];
    const pool = new WorkspacePool({ initialSize: KiB }, { logger: (entry) => entries.push(entry) });
    pool.acquire(4 * KiB);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ event: 'expand', level: 'info', pool: 'workspace-pool', segment: { index: 1 } });
  });
});

describe('WorkspacePool backings', () => {
  it('lives in a SharedArrayBuffer with shared backing', () => {
    const pool = new WorkspacePool({ backing: 'shared-array-buffer' });
    expect(pool.acquire(64).buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(pool.snapshot().segments[0]!.kind).toBe('shared-array-buffer');
  });

  it('lives in wasm memory with wasm backing, in whole pages', () => {
    const pool = new WorkspacePool({ backing: 'wasm-memory', initialSize: 100 * KiB });
    expect(pool.stats().bytesReserved).toBe(128 * KiB);
    const workspace = pool.acquire(1000);
    expect(workspace.float32().length).toBe(250);
    expect(pool.snapshot().segments[0]!.kind).toBe('wasm-memory');
  });

  it('carves segments out of memory supplied by a segment source, at its offset', () => {
    const heap = BackingMemory.wrap(new WebAssembly.Memory({ initial: 4 }));
    const offsets = [65536, 131072];
    const pool = new WorkspacePool(
      { initialSize: 64 * KiB, maxSize: 128 * KiB },
      { segmentSource: (byteLength, index) => ({ memory: heap, byteOffset: offsets[index]! }) },
    );
    const workspace = pool.acquire(100);
    expect(workspace.buffer).toBe(heap.buffer);
    expect(workspace.byteOffset).toBe(65536);
    workspace.bytes().fill(3);
    expect(heap.bytes()[65536]).toBe(3);
    const second = pool.acquire(64 * KiB); // expansion into the second region
    expect(second.byteOffset).toBe(131072);
  });

  it('rejects a segment source that returns something unusable, and wraps its own failures as EXHAUSTED', () => {
    expectMemError(() => new WorkspacePool({}, { segmentSource: () => ({}) as never }), 'INVALID_ARGUMENT');
    expectMemError(
      () => new WorkspacePool({ initialSize: 4096 }, { segmentSource: () => BackingMemory.allocate(1024) }),
      'INVALID_ARGUMENT',
    );
    expectMemError(
      () =>
        new WorkspacePool({}, { segmentSource: () => ({ memory: BackingMemory.allocate(2 * MiB), byteOffset: 3 }) }),
      'INVALID_ARGUMENT',
    );
    const pool = new WorkspacePool(
      { initialSize: 4096 },
      {
        segmentSource: (byteLength, index) => {
          if (index > 0) throw new Error('out of heap');
          return BackingMemory.allocate(byteLength);
        },
      },
    );
    expectMemError(() => pool.acquire(8192), 'EXHAUSTED');
    expect(pool.stats().segments).toBe(1);
  });
});

describe('WorkspacePool clear', () => {
  it('takes every workspace back, drops expansion segments and resets the counters', () => {
    const pool = new WorkspacePool({ initialSize: 4 * KiB });
    const kept = pool.acquire(4 * KiB);
    pool.acquire(8 * KiB);
    expect(pool.stats().segments).toBe(2);
    pool.clear();
    expect(pool.stats()).toMatchObject({
      liveWorkspaces: 0,
      segments: 1,
      bytesReserved: 4 * KiB,
      acquisitions: 0,
      expansions: 0,
    });
    expect(kept.stale).toBe(true);
    expectMemError(() => kept.bytes(), 'STALE_HANDLE');
    expectMemError(() => kept.release(), 'STALE_HANDLE');
    expect(() => kept[Symbol.dispose]()).not.toThrow();
    const fresh = pool.acquire(4 * KiB);
    expect(fresh.byteOffset).toBe(0);
    checkMemoryMap(pool.snapshot());
  });

  it('keeps a handle from before clear() stale once a new workspace holds its block', () => {
    const pool = new WorkspacePool({ initialSize: 4 * KiB });
    const old = pool.acquire(1 * KiB);
    const oldOffset = old.byteOffset;
    pool.clear();
    const fresh = pool.acquire(1 * KiB); // the same place, and the same block record
    expect(fresh.byteOffset).toBe(oldOffset);
    expect(old.stale).toBe(true);
    expect(fresh.stale).toBe(false);
    expectMemError(() => old.release(), 'STALE_HANDLE');
    expectMemError(() => old.pin(), 'STALE_HANDLE');
    expect(pool.stats().liveWorkspaces).toBe(1);
    fresh.bytes().fill(7);
    fresh.release();
    expect(pool.stats().liveWorkspaces).toBe(0);
    checkMemoryMap(pool.snapshot());
  });

  it('refuses to clear while a workspace is pinned', () => {
    const pool = new WorkspacePool();
    const pinned = pool.acquire(64);
    pinned.pin();
    expectMemError(() => pool.clear(), 'PINNED');
    expect(pool.stats().liveWorkspaces).toBe(1);
    pinned.unpin();
    pool.clear();
    expect(pool.stats().liveWorkspaces).toBe(0);
  });
});

describe('WorkspacePool stats and metrics', () => {
  it('reports bytes in use, reserved, requested and peak', () => {
    const pool = new WorkspacePool();
    const a = pool.acquire(100);
    pool.acquire(1000);
    a.release();
    expect(pool.stats()).toMatchObject({
      bytesInUse: 1024,
      bytesRequested: 1000,
      peakBytesInUse: 128 + 1024,
      bytesReserved: MiB,
      bytesFree: MiB - 1024,
    });
  });

  it('returns a fresh JSON-serialisable snapshot each time', () => {
    const pool = new WorkspacePool();
    const stats = pool.stats();
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
    pool.acquire(64);
    expect(stats.liveWorkspaces).toBe(0);
  });

  it('publishes counters and gauges to a metrics sink at scrape time', () => {
    const sink = new RecordingMetricsSink();
    const pool = new WorkspacePool({ initialSize: KiB }, { metrics: sink, name: 'scratch' });
    const a = pool.acquire(512);
    pool.acquire(4 * KiB);
    a.release();
    const labels = { pool: 'scratch' };
    expect(sink.read('mem_workspace_pool_acquisitions_total', labels)).toBe(2);
    expect(sink.read('mem_workspace_pool_releases_total', labels)).toBe(1);
    expect(sink.read('mem_workspace_pool_expansions_total', labels)).toBe(1);
    expect(sink.read('mem_workspace_pool_reserved_bytes', labels)).toBe(pool.stats().bytesReserved);
    expect(sink.read('mem_workspace_pool_live_workspaces', labels)).toBe(1);
  });

  it('ignores a logger that throws', () => {
    const pool = new WorkspacePool(
      { initialSize: KiB },
      {
        logger: () => {
          throw new Error('log sink down');
        },
      },
    );
    expect(pool.acquire(4 * KiB).size).toBe(4 * KiB);
    expect(pool.defragment().outcome).toBe('already-compact');
  });
});
