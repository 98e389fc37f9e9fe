// Over 400 lines for one concept: planning a step, committing it and preempting are one state machine.
/**
 * A continuous-batching scheduler with preemption by recompute, over a
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
 * Ownership and callbacks: the scheduler holds its requests' sequences; the manager refuses changes
 * to them from anyone else (IN_USE: cancel a request through {@link Scheduler.cancel}), so a step's
 * plan stays true until it is committed. `step` and `commit` run every user callback they cause (the
 * manager's hasher) before they change anything, so a callback that throws leaves the scheduler,
 * the manager and the blocks as they were. From inside those callbacks `step`, `commit` and
 * `cancel` throw IN_USE; `submit` and the read-only members work.
 *
 * This module is browser compatible.
 * @module
 */
import {
  assertInteger,
  assertMetricsSink,
  assertOptions,
  invalidArgument,
  MemError,
  mirrorCounter,
  type MetricsSink,
} from '@mem/types';
import type { ExtraKeys } from './block-hash-chain.js';
import { KvCacheManager } from './kv-cache-manager.js';
import type { KvSequence } from './kv-sequence.js';
import { ScheduledRequest, type FinishReason } from './scheduled-request.js';
import { SchedulerTier, type SchedulerTierOptions } from './connector/scheduler-tier.js';
import { MAX_TOKEN_ID, copyTokenIds, isArrayLike } from './token-ids.js';

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
  /**
   * Token sequences (each of at least one token) that end the request once its output ends with
   * one of them (the sequence is kept in the output); only generated tokens are matched, never the
   * prompt. Cost: O(total sequence length) per sampled token. @defaultValue none
   */
  readonly stopSequences?: readonly ArrayLike<number>[];
}

/** Copies and checks `request.stopSequences`. */
function copyStopSequences(sequences: unknown): Uint32Array[] {
  if (sequences === undefined) return [];
  if (!Array.isArray(sequences)) throw invalidArgument('request.stopSequences', sequences, 'an array of token arrays');
  return sequences.map((tokens: unknown, i) => {
    const copy = copyTokenIds(tokens, `request.stopSequences[${i}]`);
    if (copy.length === 0) throw invalidArgument(`request.stopSequences[${i}]`, tokens, 'at least one token');
    return copy;
  });
}

/** Options of a {@link Scheduler}. */
export interface SchedulerOptions {
  /** The most tokens computed in one step (prefill chunks plus decodes). */
  readonly maxTokensPerStep: number;
  /** The most requests running at once. @defaultValue 256 */
  readonly maxRunning?: number;
  /** Where to publish queue lengths and counters. @defaultValue no metrics */
  readonly metrics?: MetricsSink;
  /**
   * A KV tier consulted after the local prefix cache: a request whose prompt blocks the tier holds
   * waits in the `'loading'` state while they load, then prefills only the rest. Needs prefix caching. @defaultValue none
   */
  readonly tier?: SchedulerTierOptions;
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
  /** Requests waiting for their KV tier lookup or load (`'loading'`, counted in `waiting` too). */
  readonly loading: number;
  /** Requests admitted without the tier because it answered too late. */
  readonly tierTimeouts: number;
  /** Tier calls that threw or rejected (those requests recomputed). */
  readonly tierRejections: number;
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
  /** The last step returned and not yet committed. */
  #pending: SchedulerStep | null = null;
  /** The method running now (`step` or `commit`), while its callbacks may call back in. */
  #busy: string | null = null;
  #submitted = 0;
  #finished = 0;
  #cancelled = 0;
  #preemptions = 0;
  #steps = 0;
  #scheduledTokens = 0;
  #admissionClock = 0;
  readonly #tier: SchedulerTier | null;

  /**
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `kv` is not a KvCacheManager or an option is invalid.
   */
  constructor(kv: KvCacheManager, options: SchedulerOptions) {
    if (!(kv instanceof KvCacheManager)) {
      throw invalidArgument('kv', kv, 'a KvCacheManager');
    }
    if (options === undefined) throw invalidArgument('options', options, 'an object');
    const opts = assertOptions<SchedulerOptions>(options, 'options');
    this.kv = kv;
    this.maxTokensPerStep = assertInteger(opts.maxTokensPerStep, 'options.maxTokensPerStep', { min: 1, max: 1 << 30 });
    this.maxRunning =
      opts.maxRunning === undefined
        ? 256
        : assertInteger(opts.maxRunning, 'options.maxRunning', { min: 1, max: 1 << 20 });
    const metrics = assertMetricsSink(opts.metrics, 'options.metrics');
    this.#tier = opts.tier === undefined ? null : new SchedulerTier(kv, opts.tier);
    if (metrics !== undefined) {
      this.#publishMetrics(metrics);
      this.#tier?.publishMetrics(metrics);
    }
  }

  /** Whether any request is waiting or running. Cost: O(1). */
  get hasWork(): boolean {
    return this.#waiting.length > 0 || this.#running.length > 0;
  }

  /**
   * Resolves when a KV tier lookup or load settles (or the first in flight times out), at once when
   * none is in flight. A step that had nothing to schedule while requests were `'loading'` returns
   * no entries: await this before the next step instead of spinning.
   * Cost: O(1).
   * @throws never
   */
  whenTierSettles(): Promise<void> {
    return this.#tier === null ? Promise.resolve() : this.#tier.whenSettled();
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
   * Queues a request at the tail of the waiting queue. The scheduler holds its sequence from now
   * on: only the scheduler may change it. It works from inside the callbacks of other calls.
   * Cost: O(prompt tokens).
   * @throws MemError INVALID_ARGUMENT if the request is malformed.
   * @throws MemError OVERSIZED if its longest possible sequence (prompt + maxNewTokens - 1 computed
   * tokens) could never fit: more blocks than the pool or than `maxBlocksPerSequence`.
   */
  submit(request: GenerationRequest): ScheduledRequest {
    if (request === null || typeof request !== 'object') {
      throw invalidArgument('request', request, 'an object');
    }
    const maxNewTokens = assertInteger(request.maxNewTokens, 'request.maxNewTokens', { min: 1, max: 1 << 30 });
    const stop = new Set<number>(
      request.stopTokens === undefined ? [] : copyTokenIds(request.stopTokens, 'request.stopTokens'),
    );
    const stopSequences = copyStopSequences(request.stopSequences);
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
    sequence.holder = this;
    const scheduled = ScheduledRequest.issue(this, this.#submitted++, sequence, maxNewTokens, stop, stopSequences);
    this.#waiting.push(scheduled);
    return scheduled;
  }

  /**
   * Plans the next forward pass: reserves slots for every entry (preempting if blocks run out) and
   * admits waiting requests. Commit it with {@link Scheduler.commit} before the next step (a step
   * without entries needs no commit). All or none: the hasher runs for the requests it may admit
   * before anything changes; a step that preempted returns them in `preempted`, even without entries.
   * Cost: O(running + admitted) plus hashing of admitted prompts.
   * @throws MemError IN_USE if the previous step was not committed, or when called from inside a
   * callback of `step` or `commit` or from inside the manager's hasher.
   * @throws MemError EXHAUSTED if nothing can be scheduled while work remains (blocks held outside);
   * nothing changes then.
   */
  step(): SchedulerStep {
    this.#checkIdle('step');
    const pending = this.#pending;
    if (pending !== null && pending.entries.length > 0) {
      throw new MemError('IN_USE', `step ${pending.id} is not committed: call commit() first`);
    }
    return this.#exclusive('step', () => this.#plan());
  }

  #plan(): SchedulerStep {
    let budget = this.maxTokensPerStep;
    const entries: StepEntry[] = [];
    const admitted: ScheduledRequest[] = [];
    const preempted: ScheduledRequest[] = [];
    const running = this.#running;
    const waiting = this.#waiting;
    // Every callback first: hash the prompts of the waiting requests this step may admit.
    const candidates = this.#prepareAdmissions();
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
      const tier = this.#tier;
      for (let k = 0, at = 0; k < candidates.count && budget > 0 && running.length < this.maxRunning; k += 1) {
        const request = waiting[at]!;
        if (tier !== null && tier.gate(request) === 'wait') {
          at += 1; // loading: the requests behind it may be admitted meanwhile
          continue;
        }
        if ((tier === null ? this.kv.tryAdmit(request.sequence) : tier.admit(request)) < 0) break;
        waiting.splice(at, 1);
        request.status = 'running';
        request.admittedAt = this.#admissionClock++;
        running.push(request);
        admitted.push(request);
        const count = Math.min(request.sequence.pendingTokens, budget);
        entries.push(this.#entry(request, count));
        budget -= count;
      }
      tier?.probe(waiting, candidates.probed - admitted.length);
    }
    this.#tier?.drainEvictions();
    if (entries.length === 0 && preempted.length === 0 && this.hasWork && (this.#tier?.loading ?? 0) === 0) {
      throw new MemError(
        'EXHAUSTED',
        `no request can make progress: ${running.length} running, ${waiting.length} waiting, ` +
          `the head needs ${candidates.headBlocks} blocks and ${this.kv.allocator.freeCount} are free ` +
          `(are blocks of this KvCacheManager held outside the scheduler?)`,
      );
    }
    const tokens = this.maxTokensPerStep - budget;
    const step: SchedulerStep = { id: this.#steps++, entries, admitted, preempted, tokens };
    this.#scheduledTokens += tokens;
    this.#pending = step;
    return step;
  }

  /**
   * Hashes the prompts of the waiting requests, from the head, that a step could admit: as many as
   * the token budget left by the running requests and `maxRunning` allow if each took what it
   * would take now. Admission in the step can only take more tokens per request (blocks may be
   * evicted meanwhile, never added), so it never reaches a request this did not hash. With a KV
   * tier, also those behind them up to `maxRunning` (`probed` in all): their loads start in this
   * step, so that they overlap with the steps a request waits for its turn anyway.
   */
  #prepareAdmissions(): { count: number; headBlocks: number; probed: number } {
    let left = this.maxTokensPerStep;
    for (let i = 0; i < this.#running.length && left > 0; i += 1) {
      left -= Math.min(this.#running[i]!.sequence.pendingTokens, left);
    }
    const room = this.maxRunning - this.#running.length;
    let count = 0;
    let headBlocks = 0;
    while (left > 0 && count < room && count < this.#waiting.length) {
      const plan = this.kv.admissionPlan(this.#waiting[count]!.sequence);
      if (count === 0) headBlocks = plan.blocks;
      left -= Math.min(plan.pending, left);
      count += 1;
    }
    const tier = this.#tier;
    let probed = count;
    if (tier !== null) {
      for (; probed < room && probed < this.#waiting.length; probed += 1) {
        const request = this.#waiting[probed]!;
        if (!tier.probed(request)) this.kv.admissionPlan(request.sequence);
      }
    }
    return { count, headBlocks, probed };
  }

  /**
   * Records that the engine computed a step: marks each entry's tokens computed (registering full
   * blocks in the prefix cache) and, for entries that sample, appends `sampled[i]` (the token for
   * `step.entries[i]`; the values of entries that do not sample are ignored, whatever they are).
   * Requests that reach `maxNewTokens`, sample a stop token or end with a stop sequence finish and
   * release their blocks.
   * Returns the requests finished now. All or none: the hasher runs for every entry before
   * anything changes.
   * Cost: O(entries) plus hashing of filled blocks.
   * @throws MemError INVALID_ARGUMENT if `step` is not the step the last `step()` returned or was
   * committed already, or a sampling entry's `sampled[i]` is not a token id.
   * @throws MemError IN_USE when called from inside a callback of `step` or `commit` or from inside
   * the manager's hasher.
   */
  commit(step: SchedulerStep, sampled: ArrayLike<number>): ScheduledRequest[] {
    this.#checkIdle('commit');
    if (step !== this.#pending || step === null) {
      throw invalidArgument('step', step, 'the step returned by the last step() call, not yet committed');
    }
    const entries = step.entries;
    const tokens = this.#sampledTokens(entries, sampled);
    return this.#exclusive('commit', () => {
      // Every callback first: the hashes of the blocks this commit fills.
      for (const entry of entries) this.kv.prepareMarkComputed(entry.sequence, entry.count);
      this.#pending = null;
      const finished: ScheduledRequest[] = [];
      for (let i = 0; i < entries.length; i += 1) {
        const entry = entries[i]!;
        const request = entry.request;
        this.kv.markComputed(entry.sequence, entry.count);
        if (!entry.samples) continue;
        const token = tokens[i]!;
        request.output.push(token);
        if (request.output.length === 1) this.#tier?.saveComputed(request); // the prompt is computed
        const stopped = request.stop.has(token) || request.endsWithStopSequence();
        if (stopped || request.output.length >= request.maxNewTokens) {
          this.#finish(request, 'finished', stopped ? 'stop' : 'length');
          finished.push(request);
        } else {
          this.kv.appendTokens(entry.sequence, [token]);
        }
      }
      return finished;
    });
  }

  /** The sampled token of each sampling entry (checked), at its entry's index; the others are not read. */
  #sampledTokens(entries: readonly StepEntry[], sampled: ArrayLike<number>): Uint32Array {
    const tokens = new Uint32Array(entries.length);
    if (!entries.some((entry) => entry.samples)) return tokens;
    if (!isArrayLike(sampled)) {
      throw invalidArgument('sampled', sampled, 'an array of token ids');
    }
    for (let i = 0; i < entries.length; i += 1) {
      if (!entries[i]!.samples) continue;
      const token = i < sampled.length ? sampled[i] : undefined;
      if (typeof token !== 'number' || token >>> 0 !== token) {
        throw invalidArgument(
          `sampled[${i}]`,
          token,
          `the token sampled for entry ${i} (an integer in [0, ${MAX_TOKEN_ID}])`,
        );
      }
      tokens[i] = token;
    }
    return tokens;
  }

  /**
   * Cancels a waiting or running request and releases its blocks. Not allowed between `step` and
   * `commit` for a request in that step.
   * Cost: O(queue length + blocks).
   * @throws MemError INVALID_ARGUMENT if `request` is not a ScheduledRequest; FOREIGN_HANDLE if it
   * is another scheduler's.
   * @throws MemError IN_USE if it is in the pending step, or when called from inside a callback of
   * `step` or `commit` or from inside the manager's hasher.
   * @throws MemError DOUBLE_FREE if it already finished or was cancelled.
   */
  cancel(request: ScheduledRequest): void {
    if (!(request instanceof ScheduledRequest)) {
      throw invalidArgument('request', request, 'a ScheduledRequest');
    }
    if (request.scheduler !== this) {
      throw new MemError('FOREIGN_HANDLE', `request ${request.id} belongs to another Scheduler`);
    }
    this.#checkIdle('cancel');
    if (request.status === 'finished' || request.status === 'cancelled') {
      throw new MemError('DOUBLE_FREE', `request ${request.id} already ${request.status}`);
    }
    if (this.#pending?.entries.some((entry) => entry.request === request)) {
      throw new MemError('IN_USE', `request ${request.id} is in step ${this.#pending.id}: commit it first`);
    }
    this.#finish(request, 'cancelled', 'cancelled');
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
      loading: this.#tier?.loading ?? 0,
      tierTimeouts: this.#tier?.timeouts ?? 0,
      tierRejections: this.#tier?.rejections ?? 0,
    };
  }

  #entry(request: ScheduledRequest, count: number): StepEntry {
    const sequence = request.sequence;
    const start = sequence.computedTokens;
    return { request, sequence, start, count, samples: start + count === sequence.tokenCount };
  }

  /** Throws IN_USE when `method` is called from inside a callback of `step` or `commit` or the hasher. */
  #checkIdle(method: string): void {
    if (this.#busy !== null) {
      throw new MemError(
        'IN_USE',
        `Scheduler.${method} was called from inside a callback of Scheduler.${this.#busy}, which must return first`,
      );
    }
    this.kv.checkCallable(`Scheduler.${method}`);
  }

  /** Runs `body` as `method`: marked busy, acting for this scheduler on its held sequences. */
  #exclusive<T>(method: string, body: () => T): T {
    this.#busy = method;
    try {
      return this.kv.actFor(this, body);
    } finally {
      this.#busy = null;
    }
  }

  #preempt(request: ScheduledRequest): void {
    this.kv.preempt(request.sequence);
    request.status = 'waiting';
    request.preemptionCount += 1;
    this.#preemptions += 1;
    this.#waiting.unshift(request);
  }

  /** Releases the request's sequence (the one step that can fail, first) and drops it from its queue. */
  #finish(request: ScheduledRequest, state: 'finished' | 'cancelled', reason: FinishReason): void {
    this.#tier?.finish(request, state === 'finished');
    this.kv.actFor(this, () => request.sequence.release());
    const queue = request.status === 'running' ? this.#running : this.#waiting;
    const index = queue.indexOf(request);
    if (index >= 0) queue.splice(index, 1);
    request.reason = reason;
    request.status = state;
    if (state === 'finished') this.#finished += 1;
    else this.#cancelled += 1;
  }

  #publishMetrics(sink: MetricsSink): void {
    const labels = { pool: this.kv.name };
    const waiting = sink.gauge('mem_paged_kv_waiting_requests', 'requests waiting for KV blocks', labels);
    const running = sink.gauge('mem_paged_kv_running_requests', 'requests admitted and running', labels);
    const finished = mirrorCounter(sink.counter('mem_paged_kv_finished_requests_total', 'requests finished', labels));
    sink.addCollector(() => {
      waiting.set(this.#waiting.length);
      running.set(this.#running.length);
      finished(this.#finished);
    });
  }
}
