/**
 * Releasing what a shared-mode attachment holds when it goes away without being closed: at a
 * normal exit of its worker, or when it is garbage-collected (the shared-mode contract's last two
 * promises).
 *
 * - Normal exit of a Node worker (its event loop drains, or it calls `process.exit()`): one
 *   `process.on('exit')` listener runs the pending `atExit` releases of the worker.
 * - An owner that is garbage-collected first: a FinalizationRegistry runs its `afterCollection`.
 * - `worker.terminate()` runs no JavaScript in the worker, so nothing can run: close in the worker
 *   before terminating it. Browsers have no exit event either.
 *
 * The releases must not refer to the owner, or it could never be collected: build them outside
 * the owner's constructor (a closure there keeps the constructor's context, `this` included).
 * The runtime is feature-detected through `globalThis.process`, so this module loads in browsers.
 *
 * This module is browser compatible.
 * @module
 */
import { assertFunction, assertOptions, invalidArgument } from './validators.js';

/** What {@link releaseWhenGone} runs, and when. */
export interface GoneReleases {
  /** Runs if the worker exits normally first; an error it throws is ignored (the worker is exiting). */
  readonly atExit?: () => void;
  /** Runs if the owner is garbage-collected first; an error it throws is uncaught, as from any finalizer. */
  readonly afterCollection: () => void;
}

const atExit = new Set<() => void>();
let listening = false;

const afterCollection = new FinalizationRegistry<{
  readonly exit: (() => void) | undefined;
  readonly collect: () => void;
}>(({ exit, collect }) => {
  if (exit !== undefined) atExit.delete(exit);
  collect();
});

function listenForExit(): void {
  if (listening) return;
  listening = true;
  const runtime = (globalThis as { process?: { on?: unknown } }).process;
  if (typeof runtime?.on !== 'function') return;
  (runtime.on as (event: string, listener: () => void) => void).call(runtime, 'exit', () => {
    for (const release of atExit) {
      try {
        release();
      } catch {
        // Exiting: one failed release must not keep the others from running.
      }
    }
    atExit.clear();
  });
}

/**
 * Runs `releases.atExit` when this worker exits normally, or `releases.afterCollection` when
 * `owner` is garbage-collected, whichever comes first, and returns the function that cancels both
 * (call it from an explicit `close()`). Neither release may refer to `owner`.
 * Cost: O(1); one registry entry, and one exit listener per worker in all.
 * @throws MemError INVALID_ARGUMENT if `owner` is not an object or a release is not a function.
 *
 * @example
 * ```ts
 * import { releaseWhenGone } from '@mem/types';
 * const slots = new Int32Array(new SharedArrayBuffer(4));
 * const attachment = {};
 * const release = (): void => void Atomics.sub(slots, 0, 1);
 * const cancel = releaseWhenGone(attachment, { atExit: release, afterCollection: release });
 * cancel(); // closed explicitly: neither release runs
 * ```
 */
export function releaseWhenGone(owner: object, releases: GoneReleases): () => void {
  if ((typeof owner !== 'object' && typeof owner !== 'function') || owner === null) {
    throw invalidArgument('owner', owner, 'an object');
  }
  assertOptions(releases, 'releases', ['atExit', 'afterCollection']);
  const collect = assertFunction<() => void>(releases.afterCollection, 'releases.afterCollection');
  const exit =
    releases.atExit === undefined ? undefined : assertFunction<() => void>(releases.atExit, 'releases.atExit');
  if (exit !== undefined) {
    listenForExit();
    atExit.add(exit);
  }
  const token = {};
  afterCollection.register(owner, { exit, collect }, token);
  return () => {
    if (exit !== undefined) atExit.delete(exit);
    afterCollection.unregister(token);
  };
}
