/**
 * The demo's `--kv-tier` option: where the servers keep KV blocks beyond their own memory.
 * `redis://host:port` (or `rediss://`) is a Redis or a Redis Cluster shared by every server given
 * the same URL; `file:DIR` is a directory of this machine.
 * @module
 */
import type { KvBlockTier } from '@mem/paged-kv';
import { DiskKvTier } from '@mem/paged-kv/node';
import { RedisKvTier } from '@mem/kv-connector-redis';
import { TIER_TIMEOUT_MS } from '../engine/serving-engine.js';

/** An opened tier and how to close it. */
export interface OpenedKvTier {
  /** The tier. */
  readonly tier: KvBlockTier;
  /** What it is, for the log. */
  readonly description: string;
  /** Closes its connections (Redis) or does nothing (a directory). */
  close(): Promise<void>;
}

/** Bytes a `file:` tier may fill. */
const DISK_TIER_BYTES = 1 << 30;

/**
 * Opens the tier `spec` names.
 * @throws Error for a spec that is neither `redis://...`, `rediss://...` nor `file:DIR`; the tier's
 * MemError when it cannot be opened.
 */
export async function openKvTier(spec: string): Promise<OpenedKvTier> {
  if (/^rediss?:\/\//.test(spec)) {
    const tier = await RedisKvTier.connect({ url: spec, commandTimeoutMs: TIER_TIMEOUT_MS });
    return {
      tier,
      description: `${tier.cluster ? 'Redis Cluster' : 'Redis'} at ${spec}`,
      close: () => tier.close(),
    };
  }
  if (spec.startsWith('file:') && spec.length > 'file:'.length) {
    const directory = spec.slice('file:'.length);
    const tier = await DiskKvTier.open({ directory, maxBytes: DISK_TIER_BYTES });
    return { tier, description: `directory ${directory} (up to 1 GiB)`, close: () => Promise.resolve() };
  }
  throw new Error(`--kv-tier must be redis://host:port, rediss://host:port or file:DIR, got ${spec}`);
}
