/**
 * `@mem/paged-kv` against a baseline block allocator (the common design: a LIFO free list, a
 * hash map and an O(n) resurrection; `paged-kv-baseline.ts`): allocate+free pairs, allocateMany(16), resurrection of a soft-free block
 * at 100,000 blocks; then a deterministic multi-turn chat trace replayed through the scheduler for
 * the prefix hit rate (against the oracle, with the working set and half of it, LRU order and the
 * baseline's LIFO order) and KV waste (against reserving per request); and paged attention against
 * contiguous attention per query.
 */
import { BlockAllocator, KvStore, pagedAttention } from '@mem/paged-kv';
import { contiguousAttention, gatherContiguous, syntheticChatTrace } from '@mem/paged-kv/reference';
import { seededRandom } from '@mem/testkit/seeded-random';
import type { BenchContext, BenchImpl, Suite } from '../suite.js';
import { BaselineBlockAllocator } from './paged-kv-baseline.js';
import { replayTrace } from './paged-kv-replay.js';
import { scatteredSequence } from './scattered-sequence.js';

const OURS = '@mem/paged-kv';
const BASELINE = 'baseline: array free list + Map';
const LIFO = 'baseline: LIFO reuse order';

async function allocatorPairs(context: BenchContext): Promise<void> {
  const capacity = 4096;
  // Half the pool stays live, as in a running server.
  const ours = new BlockAllocator(capacity);
  ours.allocateMany(capacity / 2);
  const baseline = new BaselineBlockAllocator(capacity);
  baseline.allocateN(capacity / 2);
  const one = [0];
  const impls: BenchImpl[] = [
    {
      name: OURS,
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) {
          const block = ours.allocate();
          ours.free(block);
          sum += block;
        }
        return sum;
      },
    },
    {
      name: BASELINE,
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) {
          const block = baseline.allocate();
          one[0] = block;
          baseline.free(one);
          sum += block;
        }
        return sum;
      },
    },
  ];
  await context.compare('allocate+free pair', impls);
}

async function allocateMany(context: BenchContext): Promise<void> {
  const capacity = 4096;
  const ours = new BlockAllocator(capacity);
  ours.allocateMany(capacity / 2);
  const baseline = new BaselineBlockAllocator(capacity);
  baseline.allocateN(capacity / 2);
  const out = new Uint32Array(16);
  await context.compare('allocateMany(16) + free', [
    {
      name: OURS,
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) {
          ours.allocateMany(16, out);
          ours.freeSequence(out);
          sum += out[15]!;
        }
        return sum;
      },
    },
    {
      name: BASELINE,
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) {
          const blocks = baseline.allocateN(16);
          baseline.free(blocks);
          sum += blocks[15]!;
        }
        return sum;
      },
    },
  ]);
}

async function resurrection(context: BenchContext): Promise<void> {
  const capacity = 100_000;
  const ours = new BlockAllocator(capacity);
  const digests = new Uint32Array(capacity * 4);
  for (let i = 0; i < digests.length; i += 1) digests[i] = Math.imul(i + 1, 0x9e3779b1);
  for (let b = 0; b < capacity; b += 1) ours.registerBlockHash(ours.allocate(), digests, b);
  for (let b = 0; b < capacity; b += 1) ours.free(b);
  const baseline = new BaselineBlockAllocator(capacity);
  const keys: bigint[] = [];
  for (let b = 0; b < capacity; b += 1) {
    const block = baseline.allocate();
    keys.push((BigInt(digests[b * 4]!) << 32n) | BigInt(digests[b * 4 + 1]!));
    baseline.registerBlockHash(block, keys[b]!);
  }
  for (let b = 0; b < capacity; b += 1) baseline.free([b]);
  // A fixed pseudo-random visiting order, so that neither side gets a sequential access pattern.
  const order = new Uint32Array(capacity);
  for (let i = 0; i < capacity; i += 1) order[i] = (Math.imul(i, 40503) >>> 0) % capacity;
  let cursorOurs = 0;
  let cursorBaseline = 0;
  const one = [0];
  await context.compare(`resurrect a soft-free block (+ free) at ${capacity} blocks`, [
    {
      name: OURS,
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) {
          const index = order[cursorOurs]!;
          cursorOurs = cursorOurs + 1 === capacity ? 0 : cursorOurs + 1;
          const block = ours.tryAcquireByHash(digests, index);
          ours.free(block);
          sum += block;
        }
        return sum;
      },
    },
    {
      name: BASELINE,
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) {
          const index = order[cursorBaseline]!;
          cursorBaseline = cursorBaseline + 1 === capacity ? 0 : cursorBaseline + 1;
          const block = baseline.tryAcquireByHash(keys[index]!)!;
          one[0] = block;
          baseline.free(one);
          sum += block;
        }
        return sum;
      },
    },
  ]);
}

function percent(value: number): number {
  return Math.round(value * 10000) / 100;
}

function prefixCaching(context: BenchContext): void {
  const trace = syntheticChatTrace({ seed: 1 });
  const blockSize = 16;
  const label = `chat trace (${trace.requests.length} requests, ${trace.promptTokens} prompt tokens, block 16)`;
  context.progress('replaying the chat trace', 0, 6);
  const unbounded = replayTrace(trace, { numBlocks: 1 << 20, blockSize, reuseOrder: 'lru' });
  const workingSet = unbounded.peakLiveAndCached;
  context.figure(`${label}: working set`, OURS, workingSet, 'blocks');
  const runs = [
    ['working set', workingSet],
    ['half the working set', Math.floor(workingSet / 2)],
  ] as const;
  let step = 1;
  for (const [name, numBlocks] of runs) {
    const lru = replayTrace(trace, { numBlocks, blockSize, reuseOrder: 'lru' });
    context.progress('replaying the chat trace', step++, 6);
    const lifo = replayTrace(trace, { numBlocks, blockSize, reuseOrder: 'lifo' });
    context.progress('replaying the chat trace', step++, 6);
    const caseName = `${label}: prefix hit rate, ${name} (${numBlocks} blocks)`;
    context.figure(caseName, `${OURS} (LRU)`, percent(lru.hitTokens / lru.queryTokens), '% of prompt tokens');
    context.figure(
      caseName,
      'oracle (at the LRU run)',
      percent(lru.oracleTokens / lru.queryTokens),
      '% of prompt tokens',
    );
    context.figure(caseName, LIFO, percent(lifo.hitTokens / lifo.queryTokens), '% of prompt tokens');
    context.figure(
      caseName,
      'oracle (at the LIFO run)',
      percent(lifo.oracleTokens / lifo.queryTokens),
      '% of prompt tokens',
    );
    context.figure(`${label}: evictions, ${name}`, `${OURS} (LRU)`, lru.evictions, 'blocks');
    context.figure(`${label}: evictions, ${name}`, LIFO, lifo.evictions, 'blocks');
    context.figure(`${label}: preemptions, ${name}`, `${OURS} (LRU)`, lru.preemptions, 'requests');
    if (name === 'working set') {
      const wasteCase = `${label}: KV memory waste`;
      context.figure(wasteCase, `${OURS} (paged, block 16)`, percent(lru.pagedWaste), '% of allocated slots');
      context.figure(
        wasteCase,
        'reserve the max context (4096) per request',
        percent(lru.reserveMaxWaste),
        '% of allocated slots',
      );
      context.figure(
        wasteCase,
        'reserve prompt + max new tokens per request',
        percent(lru.reserveRequestWaste),
        '% of allocated slots',
      );
    }
  }
  const off = replayTrace(trace, { numBlocks: workingSet, blockSize, reuseOrder: 'lru', prefixCaching: false });
  context.progress('replaying the chat trace', 6, 6);
  context.figure(
    `${label}: prefill tokens computed`,
    `${OURS} (prefix caching on)`,
    unbounded.queryTokens - unbounded.hitTokens,
    'tokens',
  );
  context.figure(
    `${label}: prefill tokens computed`,
    `${OURS} (prefix caching off)`,
    off.queryTokens - off.hitTokens,
    'tokens',
  );
}

async function attention(context: BenchContext): Promise<void> {
  const numKvHeads = 8;
  const numQueryHeads = 32;
  const headDim = 64;
  const blockSize = 16;
  const length = 1024;
  const numBlocks = 256;
  // The JavaScript kernels, which share contiguous attention's loops: this case measures what paging costs.
  // The WebAssembly kernels are measured by the paged-kv-kernels suite.
  const store = new KvStore({ numLayers: 1, numBlocks, numKvHeads, blockSize, headDim, kernels: 'js' });
  const sequence = scatteredSequence(numBlocks, blockSize, length);
  const next = seededRandom(1);
  const random = (): number => next() * 2 - 1;
  const k = new Float32Array(numKvHeads * headDim);
  const v = new Float32Array(numKvHeads * headDim);
  for (let p = 0; p < length; p += 1) {
    k.forEach((_, i) => (k[i] = random()));
    v.forEach((_, i) => (v[i] = random()));
    store.writeToken(0, sequence, p, k, v);
  }
  const contiguous = gatherContiguous(store, 0, sequence, length);
  const query = new Float32Array(numQueryHeads * headDim).map(() => random());
  const outPaged = new Float32Array(query.length);
  const outContiguous = new Float32Array(query.length);
  await context.compare(
    `attention per query (${numQueryHeads} q heads, ${numKvHeads} kv heads, dim ${headDim}, ${length} tokens)`,
    [
      {
        name: `${OURS} pagedAttention (JavaScript kernels)`,
        run(iterations) {
          let sum = 0;
          for (let i = 0; i < iterations; i += 1) {
            pagedAttention(store, 0, sequence, length, query, { numQueryHeads, out: outPaged });
            sum += outPaged[0]!;
          }
          return sum;
        },
      },
      {
        name: 'contiguousAttention',
        run(iterations) {
          let sum = 0;
          for (let i = 0; i < iterations; i += 1) {
            contiguousAttention(contiguous, length, query, { numQueryHeads, out: outContiguous });
            sum += outContiguous[0]!;
          }
          return sum;
        },
      },
    ],
  );
}

const suite: Suite = {
  name: 'paged-kv',
  description: 'KV block allocator, prefix-cache hit rate and waste on a chat trace, paged vs contiguous attention',
  async run(context) {
    await allocatorPairs(context);
    await allocateMany(context);
    await resurrection(context);
    prefixCaching(context);
    await attention(context);
  },
};

export default suite;
