import { MemError } from '@mem/types';
import { expect } from 'vitest';

/**
 * Runs `action` and asserts that it threw a `MemError` with `code`; returns the error so that a
 * test can check its message or details. Fails the test if nothing, or anything else, was thrown.
 *
 * @param {() => unknown} action
 * @param {import('@mem/types').MemErrorCode} code
 * @param {string} [label] names the case in a failure (for checks made in a loop)
 * @returns {MemError}
 */
export function expectMemError(action, code, label) {
  let caught;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  const what = label === undefined ? `MemError ${code}` : `MemError ${code} for ${label}`;
  expect(caught, `expected ${what}`).toBeInstanceOf(MemError);
  expect(caught.code, what).toBe(code);
  return caught;
}
