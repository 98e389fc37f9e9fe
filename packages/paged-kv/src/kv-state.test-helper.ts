/**
 * Test helpers for the paged KV cache: complete snapshots of an allocator, its sequences, a manager
 * and a scheduler (to check that a failed call changed nothing), the ownership invariants, and
 * callbacks that fail or call back in on a chosen call.
 */
import { expect } from 'vitest';
import type { BlockAllocator } from './block-allocator.js';
import type { BlockHasher } from './block-hasher.js';
import { fastBlockHasher } from './block-hasher.js';
import type { KvCacheManager } from './kv-cache-manager.js';
import type { KvSequence } from './kv-sequence.js';
import type { PagedSequence } from './paged-sequence.js';
import type { ScheduledRequest } from './scheduled-request.js';
import type { Scheduler } from './scheduler.js';

/**
 * Everything observable about an allocator: stats, free order, every block's references and digest.
 * With `peak: false` the high-water mark is left out (a failed copy-on-write held its blocks for a
 * moment, and the mark counts them).
 */
export function allocatorState(allocator: BlockAllocator, { peak = true } = {}): object {
  const refs: number[] = [];
  const digests: (string | null)[] = [];
  for (let block = 0; block < allocator.capacity; block += 1) {
    refs.push(allocator.refCount(block));
    const digest = allocator.blockHash(block);
    digests.push(digest === null ? null : [...digest].join(','));
    if (digest !== null) expect(allocator.findBlockByHash(digest)).toBe(block);
  }
  const { peakInUse, ...stats } = allocator.stats();
  return { stats: peak ? { ...stats, peakInUse } : stats, order: allocator.evictionOrder(), refs, digests };
}

/** A paged sequence's table, length and prepared length. */
export function pagedState(seq: PagedSequence): object {
  return {
    released: seq.released,
    table: [...seq.blockTable.subarray(0, seq.blockCount)],
    length: seq.length,
    writable: seq.writableLength,
  };
}

/** A KV sequence's state, tokens and block table. */
export function sequenceState(seq: KvSequence): object {
  return {
    state: seq.state,
    tokens: seq.released ? null : [...seq.tokens],
    computed: seq.computedTokens,
    cached: seq.cachedTokens,
    paged: pagedState(seq.paged),
  };
}

/** A manager's stats, its allocator and the given sequences (`peak` as in {@link allocatorState}). */
export function managerState(kv: KvCacheManager, sequences: readonly KvSequence[], { peak = true } = {}): object {
  const { peakInUse, ...stats } = kv.stats();
  return {
    stats: peak ? { ...stats, peakInUse } : stats,
    allocator: allocatorState(kv.allocator, { peak }),
    sequences: sequences.map(sequenceState),
  };
}

/** A scheduler's queues, stats and requests, and its manager. */
export function schedulerState(scheduler: Scheduler, requests: readonly ScheduledRequest[]): object {
  return {
    stats: scheduler.stats(),
    waiting: scheduler.waiting.map((r) => r.id),
    running: scheduler.running.map((r) => r.id),
    requests: requests.map((r) => ({
      state: r.state,
      generated: r.generated,
      reason: r.finishReason,
      preemptions: r.preemptions,
    })),
    kv: managerState(
      scheduler.kv,
      requests.map((r) => r.sequence),
    ),
  };
}

/**
 * Checks the ownership invariants: each block's reference count equals the number of block tables
 * holding it plus `extra` outside holders, free + held = capacity, and the free order lists exactly
 * the free blocks.
 */
export function expectOwnership(
  allocator: BlockAllocator,
  holders: readonly { readonly blockTable: Uint32Array; readonly blockCount: number }[],
  extra: readonly number[] = [],
): void {
  const counts = new Map<number, number>();
  const add = (block: number): void => void counts.set(block, (counts.get(block) ?? 0) + 1);
  for (const holder of holders) for (const block of holder.blockTable.subarray(0, holder.blockCount)) add(block);
  for (const block of extra) add(block);
  for (let block = 0; block < allocator.capacity; block += 1) {
    expect(allocator.refCount(block), `references of block ${block}`).toBe(counts.get(block) ?? 0);
  }
  expect(allocator.freeCount + counts.size).toBe(allocator.capacity);
  expect(allocator.evictionOrder().length).toBe(allocator.freeCount);
}

/** A callback failure the tests inject, told apart from every error of the code under test. */
export class InjectedFailure extends Error {
  constructor(call: number) {
    super(`injected failure on call ${call}`);
  }
}

/**
 * A switchable hook: `fire()` counts calls and, on call `failAt`, throws an {@link InjectedFailure};
 * on call `reenterAt`, runs `reenter` first.
 */
export class Hook {
  calls = 0;
  failAt = 0;
  reenterAt = 0;
  reenter: (() => void) | undefined;

  fire(): void {
    this.calls += 1;
    if (this.calls === this.reenterAt && this.reenter !== undefined) this.reenter();
    if (this.calls === this.failAt) throw new InjectedFailure(this.calls);
  }

  /** Arms the hook anew: counting from 0, failing on call `failAt` (0: never). */
  arm(failAt = 0, reenterAt = 0, reenter?: () => void): void {
    this.calls = 0;
    this.failAt = failAt;
    this.reenterAt = reenterAt;
    this.reenter = reenter;
  }
}

/** The default hasher with a hook that runs before every digest. */
export function hookedHasher(hook: Hook): BlockHasher {
  return {
    name: 'hooked-murmur3-128',
    words: fastBlockHasher.words,
    digest(input, length, out, outOffset) {
      hook.fire();
      fastBlockHasher.digest(input, length, out, outOffset);
    },
  };
}
