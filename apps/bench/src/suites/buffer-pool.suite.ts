/**
 * `@mem/buffer-pool` against what a Node server does without it:
 * - alloc+release pairs at 1 KiB, 4 KiB, 64 KiB and 1 MiB (the handle kept in a ring, as a caller
 *   would keep it; and not kept) against `Buffer.allocUnsafe`,
 *   `Buffer.alloc`, `new ArrayBuffer`, the npm `typedarray-pool` and `@thi.ng/malloc` (addresses only);
 * - zeroed allocation at 4 KiB against `Buffer.alloc`;
 * - churn: 64 buffers outstanding, the oldest released for each new one (FIFO), at 4 KiB and 64 KiB;
 * - shared mode: pairs in worker threads, on a private pool (the reference), on one shared pool with
 *   1 and 2 workers (local-cache hits), and with the worker cache disabled (every pair through the
 *   lock-free global freelist);
 * - GC: total GC pause (perf_hooks `gc` entries) and p99 iteration latency over a 3-second loop that
 *   takes 64 KiB buffers, writes 1 KiB into each and returns them (64 outstanding, FIFO), pool
 *   against `Buffer.allocUnsafe`.
 */
import { performance } from 'node:perf_hooks';
import { BufferPool, BufferPoolConfig, type IoBuffer } from '@mem/buffer-pool';
import { startWorker } from '@mem/testkit';
import { MemPool } from '@thi.ng/malloc';
import typedArrayPool from 'typedarray-pool';
import { consume } from '../blackhole.js';
import { GcRecorder, collectGarbage } from '../gc-observer.js';
import { summarize } from '../statistics.js';
import type { BenchContext, BenchImpl, Suite } from '../suite.js';
import type { PairResult, PairTask } from './buffer-pool-worker.js';
import { formatSize } from './native.suite.js';

const OURS = '@mem/buffer-pool';
const KiB = 1024;
const MiB = 1024 * 1024;

/** One config for every case: 1 KiB to 1 MiB classes, default options (leak detection sampled). */
const CONFIG = BufferPoolConfig.forNetwork().withMaxSize(MiB).withMaxPerClass(256);

/** Where handles go in the loops, so that they escape as a caller's would. */
const handleRing: IoBuffer[] = [];

function poolPairs(size: number): BenchImpl {
  const pool = new BufferPool(CONFIG);
  return {
    name: OURS,
    run(iterations) {
      let sum = 0;
      for (let i = 0; i < iterations; i += 1) {
        const buffer = pool.alloc(size);
        handleRing[i & 63] = buffer;
        sum += buffer.capacity;
        buffer.release();
      }
      return sum;
    },
  };
}

/**
 * The same pair with the handle used inside one function and not kept anywhere, as in
 * `const buffer = pool.alloc(n); socket.write(buffer.bytes); buffer.release()`: V8 may then skip
 * allocating the handle object. Shown beside the headline figure, which keeps every handle.
 * (Not written with `using`: Node 20 has no native `using`, and its down-levelled form allocates a
 * disposal stack per scope.)
 */
function scopedPoolPairs(size: number): BenchImpl {
  const pool = new BufferPool(CONFIG);
  return {
    name: `${OURS} (handle not kept)`,
    run(iterations) {
      let sum = 0;
      for (let i = 0; i < iterations; i += 1) {
        const buffer = pool.alloc(size);
        sum += buffer.capacity;
        buffer.release();
      }
      return sum;
    },
  };
}

function nativePairs(name: string, allocate: (size: number) => { byteLength: number }, size: number): BenchImpl {
  return {
    name,
    run(iterations) {
      let sum = 0;
      for (let i = 0; i < iterations; i += 1) {
        const memory = allocate(size);
        consume(memory);
        sum += memory.byteLength;
      }
      return sum;
    },
  };
}

function typedArrayPoolPairs(size: number): BenchImpl {
  return {
    name: 'typedarray-pool',
    run(iterations) {
      let sum = 0;
      for (let i = 0; i < iterations; i += 1) {
        const array = typedArrayPool.mallocUint8(size);
        consume(array);
        sum += array.length;
        typedArrayPool.freeUint8(array);
      }
      return sum;
    },
  };
}

function memPoolPairs(size: number): BenchImpl {
  const pool = new MemPool({ buf: new ArrayBuffer(64 * MiB), align: 16 });
  return {
    name: '@thi.ng/malloc MemPool (address, no view)',
    run(iterations) {
      let sum = 0;
      for (let i = 0; i < iterations; i += 1) {
        const address = pool.malloc(size);
        sum += address;
        pool.free(address);
      }
      return sum;
    },
  };
}

async function pairs(context: BenchContext): Promise<void> {
  for (const size of [KiB, 4 * KiB, 64 * KiB, MiB]) {
    await context.compare(`alloc+release ${formatSize(size)}`, [
      poolPairs(size),
      scopedPoolPairs(size),
      nativePairs('Buffer.allocUnsafe', (n) => Buffer.allocUnsafe(n), size),
      nativePairs('Buffer.alloc', (n) => Buffer.alloc(n), size),
      nativePairs('new ArrayBuffer', (n) => new ArrayBuffer(n), size),
      typedArrayPoolPairs(size),
      memPoolPairs(size),
    ]);
  }
  const pool = new BufferPool(CONFIG);
  await context.compare('allocZeroed+release 4 KiB (zeroed bytes)', [
    {
      name: `${OURS} allocZeroed`,
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) {
          const buffer = pool.allocZeroed(4 * KiB);
          handleRing[i & 63] = buffer;
          sum += buffer.length;
          buffer.release();
        }
        return sum;
      },
    },
    nativePairs('Buffer.alloc', (n) => Buffer.alloc(n), 4 * KiB),
  ]);
}

const WINDOW = 64;

async function churn(context: BenchContext): Promise<void> {
  for (const size of [4 * KiB, 64 * KiB]) {
    const pool = new BufferPool(CONFIG);
    const live: IoBuffer[] = Array.from({ length: WINDOW }, () => pool.alloc(size));
    const arrays: Uint8Array[] = Array.from({ length: WINDOW }, () => typedArrayPool.mallocUint8(size));
    const memPool = new MemPool({ buf: new ArrayBuffer(WINDOW * size * 2 + MiB), align: 16 });
    const addresses = Int32Array.from({ length: WINDOW }, () => memPool.malloc(size));
    const kept: unknown[] = new Array(WINDOW).fill(undefined);
    let cursor = 0;
    const native = (name: string, allocate: (n: number) => { byteLength: number }): BenchImpl => ({
      name,
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) {
          const memory = allocate(size);
          kept[cursor] = memory; // the oldest is dropped for the garbage collector
          cursor = (cursor + 1) & (WINDOW - 1);
          sum += memory.byteLength;
        }
        return sum;
      },
    });
    await context.compare(`churn ${formatSize(size)}, ${WINDOW} outstanding, FIFO`, [
      {
        name: OURS,
        run(iterations) {
          let sum = 0;
          for (let i = 0; i < iterations; i += 1) {
            live[cursor]!.release();
            const buffer = pool.alloc(size);
            live[cursor] = buffer;
            cursor = (cursor + 1) & (WINDOW - 1);
            sum += buffer.capacity;
          }
          return sum;
        },
      },
      native('Buffer.allocUnsafe', (n) => Buffer.allocUnsafe(n)),
      native('Buffer.alloc', (n) => Buffer.alloc(n)),
      native('new ArrayBuffer', (n) => new ArrayBuffer(n)),
      {
        name: 'typedarray-pool',
        run(iterations) {
          let sum = 0;
          for (let i = 0; i < iterations; i += 1) {
            typedArrayPool.freeUint8(arrays[cursor]!);
            const array = typedArrayPool.mallocUint8(size);
            arrays[cursor] = array;
            cursor = (cursor + 1) & (WINDOW - 1);
            sum += array.length;
          }
          return sum;
        },
      },
      {
        name: '@thi.ng/malloc MemPool (address, no view)',
        run(iterations) {
          let sum = 0;
          for (let i = 0; i < iterations; i += 1) {
            memPool.free(addresses[cursor]!);
            const address = memPool.malloc(size);
            addresses[cursor] = address;
            cursor = (cursor + 1) & (WINDOW - 1);
            sum += address;
          }
          return sum;
        },
      },
    ]);
    for (const buffer of live) buffer.release();
  }
}

async function runPairWorkers(task: Omit<PairTask, 'barrier'>): Promise<PairResult[]> {
  const worker = new URL('./buffer-pool-worker.ts', import.meta.url);
  const full: PairTask = { ...task, barrier: new SharedArrayBuffer(8) };
  // Workers refuse --expose-gc, which the bench's own process runs with.
  const execArgv = process.execArgv.filter((flag) => flag !== '--expose-gc');
  return Promise.all(
    Array.from(
      { length: task.workers },
      () =>
        new Promise<PairResult>((resolve, reject) => {
          const thread = startWorker(worker, { workerData: full, execArgv });
          thread.once('message', resolve);
          thread.once('error', reject);
        }),
    ),
  );
}

async function sharedMode(context: BenchContext): Promise<void> {
  const size = 4 * KiB;
  const rounds = context.quick ? 15 : 40;
  const perRound = 1_000_000;
  const caseName = `shared mode: alloc+release ${formatSize(size)} in worker threads`;
  const config = CONFIG.withParallelism(2);
  const runs: [string, boolean, BufferPoolConfig, number][] = [
    ['private pool, 1 worker (reference)', false, config, 1],
    ['shared pool, 1 worker, local-cache hit', true, config, 1],
    ['shared pool, 2 workers, local-cache hit', true, config, 2],
    ['shared pool, 1 worker, cache disabled (global freelist)', true, config.withWorkerCacheDisabled(), 1],
    ['shared pool, 2 workers, cache disabled (global freelist)', true, config.withWorkerCacheDisabled(), 2],
  ];
  const medians = new Map<string, number>();
  for (const [label, shared, runConfig, workers] of runs) {
    context.progress(`${caseName}: ${label}`, 0, 1);
    const pool = shared ? BufferPool.createShared(runConfig) : undefined;
    const results = await runPairWorkers({
      descriptor: pool?.descriptor() ?? null,
      config: runConfig.toJSON(),
      size,
      workers,
      rounds,
      perRound: runConfig.workerCacheCapacity === 0 ? perRound / 10 : perRound,
    });
    const samples = results.flatMap((result) => result.nsPerOp);
    const summary = context.record(caseName, `${OURS} ${label}`, summarize(samples));
    medians.set(label, summary.nsPerOp);
    // On 2 cores shared with other jobs, 2 workers often cannot both run: the fastest round shows
    // the code path's own cost when they did.
    context.figure(
      caseName,
      `${OURS} ${label}`,
      Math.round(Math.min(...samples) * 100) / 100,
      'ns/pair, fastest round',
    );
    const local = results.reduce((sum, result) => sum + result.hits.local, 0);
    const total = results.reduce((sum, result) => sum + result.hits.local + result.hits.global + result.hits.new, 0);
    context.figure(caseName, `${OURS} ${label}`, Math.round((local / total) * 1000) / 10, '% local-cache hits');
    pool?.close();
  }
  const reference = medians.get(runs[0]![0])!;
  for (const [label] of runs.slice(1, 3)) {
    context.figure(
      caseName,
      `${OURS} ${label}`,
      Math.round((medians.get(label)! / reference) * 100) / 100,
      'x the private pair',
    );
  }
}

async function gcChurn(context: BenchContext): Promise<void> {
  const size = 64 * KiB;
  const seconds = 3;
  const caseName = `gc: ${formatSize(size)} churn for ${seconds} s (1 KiB written per buffer, ${WINDOW} outstanding)`;
  const latencies = new Float64Array(1 << 22);
  const pauses = new Map<string, number>();
  const impls: [string, () => (i: number) => number][] = [
    [
      OURS,
      () => {
        const pool = new BufferPool(CONFIG);
        const live: IoBuffer[] = Array.from({ length: WINDOW }, () => pool.alloc(size));
        return (i) => {
          const slot = i & (WINDOW - 1);
          live[slot]!.release();
          const buffer = pool.alloc(size);
          buffer.capacityBytes.fill(i & 0xff, 0, KiB);
          buffer.length = KiB;
          live[slot] = buffer;
          return buffer.capacityBytes[i & (KiB - 1)]!;
        };
      },
    ],
    [
      'Buffer.allocUnsafe',
      () => {
        const live: Buffer[] = Array.from({ length: WINDOW }, () => Buffer.allocUnsafe(size));
        return (i) => {
          const buffer = Buffer.allocUnsafe(size);
          buffer.fill(i & 0xff, 0, KiB);
          live[i & (WINDOW - 1)] = buffer;
          return buffer[i & (KiB - 1)]!;
        };
      },
    ],
  ];
  for (const [name, create] of impls) {
    context.progress(`${caseName}: ${name}`, 0, 1);
    const step = create();
    for (let i = 0; i < 100_000; i += 1) step(i); // warm up
    collectGarbage();
    const recorder = new GcRecorder();
    recorder.start();
    const started = performance.now();
    const end = started + seconds * 1000;
    let previous = started;
    let iterations = 0;
    let checksum = 0;
    while (previous < end) {
      checksum += step(iterations);
      const now = performance.now();
      latencies[iterations & (latencies.length - 1)] = now - previous;
      previous = now;
      iterations += 1;
    }
    const totals = await recorder.stop();
    consume(checksum);
    const sorted = latencies.subarray(0, Math.min(iterations, latencies.length)).sort();
    const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)]!;
    pauses.set(name, totals.pauseMs);
    context.figure(caseName, name, Math.round(totals.pauseMs * 100) / 100, `ms GC pause in ${seconds} s`);
    context.figure(caseName, name, totals.count, 'GC events');
    context.figure(caseName, name, Math.round(at(0.99) * 1e5) / 100, 'µs p99 iteration');
    context.figure(caseName, name, Math.round(at(0.999) * 1e5) / 100, 'µs p99.9 iteration');
    context.figure(caseName, name, Math.round(sorted[sorted.length - 1]! * 1e5) / 100, 'µs slowest iteration');
    context.figure(caseName, name, Math.round(iterations / seconds), 'iterations/s');
    context.progress(`${caseName}: ${name}`, 1, 1);
  }
  const ours = pauses.get(OURS)!;
  const theirs = pauses.get('Buffer.allocUnsafe')!;
  context.figure(
    caseName,
    `${OURS} vs Buffer.allocUnsafe`,
    Math.round((theirs / Math.max(ours, 0.01)) * 10) / 10,
    'x less GC pause',
  );
}

const suite: Suite = {
  name: 'buffer-pool',
  description:
    'size-class I/O buffers: alloc+release pairs, zeroed, FIFO churn, shared mode in workers, GC pause under churn',
  async run(context) {
    await pairs(context);
    await churn(context);
    await sharedMode(context);
    await gcChurn(context);
  },
};

export default suite;
