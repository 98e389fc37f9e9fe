/**
 * Replays a synthetic chat trace through `@mem/paged-kv`'s Scheduler and KvCacheManager with a
 * simulated model (it "generates" the trace's response tokens), and measures prefix-cache hits
 * against the oracle and KV memory waste.
 *
 * The oracle: at each admission, the prompt tokens in leading full blocks (at most tokens - 1, as
 * the manager may use: the last token must be computed for logits) whose content any request had
 * already computed by then. It is what an infinite cache would serve at the same moment.
 *
 * Waste: time-averaged over steps, the share of slots in live blocks that hold no known token
 * (shared blocks counted once). The baselines reserve a fixed region per running request: the
 * model's maximum context, or the request's prompt plus its maximum new tokens.
 */
import { Scheduler, blockHashChain } from '@mem/paged-kv';
import {
  comparisonKvCacheManager,
  type ChatTrace,
  type ChatTraceRequest,
  type ReuseOrder,
} from '@mem/paged-kv/reference';

export interface ReplayOptions {
  readonly numBlocks: number;
  readonly blockSize: number;
  readonly reuseOrder: ReuseOrder;
  readonly prefixCaching?: boolean;
  readonly maxTokensPerStep?: number;
  readonly maxRunning?: number;
  readonly msPerStep?: number;
  /** The model's maximum context, for the reserve-max baseline. */
  readonly maxContextTokens?: number;
}

export interface ReplayResult {
  readonly queryTokens: number;
  readonly hitTokens: number;
  readonly oracleTokens: number;
  /** The most blocks live or cached-free at once: the working set of an unbounded cache. */
  readonly peakLiveAndCached: number;
  readonly preemptions: number;
  readonly evictions: number;
  readonly steps: number;
  readonly pagedWaste: number;
  readonly reserveMaxWaste: number;
  readonly reserveRequestWaste: number;
}

const key = (hashes: Uint32Array, i: number): string =>
  `${hashes[i * 4]},${hashes[i * 4 + 1]},${hashes[i * 4 + 2]},${hashes[i * 4 + 3]}`;

export function replayTrace(trace: ChatTrace, options: ReplayOptions): ReplayResult {
  const { numBlocks, blockSize } = options;
  const maxContext = options.maxContextTokens ?? 4096;
  const kv = comparisonKvCacheManager({
    numBlocks,
    blockSize,
    reuseOrder: options.reuseOrder,
    prefixCaching: options.prefixCaching ?? true,
  });
  const scheduler = new Scheduler(kv, {
    maxTokensPerStep: options.maxTokensPerStep ?? 2048,
    maxRunning: options.maxRunning ?? 32,
  });
  const msPerStep = options.msPerStep ?? 20;
  const source = new Map<object, ChatTraceRequest>();
  const recorded = new Map<object, number>(); // request -> full blocks recorded as computed
  const computedEver = new Set<string>();
  const done = new Set<number>();
  const ready: ChatTraceRequest[] = [];
  const requests = trace.requests;
  let next = 0;
  let now = 0;
  let oracleTokens = 0;
  let peak = 0;
  let wasted = 0;
  let allocated = 0;
  let reserveMaxWasted = 0;
  let reserveMaxTotal = 0;
  let reserveRequestWasted = 0;
  let reserveRequestTotal = 0;
  const fill = new Map<number, number>();
  while (done.size < requests.length) {
    while (next < requests.length && requests[next]!.arrivalMs <= now) ready.push(requests[next++]!);
    for (let i = 0; i < ready.length;) {
      const request = ready[i]!;
      if (request.previousId < 0 || done.has(request.previousId)) {
        const scheduled = scheduler.submit({ tokens: request.prompt, maxNewTokens: request.response.length });
        source.set(scheduled, request);
        ready.splice(i, 1);
      } else i += 1;
    }
    now += msPerStep;
    if (!scheduler.hasWork) continue;
    const step = scheduler.step();
    for (const admitted of step.admitted) {
      const tokens = admitted.sequence.tokens;
      const limit = Math.floor((tokens.length - 1) / blockSize);
      const hashes = blockHashChain(tokens.subarray(0, limit * blockSize), blockSize);
      let blocks = 0;
      while (blocks < limit && computedEver.has(key(hashes, blocks))) blocks += 1;
      oracleTokens += blocks * blockSize;
      recorded.set(admitted, 0);
    }
    const sampled = step.entries.map((entry) => {
      const request = entry.request;
      const tokens = entry.sequence.tokens;
      const full = Math.floor((entry.start + entry.count) / blockSize);
      const before = recorded.get(request) ?? 0;
      if (full > before) {
        const hashes = blockHashChain(tokens.subarray(0, full * blockSize), blockSize);
        for (let b = before; b < full; b += 1) computedEver.add(key(hashes, b));
        recorded.set(request, full);
      }
      return entry.samples ? source.get(request)!.response[request.generated.length]! : 0;
    });
    for (const preempted of step.preempted) recorded.set(preempted, 0);
    // Waste, measured while this step's slots are reserved.
    fill.clear();
    for (const request of scheduler.running) {
      const sequence = request.sequence;
      for (let b = 0; b < sequence.blockCount; b += 1) {
        const used = Math.max(0, Math.min(blockSize, sequence.tokenCount - b * blockSize));
        fill.set(sequence.blockTable[b]!, Math.max(fill.get(sequence.blockTable[b]!) ?? 0, used));
      }
      const maxTokens = request.promptLength + request.maxNewTokens;
      reserveMaxWasted += maxContext - sequence.tokenCount;
      reserveMaxTotal += maxContext;
      reserveRequestWasted += maxTokens - sequence.tokenCount;
      reserveRequestTotal += maxTokens;
    }
    for (const used of fill.values()) {
      wasted += blockSize - used;
      allocated += blockSize;
    }
    for (const finished of scheduler.commit(step, sampled)) done.add(source.get(finished)!.id);
    const stats = kv.allocator.stats();
    peak = Math.max(peak, stats.inUse + stats.cachedFree);
  }
  const stats = kv.stats();
  return {
    queryTokens: stats.prefixQueryTokens,
    hitTokens: stats.prefixHitTokens,
    oracleTokens,
    peakLiveAndCached: peak,
    preemptions: scheduler.stats().preemptions,
    evictions: stats.evictions,
    steps: scheduler.stats().steps,
    pagedWaste: wasted / allocated,
    reserveMaxWaste: reserveMaxWasted / reserveMaxTotal,
    reserveRequestWaste: reserveRequestWasted / reserveRequestTotal,
  };
}
