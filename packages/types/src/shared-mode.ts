/**
 * The shared-mode contract: one set of words and shapes for every object that several workers
 * use at once.
 *
 * - **Create**: `Type.createShared(options)` makes the object and its shared state; the calling
 *   worker holds the first attachment.
 * - **Describe**: `object.descriptor()` returns a {@link SharedDescriptor}: a plain,
 *   structured-cloneable object tagged with a `kind` and a layout `version`. Post it to another
 *   worker with `postMessage(descriptor, descriptorTransferList(descriptor))`: its
 *   `SharedArrayBuffer`s are shared, not copied, and a `MessagePort` it holds is transferred (such
 *   a descriptor serves one attachment; call `descriptor()` again for the next).
 * - **Attach**: `Type.attach(descriptor, options?)` in any worker gives that worker an attachment
 *   of its own. A descriptor of another kind or version is refused with `INVALID_ARGUMENT`
 *   (checked by {@link assertSharedDescriptor}).
 * - **Close**: `attachment.close()` ends this worker's attachment (also through `using`, by
 *   `Symbol.dispose`); it is idempotent, `closed` then reads `true`, and every other method
 *   throws `USE_AFTER_RELEASE`. Other attachments keep working. What this attachment held for
 *   itself (a local cache, pins, guards, leases) goes back to the shared state. An object whose
 *   state lives in the creator (a coordinator thread) says so: closing the creator ends every
 *   attachment, whose methods then throw `USE_AFTER_RELEASE`.
 * - **Worker exit and `terminate()`**: an attachment that its worker never closed is closed for
 *   it as far as the shared state allows; each object says what that recovers, and when.
 * - **Garbage collection**: an attachment dropped without `close()` can be collected; nothing
 *   the object registers (exit hooks, finalizers, ports) keeps it alive, and collection returns
 *   what it held as `close()` would.
 *
 * Each shared object also documents its concurrency protocol beside its code: who may write
 * where, and when memory is reused.
 *
 * This module is browser compatible.
 * @module
 */
import { describeValue } from './describe-value.js';
import { MemError } from './mem-error.js';

/** What every shared-mode descriptor carries: its kind and the layout version of its state. */
export interface SharedDescriptor<Kind extends string = string> {
  /** Which kind of object this describes, such as `'mem.buffer-pool'`. */
  readonly kind: Kind;
  /** The version of the shared-state layout; an attachment needs the same version as its creator. */
  readonly version: number;
}

/** One worker's attachment to a shared object. Implementations also close on `Symbol.dispose`, so `using` works. */
export interface SharedAttachment<Descriptor extends SharedDescriptor = SharedDescriptor> {
  /**
   * The descriptor another worker attaches with.
   * @throws MemError USE_AFTER_RELEASE after {@link SharedAttachment.close}.
   */
  descriptor(): Descriptor;
  /**
   * Ends this worker's attachment and returns what it held to the shared state. Idempotent. An
   * attachment that must tell another thread returns a promise that settles once it has.
   * @throws never
   */
  close(): void | Promise<void>;
  /** Whether {@link SharedAttachment.close} was called. */
  readonly closed: boolean;
}

/**
 * Checks that `value` is a descriptor of `kind` at `version`, and returns it typed.
 * The message says which of the kind and the version is wrong, so that a descriptor posted to
 * the wrong `attach`, or produced by another release of a package, is recognised at once.
 * Cost: O(1).
 * @throws MemError INVALID_ARGUMENT if `value` is not an object, has another `kind`, or another `version`.
 *
 * @example
 * ```ts
 * import { assertSharedDescriptor } from '@mem/types';
 * const descriptor = assertSharedDescriptor({ kind: 'mem.example', version: 1 }, 'mem.example', 1);
 * descriptor.version; // 1
 * ```
 */
export function assertSharedDescriptor<Descriptor extends SharedDescriptor>(
  value: unknown,
  kind: Descriptor['kind'],
  version: number,
): Descriptor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `descriptor must be a ${kind} descriptor object, got ${describeValue(value)}`,
      {
        details: { argument: 'descriptor', value, kind, version },
      },
    );
  }
  const candidate = value as Partial<SharedDescriptor>;
  if (candidate.kind !== kind) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `descriptor is of kind ${describeValue(candidate.kind)}, not ${kind}: attach it with the type that described it`,
      { details: { argument: 'descriptor', kind: candidate.kind, expected: kind } },
    );
  }
  if (candidate.version !== version) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `descriptor is a ${kind} of layout version ${describeValue(candidate.version)}, but this code reads version ${version}: ` +
        'every worker must run the same release of the package',
      { details: { argument: 'descriptor', version: candidate.version, expected: version } },
    );
  }
  return value as Descriptor;
}

/**
 * The transfer list to post `descriptor` with: the `MessagePort`s among its own properties (typed
 * as the runtime's `MessagePort`: the DOM's, or that of `worker_threads` under `@types/node`).
 * `SharedArrayBuffer`s need no transfer (they are shared), and a descriptor without ports gives
 * an empty list. Cost: O(properties).
 * @throws never
 *
 * @example
 * ```ts
 * import { descriptorTransferList, type SharedDescriptor } from '@mem/types';
 * declare const worker: Worker;
 * declare const descriptor: SharedDescriptor;
 * worker.postMessage(descriptor, descriptorTransferList(descriptor));
 * ```
 */
export function descriptorTransferList(descriptor: SharedDescriptor): InstanceType<typeof MessagePort>[] {
  if (typeof MessagePort === 'undefined') return [];
  return Object.values(descriptor).filter((value): value is MessagePort => value instanceof MessagePort);
}
