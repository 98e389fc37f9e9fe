/**
 * The stats contract: every pool has a cheap `stats()` that returns a plain, JSON-serialisable
 * snapshot of its state.
 *
 * This module is browser compatible.
 * @module
 */

/** A value that survives `JSON.stringify` and `JSON.parse` unchanged. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** Something with a `stats()` snapshot of type `S`. */
export interface StatsSource<S> {
  /** A fresh snapshot; mutating it does not affect the source. */
  stats(): S;
}
