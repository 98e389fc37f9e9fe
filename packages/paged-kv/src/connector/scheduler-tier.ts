/**
 * The scheduler's side of a {@link KvConnector}: for each waiting request whose prompt has full
 * blocks beyond the local prefix cache, one `load` runs in the background (the tier answers with
 * the leading blocks it holds, in one round trip), started by the first step that sees the request
 * among the next `maxRunning` waiting ones, so that it overlaps with the steps the request waits
 * for its turn anyway. A request whose turn comes before its answer waits in the `'loading'` state
 * while the others keep running; the admission then copies the loaded blocks into the blocks it
 * allocated and prefills only the rest. Blocks are saved when a request's prompt is computed and
 * when it finishes (write-through) and/or when the local cache evicts them (write-back).
 *
 * Nothing here waits: a probe starts I/O and answers at once, the answers land in the probe of
 * their request, and a later step reads them. A tier that fails, answers late or delivers fewer
 * blocks than it promised costs recomputation, never a wrong token: a block counts as computed only
 * once its value was checked and copied. A save that failed is offered again the next time.
 *
 * This module is browser compatible.
 * @module
 */
import {
  assertBoolean,
  assertInteger,
  assertOptions,
  invalidArgument,
  type MetricsSink,
  mirrorCounter,
} from '@mem/types';
import type { KvCacheManager } from '../kv-cache-manager.js';
import type { ScheduledRequest } from '../scheduled-request.js';
import type { KvConnector, KvLoadedBlocks } from './kv-connector.js';
import { TIER_ERRORS_METRIC } from './kv-tier-stats.js';

/** The `tier` option of a {@link Scheduler}: where KV blocks are looked up, loaded from and saved to. */
export interface SchedulerTierOptions {
  /** The tier, e.g. a {@link KvTierConnector}. */
  readonly connector: KvConnector;
  /**
   * Save the full blocks a request computed (write-through): its prompt's as soon as they are
   * computed, the rest when it finishes. @defaultValue true
   */
  readonly writeThrough?: boolean;
  /** Save cached blocks when the local prefix cache evicts them (write-back). @defaultValue false */
  readonly writeBack?: boolean;
  /**
   * How long a request waits for its load, in milliseconds; then it is admitted
   * without the tier (counted in `tierTimeouts`) and a late answer is dropped. @defaultValue 1000
   */
  readonly timeoutMs?: number;
}

/** Where a waiting request stands with the tier. */
interface Probe {
  state: 'load' | 'ready' | 'miss';
  /** The first prompt block asked for (the local prefix cache held the ones before it). */
  readonly first: number;
  readonly startedAt: number;
  loaded: KvLoadedBlocks | null;
}

/** The digests and blocks of one save. */
interface SaveBatch {
  hashes: number[];
  blocks: number[];
}

/** @internal The scheduler's tier: probes of waiting requests, saves, and what they counted. */
export class SchedulerTier {
  readonly connector: KvConnector;
  readonly #kv: KvCacheManager;
  readonly #writeThrough: boolean;
  readonly #timeoutMs: number;
  readonly #words: number;
  readonly #probes = new Map<ScheduledRequest, Probe>();
  /** For each physical block, the digest it was last saved or loaded with (a block in the tier is not saved again). */
  readonly #inTier: Uint32Array;
  readonly #inTierFlag: Uint8Array;
  readonly #evictions: { blocks: number[]; digests: Uint32Array[] } | null;
  #waiters: (() => void)[] = [];
  #inFlight = 0;
  /** Requests admitted without the tier because it answered too late. */
  timeouts = 0;
  /** Connector calls that threw or rejected. */
  rejections = 0;

  /** @throws MemError INVALID_ARGUMENT if an option is invalid or the connector's hash width is not the manager's. */
  constructor(kv: KvCacheManager, options: SchedulerTierOptions) {
    const opts = assertOptions<SchedulerTierOptions>(options, 'options.tier', [
      'connector',
      'writeThrough',
      'writeBack',
      'timeoutMs',
    ]);
    const connector = opts.connector as Partial<KvConnector> | null;
    if (
      connector === null ||
      typeof connector !== 'object' ||
      typeof connector.lookup !== 'function' ||
      typeof connector.load !== 'function' ||
      typeof connector.save !== 'function' ||
      typeof connector.name !== 'string'
    ) {
      throw invalidArgument(
        'options.tier.connector',
        opts.connector,
        'a KvConnector ({ name, hashWords, lookup, load, save })',
      );
    }
    if (connector.hashWords !== kv.hasher.words) {
      throw invalidArgument(
        'options.tier.connector.hashWords',
        connector.hashWords,
        `the KV cache manager's digest width (${kv.hasher.words} words of ${kv.hasher.name})`,
      );
    }
    if (!kv.prefixCaching) {
      throw invalidArgument('options.tier', options, 'used with a KV cache manager that has prefix caching on');
    }
    this.connector = opts.connector as KvConnector;
    this.#kv = kv;
    this.#words = kv.hasher.words;
    this.#writeThrough =
      opts.writeThrough === undefined ? true : assertBoolean(opts.writeThrough, 'options.tier.writeThrough');
    const writeBack = opts.writeBack === undefined ? false : assertBoolean(opts.writeBack, 'options.tier.writeBack');
    this.#timeoutMs =
      opts.timeoutMs === undefined
        ? 1000
        : assertInteger(opts.timeoutMs, 'options.tier.timeoutMs', { min: 0, max: 3_600_000 });
    const capacity = kv.allocator.capacity;
    this.#inTier = new Uint32Array(capacity * this.#words);
    this.#inTierFlag = new Uint8Array(capacity);
    this.#evictions = writeBack ? { blocks: [], digests: [] } : null;
    kv.allocator.evictionLog = this.#evictions;
  }

  /** Requests waiting for a load. Cost: O(1). */
  get loading(): number {
    return this.#inFlight;
  }

  /**
   * Whether the waiting `request` (its prompt hashed) may be admitted now. The first time, if its
   * prompt has full blocks past the local prefix cache, it starts a load and answers `'wait'`
   * (the request is then `'loading'`) until the tier answered or the timeout passed.
   */
  gate(request: ScheduledRequest): 'admit' | 'wait' {
    const probe = this.#probes.get(request);
    if (probe === undefined) return this.#startProbe(request);
    if (probe.state === 'ready' || probe.state === 'miss') return 'admit';
    if (performance.now() - probe.startedAt < this.#timeoutMs) return 'wait';
    this.timeouts += 1;
    this.#settle(request, probe, 'miss', null);
    return 'admit';
  }

  /** Whether `request` was probed already (its load started, or it had nothing to load). Cost: O(1). */
  probed(request: ScheduledRequest): boolean {
    return this.#probes.has(request);
  }

  /**
   * Starts the probes of the first `count` waiting requests not probed yet (their prompts hashed),
   * so that their loads run while they wait for their turn. Their loaded blocks wait in memory
   * until they are admitted (at most `maxRunning` requests' worth).
   */
  probe(waiting: readonly ScheduledRequest[], count: number): void {
    for (let i = 0; i < count && i < waiting.length; i += 1) {
      const request = waiting[i]!;
      if (!this.#probes.has(request)) this.#startProbe(request);
    }
  }

  /** Admits `request` (after `gate` said so), with its loaded blocks if any. Returns the tokens to prefill, or -1. */
  admit(request: ScheduledRequest): number {
    const probe = this.#probes.get(request);
    const sequence = request.sequence;
    const loaded = probe?.loaded ?? null;
    const pending =
      loaded === null || loaded.count === 0
        ? this.#kv.tryAdmit(sequence)
        : this.#kv.tryAdmitLoaded(sequence, probe!.first, loaded.count, (index, block) =>
            this.#fill(loaded, index, block, sequence.hashes, probe!.first + index),
          );
    if (pending >= 0) this.#probes.delete(request);
    return pending;
  }

  /** A request ends: with write-through, saves its computed full blocks the tier lacks (before they are freed). */
  finish(request: ScheduledRequest, completed: boolean): void {
    const probe = this.#probes.get(request);
    if (probe !== undefined && probe.state === 'load') this.#settle(request, probe, 'miss', null);
    this.#probes.delete(request);
    if (completed) this.saveComputed(request);
  }

  /**
   * With write-through, saves the full blocks `request` computed that the tier lacks: when its
   * prompt is computed (so that the next turn, which may come right after this one's last token
   * and land on another server, finds them) and when it finishes.
   */
  saveComputed(request: ScheduledRequest): void {
    if (!this.#writeThrough) return;
    const sequence = request.sequence;
    const full = Math.min(Math.floor(sequence.computedTokens / this.#kv.blockSize), sequence.hashedBlocks);
    const batch: SaveBatch = { hashes: [], blocks: [] };
    for (let i = 0; i < full; i += 1) this.#addToSave(batch, sequence.blockTable[i]!, sequence.hashes, i);
    this.#save(batch);
  }

  /** With write-back, saves the blocks the local cache evicted since the last call (their bytes are still intact). */
  drainEvictions(): void {
    const log = this.#evictions;
    if (log === null || log.blocks.length === 0) return;
    const batch: SaveBatch = { hashes: [], blocks: [] };
    for (let i = 0; i < log.blocks.length; i += 1) {
      const block = log.blocks[i]!;
      this.#addToSave(batch, block, log.digests[i]!, 0);
      this.#inTierFlag[block] = 0; // its next content is not in the tier
    }
    log.blocks.length = 0;
    log.digests.length = 0;
    this.#save(batch);
  }

  /** Resolves when a load settles, or when the first in flight times out. */
  whenSettled(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(wake, this.#timeoutMs + 1);
      const waiters = this.#waiters;
      function wake(): void {
        clearTimeout(timer);
        resolve();
      }
      waiters.push(wake);
    });
  }

  /** Publishes the scheduler's own tier errors (timeouts, rejections) under the connector's error counter. */
  publishMetrics(sink: MetricsSink): () => void {
    const [name, help] = TIER_ERRORS_METRIC;
    const labels = { pool: this.#kv.name, tier: this.connector.name };
    const timeouts = mirrorCounter(sink.counter(name, help, { ...labels, kind: 'timeout' }));
    const rejections = mirrorCounter(sink.counter(name, help, { ...labels, kind: 'rejected' }));
    return sink.addCollector(() => {
      timeouts(this.timeouts);
      rejections(this.rejections);
    });
  }

  #startProbe(request: ScheduledRequest): 'admit' | 'wait' {
    const sequence = request.sequence;
    const blockSize = this.#kv.blockSize;
    const { pending } = this.#kv.admissionPlan(sequence);
    const first = (sequence.tokenCount - pending) / blockSize;
    const limit = Math.floor((sequence.tokenCount - 1) / blockSize);
    const probe: Probe = { state: limit <= first ? 'miss' : 'load', first, startedAt: performance.now(), loaded: null };
    this.#probes.set(request, probe);
    if (probe.state === 'miss') return 'admit'; // the local prefix cache holds every full block
    request.status = 'loading';
    this.#inFlight += 1;
    const hashes = sequence.hashes.slice(first * this.#words, limit * this.#words);
    // One round trip: the load answers with the leading blocks the tier holds (a lookup would ask
    // the same question without the bytes, and cost a round trip more before the load).
    void this.#call(() => this.connector.load(hashes)).then((loaded) => {
      if (probe.state !== 'load') return; // timed out, or the request ended
      const usable = loaded !== null && typeof loaded === 'object' && loaded.count > 0;
      this.#settle(request, probe, usable ? 'ready' : 'miss', usable ? loaded : null);
    });
    return 'wait';
  }

  /** Ends a probe's I/O: the request is waiting again (unless it ended meanwhile) and waiters wake. */
  #settle(request: ScheduledRequest, probe: Probe, state: 'ready' | 'miss', loaded: KvLoadedBlocks | null): void {
    probe.state = state;
    probe.loaded = loaded;
    this.#inFlight -= 1;
    if (request.status === 'loading') request.status = 'waiting';
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Calls the connector; a throw or a rejection counts and answers null. */
  #call<T>(call: () => Promise<T>): Promise<T | null> {
    const failed = (): null => {
      this.rejections += 1;
      return null;
    };
    try {
      return Promise.resolve(call()).then((value) => value, failed);
    } catch {
      return Promise.resolve(failed());
    }
  }

  /** Copies one loaded block into `block` (drained evictions first: their bytes are about to be overwritten). */
  #fill(loaded: KvLoadedBlocks, index: number, block: number, hashes: Uint32Array, digest: number): boolean {
    this.drainEvictions();
    try {
      loaded.write(index, block);
    } catch {
      return false;
    }
    this.#inTier.set(hashes.subarray(digest * this.#words, (digest + 1) * this.#words), block * this.#words);
    this.#inTierFlag[block] = 1;
    return true;
  }

  /** Adds digest `index` of `hashes` held by `block` to `batch` unless the tier has it from this block already. */
  #addToSave(batch: SaveBatch, block: number, hashes: Uint32Array, index: number): void {
    const words = this.#words;
    const at = block * words;
    let known = this.#inTierFlag[block] === 1;
    for (let w = 0; known && w < words; w += 1) known = this.#inTier[at + w] === hashes[index * words + w];
    if (known) return;
    for (let w = 0; w < words; w += 1) {
      const word = hashes[index * words + w]!;
      batch.hashes.push(word);
      this.#inTier[at + w] = word;
    }
    this.#inTierFlag[block] = 1;
    batch.blocks.push(block);
  }

  #save(batch: SaveBatch): void {
    if (batch.blocks.length === 0) return;
    const hashes = Uint32Array.from(batch.hashes);
    void this.#call(() => this.connector.save(hashes, batch.blocks)).then((saved) => {
      if (saved !== true) this.#forget(hashes, batch.blocks);
    });
  }

  /** After a failed save: the blocks that still hold what it tried to save are offered again. */
  #forget(hashes: Uint32Array, blocks: readonly number[]): void {
    const words = this.#words;
    for (let i = 0; i < blocks.length; i += 1) {
      const at = blocks[i]! * words;
      let same = true;
      for (let w = 0; same && w < words; w += 1) same = this.#inTier[at + w] === hashes[i * words + w];
      if (same) this.#inTierFlag[blocks[i]!] = 0;
    }
  }
}
