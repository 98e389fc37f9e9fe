// Over 400 lines for one concept: each of the manager's entry points documents its errors and callbacks in full.
/**
 * Engine integration of the paged pool with prefix caching: admission of a
 * request against the cache, slot reservation, hash registration as blocks fill, copy-on-write
 * forks, preemption and release.
 *
 * The life of a sequence: {@link KvCacheManager.createSequence} (waiting, no blocks) ->
 * {@link KvCacheManager.admit} (running: the longest cached prefix, in whole blocks, is taken by
 * reference and fresh blocks are allocated for the rest) -> the engine computes the pending tokens
 * and calls {@link KvCacheManager.markComputed} (full blocks get their content hash registered) ->
 * for decoding, {@link KvCacheManager.appendTokens} adds sampled tokens and
 * {@link KvCacheManager.reserve} prepares their slots -> {@link KvCacheManager.release}. A
 * running sequence can be sent back to waiting with {@link KvCacheManager.preempt} (recompute):
 * its blocks are freed (its full blocks stay cached) and its tokens kept.
 *
 * Callbacks: the hasher runs before any state changes, and while it runs every method that changes
 * the manager or one of its sequences throws IN_USE (a hasher is a function of its input and has no
 * reason to call back). `copyBlock` runs inside copy-on-write (see {@link PagedSequence}): it may
 * use the manager and other sequences; the sequence being copied refuses changes until it returns.
 * Metrics collectors only read. A sequence held by a {@link Scheduler} refuses every change that
 * does not come from its scheduler (IN_USE), so that the scheduler's plan stays true.
 *
 * This module is browser compatible.
 * @module
 */
import {
  assertBoolean,
  assertInteger,
  assertMetricsSink,
  assertNonEmptyString,
  assertOptions,
  invalidArgument,
  MemError,
  type MetricsSink,
} from '@mem/types';
import { BlockAllocator, type BlockAllocatorStats } from './block-allocator.js';
import type { ReuseOrder } from './free-order.js';
import type { BlockHasher } from './block-hasher.js';
import { ChainKeys, type ExtraKeys, chainScratchWords, hashBlocks, resolveHasher } from './block-hash-chain.js';
import { publishKvCacheMetrics } from './kv-cache-metrics.js';
import { KvSequence, type KvSequenceState } from './kv-sequence.js';
import { type CopyBlock, PagedSequence, assertCopyBlock, blocksForTokens } from './paged-sequence.js';
import { copyTokenIds } from './token-ids.js';

/** A request as the KV cache sees it: its tokens and the extra keys of its cache identity. */
export interface KvRequest {
  /** The prompt's token ids (integers in [0, 2^32)); copied, so the caller may reuse the array. */
  readonly tokens: ArrayLike<number>;
  /** Salt, adapter id and multimodal inputs. @defaultValue none */
  readonly extraKeys?: ExtraKeys;
}

/** Options of a {@link KvCacheManager}. */
export interface KvCacheManagerOptions {
  /** Physical blocks in the pool. */
  readonly numBlocks: number;
  /** Tokens per block. @defaultValue 16 */
  readonly blockSize?: number;
  /** The most blocks one sequence may hold. @defaultValue numBlocks */
  readonly maxBlocksPerSequence?: number;
  /** Share full blocks between requests by content hash. @defaultValue true */
  readonly prefixCaching?: boolean;
  /** The block hasher; {@link sha256BlockHasher} for untrusted tenants. @defaultValue {@link fastBlockHasher} */
  readonly hasher?: BlockHasher;
  /** @internal The free order; set through `comparisonKvCacheManager` of `@mem/paged-kv/reference`. */
  readonly reuseOrder?: ReuseOrder;
  /** Copies a block's KV data on copy-on-write (e.g. `(s, t) => store.copyBlock(s, t)`); needed by `fork`. @defaultValue none */
  readonly copyBlock?: CopyBlock;
  /** Where to publish KV usage, prefix-cache and eviction metrics. @defaultValue no metrics */
  readonly metrics?: MetricsSink;
  /**
   * The cache's name: the `pool` label of its metrics and of its scheduler's. Give each cache that
   * publishes into one sink its own name. @defaultValue 'paged-kv'
   */
  readonly name?: string;
}

/** A {@link KvCacheManager.stats} snapshot. */
export interface KvCacheStats extends BlockAllocatorStats {
  /** Tokens per block. */
  readonly blockSize: number;
  /** Whether prefix caching is on. */
  readonly prefixCaching: boolean;
  /** The hasher's name. */
  readonly hasher: string;
  /** Prompt tokens of every admission (the prefix-cache queries, counted in tokens). */
  readonly prefixQueryTokens: number;
  /** Tokens of those prompts served from the cache (the hits, in tokens). */
  readonly prefixHitTokens: number;
  /** `prefixHitTokens / prefixQueryTokens`, 0 before any query. */
  readonly prefixHitRate: number;
  /** Sequences admitted so far. */
  readonly admissions: number;
  /** Sequences sent back to waiting by `preempt`. */
  readonly preemptions: number;
  /** Sequences not yet released. */
  readonly sequences: number;
  /** Prompt tokens of admissions served from a KV tier (a scheduler's `tier` option): loaded, not computed. */
  readonly tierHitTokens: number;
}

/**
 * The KV cache of an inference engine: a {@link BlockAllocator} with prefix caching on top.
 *
 * @example
 * ```ts
 * import { KvCacheManager } from '@mem/paged-kv';
 * const kv = new KvCacheManager({ numBlocks: 64, blockSize: 4 });
 * const system = [1, 2, 3, 4, 5, 6, 7, 8];
 * const a = kv.createSequence({ tokens: [...system, 9] });
 * kv.admit(a); // nothing cached yet: 9 tokens to prefill
 * kv.markComputed(a, a.pendingTokens); // the engine ran the prefill; blocks 0 and 1 are now cached
 * const b = kv.createSequence({ tokens: [...system, 10, 11] });
 * kv.admit(b);
 * b.cachedTokens; // 8: both system-prompt blocks are shared
 * b.pendingTokens; // 2
 * a.release();
 * b.release();
 * ```
 */
export class KvCacheManager {
  /** The block allocator (shared by all sequences of this manager). */
  readonly allocator: BlockAllocator;
  /** Tokens per block. */
  readonly blockSize: number;
  /** The most blocks one sequence may hold. */
  readonly maxBlocksPerSequence: number;
  /** Whether full blocks are shared by content hash. */
  readonly prefixCaching: boolean;
  /** The block hasher. */
  readonly hasher: BlockHasher;
  /** The `pool` label of its metrics and of its scheduler's. */
  readonly name: string;
  readonly #copyBlock: CopyBlock | undefined;
  #scratch: Uint32Array;
  /** Whether the hasher is running (every changing method refuses to run then). */
  #hashing = false;
  /** The holder on whose behalf the manager acts now (see `actFor`), or null for a plain call. */
  #acting: object | null = null;
  #queryTokens = 0;
  #hitTokens = 0;
  #admissions = 0;
  #preemptions = 0;
  #sequences = 0;
  #tierHitTokens = 0;

  /**
   * Cost: O(numBlocks). With `metrics`, its instruments and collectors are registered all or none:
   * if the sink throws, the error propagates and no collector of this manager stays registered.
   * @throws MemError INVALID_ARGUMENT if an option is invalid.
   */
  constructor(options: KvCacheManagerOptions) {
    if (options === undefined) throw invalidArgument('options', options, 'an object');
    const opts = assertOptions<KvCacheManagerOptions>(options, 'options');
    const numBlocks = assertInteger(opts.numBlocks, 'options.numBlocks', { min: 1, max: 1 << 24 });
    this.blockSize =
      opts.blockSize === undefined ? 16 : assertInteger(opts.blockSize, 'options.blockSize', { min: 1, max: 65536 });
    this.maxBlocksPerSequence =
      opts.maxBlocksPerSequence === undefined
        ? numBlocks
        : assertInteger(opts.maxBlocksPerSequence, 'options.maxBlocksPerSequence', { min: 1, max: numBlocks });
    this.prefixCaching =
      opts.prefixCaching === undefined ? true : assertBoolean(opts.prefixCaching, 'options.prefixCaching');
    this.name = opts.name === undefined ? 'paged-kv' : assertNonEmptyString(opts.name, 'options.name');
    const metrics = assertMetricsSink(opts.metrics, 'options.metrics');
    this.hasher = resolveHasher(opts.hasher);
    const copyBlock = assertCopyBlock(opts.copyBlock);
    this.#copyBlock = copyBlock && ((source, target) => this.#runCopy(copyBlock, source, target));
    this.#scratch = new Uint32Array(this.hasher.words + this.blockSize + 1);
    // The manager's collector first, the allocator's (its last step) after: a sink that throws
    // anywhere leaves no collector of this manager behind.
    const unpublish =
      metrics === undefined
        ? undefined
        : publishKvCacheMetrics(metrics, { pool: this.name }, () => ({
            queryTokens: this.#queryTokens,
            hitTokens: this.#hitTokens,
            preemptions: this.#preemptions,
            sequences: this.#sequences,
          }));
    try {
      this.allocator = new BlockAllocator(numBlocks, {
        hashWords: this.hasher.words,
        reuseOrder: opts.reuseOrder,
        metrics,
        name: this.name,
      });
    } catch (error) {
      unpublish?.();
      throw error;
    }
  }

  /**
   * Creates a waiting sequence for `request` (no blocks yet). The tokens are copied.
   * Cost: O(tokens).
   * @throws MemError INVALID_ARGUMENT if the request is malformed or has no token.
   * @throws MemError LIMIT_EXCEEDED if its tokens need more than `maxBlocksPerSequence` blocks.
   */
  createSequence(request: KvRequest): KvSequence {
    if (request === null || typeof request !== 'object') {
      throw invalidArgument('request', request, 'an object with tokens');
    }
    const tokens = copyTokenIds(request.tokens, 'request.tokens');
    if (tokens.length === 0) throw new MemError('INVALID_ARGUMENT', 'request.tokens must hold at least one token');
    this.#checkLength(tokens.length);
    const keys = new ChainKeys(this.hasher, request.extraKeys);
    const paged = new PagedSequence(this.allocator, {
      blockSize: this.blockSize,
      maxBlocksPerSequence: this.maxBlocksPerSequence,
      ...(this.#copyBlock ? { copyBlock: this.#copyBlock } : {}),
    });
    this.#sequences += 1;
    return KvSequence.issue(this, tokens, tokens.length, keys, paged);
  }

  /**
   * How many free blocks admitting `sequence` now would consume: fresh blocks plus resurrected
   * cached ones. At least 1, as the block of the last prompt token is always computed. Changes
   * nothing.
   * Cost: O(tokens) for hashing the first time, then O(blocks).
   * @throws MemError INVALID_ARGUMENT if `sequence` is not a KvSequence; FOREIGN_HANDLE if it is
   * another manager's; USE_AFTER_RELEASE if released.
   * @throws MemError IN_USE if it is not waiting, or when called from inside the hasher.
   */
  blocksToAdmit(sequence: KvSequence): number {
    this.#enter(sequence, 'blocksToAdmit', 'waiting', false);
    const plan = this.#plan(sequence);
    return plan.fresh + plan.resurrected;
  }

  /**
   * @internal What admitting a waiting `sequence` now would take: `blocks` from the free pool and
   * `pending` tokens left to compute. Hashes its prompt blocks (the hasher runs here, so an
   * admission right after calls no callback) and changes nothing else.
   */
  admissionPlan(sequence: KvSequence): { blocks: number; pending: number } {
    this.#enter(sequence, 'blocksToAdmit', 'waiting', false);
    const plan = this.#plan(sequence);
    return { blocks: plan.fresh + plan.resurrected, pending: sequence.tokenLength - plan.matched * this.blockSize };
  }

  /**
   * Admits a waiting sequence: takes its longest cached prefix in whole blocks by reference (at
   * most `tokenCount - 1` tokens, so that at least one token is computed and yields logits),
   * allocates blocks for the rest of its known tokens, and returns the tokens still to prefill.
   * All or none: the hasher runs before anything changes.
   * Cost: O(tokens) (hashing on the first admission) plus O(blocks).
   * @throws MemError EXHAUSTED if too few blocks are free (nothing changes; try again later).
   * @throws MemError INVALID_ARGUMENT if `sequence` is not a KvSequence; FOREIGN_HANDLE if it is
   * another manager's; USE_AFTER_RELEASE if released.
   * @throws MemError IN_USE if it is not waiting, is held by a Scheduler, or when called from
   * inside the hasher.
   */
  admit(sequence: KvSequence): number {
    this.#enter(sequence, 'admit', 'waiting');
    const plan = this.#plan(sequence);
    if (!this.#fits(plan)) {
      const allocator = this.allocator;
      throw new MemError(
        'EXHAUSTED',
        `admitting ${sequence.tokenCount} tokens needs ${plan.fresh + plan.resurrected} free blocks: capacity ${allocator.capacity}, free ${allocator.freeCount}`,
        {
          details: {
            requested: plan.fresh + plan.resurrected,
            capacity: allocator.capacity,
            free: allocator.freeCount,
          },
        },
      );
    }
    return this.#admit(sequence, plan.matched);
  }

  /**
   * {@link KvCacheManager.admit} that returns -1 instead of throwing EXHAUSTED.
   * Cost: that of `admit`.
   * @throws the other errors of `admit`.
   */
  tryAdmit(sequence: KvSequence): number {
    this.#enter(sequence, 'tryAdmit', 'waiting');
    const plan = this.#plan(sequence);
    return this.#fits(plan) ? this.#admit(sequence, plan.matched) : -1;
  }

  /**
   * @internal {@link KvCacheManager.tryAdmit}, then serves prompt blocks `first .. first + count - 1`
   * from a KV tier where they continue the cached prefix: each is filled by `fill(index - first,
   * physical block)` (outside the scheduler's authority; false stops there), gets its hash
   * registered and counts as computed and cached. Returns the tokens left to prefill, or -1.
   */
  tryAdmitLoaded(
    sequence: KvSequence,
    first: number,
    count: number,
    fill: (index: number, block: number) => boolean,
  ): number {
    this.#enter(sequence, 'tryAdmit', 'waiting');
    const plan = this.#plan(sequence);
    if (!this.#fits(plan)) return -1;
    const pending = this.#admit(sequence, plan.matched);
    const end = Math.min(first + count, Math.floor((sequence.tokenLength - 1) / this.blockSize));
    let block = plan.matched;
    if (block < first) return pending; // the cached prefix shrank: the tier's blocks do not continue it
    const acting = this.#acting;
    this.#acting = null;
    try {
      while (block < end && fill(block - first, sequence.blockTable[block]!)) {
        this.allocator.registerBlockHash(sequence.blockTable[block]!, sequence.hashes, block);
        block += 1;
      }
    } finally {
      this.#acting = acting;
    }
    const loaded = (block - plan.matched) * this.blockSize;
    sequence.paged.appendTokens(loaded);
    sequence.computed += loaded;
    sequence.cached += loaded;
    this.#tierHitTokens += loaded;
    return pending - loaded;
  }

  /**
   * Prepares slots for the next `count` pending tokens (default all): allocates blocks and copies
   * shared blocks about to be written (copy-on-write). Returns the first position to write. All or
   * none, also when `copyBlock` throws (see {@link PagedSequence.ensureWritable}).
   * Cost: O(new blocks) plus copies.
   * @throws MemError INVALID_ARGUMENT if `count` is not in [0, pendingTokens] or `sequence` is not a KvSequence.
   * @throws MemError EXHAUSTED if too few blocks are free. (The per-sequence limit cannot be passed
   * here: `createSequence` and `appendTokens` enforce it on the tokens.)
   * @throws MemError FOREIGN_HANDLE if it is another manager's; USE_AFTER_RELEASE if released.
   * @throws MemError IN_USE if it is not running, is held by a Scheduler, or when called from inside
   * the hasher or from inside this sequence's `copyBlock`.
   */
  reserve(sequence: KvSequence, count?: number): number {
    this.#enter(sequence, 'reserve', 'running');
    const tokens = this.#pendingCount(sequence, count);
    return sequence.paged.ensureWritable(tokens);
  }

  /**
   * {@link KvCacheManager.reserve} that returns false instead of throwing EXHAUSTED.
   * Cost: that of `reserve`.
   * @throws the other errors of `reserve`.
   */
  tryReserve(sequence: KvSequence, count?: number): boolean {
    this.#enter(sequence, 'tryReserve', 'running');
    const tokens = this.#pendingCount(sequence, count);
    return sequence.paged.tryEnsureWritable(tokens) >= 0;
  }

  /**
   * Records that the engine wrote K/V for the next `count` pending tokens (which must be reserved).
   * Each block that becomes full gets its content hash registered, so later requests can share it.
   * All or none: the hasher runs before anything changes.
   * Cost: O(count) plus one hash per filled block.
   * @throws MemError INVALID_ARGUMENT if `count` is not in [0, pendingTokens] or `sequence` is not a
   * KvSequence; IN_USE if those slots were not reserved.
   * @throws MemError FOREIGN_HANDLE if it is another manager's; USE_AFTER_RELEASE if released.
   * @throws MemError IN_USE if it is not running, is held by a Scheduler, or when called from inside
   * the hasher or from inside this sequence's `copyBlock`.
   */
  markComputed(sequence: KvSequence, count: number): void {
    this.#enter(sequence, 'markComputed', 'running');
    this.#checkComputable(sequence, count);
    const toBlock = this.#hashComputed(sequence, count);
    // Nothing below calls back: the hashes are known and the slots reserved.
    const paged = sequence.paged;
    const before = sequence.computed;
    paged.appendTokens(count);
    sequence.computed = before + count;
    for (
      let block = Math.max(Math.floor(before / this.blockSize), sequence.cached / this.blockSize);
      block < toBlock;
      block += 1
    ) {
      this.allocator.registerBlockHash(sequence.blockTable[block]!, sequence.hashes, block);
    }
  }

  /**
   * @internal The checks of {@link KvCacheManager.markComputed}, then the hashing it needs (the
   * hasher runs here), changing nothing else: a commit of many sequences runs every callback first.
   */
  prepareMarkComputed(sequence: KvSequence, count: number): void {
    this.#enter(sequence, 'markComputed', 'running');
    this.#checkComputable(sequence, count);
    this.#hashComputed(sequence, count);
  }

  #checkComputable(sequence: KvSequence, count: number): void {
    assertInteger(count, 'count', { min: 0, max: sequence.pendingTokens });
    const paged = sequence.paged;
    if (paged.length + count > paged.writableLength) {
      throw new MemError(
        'IN_USE',
        `tokens ${paged.length}..${paged.length + count - 1} have no reserved slots: call reserve() before computing them`,
      );
    }
  }

  /** Hashes the blocks that computing `count` more tokens fills; returns the block count then full (0 without prefix caching). */
  #hashComputed(sequence: KvSequence, count: number): number {
    if (!this.prefixCaching) return 0;
    const toBlock = Math.floor((sequence.computed + count) / this.blockSize);
    if (toBlock > Math.floor(sequence.computed / this.blockSize)) this.#hashUpTo(sequence, toBlock);
    return toBlock;
  }

  /**
   * Appends token ids (sampled ones, or more prompt) to a waiting or running sequence; they are
   * pending until computed. Slots are not taken here: call `reserve` before computing them.
   * Cost: O(tokens), amortised.
   * @throws MemError INVALID_ARGUMENT for malformed tokens or if `sequence` is not a KvSequence;
   * LIMIT_EXCEEDED past the per-sequence limit.
   * @throws MemError FOREIGN_HANDLE if it is another manager's; USE_AFTER_RELEASE if released.
   * @throws MemError IN_USE if it is held by a Scheduler or when called from inside the hasher.
   */
  appendTokens(sequence: KvSequence, tokens: ArrayLike<number>): void {
    this.#enter(sequence, 'appendTokens');
    const ids = copyTokenIds(tokens, 'tokens');
    const length = sequence.tokenLength + ids.length;
    this.#checkLength(length);
    if (length > sequence.tokenBuffer.length) {
      const grown = new Uint32Array(Math.max(length, sequence.tokenBuffer.length * 2));
      grown.set(sequence.tokenBuffer.subarray(0, sequence.tokenLength));
      sequence.tokenBuffer = grown;
    }
    sequence.tokenBuffer.set(ids, sequence.tokenLength);
    sequence.tokenLength = length;
  }

  /**
   * A running copy of `sequence` sharing all its blocks by reference (parallel sampling, beam
   * search); writes into a shared block copy it first through the `copyBlock` option.
   * Cost: O(tokens + blocks).
   * @throws MemError IN_USE if the manager has no `copyBlock` callback, the sequence is not running
   * or is held by a Scheduler, or when called from inside the hasher or this sequence's `copyBlock`.
   * @throws MemError LIMIT_EXCEEDED if a block would pass the reference-count limit.
   * @throws MemError INVALID_ARGUMENT if `sequence` is not a KvSequence; FOREIGN_HANDLE if it is
   * another manager's; USE_AFTER_RELEASE if released.
   */
  fork(sequence: KvSequence): KvSequence {
    this.#enter(sequence, 'fork', 'running');
    const paged = sequence.paged.fork();
    const child = KvSequence.issue(this, sequence.tokenBuffer.slice(), sequence.tokenLength, sequence.keys, paged);
    child.computed = sequence.computed;
    child.cached = sequence.cached;
    child.hashes = sequence.hashes.slice();
    child.hashedBlocks = sequence.hashedBlocks;
    child.status = 'running';
    this.#sequences += 1;
    return child;
  }

  /**
   * Sends a running sequence back to waiting (preemption by recompute): frees its blocks tail
   * first (its full blocks stay cached and are likely hits when it is admitted again) and keeps its
   * tokens, which all become pending.
   * Cost: O(blocks).
   * @throws MemError INVALID_ARGUMENT if `sequence` is not a KvSequence; FOREIGN_HANDLE if it is
   * another manager's; USE_AFTER_RELEASE if released.
   * @throws MemError IN_USE if it is not running, is held by a Scheduler, or when called from inside
   * the hasher or this sequence's `copyBlock`.
   */
  preempt(sequence: KvSequence): void {
    this.#enter(sequence, 'preempt', 'running');
    sequence.paged.clear();
    sequence.computed = 0;
    sequence.cached = 0;
    sequence.status = 'waiting';
    this.#preemptions += 1;
  }

  /**
   * Releases a sequence (same as `sequence.release()`): frees its blocks tail first.
   * Cost: O(blocks).
   * @throws MemError INVALID_ARGUMENT if `sequence` is not a KvSequence; FOREIGN_HANDLE if it is
   * another manager's; DOUBLE_FREE if already released.
   * @throws MemError IN_USE if it is held by a Scheduler (cancel its request instead), or when
   * called from inside the hasher or this sequence's `copyBlock` (it stays live).
   */
  release(sequence: KvSequence): void {
    this.#checkForeign(sequence);
    sequence.release();
  }

  /**
   * A snapshot of the pool and the prefix-cache counters.
   * Cost: O(1).
   * @throws never
   */
  stats(): KvCacheStats {
    return {
      ...this.allocator.stats(),
      blockSize: this.blockSize,
      prefixCaching: this.prefixCaching,
      hasher: this.hasher.name,
      prefixQueryTokens: this.#queryTokens,
      prefixHitTokens: this.#hitTokens,
      prefixHitRate: this.#queryTokens === 0 ? 0 : this.#hitTokens / this.#queryTokens,
      admissions: this.#admissions,
      preemptions: this.#preemptions,
      sequences: this.#sequences,
      tierHitTokens: this.#tierHitTokens,
    };
  }

  /**
   * @internal Runs `body` on behalf of `holder`: the sequences it holds accept changes meanwhile,
   * except from inside the callbacks the manager runs (they act for nobody).
   */
  actFor<T>(holder: object, body: () => T): T {
    const previous = this.#acting;
    this.#acting = holder;
    try {
      return body();
    } finally {
      this.#acting = previous;
    }
  }

  /** @internal Throws IN_USE while the hasher runs: `method` must not run from inside it. */
  checkCallable(method: string): void {
    if (this.#hashing) {
      throw new MemError(
        'IN_USE',
        `${method} was called from inside the KvCacheManager's hasher; a hasher must not call back into the manager`,
      );
    }
  }

  /** @internal Called once by `KvSequence.release()`; throws (changing nothing) if the release is not allowed now. */
  onSequenceRelease(sequence: KvSequence): void {
    this.#checkChangeable(sequence, 'release');
    if (sequence.status === 'running') sequence.paged.clear();
    sequence.paged.release();
    sequence.status = 'released';
    this.#sequences -= 1;
  }

  // ---------------------------------------------------------------------------------------------

  #admit(sequence: KvSequence, matched: number): number {
    const paged = sequence.paged;
    for (let block = 0; block < matched; block += 1) {
      paged.attachCachedBlock(this.allocator.tryAcquireByHash(sequence.hashes, block));
    }
    const cachedTokens = matched * this.blockSize;
    sequence.computed = cachedTokens;
    sequence.cached = cachedTokens;
    paged.ensureWritable(sequence.tokenLength - cachedTokens);
    sequence.status = 'running';
    this.#admissions += 1;
    this.#queryTokens += sequence.tokenLength;
    this.#hitTokens += cachedTokens;
    return sequence.tokenLength - cachedTokens;
  }

  #fits(plan: { fresh: number; resurrected: number }): boolean {
    return plan.fresh + plan.resurrected <= this.allocator.freeCount;
  }

  /** The longest usable cached prefix and what admission would take from the free pool. */
  #plan(sequence: KvSequence): { matched: number; fresh: number; resurrected: number } {
    const needed = Math.ceil(sequence.tokenLength / this.blockSize);
    let matched = 0;
    let resurrected = 0;
    if (this.prefixCaching) {
      const limit = Math.floor((sequence.tokenLength - 1) / this.blockSize);
      this.#hashUpTo(sequence, limit);
      const allocator = this.allocator;
      while (matched < limit) {
        const block = allocator.findBlockByHash(sequence.hashes, matched);
        if (block < 0) break;
        const refs = allocator.refCount(block);
        if (refs === BlockAllocator.MAX_REF_COUNT) break;
        if (refs === 0) resurrected += 1;
        matched += 1;
      }
    }
    return { matched, fresh: needed - matched, resurrected };
  }

  /** Makes sure the digests of full blocks `0 .. blocks - 1` are computed. */
  #hashUpTo(sequence: KvSequence, blocks: number): void {
    if (blocks <= sequence.hashedBlocks) return;
    const words = this.hasher.words;
    if (sequence.hashes.length < blocks * words) {
      const grown = new Uint32Array(Math.max(blocks * words, sequence.hashes.length * 2));
      grown.set(sequence.hashes);
      sequence.hashes = grown;
    }
    const scratchWords = chainScratchWords(sequence.keys, this.blockSize);
    if (this.#scratch.length < scratchWords) this.#scratch = new Uint32Array(scratchWords);
    this.#hashing = true;
    try {
      hashBlocks(
        sequence.keys,
        sequence.tokenBuffer,
        this.blockSize,
        sequence.hashedBlocks,
        blocks,
        sequence.hashes,
        this.#scratch,
      );
    } finally {
      this.#hashing = false;
    }
    sequence.hashedBlocks = blocks;
  }

  #pendingCount(sequence: KvSequence, count: number | undefined): number {
    return count === undefined
      ? sequence.pendingTokens
      : assertInteger(count, 'count', { min: 0, max: sequence.pendingTokens });
  }

  #checkLength(tokens: number): void {
    blocksForTokens(tokens, this.blockSize, this.maxBlocksPerSequence);
  }

  #checkForeign(sequence: KvSequence): void {
    if (!(sequence instanceof KvSequence)) {
      throw invalidArgument('sequence', sequence, 'a KvSequence');
    }
    if (sequence.manager !== this) {
      throw new MemError('FOREIGN_HANDLE', 'the sequence belongs to another KvCacheManager');
    }
  }

  /**
   * The one check of a sequence argument: this manager's live sequence, in `state` if given, not
   * called from inside the hasher; for a method that `changes` it, also not held by a scheduler the
   * manager does not act for now.
   */
  #enter(sequence: KvSequence, method: string, state?: KvSequenceState, changes = true): void {
    this.#checkForeign(sequence);
    sequence.checkLive();
    if (changes) this.#checkChangeable(sequence, method);
    else this.checkCallable(`KvCacheManager.${method}`);
    if (state !== undefined && sequence.status !== state) {
      throw new MemError(
        'IN_USE',
        state === 'waiting'
          ? `the sequence is ${sequence.status}, not waiting: it is already admitted`
          : `the sequence is ${sequence.status}, not running: admit it first`,
      );
    }
  }

  #checkChangeable(sequence: KvSequence, method: string): void {
    this.checkCallable(`KvCacheManager.${method}`);
    if (sequence.holder !== null && sequence.holder !== this.#acting) {
      throw new MemError(
        'IN_USE',
        `KvCacheManager.${method}: the sequence belongs to a Scheduler request, which alone may change it (cancel the request instead)`,
      );
    }
  }

  /** Runs the user's copy callback acting for nobody, so that it cannot change held sequences. */
  #runCopy(copy: CopyBlock, source: number, target: number): void {
    const acting = this.#acting;
    this.#acting = null;
    try {
      copy(source, target);
    } finally {
      this.#acting = acting;
    }
  }
}
