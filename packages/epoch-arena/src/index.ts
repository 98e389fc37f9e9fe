/**
 * `@mem/epoch-arena`: Epoch-partitioned bump arenas with safe, zero-garbage handles and guarded reclamation.
 *
 * This module is browser compatible.
 * @module
 */
export {};
