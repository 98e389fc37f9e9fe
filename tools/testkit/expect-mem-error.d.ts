import type { MemError, MemErrorCode } from '@mem/types';

/** Asserts that `action` throws a `MemError` with `code` and returns it; `label` names the case in a failure. */
export declare function expectMemError(action: () => unknown, code: MemErrorCode, label?: string): MemError;
