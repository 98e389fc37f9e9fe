/**
 * `@mem/workspace-pool` against what it replaces: a baseline pool that scans every workspace (the
 * common linear-scan design, `workspace-pool-baseline.ts`),
 * `@thi.ng/malloc`'s MemPool and `new ArrayBuffer`.
 *
 * - acquire+release churn with 64, 100 and 10,000 live workspaces of mixed sizes (64 B to 8 KiB,
 *   log-uniform), releasing a random live one and acquiring a new one each operation; with 64 live
 *   in FIFO order (release the oldest: a queue of buffers in flight); and with 100 live in LIFO
 *   order (release the newest and take a new one in its place), and with 100 live as scratch
 *   (acquire, release at once: `using` in a step function, MemPool's malloc and free in turn);
 * - defragmenting a 64 MiB pool with half of its bytes live and scattered (time, and the report
 *   as figures), with nothing pinned and with 1% of the workspaces pinned.
 */
import { MemPool } from '@thi.ng/malloc';
import { WorkspacePool, type Workspace } from '@mem/workspace-pool';
import { seededRandom } from '@mem/testkit/seeded-random';
import { summarize } from '../statistics.js';
import type { BenchContext, BenchImpl, Suite } from '../suite.js';
import { BaselineWorkspacePool, baselineDefaultConfig } from './workspace-pool-baseline.js';

const OURS = '@mem/workspace-pool';
const BASELINE = 'baseline: linear-scan pool';
const THING = '@thi.ng/malloc MemPool';
const NATIVE = 'new ArrayBuffer';
const MiB = 1024 * 1024;

const SEQUENCE = 1 << 16;
const MASK = SEQUENCE - 1;

/** Mixed sizes, 64 B to 8 KiB, log-uniform. */
function mixedSizes(seed: number): Uint32Array {
  const next = seededRandom(seed);
  return Uint32Array.from({ length: SEQUENCE }, () => Math.round(2 ** (6 + next() * 7)));
}

/** The orders of a churn case: which live workspace each operation replaces. */
type Order = 'random' | 'fifo' | 'lifo' | 'scratch';
const ORDER_NAMES: Record<Order, string> = { random: 'random', fifo: 'FIFO', lifo: 'LIFO', scratch: 'scratch' };

/**
 * Which slot each operation replaces: a random one, the oldest (slots taken in turn, so that each
 * holds the workspace acquired `live` operations before: FIFO), or always the newest (LIFO).
 */
function victims(live: number, order: Order, seed: number): Uint32Array {
  const next = seededRandom(seed);
  const pick = {
    random: () => Math.floor(next() * live),
    fifo: (k: number) => k % live,
    lifo: () => live - 1,
    scratch: () => live - 1, // unused: scratch replaces no victim
  }[order];
  return Uint32Array.from({ length: SEQUENCE }, (_, k) => pick(k));
}

interface Churn {
  readonly live: number;
  readonly sizes: Uint32Array;
  readonly victims: Uint32Array;
  /** Acquire and release at once (scratch), with `live` others held, instead of replacing victims. */
  readonly scratch: boolean;
}

// Each implementation has its own churn loop, written as a user of it would write it, rather than
// one generic loop that calls an `acquire` and a `release` closure: a loop shared by the four
// implementations sees four different closures at each call site, so the calls go megamorphic,
// nothing is inlined, and every pair pays two calls through closures on top of what the
// implementation itself costs. Every loop does the same work per operation: give back the
// victim's slot, acquire a block of the next size into it, store what it got in the slot (a
// handle, an address or a buffer); as scratch, acquire a block of the next size and give it back.
// Every implementation fills its live set in its own setup() and gives it back in its own
// teardown().
//
// The cases run in one process, in the order of `run` below, so the JIT compiles each
// implementation with what the earlier cases taught it: the LIFO and scratch cases, run first and
// alone, measure MemPool more than twice as fast as in this order (its free-list code is then
// compiled for the long walks of random order), and ours somewhat faster (a handle kept per pair
// costs an allocation and a store into `held`, an old array, that a bare address does not; as
// scratch, V8 drops a handle that never leaves the loop). Keep the order when adding cases: add
// new ones after the existing ones, so that figures stay comparable from run to run.

function oursChurn(churn: Churn, pool: WorkspacePool, beforeTeardown: () => void): BenchImpl {
  let held: Workspace[] = [];
  let cursor = 0;
  return {
    name: OURS,
    setup() {
      for (let i = 0; i < churn.live; i += 1) held.push(pool.acquire(churn.sizes[i & MASK]!));
    },
    run: churn.scratch
      ? (iterations) => {
          const { sizes } = churn;
          let k = cursor;
          let ids = 0;
          for (let i = 0; i < iterations; i += 1) {
            const workspace = pool.acquire(sizes[k]!);
            ids += workspace.id;
            workspace.release();
            k = (k + 1) & MASK;
          }
          cursor = k;
          return ids;
        }
      : (iterations) => {
          const { sizes, victims: order } = churn;
          let k = cursor;
          let last: Workspace | undefined;
          for (let i = 0; i < iterations; i += 1) {
            const slot = order[k]!;
            held[slot]!.release();
            last = pool.acquire(sizes[k]!);
            held[slot] = last;
            k = (k + 1) & MASK;
          }
          cursor = k;
          return last;
        },
    teardown() {
      beforeTeardown();
      for (const workspace of held) workspace.release();
      held = [];
    },
  };
}

function thingChurn(churn: Churn, pool: MemPool): BenchImpl {
  let held: number[] = [];
  let cursor = 0;
  const malloc = (size: number): number => {
    const address = pool.malloc(size);
    if (address === 0) throw new Error(`MemPool out of memory at ${size} bytes`);
    return address;
  };
  return {
    name: THING,
    setup() {
      for (let i = 0; i < churn.live; i += 1) held.push(malloc(churn.sizes[i & MASK]!));
    },
    run: churn.scratch
      ? (iterations) => {
          const { sizes } = churn;
          let k = cursor;
          let addresses = 0;
          for (let i = 0; i < iterations; i += 1) {
            const address = pool.malloc(sizes[k]!);
            if (address === 0) throw new Error(`MemPool out of memory at ${sizes[k]} bytes`);
            addresses += address;
            pool.free(address);
            k = (k + 1) & MASK;
          }
          cursor = k;
          return addresses;
        }
      : (iterations) => {
          const { sizes, victims: order } = churn;
          let k = cursor;
          let last = 0;
          for (let i = 0; i < iterations; i += 1) {
            const slot = order[k]!;
            pool.free(held[slot]!);
            last = pool.malloc(sizes[k]!);
            if (last === 0) throw new Error(`MemPool out of memory at ${sizes[k]} bytes`);
            held[slot] = last;
            k = (k + 1) & MASK;
          }
          cursor = k;
          return last;
        },
    teardown() {
      for (const address of held) pool.free(address);
      held = [];
    },
  };
}

function nativeChurn(churn: Churn): BenchImpl {
  let held: ArrayBuffer[] = [];
  let cursor = 0;
  return {
    name: NATIVE,
    setup() {
      for (let i = 0; i < churn.live; i += 1) held.push(new ArrayBuffer(churn.sizes[i & MASK]!));
    },
    run(iterations) {
      const { sizes, victims: order, scratch } = churn;
      let k = cursor;
      let last: ArrayBuffer | undefined;
      for (let i = 0; i < iterations; i += 1) {
        // Releasing is dropping the reference: the old buffer becomes garbage when its slot is
        // overwritten (or, as scratch, when the next one replaces it in `last`).
        last = new ArrayBuffer(sizes[k]!);
        if (!scratch) held[order[k]!] = last;
        k = (k + 1) & MASK;
      }
      cursor = k;
      return last;
    },
    teardown() {
      held = [];
    },
  };
}

function baselineChurn(churn: Churn, pool: BaselineWorkspacePool): BenchImpl {
  let held: string[] = [];
  let cursor = 0;
  return {
    name: BASELINE,
    setup() {
      for (let i = 0; i < churn.live; i += 1) held.push(pool.allocate(churn.sizes[i & MASK]!));
    },
    run(iterations) {
      const { sizes, victims: order, scratch } = churn;
      let k = cursor;
      let last = '';
      for (let i = 0; i < iterations; i += 1) {
        const slot = order[k]!;
        if (!scratch) pool.release(held[slot]!);
        last = pool.allocate(sizes[k]!);
        if (scratch) pool.release(last);
        else held[slot] = last;
        k = (k + 1) & MASK;
      }
      cursor = k;
      return last;
    },
    teardown() {
      for (const id of held) pool.release(id);
      held = [];
    },
  };
}

/**
 * From this many live workspaces on, each implementation is measured in a compare() of its own,
 * with only its own live set in the heap, instead of interleaved with the others. Their live sets
 * (10,000 handles and block records; 10,000 ArrayBuffers; MemPool's free list spread over its
 * 136 MB; the baseline's map of 10,000 workspaces and their string ids) do not fit in the caches
 * together, and the garbage collection that one implementation sets off (the ArrayBuffers' 17 MB
 * of external memory start full collections; incremental marking then runs on whoever allocates
 * next) lands in the next one's samples: interleaved, ours measured up to three times its cost
 * alone (every sample starts with cold caches, a refill of a few milliseconds, and after the
 * ArrayBuffer baseline, with marking work). Measured apart, every implementation gets a full
 * collection before its setup (the harness runs one per compare()), its own live set only, and
 * its steady cost; the ratios lose the interleaving's protection against a noisy machine, which
 * matters little at ratios of 4x to 1,000x.
 */
const APART_FROM = 10_000;

async function churnCase(context: BenchContext, live: number, order: Order): Promise<void> {
  const churn: Churn = {
    live,
    sizes: mixedSizes(live),
    victims: victims(live, order, live + 1),
    scratch: order === 'scratch',
  };
  const liveBytes = live * 1700; // mean of the size mix, about 1.7 KiB
  const budget = Math.max(4 * MiB, 4 * liveBytes);
  const ours = new WorkspacePool({ initialSize: budget, maxSize: 4 * budget });
  const baseline = new BaselineWorkspacePool(baselineDefaultConfig());
  const thing = new MemPool({ size: 2 * budget, align: 8 });
  let steady: ReturnType<WorkspacePool['stats']> | undefined;
  const impls: BenchImpl[] = [
    oursChurn(churn, ours, () => (steady = ours.stats())),
    thingChurn(churn, thing),
    nativeChurn(churn),
    baselineChurn(churn, baseline),
  ];
  const caseName =
    order === 'scratch'
      ? `acquire and release at once (scratch), ${live.toLocaleString('en-US')} live`
      : `acquire+release, ${live.toLocaleString('en-US')} live, ${ORDER_NAMES[order]} order`;
  // The baseline scans every workspace per allocation: fewer samples keep the quick run short.
  const options = { samples: context.quick ? 15 : 30 };
  if (live < APART_FROM) {
    await context.compare(caseName, impls, options);
  } else {
    for (const impl of impls) await context.compare(caseName, [impl], options);
  }
  const stats = steady!;
  context.figure(caseName, OURS, stats.hitRate, 'hit rate');
  context.figure(caseName, OURS, stats.fragmentation, 'fragmentation with the live set');
  context.figure(caseName, OURS, stats.defragmentations, 'defragmentations (on miss)');
  context.figure(caseName, OURS, stats.acquisitions, 'acquisitions');
  context.figure(caseName, BASELINE, baseline.workspaces.size, 'workspaces created');
}

/** A 64 MiB pool filled with workspaces of 256 B to 64 KiB, then every other byte-half released at random. */
function scatteredPool(seed: number, pinnedShare: number): { pool: WorkspacePool; pinned: Workspace[] } {
  const pool = new WorkspacePool({
    initialSize: 64 * MiB,
    maxSize: 64 * MiB,
    maxSegmentSize: 64 * MiB,
    autoExpand: false,
  });
  const next = seededRandom(seed);
  const held: Workspace[] = [];
  for (;;) {
    const size = Math.round(2 ** (8 + next() * 8));
    if (size > pool.stats().largestFreeBlock) break;
    const workspace = pool.acquire(size);
    // Written whole, as scratch memory in use is: the pages are resident, as in a running engine.
    workspace.bytes().fill(held.length & 0xff);
    held.push(workspace);
  }
  const pinned: Workspace[] = [];
  for (const workspace of held) {
    if (next() < 0.5) workspace.release();
    else if (next() < pinnedShare) {
      workspace.pin();
      pinned.push(workspace);
    }
  }
  return { pool, pinned };
}

async function defragmentCase(context: BenchContext, pinnedShare: number): Promise<void> {
  const caseName = `defragment 64 MiB, half live and scattered${pinnedShare > 0 ? `, ${pinnedShare * 100}% pinned` : ''}`;
  const rounds = context.quick ? 10 : 25;
  const timings: number[] = [];
  let report;
  let workspaces = 0;
  for (let round = 0; round < rounds; round += 1) {
    const { pool, pinned } = scatteredPool(round + 1, pinnedShare);
    workspaces = pool.stats().liveWorkspaces;
    const started = process.hrtime.bigint();
    report = pool.defragment();
    timings.push(Number(process.hrtime.bigint() - started));
    pinned.forEach((workspace) => workspace.unpin());
    context.progress(caseName, round + 1, rounds);
  }
  context.record(caseName, OURS, summarize(timings));
  const last = report!;
  context.figure(caseName, OURS, last.durationMs, 'ms (last round, from the report)');
  context.figure(caseName, OURS, last.fragmentationBefore, 'fragmentation before');
  context.figure(caseName, OURS, last.fragmentationAfter, 'fragmentation after');
  context.figure(caseName, OURS, last.largestFreeBlockBefore, 'largest free block before (bytes)');
  context.figure(caseName, OURS, last.largestFreeBlockAfter, 'largest free block after (bytes)');
  context.figure(caseName, OURS, last.reclaimedBytes, 'reclaimed bytes');
  context.figure(caseName, OURS, last.workspacesMoved, 'workspaces moved');
  context.figure(caseName, OURS, last.bytesMoved, 'bytes moved');
  context.figure(caseName, OURS, workspaces, 'live workspaces');
  if (pinnedShare === 0) {
    // The baseline's defragment() on the same shape of pool: it "merges" and frees nothing.
    const baseline = new BaselineWorkspacePool({
      ...baselineDefaultConfig(),
      enableDefragmentation: true,
      initialSize: 64 * MiB,
    });
    context.figure(caseName, BASELINE, baseline.defragment().freedBytes, 'freed bytes (always 0)');
  }
}

const suite: Suite = {
  name: 'workspace-pool',
  description: 'workspace churn vs a linear-scan baseline, @thi.ng/malloc and new ArrayBuffer; 64 MiB defragmentation',
  async run(context) {
    await churnCase(context, 64, 'random');
    await churnCase(context, 100, 'random');
    await churnCase(context, 100, 'lifo');
    await churnCase(context, 64, 'fifo');
    await churnCase(context, 100, 'scratch');
    await churnCase(context, 10_000, 'random');
    await defragmentCase(context, 0);
    await defragmentCase(context, 0.01);
  },
};

export default suite;
