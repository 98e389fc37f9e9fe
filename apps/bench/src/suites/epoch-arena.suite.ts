/**
 * `@mem/epoch-arena` against what a JS program does without it, for keys of 16 to 64 bytes:
 * allocation through the handle path and `allocateCopy`/`allocateKey` against `new Uint8Array(n)`,
 * `Buffer.allocUnsafe(n)`, `Buffer.from(key)` and `@thi.ng/malloc`'s MemPool; reading a key back
 * through its handle; dropping a generation of 1,000,000 keys (arena reset against letting the GC
 * collect 1,000,000 small Uint8Arrays, GC pause included); JS heap growth over 1,000,000 handle-path
 * allocations; and bump allocation in shared mode with 1 and 2 workers.
 */
import { ArenaPool, EpochArena, SharedEpochArena } from '@mem/epoch-arena';
import { startWorker } from '@mem/testkit';
import { seededRandom } from '@mem/testkit/seeded-random';
import { MemPool } from '@thi.ng/malloc';
import { consume } from '../blackhole.js';
import { GcRecorder, collectGarbage } from '../gc-observer.js';
import { median, summarize } from '../statistics.js';
import type { BenchContext, BenchImpl, Suite } from '../suite.js';
import type { SharedBumpResult, SharedBumpTask } from './epoch-arena-shared-worker.js';

const OURS = '@mem/epoch-arena';
/** Allocations between two resets in the timed loops: a generation, as a server would have. */
const GENERATION = 65536;
const GENERATION_MASK = GENERATION - 1;

/** A deterministic stream, so every run sees the same sizes and keys. */
const next = seededRandom(42);
/** 4096 sizes from 16 to 64 bytes. */
const SIZES = Uint8Array.from({ length: 4096 }, () => 16 + Math.floor(next() * 49));
/** 4096 keys of 16 to 64 random bytes. */
const KEYS = Array.from(SIZES, (size) => Uint8Array.from({ length: size }, () => Math.floor(next() * 256)));
/** 64 keys of 32 bytes. */
const KEYS_32 = Array.from({ length: 64 }, () => Uint8Array.from({ length: 32 }, () => Math.floor(next() * 256)));

/** Where handles are stored in the loops: a Float64Array keeps them unboxed, as a user should. */
const handleRing = new Float64Array(1024);
/** Where objects are stored in the baseline loops, so that they escape as the handles do. */
const objectRing: unknown[] = new Array(1024).fill(undefined);

function arenaImpls(label: string, allocate: (arena: EpochArena, i: number) => number): BenchImpl {
  const arena = new EpochArena();
  let epoch = 0;
  return {
    name: label,
    run(iterations) {
      for (let i = 0; i < iterations; i += 1) {
        handleRing[i & 1023] = allocate(arena, i);
        if ((i & GENERATION_MASK) === GENERATION_MASK) arena.reset((epoch += 1));
      }
      return handleRing[0];
    },
  };
}

function memPoolImpl(label: string, write: boolean, keys: readonly Uint8Array[], keyMask: number): BenchImpl {
  const buffer = new ArrayBuffer(16 << 20);
  const bytes = new Uint8Array(buffer);
  const pool = new MemPool({ buf: buffer, align: 8 });
  return {
    name: label,
    run(iterations) {
      let sum = 0;
      for (let i = 0; i < iterations; i += 1) {
        const key = keys[i & keyMask]!;
        const address = pool.malloc(write ? key.length : SIZES[i & 4095]!);
        // MemPool answers 0 when full; the bound check also keeps a bad address from throwing.
        if (write && address > 0 && address + key.length <= bytes.length) bytes.set(key, address);
        sum += address;
        if ((i & GENERATION_MASK) === GENERATION_MASK) pool.freeAll();
      }
      return sum;
    },
  };
}

function objectImpl(label: string, make: (i: number) => { length: number }): BenchImpl {
  return {
    name: label,
    run(iterations) {
      let sum = 0;
      for (let i = 0; i < iterations; i += 1) {
        const made = make(i);
        objectRing[i & 1023] = made;
        sum += made.length;
      }
      return sum;
    },
  };
}

async function allocation(context: BenchContext): Promise<void> {
  const shared = SharedEpochArena.createShared({ capacity: 64 << 20 });
  let sharedEpoch = 0;
  let bump = 0;
  const pool = new ArenaPool();
  const local = pool.local();
  await context.compare('allocate 16-64 B', [
    arenaImpls(`${OURS} allocate (handle)`, (arena, i) => arena.allocate(SIZES[i & 4095]!)),
    {
      name: `${OURS} LocalArena.allocate`,
      run(iterations) {
        for (let i = 0; i < iterations; i += 1) {
          handleRing[i & 1023] = local.allocate(SIZES[i & 4095]!);
          if ((i & GENERATION_MASK) === GENERATION_MASK) local.arena.reset(local.arena.epoch);
        }
        return handleRing[0];
      },
    },
    {
      name: `${OURS} SharedEpochArena.allocate (1 thread)`,
      run(iterations) {
        for (let i = 0; i < iterations; i += 1) {
          handleRing[i & 1023] = shared.allocate(SIZES[i & 4095]!);
          if ((i & GENERATION_MASK) === GENERATION_MASK) shared.reset((sharedEpoch += 1));
        }
        return handleRing[0];
      },
    },
    objectImpl('new Uint8Array(n)', (i) => new Uint8Array(SIZES[i & 4095]!)),
    objectImpl('Buffer.allocUnsafe(n)', (i) => Buffer.allocUnsafe(SIZES[i & 4095]!)),
    memPoolImpl('@thi.ng/malloc MemPool.malloc(n)', false, KEYS, 4095),
    {
      name: 'floor: a bare number bump',
      run(iterations) {
        for (let i = 0; i < iterations; i += 1) {
          handleRing[i & 1023] = bump;
          bump = (bump + SIZES[i & 4095]! + 7) & -8;
          if ((i & GENERATION_MASK) === GENERATION_MASK) bump = 0;
        }
        return handleRing[0];
      },
    },
  ]);
}

async function copies(
  context: BenchContext,
  caseName: string,
  keys: readonly Uint8Array[],
  mask: number,
): Promise<void> {
  await context.compare(caseName, [
    arenaImpls(`${OURS} allocateCopy`, (arena, i) => arena.allocateCopy(keys[i & mask]!)),
    arenaImpls(`${OURS} allocateKey (16-aligned)`, (arena, i) => arena.allocateKey(keys[i & mask]!)),
    objectImpl('new Uint8Array(key)', (i) => new Uint8Array(keys[i & mask]!)),
    objectImpl('Buffer.from(key)', (i) => Buffer.from(keys[i & mask]!)),
    objectImpl('Buffer.allocUnsafe(n) + set', (i) => {
      const key = keys[i & mask]!;
      const buffer = Buffer.allocUnsafe(key.length);
      buffer.set(key);
      return buffer;
    }),
    memPoolImpl('@thi.ng/malloc MemPool.malloc(n) + set', true, keys, mask),
  ]);
}

async function reads(context: BenchContext): Promise<void> {
  const arena = new EpochArena();
  const handles = new Float64Array(4096);
  const buffers = KEYS.map((key) => Buffer.from(key));
  for (let i = 0; i < 4096; i += 1) handles[i] = arena.allocateKey(KEYS[i]!);
  const target = new Uint8Array(64);
  await context.compare('read a 16-64 B key back', [
    {
      name: `${OURS} equals(handle, key)`,
      run(iterations) {
        let hits = 0;
        for (let i = 0; i < iterations; i += 1) if (arena.equals(handles[i & 4095]!, KEYS[i & 4095]!)) hits += 1;
        return hits;
      },
    },
    {
      name: `${OURS} compare(handle, key)`,
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) sum += arena.compare(handles[i & 4095]!, KEYS[(i + 1) & 4095]!);
        return sum;
      },
    },
    {
      name: `${OURS} copyTo(handle, target)`,
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) sum += arena.copyTo(handles[i & 4095]!, target);
        return sum;
      },
    },
    {
      name: `${OURS} view(handle)`,
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) {
          const view = arena.view(handles[i & 4095]!);
          objectRing[i & 1023] = view;
          sum += view.length;
        }
        return sum;
      },
    },
    {
      name: 'Buffer#equals(key)',
      run(iterations) {
        let hits = 0;
        for (let i = 0; i < iterations; i += 1) if (buffers[i & 4095]!.equals(KEYS[i & 4095]!)) hits += 1;
        return hits;
      },
    },
  ]);
}

/** Builds 1,000,000 keys in the arena (handles in a Float64Array), or as Uint8Array copies in an array. */
const GENERATION_KEYS = 1_000_000;

/** Builds a generation of 1,000,000 Uint8Array copies of keys and drops it (returns nothing of it). */
function buildAndDropUint8Arrays(): void {
  const generation = new Array<Uint8Array>(GENERATION_KEYS);
  for (let i = 0; i < GENERATION_KEYS; i += 1) generation[i] = new Uint8Array(KEYS[i & 4095]!);
  consume(generation[GENERATION_KEYS - 1]);
}

async function dropGeneration(context: BenchContext): Promise<void> {
  const caseName = 'drop a generation of 1,000,000 keys';
  const rounds = context.quick ? 6 : 15;
  const arena = new EpochArena();
  const handles = new Float64Array(GENERATION_KEYS);
  const resetNs: number[] = [];
  const arenaPause: number[] = [];
  const arenaGcCount: number[] = [];
  const gcNs: number[] = [];
  const objectPause: number[] = [];
  const objectGcCount: number[] = [];
  const recorder = new GcRecorder();
  let epoch = 0;
  for (let round = 0; round < rounds; round += 1) {
    context.progress(caseName, round, rounds);
    collectGarbage();
    // The arena: a generation's lifetime is build, use, reset. The forced collection at the end is
    // the same one the Uint8Array side needs to free its generation.
    recorder.start();
    for (let i = 0; i < GENERATION_KEYS; i += 1) handles[i] = arena.allocateKey(KEYS[i & 4095]!);
    let started = process.hrtime.bigint();
    arena.reset((epoch += 1));
    resetNs.push(Number(process.hrtime.bigint() - started));
    collectGarbage();
    let totals = await recorder.stop();
    arenaPause.push(totals.pauseMs);
    arenaGcCount.push(totals.count);

    collectGarbage();
    recorder.start();
    buildAndDropUint8Arrays(); // the generation is unreachable once this returns
    started = process.hrtime.bigint();
    collectGarbage();
    gcNs.push(Number(process.hrtime.bigint() - started));
    totals = await recorder.stop();
    objectPause.push(totals.pauseMs);
    objectGcCount.push(totals.count);
  }
  context.record(caseName, `${OURS} reset()`, summarize(resetNs));
  context.record(caseName, 'Uint8Array: full GC after dropping the array', summarize(gcNs));
  context.figure(caseName, `${OURS} reset()`, round3(median(resetNs) / 1e6), 'ms to drop (median)');
  context.figure(caseName, 'Uint8Array x 1,000,000', round3(median(gcNs) / 1e6), 'ms to drop: forced full GC (median)');
  context.figure(
    caseName,
    `${OURS}`,
    round3(median(arenaPause)),
    'ms GC pause per generation: build + drop + full GC (median)',
  );
  context.figure(
    caseName,
    'Uint8Array x 1,000,000',
    round3(median(objectPause)),
    'ms GC pause per generation: build + drop + full GC (median)',
  );
  context.figure(caseName, `${OURS}`, median(arenaGcCount), 'GC events per generation (median)');
  context.figure(caseName, 'Uint8Array x 1,000,000', median(objectGcCount), 'GC events per generation (median)');
}

/** 1,000,000 handle-path allocations, handles kept in a Float64Array, in a plain loop as a user writes it. */
function fillWithAllocate(arena: EpochArena, handles: Float64Array): void {
  for (let i = 0; i < GENERATION_KEYS; i += 1) handles[i] = arena.allocate(SIZES[i & 4095]!);
}

/** 1,000,000 keys of 16-64 bytes copied in with allocateKey. */
function fillWithKeys(arena: EpochArena, handles: Float64Array): void {
  for (let i = 0; i < GENERATION_KEYS; i += 1) handles[i] = arena.allocateKey(KEYS[i & 4095]!);
}

/** 1,000,000 Uint8Arrays of 16-64 bytes, kept. */
function fillWithUint8Arrays(kept: Uint8Array[]): void {
  for (let i = 0; i < GENERATION_KEYS; i += 1) kept[i] = new Uint8Array(SIZES[i & 4095]!);
}

async function heapGrowth(context: BenchContext): Promise<void> {
  const caseName = 'JS heap growth over 1,000,000 handle-path allocations';
  const arena = new EpochArena();
  const handles = new Float64Array(GENERATION_KEYS);
  const recorder = new GcRecorder();
  const measure = async (label: string, fill: () => void, after: () => void): Promise<void> => {
    // Warm-up: let V8 compile (and recompile after the first block change) before measuring; the
    // pauses let its concurrent compiler install the code.
    for (let round = 0; round < 5; round += 1) {
      fill();
      after();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    collectGarbage();
    recorder.start();
    const before = process.memoryUsage().heapUsed;
    fill();
    const growth = process.memoryUsage().heapUsed - before;
    const totals = await recorder.stop();
    after();
    context.figure(caseName, label, Math.round(growth / 1024), 'KiB of heapUsed growth');
    context.figure(caseName, label, totals.count, 'GC events');
  };
  const resetArena = (): void => arena.reset(arena.epoch + 1);
  await measure(`${OURS} allocate(16-64)`, () => fillWithAllocate(arena, handles), resetArena);
  await measure(`${OURS} allocateKey(16-64 B)`, () => fillWithKeys(arena, handles), resetArena);
  // The same allocations through a call site V8 does not inline (five distinct functions, more
  // than it inlines at one site): a handle above 2^31 returned across a real call is a heap number.
  const callers: Array<(i: number) => number> = [
    (i) => arena.allocate(SIZES[i & 4095]!),
    (i) => arena.allocate(SIZES[(i + 1) & 4095]!),
    (i) => arena.allocate(SIZES[(i + 2) & 4095]!),
    (i) => arena.allocate(SIZES[(i + 3) & 4095]!),
    (i) => arena.allocate(SIZES[(i + 4) & 4095]!),
  ];
  await measure(
    `${OURS} allocate(16-64) through a non-inlined call`,
    () => {
      for (let i = 0; i < GENERATION_KEYS; i += 1) handles[i] = callers[i % 5]!(i);
    },
    resetArena,
  );
  let kept: Uint8Array[] = new Array<Uint8Array>(GENERATION_KEYS);
  await measure(
    'new Uint8Array(16-64), kept',
    () => fillWithUint8Arrays(kept),
    () => {
      consume(kept[0]);
      kept = new Array<Uint8Array>(GENERATION_KEYS);
    },
  );
}

async function sharedBump(context: BenchContext): Promise<void> {
  const rounds = context.quick ? 10 : 25;
  const perRound = 250_000;
  const worker = new URL('./epoch-arena-shared-worker.ts', import.meta.url);
  for (const [mode, chunkSize] of [
    ['chunks of 16 KiB', 16 * 1024],
    ['an Atomics.add per allocation', 0],
  ] as const) {
    for (const workers of [1, 2]) {
      const caseName = `shared-mode bump 16-64 B, ${workers} worker${workers > 1 ? 's' : ''}`;
      context.progress(caseName, 0, 1);
      const arena = SharedEpochArena.createShared({ capacity: workers * perRound * 72, chunkSize });
      const barrier = new SharedArrayBuffer(8);
      const task: SharedBumpTask = { descriptor: arena.descriptor(), workers, rounds, perRound, sizes: SIZES, barrier };
      const results = await Promise.all(
        Array.from(
          { length: workers },
          () =>
            new Promise<SharedBumpResult>((resolve, reject) => {
              const thread = startWorker(worker, { workerData: task });
              thread.once('message', resolve);
              thread.once('error', reject);
            }),
        ),
      );
      const samples = results.flatMap((result) => result.nsPerOp);
      const summary = context.record(caseName, `${OURS} SharedEpochArena, ${mode}`, summarize(samples));
      context.figure(
        caseName,
        `${OURS} SharedEpochArena, ${mode}`,
        Math.round((workers * 1e3) / summary.nsPerOp),
        'M allocations/s, all workers together',
      );
      arena.close();
    }
  }
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

const suite: Suite = {
  name: 'epoch-arena',
  description:
    'epoch arenas: handle-path and copy allocation of 16-64 B keys, reads, generation drop, heap, shared mode',
  async run(context) {
    await allocation(context);
    await copies(context, 'allocateCopy 32 B key', KEYS_32, 63);
    await copies(context, 'allocateCopy 16-64 B keys', KEYS, 4095);
    await reads(context);
    await dropGeneration(context);
    await heapGrowth(context);
    await sharedBump(context);
  },
};

export default suite;
