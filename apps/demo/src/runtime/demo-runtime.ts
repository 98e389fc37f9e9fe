/**
 * The demo, wired: the model, the four pools, the serving engine, the Prometheus registry and the
 * dashboard's history, behind the {@link ServerRuntime} the HTTP server serves from.
 * @module
 */
import { BufferPool, BufferPoolConfig, type BufferPoolStats } from '@mem/buffer-pool';
import { ArenaPool } from '@mem/epoch-arena';
import { WorkspaceConfig, WorkspacePool, renderMemoryMap, type WorkspaceLogEntry } from '@mem/workspace-pool';
import { Counter, Histogram, Registry, collectDefaultMetrics, Gauge } from 'prom-client';
import type { DemoConfig } from './demo-config.js';
import type { ServerRuntime } from '../server/server-runtime.js';
import { generateWeights, type ModelWeights } from '../model/model-weights.js';
import { PooledIoBuffers } from '../server/pooled-io-buffers.js';
import { PrometheusSink } from './prometheus-sink.js';
import { ServingEngine } from '../engine/serving-engine.js';
import { StatsHistory, type DemoTotals } from './stats-history.js';
import { HTTP_ROUTE_STATUSES } from '../server/http-server.js';
import { StepResources } from '../engine/step-resources.js';
import { PRINTABLE_TOKENS } from '../model/tokenizer.js';
import { KvStore, type KvBlockTier } from '@mem/paged-kv';
import type { GpuMemory } from '../engine/gpu-attention-backend.js';

/** Where the demo logs, and whether to echo to the console. */
export interface DemoRuntimeOptions {
  /** Called with every log line (defaults to `console.log` with a timestamp). */
  readonly log?: (line: string) => void;
  /** A KV tier shared with other servers (`--kv-tier`). */
  readonly kvTier?: KvBlockTier;
  /**
   * A WebGPU device to keep the KV cache on and run attention on (`--device webgpu`), and its
   * adapter's name. The caller opened it and keeps it for the runtime's life.
   */
  readonly gpu?: { readonly device: GPUDevice; readonly adapterName: string };
}

/** Where the KV cache and attention run: the dashboard's device panel. */
export interface DeviceInfo {
  /** `'cpu'` or `'webgpu'`. */
  readonly kind: 'cpu' | 'webgpu';
  /** What runs them: the CPU attention kernels, or the GPU adapter. */
  readonly name: string;
  /** GPU memory in use, in bytes (null on the CPU). */
  readonly gpuMemory: GpuMemory | null;
}

/** What the pools hold when nothing is running: the leak test compares against it. */
export interface IdleState {
  /** Requests the engine still tracks. */
  readonly trackedRequests: number;
  /** KV blocks with a reference (cached free blocks do not count). */
  readonly kvBlocksInUse: number;
  /** KV sequences not released. */
  readonly kvSequences: number;
  /** Pooled I/O buffers out of the pool. */
  readonly buffersInUse: number;
  /** Live workspaces. */
  readonly liveWorkspaces: number;
  /** Bytes of live workspaces. */
  readonly workspaceBytesInUse: number;
  /** Guards pinning an arena epoch. */
  readonly arenaGuards: number;
}

function sumBuffers(stats: BufferPoolStats): { allocations: number; inUse: number } {
  let allocations = 0;
  let inUse = 0;
  for (const cls of stats.classes) {
    allocations += cls.hits.local + cls.hits.global + cls.hits.new;
    inUse += cls.inUse;
  }
  return { allocations, inUse };
}

/** The KV tier's totals (zeros without a tier). */
function tierTotals(
  engine: ServingEngine,
): Pick<
  DemoTotals,
  'tierHitTokens' | 'tierLoadedBytes' | 'tierSavedBytes' | 'tierLoadSeconds' | 'tierLoads' | 'tierErrors'
> {
  const stats = engine.connector?.stats();
  const scheduler = engine.scheduler.stats();
  const errors = stats === undefined ? 0 : Object.values(stats.errors).reduce((sum, n) => sum + n, 0);
  return {
    tierHitTokens: engine.kv.stats().tierHitTokens,
    tierLoadedBytes: stats?.loadedBytes ?? 0,
    tierSavedBytes: stats?.savedBytes ?? 0,
    tierLoadSeconds: stats?.loadSeconds ?? 0,
    tierLoads: stats?.loads ?? 0,
    tierErrors: errors + scheduler.tierTimeouts + scheduler.tierRejections,
  };
}

function formatBytes(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** The running demo. */
export class DemoRuntime implements ServerRuntime {
  /** The settings it runs with. */
  readonly config: DemoConfig;
  /** The model's weights. */
  readonly weights: ModelWeights;
  /** When the weights were made (at start), in Unix seconds. */
  readonly modelCreated: number;
  /** Prometheus registry behind `GET /metrics`. */
  readonly registry = new Registry();
  /** The pools' metrics sink (into {@link DemoRuntime.registry}). */
  readonly sink: PrometheusSink;
  /** Activations and sampling state. */
  readonly workspaces: WorkspacePool;
  /** Per-step metadata. */
  readonly arenas: ArenaPool;
  /** Request bodies and response chunks. */
  readonly buffers: BufferPool;
  /** The engine. */
  readonly engine: ServingEngine;
  /** The dashboard's history. */
  readonly history = new StatsHistory();
  /** Limits of requests. */
  readonly limits: { maxCompletionTokens: number; maxContext: number };
  /** The largest body accepted. */
  readonly maxBodyBytes: number;
  /** I/O buffers for the server. */
  readonly io: PooledIoBuffers;
  readonly #stepResources: StepResources;
  readonly #adapterName: string | undefined;
  readonly #log: (line: string) => void;
  readonly #started = Date.now();
  readonly #sampler: ReturnType<typeof setInterval>;
  readonly #http: Counter<'route' | 'status'>;
  readonly #ttft: Histogram;

  constructor(config: DemoConfig, options: DemoRuntimeOptions = {}) {
    this.config = config;
    this.#log = options.log ?? ((line) => console.log(`${new Date().toISOString().slice(11, 23)} ${line}`));
    this.sink = new PrometheusSink(this.registry);
    collectDefaultMetrics({ register: this.registry });
    this.weights = generateWeights(config.model, config.kernels);
    this.modelCreated = Math.floor(Date.now() / 1000);
    this.limits = { maxCompletionTokens: config.maxCompletionTokens, maxContext: config.model.maxContext };
    this.maxBodyBytes = config.maxBodyBytes;

    this.workspaces = new WorkspacePool(
      WorkspaceConfig.from({
        initialSize: 1 << 20,
        maxSize: 256 << 20,
        // The engine defragments between steps (StepResources.betweenSteps), when nothing is pinned;
        // the pool itself only compacts on a miss (defragmentOnMiss, on by default).
        enableDefragmentation: false,
      }),
      { name: 'activations', metrics: this.sink, logger: (entry) => this.#onWorkspaceLog(entry) },
    );
    this.arenas = new ArenaPool({ ringSize: 4, blockSize: 64 * 1024, metrics: this.sink, name: 'step-metadata' });
    this.buffers = new BufferPool(
      BufferPoolConfig.from({ poolMinSize: 0, minSize: 256, maxSize: 128 * 1024, maxPerClass: 512 }),
      { metrics: this.sink, name: 'io-buffers' },
    );
    this.io = new PooledIoBuffers(this.buffers);
    this.#stepResources = new StepResources(this.arenas, this.workspaces, config.model);
    this.#ttft = new Histogram({
      name: 'demo_time_to_first_token_seconds',
      help: 'Time from a request being queued to its first token',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.engine = new ServingEngine({
      weights: this.weights,
      numBlocks: config.numBlocks,
      blockSize: config.blockSize,
      maxTokensPerStep: config.maxTokensPerStep,
      maxRunning: config.maxRunning,
      maxWaiting: config.maxWaiting,
      prefixCaching: config.prefixCaching,
      stepResources: this.#stepResources,
      workspaces: this.workspaces,
      allowedTokens: PRINTABLE_TOKENS,
      metrics: this.sink,
      log: (line) => this.log(line),
      onFirstToken: (ms) => this.#ttft.observe(ms / 1000),
      kernels: config.kernels,
      ...(options.kvTier === undefined ? {} : { kvTier: options.kvTier }),
      ...(options.gpu === undefined ? {} : { gpu: options.gpu.device }),
    });
    this.#adapterName = options.gpu?.adapterName;
    this.#http = new Counter({
      name: 'demo_http_requests_total',
      help: 'HTTP requests answered, by route and status',
      labelNames: ['route', 'status'],
      registers: [this.registry],
    });
    for (const [route, statuses] of Object.entries(HTTP_ROUTE_STATUSES)) {
      for (const status of statuses) this.#http.labels({ route, status: String(status) }).inc(0);
    }
    this.#registerDemoMetrics();
    this.#sampler = setInterval(() => this.history.record(this.totals()), config.sampleIntervalMs);
    this.#sampler.unref();
    this.history.record(this.totals());
    this.log(
      `model: ${config.model.layerCount} layers, ${config.model.headCount} heads (${config.model.kvHeadCount} KV), ` +
        `d=${config.model.modelDim}; KV cache: ${config.numBlocks} blocks of ${config.blockSize} tokens ` +
        `(${formatBytes(this.engine.store.byteLength)}), prefix caching ${config.prefixCaching ? 'on' : 'off'}; ` +
        `attention and KV cache on ${this.device().name}`,
    );
  }

  /** Where the KV cache and attention run, and the GPU memory they hold. */
  device(): DeviceInfo {
    const { store } = this.engine;
    if (store instanceof KvStore) {
      const { kernel, fallbackReason } = store.stats();
      const why = fallbackReason === null ? '' : `, ${fallbackReason}`;
      return { kind: 'cpu', name: `CPU (${kernel} kernels${why})`, gpuMemory: null };
    }
    return { kind: 'webgpu', name: `WebGPU (${this.#adapterName})`, gpuMemory: this.engine.gpuMemory() ?? null };
  }

  /** Logs a line (and shows it on the dashboard). */
  log(message: string): void {
    this.history.event(message);
    this.#log(message);
  }

  /** The running totals the dashboard samples. */
  totals(): DemoTotals {
    const engine = this.engine.stats();
    const kv = this.engine.kv.stats();
    const scheduler = this.engine.scheduler.stats();
    const buffers = this.buffers.stats();
    const sums = sumBuffers(buffers);
    const step = this.#stepResources.stats();
    const workspace = this.workspaces.stats();
    return {
      requestsCompleted: engine.completed,
      requestsCancelled: engine.cancelled,
      tokensGenerated: engine.tokensGenerated,
      tokensPrefilled: engine.tokensPrefilled,
      running: scheduler.running,
      waiting: scheduler.waiting,
      kvBlocksInUse: kv.inUse,
      kvBlocksCached: kv.cachedFree,
      kvBlocksTotal: kv.capacity,
      prefixQueriedTokens: kv.prefixQueryTokens,
      prefixHitTokens: kv.prefixHitTokens,
      preemptions: scheduler.preemptions,
      bufferAllocations: sums.allocations,
      bufferFallbacks: buffers.fallbacks,
      buffersInUse: sums.inUse,
      arenaBytesPerEpoch: step.arenaBytesPerEpoch,
      arenaEpoch: step.epoch,
      workspaceFragmentation: workspace.fragmentation,
      workspacePeakBytes: step.workspacePeakBytes,
      defragmentations: workspace.defragmentations,
      steps: engine.steps,
      ttftP50Ms: Number.isNaN(engine.ttftP50Ms) ? 0 : engine.ttftP50Ms,
      ...tierTotals(this.engine),
    };
  }

  /** What the pools hold now; equal to the idle values once every request has ended. */
  idleState(): IdleState {
    const engine = this.engine.stats();
    const kv = this.engine.kv.stats();
    const workspace = this.workspaces.stats();
    return {
      trackedRequests: engine.running + engine.waiting,
      kvBlocksInUse: kv.inUse,
      kvSequences: kv.sequences,
      buffersInUse: sumBuffers(this.buffers.stats()).inUse,
      liveWorkspaces: workspace.liveWorkspaces,
      workspaceBytesInUse: workspace.bytesInUse,
      arenaGuards: this.arenas.stats().activeGuards,
    };
  }

  dashboardStats(): unknown {
    return {
      uptimeSeconds: (Date.now() - this.#started) / 1000,
      device: this.device(),
      config: {
        prefixCaching: this.config.prefixCaching,
        numBlocks: this.config.numBlocks,
        blockSize: this.config.blockSize,
        maxTokensPerStep: this.config.maxTokensPerStep,
        model: this.config.model,
      },
      totals: this.totals(),
      pools: {
        kv: this.engine.kv.stats(),
        scheduler: this.engine.scheduler.stats(),
        tier: this.engine.connector?.stats() ?? null,
        workspaces: this.workspaces.stats(),
        buffers: this.buffers.stats(),
        arenas: { ...this.#stepResources.stats(), ring: this.arenas.stats().ringSize },
      },
      history: this.history.samples(),
      events: this.history.events(),
    };
  }

  async metrics(): Promise<{ contentType: string; body: string }> {
    this.sink.collect();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  workspaceMapSvg(): string {
    return renderMemoryMap(this.#stepResources.memoryMap(), { width: 900 });
  }

  recordHttp(route: string, status: number): void {
    this.#http.inc({ route, status: String(status) });
  }

  /** Cancels what runs, stops sampling, closes the buffer pool. */
  close(): void {
    clearInterval(this.#sampler);
    this.engine.close();
    this.buffers.close();
  }

  #onWorkspaceLog(entry: WorkspaceLogEntry): void {
    const report = entry.report;
    if (report === undefined) {
      this.log(`workspace-pool ${entry.pool}: ${entry.message}`);
      return;
    }
    this.log(
      `workspace-pool ${entry.pool}: ${report.trigger === 'manual' ? 'between-steps' : report.trigger} defragmentation, ${report.outcome}: fragmentation ` +
        `${report.fragmentationBefore.toFixed(2)} -> ${report.fragmentationAfter.toFixed(2)}, ` +
        `largest free ${formatBytes(report.largestFreeBlockBefore)} -> ${formatBytes(report.largestFreeBlockAfter)}, ` +
        `${report.workspacesMoved} moved (${formatBytes(report.bytesMoved)}), reclaimed ${formatBytes(report.reclaimedBytes)}, ` +
        `${report.durationMs.toFixed(2)} ms`,
    );
  }

  /**
   * The demo's own series: what no pool publishes. The pools' series (`mem_*`) are not repeated
   * here: buffers in use are `mem_buffer_pool_buffers - mem_buffer_pool_free_buffers`, the arena
   * epoch is `mem_arena_pool_epoch`, a step's metadata is the current arena's
   * `mem_epoch_arena_used_bytes`, completed requests are `mem_paged_kv_finished_requests_total`.
   */
  #registerDemoMetrics(): void {
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    };
    const counterOf = (name: string, help: string, read: () => number): void => {
      let published = 0;
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          const total = read();
          if (total > published) this.inc(total - published);
          published = total;
        },
      });
    };
    counterOf('demo_generated_tokens_total', 'Tokens generated', () => this.engine.stats().tokensGenerated);
    counterOf(
      'demo_prefill_tokens_total',
      'Prompt tokens computed (cached prefix tokens are not)',
      () => this.engine.stats().tokensPrefilled,
    );
    counterOf(
      'demo_requests_cancelled_total',
      'Completions cancelled because their client went away',
      () => this.engine.stats().cancelled,
    );
    counterOf('demo_scheduler_steps_total', 'Scheduler steps run', () => this.engine.stats().steps);
    gauge(
      'demo_step_workspace_peak_bytes',
      'Bytes of workspaces in use at the peak of the last scheduler step',
      () => this.#stepResources.stats().workspacePeakBytes,
    );
  }
}
