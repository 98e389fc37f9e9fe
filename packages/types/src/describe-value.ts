/**
 * Renders any value for an error message: `-1`, `NaN`, `"12"` (string), `undefined`, `[object Foo]`.
 *
 * This module is browser compatible.
 * @module
 */

/**
 * Describes a value so that an error message can name it unambiguously: strings are quoted, so
 * `"12"` is never mistaken for the number 12; objects show their constructor's name.
 * Cost: O(1) for primitives, O(length) for strings (truncated at 40 characters).
 * @throws never
 *
 * @example
 * ```ts
 * import { describeValue } from '@mem/types';
 * describeValue('12'); // '"12" (string)'
 * describeValue(-0.5); // '-0.5'
 * ```
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n (bigint)`;
    case 'string': {
      const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
      return `${JSON.stringify(shown)} (string)`;
    }
    case 'undefined':
      return 'undefined';
    case 'boolean':
      return `${value} (boolean)`;
    case 'symbol':
      return `${value.toString()} (symbol)`;
    case 'function':
      return `[function ${value.name || 'anonymous'}]`;
    default: {
      if (value === null) return 'null';
      let name: unknown;
      try {
        name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      } catch {
        // A revoked Proxy, or a throwing `constructor` getter: still describe it, never throw.
        name = undefined;
      }
      return `[object ${typeof name === 'string' && name !== '' ? name : 'Object'}]`;
    }
  }
}
