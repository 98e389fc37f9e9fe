import { MemError } from '@mem/types';
import { expect } from 'vitest';

/**
 * Runs `action` and asserts that it threw a `MemError` with `code`; returns the error so that a
 * test can check its message or details. Fails the test if nothing, or anything else, was thrown.
 *
 * @param {() => unknown} action
 * @param {import('@mem/types').MemErrorCode} code
 * @returns {MemError}
 */
export function expectMemError(action, code) {
  let caught;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected MemError ${code}`).toBeInstanceOf(MemError);
  expect(caught.code).toBe(code);
  return caught;
}
