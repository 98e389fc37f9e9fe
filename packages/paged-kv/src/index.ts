/**
 * `@mem/paged-kv`: a paged KV-cache block allocator with prefix caching, scheduling with
 * preemption, KV storage and paged attention, for LLM inference and serving in JavaScript. The K/V
 * storage and the attention run on the CPU, in typed arrays; the rest deals in block numbers, for
 * any storage.
 *
 * - {@link BlockAllocator}: fixed blocks, reference counts, a content-hash index, LRU eviction.
 * - {@link blockHashChain}, {@link fastBlockHasher}, {@link sha256BlockHasher}: chained block hashes.
 * - {@link PagedSequence}: a block table with copy-on-write forks.
 * - {@link KvCacheManager}: admission against the prefix cache, reservation, hash registration.
 * - {@link Scheduler}: continuous batching with preemption by recompute.
 * - {@link KvStore}, {@link pagedAttention}, {@link pagedPrefillAttention}: K/V storage and
 *   attention (decode and causal prefill), on WebAssembly SIMD128 kernels where the runtime has them.
 *
 * References and benchmark workloads (contiguous attention, a synthetic chat trace, the raw
 * SHA-256 word function, the free-order comparison) are at `@mem/paged-kv/reference`.
 *
 * This module is browser compatible.
 * @module \@mem/paged-kv
 */
export { BlockAllocator, type BlockAllocatorOptions, type BlockAllocatorStats } from './block-allocator.js';
export { type BlockHasher, fastBlockHasher, sha256BlockHasher } from './block-hasher.js';
export {
  blockHashChain,
  formatBlockHash,
  type BlockHashChainOptions,
  type ExtraKeys,
  type MultimodalInput,
} from './block-hash-chain.js';
export { sha256 } from './sha256.js';
export { PagedSequence, type BlockTableView, type CopyBlock, type PagedSequenceOptions } from './paged-sequence.js';
export { KvCacheManager, type KvCacheManagerOptions, type KvCacheStats, type KvRequest } from './kv-cache-manager.js';
export { KvSequence, type KvSequenceState } from './kv-sequence.js';
export { ScheduledRequest, type FinishReason, type RequestState } from './scheduled-request.js';
export {
  Scheduler,
  type GenerationRequest,
  type SchedulerOptions,
  type SchedulerStats,
  type SchedulerStep,
  type StepEntry,
} from './scheduler.js';
export {
  KvStore,
  type KvArray,
  type KvDType,
  type KvLayout,
  type KvStoreDescriptor,
  type KvStoreOptions,
} from './kv-store.js';
export { pagedAttention, pagedPrefillAttention, type AttentionOptions } from './paged-attention.js';
export type { KvKernel, KvKernels, KvStoreStats } from './kv-kernels.js';
export { MAX_TOKEN_ID } from './token-ids.js';
