/**
 * Validation of token ids and array-like arguments shared by the package's entry points.
 *
 * This module is browser compatible.
 * @module
 */
import { invalidArgument } from '@mem/types';

/** The largest token id: ids are unsigned 32-bit integers. */
export const MAX_TOKEN_ID = 0xffffffff;

/**
 * Copies `tokens` into `target` at `offset` (or a new Uint32Array), checking that every id is an
 * integer in [0, 2^32). Cost: O(tokens.length).
 * @throws MemError INVALID_ARGUMENT naming `name` if `tokens` is not an array-like of token ids.
 */
export function copyTokenIds(tokens: unknown, name: string, target?: Uint32Array, offset = 0): Uint32Array {
  if (tokens instanceof Uint32Array) {
    const out = target ?? new Uint32Array(tokens.length);
    out.set(tokens, offset);
    return out;
  }
  if (!isArrayLike(tokens)) {
    throw invalidArgument(name, tokens, 'an array of token ids');
  }
  const length = tokens.length;
  for (let i = 0; i < length; i += 1) {
    const token = tokens[i];
    if (typeof token !== 'number' || token >>> 0 !== token) {
      throw invalidArgument(`${name}[${i}]`, token, `a token id (an integer in [0, ${MAX_TOKEN_ID}])`);
    }
  }
  const out = target ?? new Uint32Array(length);
  for (let i = 0; i < length; i += 1) out[offset + i] = tokens[i] as number;
  return out;
}

/** Whether `value` is an object with a safe-integer `length` >= 0 (an array, a typed array...). Cost: O(1). */
export function isArrayLike(value: unknown): value is ArrayLike<unknown> {
  if (value === null || typeof value !== 'object') return false;
  const length = (value as { length?: unknown }).length;
  return typeof length === 'number' && Number.isSafeInteger(length) && length >= 0;
}
