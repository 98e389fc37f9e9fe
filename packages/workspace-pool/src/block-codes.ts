/**
 * The codes of the block allocator: block states, the "no block" index and strategy codes, shared
 * by the allocator and the modules that walk its blocks (compaction, measurement, memory maps).
 *
 * The hot modules import this namespace and keep private copies (`const NONE = codes.NONE`), so
 * that no hot path reads an exported binding (see docs/DESIGN.md, Hot paths).
 *
 * This module is browser compatible.
 * @module
 */

/** No block. @internal */
export const NONE = -1;
/** A record not in use. @internal */
export const RECORD_UNUSED = 0;
/** A free block (in a bin). @internal */
export const BLOCK_FREE = 1;
/** A block owned by a workspace. @internal */
export const BLOCK_USED = 2;

/** Strategy codes, resolved once from the configuration's names. @internal */
export const STRATEGY_BEST_FIT = 0;
/** @see STRATEGY_BEST_FIT @internal */
export const STRATEGY_FIRST_FIT = 1;
/** @see STRATEGY_BEST_FIT @internal */
export const STRATEGY_EXACT_FIT = 2;
/** @see STRATEGY_BEST_FIT @internal */
export const STRATEGY_POWER_OF_TWO = 3;
