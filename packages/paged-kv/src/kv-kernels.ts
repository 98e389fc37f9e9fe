/**
 * Which attention kernels run over a `KvStore`, and what its `stats()` report about them.
 *
 * This module is browser compatible.
 * @module
 */

/**
 * The kernels a store may run: `'auto'` runs the WebAssembly SIMD128 kernels where the runtime and
 * the layout allow them (and the JavaScript kernels elsewhere), `'js'` always runs the JavaScript
 * kernels.
 */
export type KvKernels = 'auto' | 'js';

/** The kernels that run over a store: WebAssembly SIMD128, or JavaScript. */
export type KvKernel = 'wasm-simd128' | 'js';

/** A snapshot of a `KvStore` (plain, JSON-serialisable). */
export interface KvStoreStats {
  /** The kernels that `pagedAttention` and `pagedPrefillAttention` run over this store. */
  readonly kernel: KvKernel;
  /** Why the JavaScript kernels run (null when the WebAssembly kernels do). */
  readonly fallbackReason: string | null;
  /**
   * Calls that ran the JavaScript kernels although the store runs the WebAssembly ones, because
   * every scratch slot of a shared store's memory was in use by other workers at that moment.
   */
  readonly busyFallbacks: number;
  /** Bytes of all K and V storage. */
  readonly byteLength: number;
  /** Bytes of the backing memory: the K/V bytes plus, for the WebAssembly kernels, their scratch. */
  readonly memoryBytes: number;
}
