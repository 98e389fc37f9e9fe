/**
 * `@mem/kv-connector-redis`: {@link RedisKvTier}, a KV tier on Redis or a Redis Cluster for
 * `@mem/paged-kv`'s `KvTierConnector`, so that a fleet of servers shares the prompt prefixes any of
 * them computed.
 *
 * This module runs in Node.js only.
 * @module
 */
export {
  RedisKvTier,
  type RedisKvTierOptions,
  type RedisKvTierStats,
  type RedisKvTierTlsOptions,
} from './redis-kv-tier.js';
