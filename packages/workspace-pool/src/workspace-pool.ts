// Over 400 lines for one concept: the pool's public face and its slow paths (misses, growth, defragmentation), each entry point documented in full.
/**
 * The workspace pool: scratch memory for inference engines, carved out of segments of backing
 * memory the pool owns, reused without garbage, and defragmented for real.
 *
 * This module is browser compatible.
 * @module
 */
import {
  alignDown,
  alignUp,
  assertBoolean,
  assertFunction,
  assertMetricsSink,
  assertNonEmptyString,
  assertOptions,
  invalidArgument,
  MemError,
  nextPowerOfTwo,
  noopMetrics,
  type StatsSource,
} from '@mem/types';
import { BlockAllocator } from './block-allocator.js';
import * as codes from './block-codes.js';
import { STRATEGY_BEST_FIT, STRATEGY_EXACT_FIT, STRATEGY_FIRST_FIT, STRATEGY_POWER_OF_TWO } from './block-codes.js';
import { compact, type MoveGuard } from './compaction.js';
import { zeroBytes, type SegmentMemory } from './device-memory.js';
import { buildReport, type DefragmentationReport, type DefragmentationTrigger } from './defragmentation-report.js';
import { liveSegments, measureFragmentation, type FragmentationStats } from './fragmentation.js';
import { takeSnapshot, type MemoryMapSnapshot } from './memory-map.js';
import { kSetMoveGuard } from './pool-internals.js';
import { allocateBacking, resolveSegmentSource, type SegmentProvider } from './segment.js';
import { WorkspaceConfig, type WorkspaceConfigOptions } from './workspace-config.js';
import { Workspace } from './workspace.js';
import { publishPoolMetrics } from './workspace-pool-metrics.js';
import type {
  AcquireOptions,
  DefragmentOptions,
  WorkspaceLogEntry,
  WorkspaceLogger,
  WorkspacePoolOptions,
  WorkspacePoolStats,
} from './workspace-pool-options.js';

// Private copies of what acquire() uses from other modules, for the hot path (see docs/DESIGN.md, Hot paths).
const NONE = codes.NONE;
const WorkspaceHandle = Workspace;
const NO_OPTIONS = Object.freeze({ label: undefined, zero: false });

const STRATEGY_CODES = {
  'best-fit': STRATEGY_BEST_FIT,
  'first-fit': STRATEGY_FIRST_FIT,
  'exact-fit': STRATEGY_EXACT_FIT,
  'power-of-two': STRATEGY_POWER_OF_TWO,
} as const;

const POOL_OPTION_NAMES = ['name', 'logger', 'metrics', 'segmentSource'];

/**
 * A pool of workspaces over segments of backing memory it owns (`ArrayBuffer`,
 * `SharedArrayBuffer` or `WebAssembly.Memory`). `acquire(size)` splits a free block (chosen by the
 * configured strategy from size bins, never by a scan over every workspace), `release()` merges
 * the block with its free neighbours, and `defragment()` compacts live workspaces so that the free
 * bytes become usable again, with a report of what it did.
 *
 * Costs: `acquire` and `release` are O(1) (bit operations over the bins, plus a bounded scan of at
 * most 8 blocks for best and exact fit); an allocation that finds nothing compacts one segment
 * (O(its blocks + bytes moved)) or adds a segment (an allocation of memory); `defragment` is
 * O(blocks + bytes moved); `stats()` is O(free blocks); `snapshot()` O(blocks).
 *
 * Single-threaded: a pool belongs to one thread. To share one between threads, run it in a
 * {@link WorkspaceCoordinator}.
 *
 * @example
 * ```ts
 * import { WorkspaceConfig, WorkspacePool } from '@mem/workspace-pool';
 * const pool = new WorkspacePool(WorkspaceConfig.smallModel());
 * const a = pool.acquire(64 * 1024, { label: 'activations' });
 * a.float32().fill(0.5);
 * a.release();
 * pool.stats().hitRate; // 1: served from the initial reservation
 * ```
 */
export class WorkspacePool implements StatsSource<WorkspacePoolStats> {
  /** The validated configuration. */
  readonly config: WorkspaceConfig;
  /** The pool's name in logs, metrics and memory maps. */
  readonly name: string;
  readonly #core: BlockAllocator;
  readonly #logger: WorkspaceLogger | undefined;
  readonly #segmentSource: SegmentProvider | undefined;
  readonly #maxRequest: number;
  readonly #granuleMask: number;
  readonly #powerOfTwo: boolean;
  /** The largest size acquire() takes on its hot path: `#maxRequest`, or 0 under the power-of-two strategy. */
  readonly #fastLimit: number;
  #moveGuard: MoveGuard | undefined = undefined;
  /** While an acquire misses: the log entries it makes, emitted once it has its workspace. */
  #logQueue: WorkspaceLogEntry[] | undefined = undefined;
  /** Whether `segmentSource` is running (the pool cannot add another segment meanwhile). */
  #addingSegment = false;
  /** The id of the next workspace; ids are never reused, not even after clear(). */
  #nextId = 1;
  /** The first id handed out since the last clear(): acquisitions are `#nextId - #firstId`. */
  #firstId = 1;
  #misses = 0;
  #expansions = 0;
  #defragmentations = 0;
  #bytesMoved = 0;
  #segmentsReleased = 0;
  #bytesReleased = 0;

  /**
   * Creates the pool and reserves `config.initialSize` bytes (in segments of at most
   * `config.maxSegmentSize`).
   * Cost: the allocation of the initial reservation (zeroed by the runtime).
   * @param configuration a {@link WorkspaceConfig} (a preset) or options validated over the defaults
   * @param options runtime wiring: name, logger, metrics sink, segment source
   * @throws MemError INVALID_ARGUMENT for a bad configuration or option; EXHAUSTED if the runtime
   * cannot allocate the initial reservation.
   */
  constructor(configuration: WorkspaceConfig | WorkspaceConfigOptions = {}, options: WorkspacePoolOptions = {}) {
    this.config = WorkspaceConfig.from(configuration);
    const checked = assertOptions<WorkspacePoolOptions>(options, 'options', POOL_OPTION_NAMES);
    const name = checked.name === undefined ? 'workspace-pool' : assertNonEmptyString(checked.name, 'options.name');
    for (const key of ['logger', 'segmentSource'] as const) {
      if (checked[key] !== undefined) assertFunction(checked[key], `options.${key}`);
    }
    const metrics = assertMetricsSink(checked.metrics, 'options.metrics') ?? noopMetrics;
    this.name = name;
    this.#logger = checked.logger;
    this.#segmentSource = checked.segmentSource;
    const { config } = this;
    this.#core = new BlockAllocator(config.alignment, STRATEGY_CODES[config.strategy]);
    this.#maxRequest = Math.min(config.maxSegmentSize, config.maxSize);
    this.#granuleMask = config.alignment - 1;
    this.#powerOfTwo = config.strategy === 'power-of-two';
    this.#fastLimit = this.#powerOfTwo ? 0 : this.#maxRequest;
    this.#core.owner = this;
    if (config.enableDefragmentation)
      this.#core.setReleaseCheck(config.defragCheckInterval, () => this.#checkThreshold());
    for (let reserved = 0; reserved < config.initialSize;) {
      const byteLength = Math.min(config.initialSize - reserved, config.maxSegmentSize);
      this.#addSegment(byteLength, true);
      reserved += byteLength;
    }
    publishPoolMetrics(metrics, name, () => this.stats());
  }

  // ---------------------------------------------------------------------------------------------
  // Hot path: acquire and release. Validation is two comparisons; a miss goes to #acquireSlow.
  // ---------------------------------------------------------------------------------------------

  /**
   * Lends a workspace of `size` bytes (its block is `size` rounded up to the alignment, or to a
   * power of two under that strategy). When no free block fits, the pool first compacts the
   * segment with the most free bytes (if that can make room: `defragmentOnMiss`), then adds a
   * segment (`autoExpand`), then fails.
   * Cost: O(1) when a block fits (a bin lookup, a split, and one handle object, which V8 can drop
   * for scratch released in the same function; figures in docs/benchmarks.md); a miss costs a
   * compaction of one segment or the allocation of a new segment.
   * @throws MemError INVALID_ARGUMENT if `size` is not an integer >= 1 or `options` is bad;
   * OVERSIZED if `size` exceeds `min(maxSize, maxSegmentSize)`; EXHAUSTED if nothing fits and
   * `autoExpand` is off (or the runtime refuses the memory); LIMIT_EXCEEDED if a new segment would
   * take the reservation past `maxSize`; IN_USE if called from `segmentSource` and the pool would
   * have to grow again. A failed call hands out nothing (a compaction it ran stays done).
   *
   * @example
   * ```ts
   * import { WorkspacePool } from '@mem/workspace-pool';
   * const pool = new WorkspacePool({ initialSize: 1 << 20, alignment: 256 });
   * using qkv = pool.acquire(3 * 64 * 128 * 4, { label: 'qkv' });
   * qkv.float32().length; // 24576
   * ```
   */
  acquire(size: number, options?: AcquireOptions): Workspace {
    // Hot path: an integer size in [1, #fastLimit] and no options (so never under the power-of-two
    // strategy, whose #fastLimit is 0). Everything else, a miss included, takes #acquireGeneral.
    if (
      options === undefined &&
      typeof size === 'number' &&
      size >>> 0 === size &&
      (size - 1) >>> 0 < this.#fastLimit
    ) {
      const core = this.#core;
      const id = this.#nextId;
      const block = core.allocate(((size + this.#granuleMask) & ~this.#granuleMask) >>> 0, size, id);
      if (block !== NONE) {
        this.#nextId = id + 1;
        return WorkspaceHandle.lend(core, block, id, size);
      }
    }
    return this.#acquireGeneral(size, options);
  }

  /** acquire() with options, under the power-of-two strategy, with bad arguments, or on a miss. */
  #acquireGeneral(size: number, options: AcquireOptions | undefined): Workspace {
    if (typeof size !== 'number' || !(size >= 1 && size <= this.#maxRequest) || !Number.isInteger(size)) {
      throw this.#badSize(size);
    }
    const { label, zero } = options === undefined ? NO_OPTIONS : this.#checkAcquireOptions(options);
    const need = this.#powerOfTwo
      ? this.#powerOfTwoSize(size)
      : ((size + this.#granuleMask) & ~this.#granuleMask) >>> 0;
    const block = this.#core.allocate(need, size, this.#nextId);
    if (block === NONE) return this.#acquireMissed(need, size, label, zero);
    return this.#lend(block, size, label, zero);
  }

  /** Hands out `block`, allocated for the next id, as a workspace. */
  #lend(block: number, size: number, label: string | undefined, zero: boolean): Workspace {
    const core = this.#core;
    const id = this.#nextId;
    this.#nextId = id + 1;
    const workspace = WorkspaceHandle.lend(core, block, id, size);
    if (label !== undefined) core.setLabel(id, label);
    if (zero) zeroBytes(core.segments[workspace.segment]!.memory, workspace.byteOffset, size);
    return workspace;
  }

  /**
   * A miss: compacts a segment or expands the pool, and lends the block. What it logs reaches the
   * logger only once the workspace is lent (or the call failed), so that a logger calling back in
   * finds the pool and its ids as this call leaves them.
   */
  #acquireMissed(need: number, size: number, label: string | undefined, zero: boolean): Workspace {
    const entries: WorkspaceLogEntry[] = [];
    const outer = this.#logQueue;
    this.#logQueue = entries;
    try {
      return this.#lend(this.#acquireSlow(need, size), size, label, zero);
    } finally {
      this.#logQueue = outer;
      for (const entry of entries) this.#emit(entry);
    }
  }

  /**
   * Releases `workspace` (the same as `workspace.release()`), for code that releases through the pool.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if it is not a workspace; FOREIGN_HANDLE if another pool lent
   * it; DOUBLE_FREE if already released; STALE_HANDLE after `clear()`; PINNED if pinned.
   */
  release(workspace: Workspace): void {
    if (!(workspace instanceof Workspace)) throw invalidArgument('workspace', workspace, 'a Workspace');
    if (workspace.pool !== this) {
      throw new MemError('FOREIGN_HANDLE', `workspace #${workspace.id} was lent by another pool, not by ${this.name}`);
    }
    workspace.release();
  }

  // ---------------------------------------------------------------------------------------------
  // Slow paths: misses, expansion, validation failures.
  // ---------------------------------------------------------------------------------------------

  /**
   * A miss: compacts a segment or expands the pool, then allocates for the next id (read after
   * `segmentSource` ran, which may have acquired) or throws.
   */
  #acquireSlow(need: number, size: number): number {
    const core = this.#core;
    let block = NONE;
    if (this.config.defragmentOnMiss && this.#liveWorkspaces() > 0) {
      const candidate = this.#roomiestSegment(need);
      if (candidate !== NONE) {
        this.#runDefragmentation('miss', [candidate], false, false);
        block = core.allocate(need, size, this.#nextId);
      }
    }
    if (block === NONE) block = this.#expand(need, size);
    this.#misses += 1;
    return block;
  }

  /** The segment with the most free bytes, if it has at least `need` of them; else NONE. O(free blocks). */
  #roomiestSegment(need: number): number {
    let best = NONE;
    let bestFree = need - 1;
    for (const segment of measureFragmentation(this.#core).segments) {
      if (segment.freeBytes > bestFree) {
        best = segment.segment;
        bestFree = segment.freeBytes;
      }
    }
    return best;
  }

  /** Workspaces lent and not yet given back: every id since the last clear() less the releases. */
  #liveWorkspaces(): number {
    return this.#nextId - this.#firstId - this.#core.releases;
  }

  #expand(need: number, size: number): number {
    const config = this.config;
    const core = this.#core;
    if (!config.autoExpand) {
      throw new MemError(
        'EXHAUSTED',
        `no free block of ${need} bytes in ${this.name} (largest free block ${core.largestFreeBlock()} of ` +
          `${core.freeBytes} free bytes) and autoExpand is off`,
        { details: { need, freeBytes: core.freeBytes, largestFreeBlock: core.largestFreeBlock() } },
      );
    }
    const granule = config.segmentGranule;
    const room = alignDown(config.maxSize - core.reservedBytes, granule);
    const smallest = alignUp(need, granule);
    if (smallest > room) {
      throw new MemError(
        'LIMIT_EXCEEDED',
        `${this.name} cannot grow by ${smallest} bytes for a block of ${need}: ${core.reservedBytes} of ` +
          `maxSize ${config.maxSize} bytes are reserved`,
        { details: { need, reserved: core.reservedBytes, maxSize: config.maxSize } },
      );
    }
    const grown = Math.ceil((core.reservedBytes * config.growthFactor - core.reservedBytes) / granule) * granule;
    const byteLength = Math.min(Math.max(smallest, grown), config.maxSegmentSize, room);
    const segment = this.#addSegment(byteLength, false);
    this.#expansions += 1;
    this.#log({
      level: 'info',
      event: 'expand',
      pool: this.name,
      message: `added segment ${segment} of ${byteLength} bytes for a block of ${need}; ${core.reservedBytes} bytes reserved`,
      segment: { index: segment, byteLength },
    });
    return core.allocate(need, size, this.#nextId);
  }

  #addSegment(byteLength: number, initial: boolean): number {
    const core = this.#core;
    const index = core.segments.length;
    let memory;
    let base = 0;
    if (this.#segmentSource === undefined) {
      memory = allocateBacking(this.config.backing, byteLength);
    } else {
      if (this.#addingSegment) {
        throw new MemError(
          'IN_USE',
          `${this.name} is adding a segment: a call from its segmentSource cannot make it grow again`,
        );
      }
      let source: unknown;
      this.#addingSegment = true;
      try {
        source = this.#segmentSource(byteLength, index);
      } catch (cause) {
        if (MemError.is(cause)) throw cause;
        throw new MemError('EXHAUSTED', `segmentSource refused a segment of ${byteLength} bytes`, {
          cause,
          details: { byteLength },
        });
      } finally {
        this.#addingSegment = false;
      }
      ({ memory, base } = resolveSegmentSource(source, byteLength, this.config.alignment));
    }
    return core.addSegment(memory, base, byteLength, initial).index;
  }

  #powerOfTwoSize(size: number): number {
    const need = Math.max(nextPowerOfTwo(size), this.config.alignment);
    if (need > this.#maxRequest) throw this.#badSize(size, need);
    return need;
  }

  #badSize(size: unknown, rounded?: number): MemError {
    if (typeof size === 'number' && Number.isInteger(size) && size > this.#maxRequest) {
      return new MemError(
        'OVERSIZED',
        `size ${size} exceeds the largest workspace of ${this.name}: ${this.#maxRequest} bytes (min of maxSize and maxSegmentSize)`,
        { details: { size, max: this.#maxRequest } },
      );
    }
    if (rounded !== undefined) {
      return new MemError(
        'OVERSIZED',
        `size ${size} rounds up to ${rounded} bytes (power-of-two strategy), above the largest workspace of ${this.#maxRequest} bytes`,
        { details: { size, rounded, max: this.#maxRequest } },
      );
    }
    return invalidArgument('size', size, `an integer in [1, ${this.#maxRequest}]`);
  }

  /** Reads each option once (a getter may run code) and checks it. */
  #checkAcquireOptions(options: AcquireOptions): { label: string | undefined; zero: boolean } {
    const { label, zero = false } = assertOptions<AcquireOptions>(options, 'options', ['label', 'zero']);
    if (label !== undefined && typeof label !== 'string') throw invalidArgument('options.label', label, 'a string');
    return { label, zero: assertBoolean(zero, 'options.zero') };
  }

  // ---------------------------------------------------------------------------------------------
  // Defragmentation.
  // ---------------------------------------------------------------------------------------------

  /**
   * Defragments the whole pool: measures fragmentation, slides every unpinned live workspace toward
   * the start of its segment (bytes preserved exactly), moves workspaces from later segments into
   * free space of earlier ones and from above pinned workspaces into the gaps below them, merges
   * the free bytes, releases empty segments beyond the initial reservation, and reports what it
   * did (see {@link DefragmentationReport} for how `reclaimedBytes` is defined). Pinned workspaces
   * never move; unpinned ones do, so re-read their views.
   * Cost: O(blocks + holes x movable blocks) plus the bytes copied (a `copyWithin` per moved workspace).
   * @throws MemError INVALID_ARGUMENT if `options` is bad; PINNED if `throwIfBlocked` is set and
   * pinned workspaces kept anything from being reclaimed.
   *
   * @example
   * ```ts
   * import { WorkspacePool } from '@mem/workspace-pool';
   * const pool = new WorkspacePool({ initialSize: 1 << 20 });
   * const held = Array.from({ length: 8 }, () => pool.acquire(64 * 1024));
   * held.filter((_, i) => i % 2 === 0).forEach((ws) => ws.release());
   * const report = pool.defragment();
   * report.fragmentationAfter; // 0
   * report.reclaimedBytes > 0; // true
   * ```
   */
  defragment(options: DefragmentOptions = {}): DefragmentationReport {
    const checked = assertOptions<DefragmentOptions>(options, 'options', ['throwIfBlocked']);
    const throwIfBlocked = assertBoolean(checked.throwIfBlocked ?? false, 'options.throwIfBlocked');
    const report = this.#runDefragmentation('manual', undefined, true, true);
    if (throwIfBlocked && report.outcome === 'blocked-by-pins') {
      throw new MemError('PINNED', report.message, { details: { report } });
    }
    return report;
  }

  /**
   * The pool's fragmentation, `1 - largest free block / free bytes` in [0, 1).
   * Cost: O(free blocks).
   * @throws never
   */
  fragmentationRatio(): number {
    return measureFragmentation(this.#core).fragmentation;
  }

  /**
   * Fragmentation overall and per segment, with free bytes, free blocks and largest free blocks.
   * Cost: O(free blocks + segments).
   * @throws never
   */
  fragmentation(): FragmentationStats {
    return measureFragmentation(this.#core);
  }

  #checkThreshold(): void {
    const core = this.#core;
    if (core.freeBytes === 0) return;
    const ratio = 1 - core.largestFreeBlock() / core.freeBytes;
    if (ratio > 0 && ratio >= this.config.defragThreshold) this.#runDefragmentation('threshold', undefined, true, true);
  }

  #runDefragmentation(
    trigger: DefragmentationTrigger,
    segments: number[] | undefined,
    migrate: boolean,
    release: boolean,
  ): DefragmentationReport {
    const started = performance.now();
    const core = this.#core;
    const before = measureFragmentation(core);
    const result = compact(core, {
      segments: segments ?? liveSegments(core),
      migrate,
      release,
      guard: this.#moveGuard,
    });
    const report = buildReport(trigger, before, result, this.#pinnedCount(), performance.now() - started);
    this.#defragmentations += 1;
    this.#bytesMoved += result.bytesMoved;
    this.#segmentsReleased += result.releasedSegments.length;
    this.#bytesReleased += result.bytesReleased;
    this.#log({
      level: report.outcome === 'blocked-by-pins' || report.outcome === 'no-fit' ? 'warn' : 'info',
      event: 'defragment',
      pool: this.name,
      message: `${trigger} defragmentation: ${report.message}`,
      report,
    });
    return report;
  }

  /** Workspaces pinned here or, under a coordinator, by its clients. */
  #pinnedCount(): number {
    return this.#core.pinnedBlocks + (this.#moveGuard?.pinnedCount() ?? 0);
  }

  /** Installs the coordinator's shared pins. @internal */
  [kSetMoveGuard](guard: MoveGuard | undefined): void {
    this.#moveGuard = guard;
  }

  // ---------------------------------------------------------------------------------------------
  // Inspection and reset.
  // ---------------------------------------------------------------------------------------------

  /**
   * A snapshot of the pool's counters and memory (JSON-serialisable).
   * Cost: O(free blocks).
   * @throws never
   */
  stats(): WorkspacePoolStats {
    const core = this.#core;
    const largestFreeBlock = core.largestFreeBlock();
    const acquisitions = this.#nextId - this.#firstId;
    return {
      acquisitions,
      releases: core.releases,
      misses: this.#misses,
      expansions: this.#expansions,
      defragmentations: this.#defragmentations,
      hitRate: acquisitions === 0 ? 0 : 1 - this.#expansions / acquisitions,
      liveWorkspaces: this.#liveWorkspaces(),
      pinnedWorkspaces: this.#pinnedCount(),
      bytesInUse: core.usedBytes,
      bytesRequested: core.requestedBytes,
      peakBytesInUse: core.peakUsedBytes,
      bytesReserved: core.reservedBytes,
      bytesFree: core.freeBytes,
      largestFreeBlock,
      fragmentation: core.freeBytes === 0 ? 0 : 1 - largestFreeBlock / core.freeBytes,
      segments: liveSegments(core).length,
      bytesMoved: this.#bytesMoved,
      segmentsReleased: this.#segmentsReleased,
      bytesReleased: this.#bytesReleased,
    };
  }

  /**
   * The memory map: every segment and block in address order with state and owner (draw it with
   * {@link renderMemoryMap}).
   * Cost: O(blocks).
   * @throws never
   */
  snapshot(): MemoryMapSnapshot {
    return takeSnapshot(this.#core, this.name, this.#core.labels, this.#moveGuard);
  }

  /**
   * Takes every workspace back (their handles become stale: any use throws STALE_HANDLE, and
   * `using` leaves them alone), drops the expansion segments, and resets the counters. The initial reservation is kept (its bytes are not zeroed).
   * Cost: O(block table + segments).
   * @throws MemError PINNED if any workspace is pinned; nothing is cleared then.
   */
  clear(): void {
    const core = this.#core;
    if (core.pinnedBlocks > 0) {
      throw new MemError(
        'PINNED',
        `${core.pinnedBlocks} workspace(s) of ${this.name} are pinned: unpin them before clear()`,
      );
    }
    core.reset(this.#nextId);
    this.#firstId = this.#nextId;
    this.#misses = 0;
    this.#expansions = 0;
    this.#defragmentations = 0;
    this.#bytesMoved = 0;
    this.#segmentsReleased = 0;
    this.#bytesReleased = 0;
  }

  /** The memory of segment `index` (for the coordinator, which shares it). @internal */
  segmentMemory(index: number): { memory: SegmentMemory; base: number; byteLength: number } | undefined {
    const segment = this.#core.segments[index];
    return segment === undefined
      ? undefined
      : { memory: segment.memory, base: segment.base, byteLength: segment.byteLength };
  }

  /** Logs `entry` now, or once the acquire that made it is complete. */
  #log(entry: WorkspaceLogEntry): void {
    if (this.#logQueue !== undefined) this.#logQueue.push(entry);
    else this.#emit(entry);
  }

  #emit(entry: WorkspaceLogEntry): void {
    if (this.#logger === undefined) return;
    try {
      this.#logger(entry);
    } catch {
      // The pool is consistent already; a failing logger must not turn a done operation into a failed one.
    }
  }
}
