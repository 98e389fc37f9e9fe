/**
 * `@mem/paged-kv`: A paged KV-cache block allocator with prefix caching, scheduling with preemption, KV storage and paged attention.
 *
 * This module is browser compatible.
 * @module
 */
export {};
