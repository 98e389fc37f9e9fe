/**
 * One request's tokens, block digests and KV blocks, as a {@link KvCacheManager} keeps them. The
 * manager makes and changes sequences; a sequence reads its own state and releases itself through
 * its manager.
 *
 * This module is browser compatible.
 * @module
 */
import { DisposableHandle } from '@mem/types';
import type { ChainKeys } from './block-hash-chain.js';
import type { KvCacheManager } from './kv-cache-manager.js';
import type { BlockTableView, PagedSequence } from './paged-sequence.js';

/** Where a {@link KvSequence} is in its life. */
export type KvSequenceState = 'waiting' | 'running' | 'released';

/**
 * One request's tokens and KV blocks, created by {@link KvCacheManager.createSequence}. Its block
 * table is what the engine writes K/V through and paged attention reads through. Release it with
 * `release()` (or `using`).
 */
export class KvSequence extends DisposableHandle implements BlockTableView {
  /** The manager it belongs to. */
  readonly manager: KvCacheManager;
  /** @internal */ tokenBuffer: Uint32Array;
  /** @internal */ tokenLength: number;
  /** @internal */ computed = 0;
  /** @internal */ cached = 0;
  /** @internal */ hashes: Uint32Array;
  /** @internal */ hashedBlocks = 0;
  /** @internal */ readonly keys: ChainKeys;
  /** @internal */ paged: PagedSequence;
  /** @internal */ status: KvSequenceState = 'waiting';
  /** @internal The scheduler that owns this sequence, or null: only it may change the sequence. */
  holder: object | null = null;

  /**
   * @internal The one way to make a sequence: {@link KvCacheManager.createSequence} and
   * {@link KvCacheManager.fork} call it.
   */
  static issue(
    manager: KvCacheManager,
    tokens: Uint32Array,
    length: number,
    keys: ChainKeys,
    paged: PagedSequence,
  ): KvSequence {
    return new KvSequence(manager, tokens, length, keys, paged);
  }

  private constructor(
    manager: KvCacheManager,
    tokens: Uint32Array,
    length: number,
    keys: ChainKeys,
    paged: PagedSequence,
  ) {
    super();
    this.manager = manager;
    this.tokenBuffer = tokens;
    this.tokenLength = length;
    this.keys = keys;
    this.paged = paged;
    this.hashes = new Uint32Array(Math.max(1, Math.floor(tokens.length / manager.blockSize)) * keys.hasher.words);
  }

  /** `'waiting'` (no blocks), `'running'` (admitted) or `'released'`. Cost: O(1). */
  get state(): KvSequenceState {
    return this.status;
  }

  /** Known tokens: the prompt plus appended ones. Cost: O(1). */
  get tokenCount(): number {
    return this.tokenLength;
  }

  /** Tokens whose K/V is stored (served from the cache or marked computed). Cost: O(1). */
  get computedTokens(): number {
    return this.computed;
  }

  /** Tokens still to compute: `tokenCount - computedTokens`. Cost: O(1). */
  get pendingTokens(): number {
    return this.tokenLength - this.computed;
  }

  /** Tokens served from the prefix cache at the last admission. Cost: O(1). */
  get cachedTokens(): number {
    return this.cached;
  }

  /**
   * The known token ids, a view valid until the next `appendTokens` (which may move them).
   * Cost: O(1), allocates the view.
   * @throws MemError USE_AFTER_RELEASE after release.
   */
  get tokens(): Uint32Array {
    this.assertLive();
    return this.tokenBuffer.subarray(0, this.tokenLength);
  }

  /** Physical block of each logical block (see {@link BlockTableView}). Cost: O(1). */
  get blockTable(): Uint32Array {
    return this.paged.blockTable;
  }

  /** Valid entries of the block table. Cost: O(1). */
  get blockCount(): number {
    return this.paged.blockCount;
  }

  /** Tokens per block. Cost: O(1). */
  get blockSize(): number {
    return this.paged.blockSize;
  }

  /**
   * Physical slot (`block * blockSize + offset`) of token `position`.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `position` has no slot yet.
   * @throws MemError USE_AFTER_RELEASE after release.
   */
  slotOf(position: number): number {
    this.assertLive();
    return this.paged.slotOf(position);
  }

  /** Names the sequence in error messages. */
  protected override describe(): string {
    return `KvSequence of ${this.tokenLength} tokens (${this.status})`;
  }

  /** Gives the blocks back through the manager. */
  protected onRelease(): void {
    this.manager.onSequenceRelease(this);
  }

  /** @internal Throws USE_AFTER_RELEASE once released. */
  checkLive(): void {
    this.assertLive();
  }
}
