// Over 400 lines for one concept: a step's life (plan, compute on the CPU or the GPU, sample, commit,
// stream, fail) is one state machine, which requests enter and leave (submit, cancel) at any point.
/**
 * The serving engine: continuous batching on `@mem/paged-kv`'s scheduler. Each step plans a batch
 * (decodes of running requests and prefill chunks of new ones, preempting when KV blocks run out),
 * runs the transformer over all its rows at once with attention through the block tables, samples
 * where a request's known tokens are complete (greedily unless the request asks otherwise), and
 * streams each token to its listener, holding back what may begin one of its stop sequences.
 *
 * The KV cache and attention live in CPU memory, or on a WebGPU device (`gpu`): a step then waits
 * for each layer's attention to come back from the GPU, and the next step starts only when it ended.
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
import type { WorkspacePool } from '@mem/workspace-pool';
import type {
  CompletionEngine,
  CompletionInput,
  CompletionListener,
  SubmittedRequest,
} from '../server/completion-engine.js';
import { TrackedRequest } from './tracked-request.js';
import { HttpError } from '../server/http-error.js';
import type { ModelWeights } from '../model/model-weights.js';
import { PagedAttentionBackend } from './paged-attention-backend.js';
import { GpuAttentionBackend, type GpuMemory } from './gpu-attention-backend.js';
import type { GpuKvStore } from '@mem/paged-kv/webgpu';
import { EngineCounters, type ServingEngineStats } from './engine-counters.js';
import type { StepMemory, StepResources } from './step-resources.js';
import { forward, forwardAsync, type ForwardBatch } from '../model/transformer.js';

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
  /**
   * A WebGPU device to keep the KV cache on and run attention on (the projections stay on the
   * CPU); the engine then steps asynchronously. Not with `kvTier`, which moves CPU blocks.
   * @defaultValue undefined: KV cache and attention in CPU memory
   */
  readonly gpu?: GPUDevice;
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
  /** The paged K/V storage of every layer: in CPU memory, or on the GPU with `gpu`. */
  readonly store: KvStore | GpuKvStore;
  /** The continuous-batching scheduler. */
  readonly scheduler: Scheduler;
  /** The connector to the KV tier, when the engine has one. */
  readonly connector: KvTierConnector | undefined;
  readonly #options: ServingEngineOptions;
  /** Attention in CPU memory; undefined on a GPU. */
  readonly #attention: PagedAttentionBackend | undefined;
  /** Attention on the GPU; undefined in CPU memory. */
  readonly #gpu: GpuAttentionBackend | undefined;
  /** The step whose forward pass waits for the GPU. */
  #inFlight: SchedulerStep | undefined;
  /** Requests of the step in flight that were cancelled meanwhile: cancelled once it is committed. */
  readonly #cancelAfterStep: ScheduledRequest[] = [];
  readonly #tracked = new Map<ScheduledRequest, TrackedRequest>();
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
    let cpuStore: KvStore | undefined;
    if (options.gpu === undefined) {
      const store = new KvStore({
        numLayers: config.layerCount,
        numBlocks: options.numBlocks,
        numKvHeads: config.kvHeadCount,
        blockSize: options.blockSize,
        headDim: config.headDim,
        kernels: options.kernels ?? 'auto',
      });
      this.store = store;
      this.#attention = new PagedAttentionBackend(store, config);
      cpuStore = store;
    } else {
      if (options.kvTier !== undefined) {
        throw new Error('a KV tier loads and saves blocks of a KV cache in CPU memory, not on a GPU');
      }
      this.#gpu = new GpuAttentionBackend(options.gpu, config, {
        numBlocks: options.numBlocks,
        blockSize: options.blockSize,
        maxRows: options.maxTokensPerStep,
      });
      this.store = this.#gpu.store;
    }
    this.kv = new KvCacheManager({
      numBlocks: options.numBlocks,
      blockSize: options.blockSize,
      prefixCaching: options.prefixCaching,
      copyBlock: (source, target) => this.store.copyBlock(source, target),
      metrics,
    });
    this.connector =
      options.kvTier === undefined || cpuStore === undefined
        ? undefined
        : new KvTierConnector({
            tier: options.kvTier,
            store: cpuStore,
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
    const { weights, allowedTokens } = this.#options;
    const tracked = new TrackedRequest(id, input, listener, weights.config.vocabSize, allowedTokens);
    this.#tracked.set(request, tracked);
    this.#counters.submitted++;
    this.#queueStep();
    return { id: tracked.id, cancel: () => this.#cancel(request) };
  }

  /** Whether requests wait or run. */
  get busy(): boolean {
    return this.scheduler.hasWork;
  }

  /** Runs steps until no request is left (with `stepping: 'manual'`). */
  async runUntilIdle(): Promise<void> {
    while (this.scheduler.hasWork) await this.stepAsync();
  }

  /** Counters. */
  stats(): ServingEngineStats {
    const { waiting, running } = this.scheduler.stats();
    return this.#counters.stats(waiting, running);
  }

  /** The GPU memory the KV cache and attention hold (undefined in CPU memory). */
  gpuMemory(): GpuMemory | undefined {
    return this.#gpu?.memory();
  }

  /**
   * Refuses new requests and cancels every open one. On a GPU, its buffers are freed at once, or
   * when the step it is computing ends.
   */
  close(): void {
    this.#closed = true;
    for (const request of [...this.#tracked.keys()]) this.#cancel(request);
    if (this.#inFlight === undefined) this.#gpu?.destroy();
  }

  /**
   * Runs one scheduler step in CPU memory: plans it, computes its rows, samples, commits, streams
   * the tokens. Returns the number of rows computed (0 when idle).
   * @throws Error on a GPU, whose steps wait for it: use {@link ServingEngine.stepAsync} there.
   */
  step(): number {
    const attention = this.#attention;
    if (attention === undefined) throw new Error('the engine runs on a GPU: its steps are asynchronous (stepAsync)');
    const step = this.scheduler.step();
    if (step.entries.length === 0) return 0;
    const begun = this.#beginStep(step);
    if (begun === undefined) return 0;
    try {
      attention.prepare(step, begun.memory.rowEntry);
      forward(this.#options.weights, begun.batch, begun.memory.scratch, attention);
    } catch (error) {
      this.#failStep(step, error);
      return 0;
    }
    return this.#finishStep(step, begun.memory);
  }

  /**
   * Runs one scheduler step in CPU memory or on the GPU, where it waits for each layer's attention.
   * A step planned while another is in flight throws `IN_USE` (the scheduler's): the engine's own
   * loop never overlaps them.
   */
  async stepAsync(): Promise<number> {
    const gpu = this.#gpu;
    if (gpu === undefined) return this.step();
    const step = this.scheduler.step();
    if (step.entries.length === 0) return 0;
    const begun = this.#beginStep(step);
    if (begun === undefined) return 0;
    this.#inFlight = step;
    try {
      gpu.prepare(step);
      await forwardAsync(this.#options.weights, begun.batch, begun.memory.scratch, gpu);
    } catch (error) {
      this.#failStep(step, error);
      return 0;
    } finally {
      this.#inFlight = undefined;
      if (this.#closed) gpu.destroy();
    }
    return this.#finishStep(step, begun.memory);
  }

  /**
   * Lends a planned step its memory, gives newly admitted requests their sampling state and lays
   * out the rows. Fails the step (and returns undefined) when memory runs out.
   */
  #beginStep(step: SchedulerStep): { memory: StepMemory; batch: ForwardBatch } | undefined {
    try {
      const rows = step.tokens;
      let logitCount = 0;
      for (const entry of step.entries) if (entry.samples) logitCount++;
      const ids = step.entries.map((entry) => this.#tracked.get(entry.request)!.id);
      const { stepResources, workspaces, weights } = this.#options;
      const memory = stepResources.beginStep(rows, logitCount, ids);
      for (const request of step.admitted) {
        const cached = Math.min(request.sequence.cachedTokens, request.promptLength);
        this.#tracked.get(request)!.admit(workspaces, weights.config.vocabSize, cached);
      }
      this.#fillRows(step, memory.tokens, memory.positions, memory.logitRows, memory.rowEntry);
      const batch = {
        rows,
        tokens: memory.tokens,
        positions: memory.positions,
        logitRows: memory.logitRows,
        logitCount,
      };
      return { memory, batch };
    } catch (error) {
      this.#failStep(step, error);
      return undefined;
    }
  }

  /** Samples the computed step's tokens, commits it, streams the tokens. Returns its rows. */
  #finishStep(step: SchedulerStep, memory: StepMemory): number {
    let sampledCount = 0;
    const resources = this.#options.stepResources;
    try {
      if (this.#sampled.length < step.entries.length) this.#sampled = new Int32Array(step.entries.length * 2);
      const { vocabSize } = this.#options.weights.config;
      let logit = 0;
      for (let e = 0; e < step.entries.length; e++) {
        const entry = step.entries[e]!;
        if (!entry.samples) continue;
        const row = logit++;
        const tracked = this.#tracked.get(entry.request);
        if (tracked === undefined) {
          this.#sampled[e] = 0; // cancelled while the GPU computed the step: cancelled after the commit
          continue;
        }
        this.#sampled[e] = tracked.sample(memory.scratch.logits.subarray(row * vocabSize, (row + 1) * vocabSize));
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
    this.#cancelDeferred();
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
      tracked.deliver(this.#sampled[e]!);
    }
    for (const request of finished) {
      const tracked = this.#tracked.get(request);
      if (tracked === undefined) continue;
      this.#tracked.delete(request);
      this.#counters.completed++;
      tracked.finish(request.finishReason === 'stop' ? 'stop' : 'length');
    }
  }

  /**
   * A step that threw is a bug, not a client's fault: its requests are failed and cancelled so that
   * their blocks return, the rest keep going, and the server keeps serving.
   */
  #failStep(step: SchedulerStep, error: unknown): void {
    this.#log(`step ${step.id} failed: ${(error as Error).stack ?? String(error)}`);
    this.#options.stepResources.endStep();
    this.scheduler.commit(step, new Int32Array(step.entries.length));
    this.#cancelDeferred();
    for (const entry of step.entries) {
      const tracked = this.#tracked.get(entry.request);
      if (entry.request.state === 'waiting' || entry.request.state === 'running') this.scheduler.cancel(entry.request);
      if (tracked === undefined) continue;
      this.#tracked.delete(entry.request);
      this.#counters.failed++;
      tracked.fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #cancel(request: ScheduledRequest): void {
    const tracked = this.#tracked.get(request);
    if (tracked === undefined) return;
    this.#tracked.delete(request);
    tracked.cancel();
    if (request.state === 'waiting' || request.state === 'running') {
      if (this.#inFlight?.entries.some((entry) => entry.request === request)) this.#cancelAfterStep.push(request);
      else this.scheduler.cancel(request);
      this.#counters.cancelled++;
    }
  }

  /** Cancels the requests cancelled while their step was in flight (those the commit did not finish). */
  #cancelDeferred(): void {
    for (const request of this.#cancelAfterStep.splice(0)) {
      if (request.state === 'waiting' || request.state === 'running') this.scheduler.cancel(request);
    }
  }

  #queueStep(): void {
    if (this.#stepQueued || this.#options.stepping === 'manual') return;
    this.#stepQueued = true;
    setImmediate(this.#loop);
  }

  readonly #loop = (): void => {
    this.#stepQueued = false;
    if (!this.scheduler.hasWork) return;
    if (this.#gpu !== undefined) {
      this.#stepQueued = true; // no other step is queued until this one ends
      void this.#stepOnGpu();
      return;
    }
    let rows = 0;
    try {
      rows = this.step();
    } catch (error) {
      this.#log(`scheduler failed: ${(error as Error).stack ?? String(error)}`);
    }
    this.#afterStep(rows);
  };

  async #stepOnGpu(): Promise<void> {
    let rows = 0;
    try {
      rows = await this.stepAsync();
    } catch (error) {
      this.#log(`scheduler failed: ${(error as Error).stack ?? String(error)}`);
    }
    this.#stepQueued = false;
    this.#afterStep(rows);
  }

  /** Queues the next step while work remains, or waits for the KV tier when every request that could run waits for it. */
  #afterStep(rows: number): void {
    if (!this.scheduler.hasWork) return;
    if (rows === 0 && this.scheduler.stats().loading > 0) {
      this.#stepQueued = true;
      void this.scheduler.whenTierSettles().then(this.#loop);
      return;
    }
    this.#queueStep();
  }
}

/**
 * The name the KV tier keys this model's blocks under: the weights are generated from the config's
 * seed, so every server of the same config computes the same KV and may share it.
 */
export function modelName(config: ModelWeights['config']): string {
  return `mem-demo.s${config.seed.toString(16)}.d${config.modelDim}.l${config.layerCount}.h${config.headCount}.v${config.vocabSize}`;
}
