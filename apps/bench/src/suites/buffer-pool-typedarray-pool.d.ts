/** The parts of the npm package `typedarray-pool` (no types of its own) that the buffer-pool suite uses. */
declare module 'typedarray-pool' {
  /** A pooled Uint8Array of `n` bytes (a new view over a pooled ArrayBuffer of the next power of two). */
  export function mallocUint8(n: number): Uint8Array;
  /** Gives a Uint8Array's buffer back to the pool. */
  export function freeUint8(array: Uint8Array): void;
}
