/**
 * `@mem/epoch-arena`: epoch-partitioned bump arenas with safe, zero-garbage handles and guarded
 * reclamation. Allocate millions of small short-lived keys out of large blocks, address them with
 * checked number handles, and drop a whole generation at once in O(blocks).
 *
 * This module is browser compatible.
 * @module \@mem/epoch-arena
 */
export type { Arena, ArenaHandle, ArenaStats, ResetOptions } from './arena.js';
export { HandleAccessors } from './handle-accessors.js';
export { EpochArena, type EpochArenaOptions } from './epoch-arena.js';
export { SharedEpochArena } from './shared-epoch-arena.js';
export {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_MAX_ATTACHMENTS,
  MAX_SHARED_CAPACITY,
  type SharedArenaStats,
  type SharedEpochArenaDescriptor,
  type SharedEpochArenaOptions,
} from './shared-arena-setup.js';
export { ArenaRouter } from './arena-router.js';
export { ArenaRing } from './arena-ring.js';
export { ArenaPool, type ArenaPoolOptions } from './arena-pool.js';
export { SharedArenaPool, type SharedArenaPoolDescriptor, type SharedArenaPoolOptions } from './shared-arena-pool.js';
export type { ArenaPoolStats, PoolArenaStats } from './ring-stats.js';
export type { GuardLeak, GuardLeakOptions } from './guard-leaks.js';
export { EpochGuard } from './epoch-guard.js';
export { LocalArena } from './local-arena.js';
export { ArenaKey } from './arena-key.js';
export {
  DEFAULT_BLOCK_SIZE,
  KEY_ALIGNMENT,
  MAX_ALIGNMENT,
  MAX_ALLOCATION_SIZE,
  MAX_BLOCK_SIZE,
  MAX_EPOCH,
  MAX_KEY_LENGTH,
  MIN_ALIGNMENT,
  MIN_BLOCK_SIZE,
} from './arena-limits.js';
export { decodeHandle, type DecodedHandle } from './handle-layout.js';
