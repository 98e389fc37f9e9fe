import type { MemError, MemErrorCode } from '@mem/types';

/** Asserts that `action` throws a `MemError` with `code` and returns it. */
export declare function expectMemError(action: () => unknown, code: MemErrorCode): MemError;
