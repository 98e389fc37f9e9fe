/**
 * `@mem/paged-kv/node`: Node-only parts of the KV cache: {@link DiskKvTier}, a KV tier in a local
 * directory, for the `KvTierConnector` of `@mem/paged-kv`.
 *
 * This module runs in Node.js only.
 * @module
 */
export { DiskKvTier, type DiskKvTierOptions } from './disk-kv-tier.js';
