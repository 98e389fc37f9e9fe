/**
 * The serving engine: continuous batching on `@mem/paged-kv`'s scheduler. Each step plans a batch
 * (decodes of running requests and prefill chunks of new ones, preempting when KV blocks run out),
 * runs the transformer over all its rows at once with attention through the block tables, samples
 * where a request's known tokens are complete (greedily unless the request asks otherwise), and
 * streams each token to its listener, holding back what may begin one of its stop sequences.
 * @module
 */
import {
  KvCacheManager,
  KvStore,
  KvTierConnector,
  Scheduler,
  type KvBlockTier,
  type KvKernels,
  type ScheduledRequest,
  type SchedulerStep,
} from '@mem/paged-kv';
import { MemError, noopMetrics, type MetricsSink } from '@mem/types';
import type { Workspace, WorkspacePool } from '@mem/workspace-pool';
import type {
  CompletionEngine,
  CompletionInput,
  CompletionListener,
  SubmittedRequest,
} from '../server/completion-engine.js';
import { HttpError } from '../server/http-error.js';
import type { ModelWeights } from '../model/model-weights.js';
import { PagedAttentionBackend } from './paged-attention-backend.js';
import { EngineCounters, type ServingEngineStats } from './engine-counters.js';
import type { StepResources } from './step-resources.js';
import { forward } from '../model/transformer.js';
import { GREEDY, TokenSampler } from './token-sampler.js';
import { StopMatcher } from './stop-matcher.js';

/** Options of a {@link ServingEngine}. */
export interface ServingEngineOptions {
  /** The model. */
  readonly weights: ModelWeights;
  /** KV blocks in the pool. */
  readonly numBlocks: number;
  /** Tokens per KV block. */
  readonly blockSize: number;
  /** Token budget of one step (prefill chunks plus decodes). */
  readonly maxTokensPerStep: number;
  /** The most requests running at once. */
  readonly maxRunning: number;
  /** The most requests waiting; more are refused with 503. */
  readonly maxWaiting: number;
  /** Whether requests share cached prefix blocks. */
  readonly prefixCaching: boolean;
  /** The memory of each step (scratch workspaces and metadata). */
  readonly stepResources: StepResources;
  /** Where each request's sampling state lives (its last logits and its generated tokens). */
  readonly workspaces: WorkspacePool;
  /** Tokens that may be sampled (all when undefined). */
  readonly allowedTokens?: Uint8Array;
  /** Where the scheduler and KV cache publish metrics. */
  readonly metrics?: MetricsSink;
  /** Where the engine logs. */
  readonly log?: (message: string) => void;
  /** Called with each request's time to first token, in ms. */
  readonly onFirstToken?: (ms: number) => void;
  /** A KV tier shared with other servers: prompt blocks are loaded from it and saved to it. */
  readonly kvTier?: KvBlockTier;
  /**
   * How the engine schedules its next step: `setImmediate` by default (I/O runs between steps);
   * `'manual'` leaves stepping to the caller ({@link ServingEngine.runUntilIdle}).
   */
  readonly stepping?: 'immediate' | 'manual';
  /** The KV store's attention kernels (`store.stats().kernel` says which run). @defaultValue 'auto' */
  readonly kernels?: KvKernels;
}

interface Tracked {
  readonly id: string;
  readonly submittedAt: number;
  listener: CompletionListener | undefined;
  /** Tokens sampled so far. */
  sampled: number;
  /** Tokens handed to the listener so far. */
  emitted: number;
  readonly maxTokens: number;
  readonly sampler: TokenSampler;
  readonly stop: StopMatcher | undefined;
  /** Prompt tokens the prefix cache served at the first admission (undefined before it). */
  cachedTokens: number | undefined;
  /** The request's last logits, `[vocabSize]` floats; from its admission to its end. */
  logits: Workspace | undefined;
  /** The request's generated tokens, `[maxTokens]` int32; from its admission to its end. */
  output: Workspace | undefined;
}

/**
 * How long a request waits for the KV tier, and a Redis command for its answer, in ms. Generous: a
 * busy server reads the tier's answers only between its steps, and a step can take long on a
 * loaded machine.
 */
export const TIER_TIMEOUT_MS = 5000;

/** Continuous batching of completions over a paged KV cache. */
export class ServingEngine implements CompletionEngine {
  /** The KV cache manager (blocks, prefix cache). */
  readonly kv: KvCacheManager;
  /** The paged K/V storage of every layer. */
  readonly store: KvStore;
  /** The continuous-batching scheduler. */
  readonly scheduler: Scheduler;
  /** The connector to the KV tier, when the engine has one. */
  readonly connector: KvTierConnector | undefined;
  readonly #options: ServingEngineOptions;
  readonly #attention: PagedAttentionBackend;
  readonly #tracked = new Map<ScheduledRequest, Tracked>();
  readonly #log: (message: string) => void;
  readonly #counters = new EngineCounters();
  #nextId = 1;
  #stepQueued = false;
  #closed = false;
  #sampled = new Int32Array(64);

  constructor(options: ServingEngineOptions) {
    this.#options = options;
    const { config } = options.weights;
    const metrics = options.metrics ?? noopMetrics;
    this.store = new KvStore({
      numLayers: config.layerCount,
      numBlocks: options.numBlocks,
      numKvHeads: config.kvHeadCount,
      blockSize: options.blockSize,
      headDim: config.headDim,
      kernels: options.kernels ?? 'auto',
    });
    this.kv = new KvCacheManager({
      numBlocks: options.numBlocks,
      blockSize: options.blockSize,
      prefixCaching: options.prefixCaching,
      copyBlock: (source, target) => this.store.copyBlock(source, target),
      metrics,
    });
    this.connector =
      options.kvTier === undefined
        ? undefined
        : new KvTierConnector({
            tier: options.kvTier,
            store: this.store,
            model: modelName(config),
            metrics,
            pool: this.kv.name,
          });
    this.scheduler = new Scheduler(this.kv, {
      maxTokensPerStep: options.maxTokensPerStep,
      maxRunning: options.maxRunning,
      metrics,
      ...(this.connector === undefined ? {} : { tier: { connector: this.connector, timeoutMs: TIER_TIMEOUT_MS } }),
    });
    this.#attention = new PagedAttentionBackend(this.store, config);
    this.#log = options.log ?? (() => {});
  }

  /**
   * Queues a completion. Its tokens arrive on `listener`, never from inside this call.
   * @throws HttpError 503 when `maxWaiting` requests wait already or the engine is closed; 400
   * when the request could never fit in the KV cache.
   */
  submit(input: CompletionInput, listener: CompletionListener): SubmittedRequest {
    if (this.#closed) throw new HttpError(503, 'the server is shutting down');
    if (this.scheduler.stats().waiting >= this.#options.maxWaiting) {
      throw new HttpError(503, `too many requests waiting (${this.#options.maxWaiting}); retry shortly`, {
        headers: { 'retry-after': '1' },
      });
    }
    let request: ScheduledRequest;
    try {
      request = this.scheduler.submit({
        tokens: input.promptTokens,
        maxNewTokens: input.maxTokens,
        stopSequences: input.stop ?? [],
      });
    } catch (error) {
      if (MemError.is(error, 'OVERSIZED') || MemError.is(error, 'LIMIT_EXCEEDED')) {
        throw new HttpError(400, `the request does not fit this server's KV cache: ${(error as Error).message}`, {
          code: 'context_length_exceeded',
          param: 'max_tokens',
        });
      }
      throw error;
    }
    const id = `cmpl-${(this.#nextId++).toString(36).padStart(6, '0')}`;
    const tracked: Tracked = {
      id,
      submittedAt: performance.now(),
      maxTokens: input.maxTokens,
      listener,
      sampled: 0,
      emitted: 0,
      sampler: new TokenSampler(
        input.sampling ?? GREEDY,
        this.#options.weights.config.vocabSize,
        this.#options.allowedTokens,
      ),
      stop: input.stop !== undefined && input.stop.length > 0 ? new StopMatcher(input.stop) : undefined,
      cachedTokens: undefined,
      logits: undefined,
      output: undefined,
    };
    this.#tracked.set(request, tracked);
    this.#counters.submitted++;
    this.#queueStep();
    return { id: tracked.id, cancel: () => this.#cancel(request) };
  }

  /** Whether requests wait or run. */
  get busy(): boolean {
    return this.scheduler.hasWork;
  }

  /** Runs steps until no request is left (for `--verify` and tests with `stepping: 'manual'`). */
  runUntilIdle(): void {
    while (this.scheduler.hasWork) this.step();
  }

  /** Counters. */
  stats(): ServingEngineStats {
    const { waiting, running } = this.scheduler.stats();
    return this.#counters.stats(waiting, running);
  }

  /** Refuses new requests and cancels every open one. */
  close(): void {
    this.#closed = true;
    for (const request of [...this.#tracked.keys()]) this.#cancel(request);
  }

  /**
   * Runs one scheduler step: plans it, computes its rows, samples, commits, streams the tokens.
   * Returns the number of rows computed (0 when idle).
   */
  step(): number {
    const step = this.scheduler.step();
    if (step.entries.length === 0) return 0;
    let sampledCount = 0;
    const resources = this.#options.stepResources;
    try {
      const rows = step.tokens;
      let logitCount = 0;
      for (const entry of step.entries) if (entry.samples) logitCount++;
      const ids = step.entries.map((entry) => this.#tracked.get(entry.request)!.id);
      const memory = resources.beginStep(rows, logitCount, ids);
      for (const request of step.admitted) {
        const tracked = this.#tracked.get(request)!;
        this.#acquireSamplingState(tracked);
        tracked.cachedTokens ??= Math.min(request.sequence.cachedTokens, request.promptLength);
      }
      this.#fillRows(step, memory.tokens, memory.positions, memory.logitRows, memory.rowEntry);
      this.#attention.prepare(step, memory.rowEntry);
      forward(
        this.#options.weights,
        { rows, tokens: memory.tokens, positions: memory.positions, logitRows: memory.logitRows, logitCount },
        memory.scratch,
        this.#attention,
      );
      if (this.#sampled.length < step.entries.length) this.#sampled = new Int32Array(step.entries.length * 2);
      const { vocabSize } = this.#options.weights.config;
      let logit = 0;
      for (let e = 0; e < step.entries.length; e++) {
        const entry = step.entries[e]!;
        if (!entry.samples) continue;
        const tracked = this.#tracked.get(entry.request)!;
        // The request's own workspaces keep what it sampled from and what it generated. Views are
        // re-resolved through the handles every time: a defragmentation may have moved them.
        const logits = tracked.logits!.float32();
        logits.set(memory.scratch.logits.subarray(logit * vocabSize, (logit + 1) * vocabSize));
        const token = tracked.sampler.sample(logits);
        this.#sampled[e] = token;
        tracked.output!.int32()[tracked.sampled++] = token;
        logit++;
        sampledCount++;
      }
      this.#counters.countStep(step);
    } catch (error) {
      this.#failStep(step, error);
      return 0;
    } finally {
      resources.endStep();
    }
    const finished = this.scheduler.commit(step, this.#sampled.subarray(0, step.entries.length));
    this.#counters.tokensGenerated += sampledCount;
    this.#emit(step, finished);
    resources.betweenSteps();
    return step.tokens;
  }

  /** Lays out the step's rows: entry after entry, each entry's positions in order. */
  #fillRows(
    step: SchedulerStep,
    tokens: Int32Array,
    positions: Int32Array,
    logitRows: Int32Array,
    rowEntry: Int32Array,
  ): void {
    let row = 0;
    let logit = 0;
    for (let e = 0; e < step.entries.length; e++) {
      const entry = step.entries[e]!;
      const known = entry.sequence.tokens;
      for (let p = entry.start; p < entry.start + entry.count; p++) {
        tokens[row] = known[p]!;
        positions[row] = p;
        rowEntry[row] = e;
        row++;
      }
      if (entry.samples) logitRows[logit++] = row - 1;
    }
  }

  /** Streams the step's sampled tokens, then ends the requests that finished. */
  #emit(step: SchedulerStep, finished: readonly ScheduledRequest[]): void {
    const now = performance.now();
    for (let e = 0; e < step.entries.length; e++) {
      const entry = step.entries[e]!;
      if (!entry.samples) continue;
      const tracked = this.#tracked.get(entry.request);
      if (tracked === undefined) continue;
      if (tracked.sampled === 1) {
        const ms = now - tracked.submittedAt;
        this.#options.onFirstToken?.(ms);
        this.#counters.recordTtft(ms);
      }
      const token = this.#sampled[e]!;
      if (tracked.stop === undefined) this.#deliver(tracked, token);
      else for (const released of tracked.stop.push(token).released) this.#deliver(tracked, released);
    }
    for (const request of finished) {
      const tracked = this.#tracked.get(request);
      if (tracked === undefined) continue;
      const reason = request.finishReason === 'stop' ? 'stop' : 'length';
      // A completion that ran out of tokens releases what it held back for a stop sequence that never came.
      if (reason === 'length' && tracked.stop !== undefined) {
        for (const held of tracked.stop.flush()) this.#deliver(tracked, held);
      }
      this.#forget(request, tracked);
      this.#counters.completed++;
      const listener = tracked.listener;
      tracked.listener = undefined;
      listener?.onFinish(reason, { completionTokens: tracked.sampled, cachedTokens: tracked.cachedTokens ?? 0 });
    }
  }

  #deliver(tracked: Tracked, token: number): void {
    tracked.listener?.onToken(token, tracked.emitted++);
  }

  /**
   * A step that threw is a bug, not a client's fault: its requests are failed and cancelled so that
   * their blocks return, the rest keep going, and the server keeps serving.
   */
  #failStep(step: SchedulerStep, error: unknown): void {
    this.#log(`step ${step.id} failed: ${(error as Error).stack ?? String(error)}`);
    this.scheduler.commit(step, new Int32Array(step.entries.length));
    for (const entry of step.entries) {
      const tracked = this.#tracked.get(entry.request);
      if (entry.request.state === 'waiting' || entry.request.state === 'running') this.scheduler.cancel(entry.request);
      if (tracked === undefined) continue;
      this.#forget(entry.request, tracked);
      this.#counters.failed++;
      const listener = tracked.listener;
      tracked.listener = undefined;
      listener?.onError(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #cancel(request: ScheduledRequest): void {
    const tracked = this.#tracked.get(request);
    if (tracked === undefined) return;
    this.#forget(request, tracked);
    tracked.listener = undefined;
    if (request.state === 'waiting' || request.state === 'running') {
      this.scheduler.cancel(request);
      this.#counters.cancelled++;
    }
  }

  /** Drops a request that ended and gives its sampling state back to the workspace pool. */
  #forget(request: ScheduledRequest, tracked: Tracked): void {
    this.#tracked.delete(request);
    tracked.logits?.release();
    tracked.output?.release();
    tracked.logits = undefined;
    tracked.output = undefined;
  }

  /**
   * A request gets its sampling state when the scheduler first admits it, not when it is submitted:
   * a waiting request holds no memory. It is acquired while the step's scratch is held, so it lands
   * wherever the pool finds room among the activations; when the step's scratch goes back, the
   * requests' state stays scattered, and the pool's defragmentation (on a miss, past the threshold,
   * or when the engine goes idle) compacts it.
   */
  #acquireSamplingState(tracked: Tracked): void {
    if (tracked.logits !== undefined) return; // readmitted after a preemption: it kept its state
    const { workspaces } = this.#options;
    tracked.logits = workspaces.acquire(this.#options.weights.config.vocabSize * 4, { label: `${tracked.id}:logits` });
    tracked.output = workspaces.acquire(tracked.maxTokens * 4, { label: `${tracked.id}:output` });
  }

  #queueStep(): void {
    if (this.#stepQueued || this.#options.stepping === 'manual') return;
    this.#stepQueued = true;
    setImmediate(this.#loop);
  }

  readonly #loop = (): void => {
    this.#stepQueued = false;
    if (!this.scheduler.hasWork) return;
    let rows = 0;
    try {
      rows = this.step();
    } catch (error) {
      this.#log(`scheduler failed: ${(error as Error).stack ?? String(error)}`);
    }
    if (!this.scheduler.hasWork) return;
    if (rows === 0 && this.scheduler.stats().loading > 0) {
      // Every request that could run waits for its KV tier: step again once the tier answered.
      this.#stepQueued = true;
      void this.scheduler.whenTierSettles().then(this.#loop);
      return;
    }
    this.#queueStep();
  };
}

/**
 * The name the KV tier keys this model's blocks under: the weights are generated from the config's
 * seed, so every server of the same config computes the same KV and may share it.
 */
export function modelName(config: ModelWeights['config']): string {
  return `mem-demo.s${config.seed.toString(16)}.d${config.modelDim}.l${config.layerCount}.h${config.headCount}.v${config.vocabSize}`;
}
