/**
 * `@mem/paged-kv/reference`: the references and workloads that `@mem/paged-kv` is checked and
 * measured against. None of it is needed to serve requests.
 *
 * - {@link contiguousAttention}, {@link gatherContiguous}: plain attention over contiguous K/V,
 *   the reference `pagedAttention`'s JavaScript kernels agree with to the last bit over float32
 *   storage (its WebAssembly kernels within 1e-5).
 * - {@link syntheticChatTrace}: a deterministic multi-turn chat workload (shared system prompts,
 *   growing conversations), the trace the benchmarks replay.
 * - {@link sha256Words}: the raw SHA-256 compression over 32-bit words behind `sha256BlockHasher`
 *   (for test vectors and for hashers of your own).
 * - {@link comparisonBlockAllocator}, {@link comparisonKvCacheManager}: the allocator and manager
 *   with a chosen {@link ReuseOrder}, to measure what the default LRU order of soft-free blocks
 *   gains over a single LIFO free list.
 *
 * This module is browser compatible.
 * @module \@mem/paged-kv/reference
 */
export { contiguousAttention, gatherContiguous, type ContiguousKv } from './contiguous-attention.js';
export {
  syntheticChatTrace,
  type ChatTrace,
  type ChatTraceOptions,
  type ChatTraceRequest,
  type IntRange,
} from './chat-trace.js';
export { sha256Words } from '../sha256.js';
export {
  comparisonBlockAllocator,
  comparisonKvCacheManager,
  type ComparisonOptions,
  type ReuseOrder,
} from './reuse-order.js';
