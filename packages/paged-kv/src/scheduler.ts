/**
 * A continuous-batching scheduler with preemption by recompute (the seed's phase 4), over a
 * {@link KvCacheManager}.
 *
 * Each {@link Scheduler.step} plans one forward pass under a token budget: running requests first,
 * oldest admitted first (a decoding request needs one token, a prefilling one gets a chunk of its
 * prompt), then waiting requests in arrival order while blocks, budget and the running limit allow.
 * When a running request cannot grow (no free block), the most recently admitted running request is
 * preempted: its blocks are freed and it goes back to the head of the waiting queue with all its
 * tokens, to be recomputed (mostly from the prefix cache) when blocks free up.
 *
 * Why it never deadlocks and never drops a request: a request is accepted only if its longest
 * possible sequence fits in the pool alone; waiting requests are admitted in order (no request is
 * overtaken forever); and when growth fails, newer requests are preempted until the oldest running
 * one fits, which it does once it runs alone. A step that could schedule nothing while work remains
 * throws instead of spinning (it can only happen when blocks are held outside the scheduler).
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, assertInteger, describeValue, type MetricsSink, mirrorCounter } from '@mem/types';
import type { ExtraKeys } from './block-hash-chain.js';
import { KvCacheManager, type KvSequence } from './kv-cache-manager.js';
import { assertOptions, copyTokenIds } from './token-ids.js';

/** A generation request given to {@link Scheduler.submit}. */
export interface GenerationRequest {
  /** The prompt's token ids; copied. */
  readonly tokens: ArrayLike<number>;
  /** Salt, adapter id, multimodal inputs. @defaultValue none */
  readonly extraKeys?: ExtraKeys;
  /** The most tokens to generate (at least 1). */
  readonly maxNewTokens: number;
  /** Sampling one of these ends the request (the token is kept in the output). @defaultValue none */
  readonly stopTokens?: ArrayLike<number>;
}

/** Options of a {@link Scheduler}. */
export interface SchedulerOptions {
  /** The most tokens computed in one step (prefill chunks plus decodes). */
  readonly maxTokensPerStep: number;
  /** The most requests running at once. @defaultValue 256 */
  readonly maxRunning?: number;
  /** Where to publish queue lengths and counters. @defaultValue no metrics */
  readonly metrics?: MetricsSink;
}

/** Where a {@link ScheduledRequest} is. */
export type RequestState = 'waiting' | 'running' | 'finished' | 'cancelled';

/** Why a request finished. */
export type FinishReason = 'length' | 'stop' | 'cancelled';

/** A request accepted by {@link Scheduler.submit}, with its progress. */
export class ScheduledRequest {
  /** Sequential id in submission order, from 0. */
  readonly id: number;
  /** Prompt length in tokens. */
  readonly promptLength: number;
  /** The most tokens to generate. */
  readonly maxNewTokens: number;
  /** @internal */ readonly stop: Set<number>;
  /** @internal */ output: number[] = [];
  /** @internal */ sequence: KvSequence;
  /** @internal */ status: RequestState = 'waiting';
  /** @internal */ reason: FinishReason | null = null;
  /** @internal */ preemptionCount = 0;
  /** @internal */ admittedAt = -1;

  /** @internal */
  constructor(id: number, sequence: KvSequence, maxNewTokens: number, stop: Set<number>) {
    this.id = id;
    this.sequence = sequence;
    this.promptLength = sequence.tokenCount;
    this.maxNewTokens = maxNewTokens;
    this.stop = stop;
  }

  /** `'waiting'`, `'running'`, `'finished'` or `'cancelled'`. Cost: O(1). */
  get state(): RequestState {
    return this.status;
  }

  /** The tokens generated so far (a copy). Cost: O(generated). */
  get generated(): number[] {
    return this.output.slice();
  }

  /** Why it finished, or `null` while it has not. Cost: O(1). */
  get finishReason(): FinishReason | null {
    return this.reason;
  }

  /** How many times it was preempted. Cost: O(1). */
  get preemptions(): number {
    return this.preemptionCount;
  }
}

/** One request's work in a step: compute tokens `[start, start + count)` of its sequence. */
export interface StepEntry {
  /** The request. */
  readonly request: ScheduledRequest;
  /** Its KV sequence: `tokens`, `blockTable` (slots are reserved for this step's positions). */
  readonly sequence: KvSequence;
  /** The first position to compute. */
  readonly start: number;
  /** How many positions to compute. */
  readonly count: number;
  /** Whether this completes the known tokens, so the engine samples the next token. */
  readonly samples: boolean;
}

/** The plan of one forward pass, returned by {@link Scheduler.step}. */
export interface SchedulerStep {
  /** Step number, from 0. */
  readonly id: number;
  /** The work, running requests first. */
  readonly entries: readonly StepEntry[];
  /** Requests admitted in this step. */
  readonly admitted: readonly ScheduledRequest[];
  /** Requests preempted in this step (now at the head of the waiting queue). */
  readonly preempted: readonly ScheduledRequest[];
  /** Tokens scheduled (at most `maxTokensPerStep`). */
  readonly tokens: number;
}

/** A {@link Scheduler.stats} snapshot. */
export interface SchedulerStats {
  /** Requests waiting for admission. */
  readonly waiting: number;
  /** Requests admitted and not finished. */
  readonly running: number;
  /** Requests submitted so far. */
  readonly submitted: number;
  /** Requests finished (by length or stop token). */
  readonly finished: number;
  /** Requests cancelled. */
  readonly cancelled: number;
  /** Preemptions so far. */
  readonly preemptions: number;
  /** Steps planned so far. */
  readonly steps: number;
  /** Tokens scheduled so far. */
  readonly scheduledTokens: number;
}

/**
 * Continuous batching with waiting and running queues, a per-step token budget, and preemption by
 * recompute when KV blocks run out. It assumes it is the only user of its manager's blocks.
 *
 * @example
 * ```ts
 * import { KvCacheManager, Scheduler } from '@mem/paged-kv';
 * const kv = new KvCacheManager({ numBlocks: 32, blockSize: 4 });
 * const scheduler = new Scheduler(kv, { maxTokensPerStep: 64 });
 * const request = scheduler.submit({ tokens: [1, 2, 3, 4, 5], maxNewTokens: 3 });
 * while (scheduler.hasWork) {
 *   const step = scheduler.step();
 *   // run the model on each entry's positions; sample a token where entry.samples is true
 *   const sampled = step.entries.map((entry) => 7);
 *   scheduler.commit(step, sampled);
 * }
 * request.generated; // [7, 7, 7]
 * ```
 */
export class Scheduler {
  /** The KV cache the requests live in. */
  readonly kv: KvCacheManager;
  /** The most tokens computed in one step. */
  readonly maxTokensPerStep: number;
  /** The most requests running at once. */
  readonly maxRunning: number;
  readonly #waiting: ScheduledRequest[] = [];
  readonly #running: ScheduledRequest[] = [];
  #pending: SchedulerStep | null = null;
  #submitted = 0;
  #finished = 0;
  #cancelled = 0;
  #preemptions = 0;
  #steps = 0;
  #scheduledTokens = 0;
  #admissionClock = 0;

  /**
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `kv` is not a KvCacheManager or an option is invalid.
   */
  constructor(kv: KvCacheManager, options: SchedulerOptions) {
    if (!(kv instanceof KvCacheManager)) {
      throw new MemError('INVALID_ARGUMENT', `kv must be a KvCacheManager, got ${describeValue(kv)}`);
    }
    if (options === undefined) throw new MemError('INVALID_ARGUMENT', 'options must be an object, got undefined');
    const opts = assertOptions<SchedulerOptions>(options, 'options');
    this.kv = kv;
    this.maxTokensPerStep = assertInteger(opts.maxTokensPerStep, 'options.maxTokensPerStep', { min: 1, max: 1 << 30 });
    this.maxRunning =
      opts.maxRunning === undefined
        ? 256
        : assertInteger(opts.maxRunning, 'options.maxRunning', { min: 1, max: 1 << 20 });
    if (opts.metrics !== undefined) this.#publishMetrics(opts.metrics);
  }

  /** Whether any request is waiting or running. Cost: O(1). */
  get hasWork(): boolean {
    return this.#waiting.length > 0 || this.#running.length > 0;
  }

  /** Requests waiting for admission, head first (a copy). Cost: O(waiting). */
  get waiting(): ScheduledRequest[] {
    return this.#waiting.slice();
  }

  /** Running requests, oldest admitted first (a copy). Cost: O(running). */
  get running(): ScheduledRequest[] {
    return this.#running.slice();
  }

  /**
   * Queues a request at the tail of the waiting queue.
   * Cost: O(prompt tokens).
   * @throws MemError INVALID_ARGUMENT if the request is malformed.
   * @throws MemError OVERSIZED if its longest possible sequence (prompt + maxNewTokens - 1 computed
   * tokens) could never fit: more blocks than the pool or than `maxBlocksPerSequence`.
   */
  submit(request: GenerationRequest): ScheduledRequest {
    if (request === null || typeof request !== 'object') {
      throw new MemError('INVALID_ARGUMENT', `request must be an object, got ${describeValue(request)}`);
    }
    const maxNewTokens = assertInteger(request.maxNewTokens, 'request.maxNewTokens', { min: 1, max: 1 << 30 });
    const stop = new Set<number>(
      request.stopTokens === undefined ? [] : copyTokenIds(request.stopTokens, 'request.stopTokens'),
    );
    const promptLength = copyTokenIds(request.tokens, 'request.tokens').length;
    const kv = this.kv;
    const longest = promptLength + maxNewTokens - 1;
    const blocks = Math.ceil(longest / kv.blockSize);
    const limit = Math.min(kv.allocator.capacity, kv.maxBlocksPerSequence);
    if (blocks > limit) {
      throw new MemError(
        'OVERSIZED',
        `a request of ${promptLength} prompt tokens and up to ${maxNewTokens} new tokens needs ${blocks} blocks of ${kv.blockSize} tokens; at most ${limit} fit (pool ${kv.allocator.capacity}, maxBlocksPerSequence ${kv.maxBlocksPerSequence})`,
        { details: { blocks, limit } },
      );
    }
    const sequence = kv.createSequence(request);
    const scheduled = new ScheduledRequest(this.#submitted++, sequence, maxNewTokens, stop);
    this.#waiting.push(scheduled);
    return scheduled;
  }

  /**
   * Plans the next forward pass: reserves slots for every entry (preempting if blocks run out) and
   * admits waiting requests. Commit it with {@link Scheduler.commit} before the next step.
   * Cost: O(running + admitted) plus hashing of admitted prompts.
   * @throws MemError IN_USE if the previous step was not committed.
   * @throws MemError EXHAUSTED if nothing can be scheduled while work remains (blocks held outside).
   */
  step(): SchedulerStep {
    if (this.#pending !== null) {
      throw new MemError('IN_USE', `step ${this.#pending.id} is not committed: call commit() first`);
    }
    let budget = this.maxTokensPerStep;
    const entries: StepEntry[] = [];
    const admitted: ScheduledRequest[] = [];
    const preempted: ScheduledRequest[] = [];
    const running = this.#running;
    for (let i = 0; i < running.length && budget > 0; i += 1) {
      const request = running[i]!;
      const sequence = request.sequence;
      const count = Math.min(sequence.pendingTokens, budget);
      let selfPreempted = false;
      while (!this.kv.tryReserve(sequence, count)) {
        const victim = running.pop()!;
        this.#preempt(victim);
        preempted.push(victim);
        if (victim === request) {
          selfPreempted = true;
          break;
        }
      }
      if (selfPreempted) break;
      entries.push(this.#entry(request, count));
      budget -= count;
    }
    if (preempted.length === 0) {
      while (budget > 0 && this.#waiting.length > 0 && running.length < this.maxRunning) {
        const request = this.#waiting[0]!;
        if (this.kv.tryAdmit(request.sequence) < 0) break;
        this.#waiting.shift();
        request.status = 'running';
        request.admittedAt = this.#admissionClock++;
        running.push(request);
        admitted.push(request);
        const count = Math.min(request.sequence.pendingTokens, budget);
        entries.push(this.#entry(request, count));
        budget -= count;
      }
    }
    if (entries.length === 0 && this.hasWork) {
      const head = this.#waiting[0];
      throw new MemError(
        'EXHAUSTED',
        `no request can make progress: ${this.#running.length} running, ${this.#waiting.length} waiting, ` +
          `the head needs ${head ? this.kv.blocksToAdmit(head.sequence) : 0} blocks and ${this.kv.allocator.freeCount} are free ` +
          `(are blocks of this KvCacheManager held outside the scheduler?)`,
      );
    }
    const tokens = this.maxTokensPerStep - budget;
    const step: SchedulerStep = { id: this.#steps++, entries, admitted, preempted, tokens };
    this.#scheduledTokens += tokens;
    this.#pending = entries.length > 0 ? step : null;
    return step;
  }

  /**
   * Records that the engine computed a step: marks each entry's tokens computed (registering full
   * blocks in the prefix cache) and, for entries that sample, appends `sampled[i]` (the token for
   * `step.entries[i]`; ignored for entries that do not sample). Requests that reach `maxNewTokens`
   * or sample a stop token finish and release their blocks. Returns the requests finished now.
   * Cost: O(entries) plus hashing of filled blocks.
   * @throws MemError INVALID_ARGUMENT if `step` is not the pending step or a sampled token is not a token id.
   */
  commit(step: SchedulerStep, sampled: ArrayLike<number>): ScheduledRequest[] {
    if (step !== null && typeof step === 'object' && step.entries?.length === 0 && this.#pending === null) return [];
    if (step !== this.#pending || step === null) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `step must be the step returned by the last step() call, got ${describeValue(step)}`,
      );
    }
    const entries = step.entries;
    if (entries.some((entry) => entry.samples)) {
      const tokens = copyTokenIds(sampled, 'sampled');
      if (tokens.length < entries.length) {
        throw new MemError(
          'INVALID_ARGUMENT',
          `sampled must hold a token for each of the ${entries.length} entries, got ${tokens.length}`,
        );
      }
    }
    this.#pending = null;
    const finished: ScheduledRequest[] = [];
    for (let i = 0; i < entries.length; i += 1) {
      const entry = entries[i]!;
      const request = entry.request;
      this.kv.markComputed(entry.sequence, entry.count);
      if (!entry.samples) continue;
      const token = sampled[i]!;
      request.output.push(token);
      if (request.output.length >= request.maxNewTokens || request.stop.has(token)) {
        request.reason = request.stop.has(token) ? 'stop' : 'length';
        this.#finish(request, 'finished');
        finished.push(request);
      } else {
        this.kv.appendTokens(entry.sequence, [token]);
      }
    }
    return finished;
  }

  /**
   * Cancels a waiting or running request and releases its blocks. Not allowed between `step` and
   * `commit` for a request in that step.
   * Cost: O(queue length + blocks).
   * @throws MemError INVALID_ARGUMENT if it is not a request of this scheduler; IN_USE if it is in the pending step.
   * @throws MemError DOUBLE_FREE if it already finished or was cancelled.
   */
  cancel(request: ScheduledRequest): void {
    if (!(request instanceof ScheduledRequest) || request.sequence.manager !== this.kv) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `request must be a request of this scheduler, got ${describeValue(request)}`,
      );
    }
    if (request.status === 'finished' || request.status === 'cancelled') {
      throw new MemError('DOUBLE_FREE', `request ${request.id} already ${request.status}`);
    }
    if (this.#pending?.entries.some((entry) => entry.request === request)) {
      throw new MemError('IN_USE', `request ${request.id} is in step ${this.#pending.id}: commit it first`);
    }
    request.reason = 'cancelled';
    this.#finish(request, 'cancelled');
  }

  /**
   * A snapshot of the queues and counters.
   * Cost: O(1).
   * @throws never
   */
  stats(): SchedulerStats {
    return {
      waiting: this.#waiting.length,
      running: this.#running.length,
      submitted: this.#submitted,
      finished: this.#finished,
      cancelled: this.#cancelled,
      preemptions: this.#preemptions,
      steps: this.#steps,
      scheduledTokens: this.#scheduledTokens,
    };
  }

  #entry(request: ScheduledRequest, count: number): StepEntry {
    const sequence = request.sequence;
    const start = sequence.computedTokens;
    return { request, sequence, start, count, samples: start + count === sequence.tokenCount };
  }

  #preempt(request: ScheduledRequest): void {
    this.kv.preempt(request.sequence);
    request.status = 'waiting';
    request.preemptionCount += 1;
    this.#preemptions += 1;
    this.#waiting.unshift(request);
  }

  #finish(request: ScheduledRequest, state: 'finished' | 'cancelled'): void {
    const queue = request.status === 'running' ? this.#running : this.#waiting;
    const index = queue.indexOf(request);
    if (index >= 0) queue.splice(index, 1);
    request.sequence.release();
    request.status = state;
    if (state === 'finished') this.#finished += 1;
    else this.#cancelled += 1;
  }

  #publishMetrics(sink: MetricsSink): void {
    const waiting = sink.gauge('mem_paged_kv_waiting_requests', 'requests waiting for KV blocks');
    const running = sink.gauge('mem_paged_kv_running_requests', 'requests admitted and running');
    const preemptions = mirrorCounter(
      sink.counter('mem_paged_kv_scheduler_preemptions_total', 'requests preempted by recompute'),
    );
    const finished = mirrorCounter(sink.counter('mem_paged_kv_finished_requests_total', 'requests finished'));
    sink.addCollector(() => {
      waiting.set(this.#waiting.length);
      running.set(this.#running.length);
      preemptions(this.#preemptions);
      finished(this.#finished);
    });
  }
}
