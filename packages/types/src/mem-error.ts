/**
 * The error every mem package throws, and its codes.
 *
 * This module is browser compatible.
 * @module
 */

/**
 * Every code a {@link MemError} can carry. The values equal the keys, so a code can be compared
 * as a plain string (`error.code === 'DOUBLE_FREE'`) or through this object
 * (`error.code === MemErrorCode.DOUBLE_FREE`).
 */
export const MemErrorCode = {
  /** A size, alignment, count or configuration value is negative, NaN, non-integer, of the wrong type or out of range. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** The request is larger than anything the pool can ever serve. */
  OVERSIZED: 'OVERSIZED',
  /** The pool (or one of its classes) has nothing free right now; it may succeed after a release. */
  EXHAUSTED: 'EXHAUSTED',
  /** A configured byte or count limit would be crossed. */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /** The handle or block was already released. */
  DOUBLE_FREE: 'DOUBLE_FREE',
  /** The memory of a released handle was touched. */
  USE_AFTER_RELEASE: 'USE_AFTER_RELEASE',
  /** The handle belongs to a generation (epoch) that has been reclaimed. */
  STALE_HANDLE: 'STALE_HANDLE',
  /** The handle was issued by another pool. */
  FOREIGN_HANDLE: 'FOREIGN_HANDLE',
  /** The operation needs the resource idle, and it is in use. */
  IN_USE: 'IN_USE',
  /** The operation would move or reclaim pinned memory. */
  PINNED: 'PINNED',
  /** No entry exists for the given key, id or hash. */
  NOT_FOUND: 'NOT_FOUND',
} as const;

/** The union of all {@link MemErrorCode} values. */
export type MemErrorCode = (typeof MemErrorCode)[keyof typeof MemErrorCode];

/** Options of a {@link MemError}: the standard `cause` plus structured details. */
export interface MemErrorOptions {
  /** The error that led to this one, if any. */
  readonly cause?: unknown;
  /** Machine-readable facts about the failure (the bad value, the limit, the free count...). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * The one error class of mem. Every failure of a public entry point throws a `MemError` whose
 * `code` says what kind of failure it was and whose message names the bad value and what was
 * expected. A call that throws leaves the pool exactly as it was.
 *
 * Cost: one Error construction (a stack capture); never thrown on a successful hot path.
 *
 * @example
 * ```ts
 * import { MemError } from '@mem/types';
 * try {
 *   throw new MemError('EXHAUSTED', 'no free block: capacity 8, free 0');
 * } catch (error) {
 *   if (MemError.is(error, 'EXHAUSTED')) console.log(error.code, error.message);
 * }
 * ```
 */
export class MemError extends Error {
  /** What kind of failure this is. */
  readonly code: MemErrorCode;
  /** Structured facts about the failure, for logs and programs; `{}` when none were given. */
  readonly details: Readonly<Record<string, unknown>>;

  /**
   * @param code the failure's code
   * @param message what was wrong and what was expected, with the values
   * @param options the cause and structured details
   * @throws never
   */
  constructor(code: MemErrorCode, message: string, options: MemErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  /** Always `'MemError'`, so logs and `error.name` checks identify it. */
  override get name(): string {
    return 'MemError';
  }

  /**
   * Tells whether `error` is a `MemError`, optionally with the given code.
   * Cost: O(1).
   * @throws never
   */
  static is(error: unknown, code?: MemErrorCode): error is MemError {
    return error instanceof MemError && (code === undefined || error.code === code);
  }
}
