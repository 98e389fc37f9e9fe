/**
 * What a pool instance leaves to be done if it goes away without `close()`: its local cache goes
 * back to the global freelists (shared pools), as Netty's PoolThreadCache does on thread exit, and its
 * metrics collector is unregistered.
 *
 * - Normal exit of a Node worker: the cache of every shared pool instance of the worker that is
 *   still open goes back.
 * - A pool instance that is garbage-collected without `close()`: its cache goes back and its
 *   collector is unregistered.
 * - `worker.terminate()` runs no JavaScript in the worker, so nothing can run: close the pool (or
 *   call `flush()`) in the worker before terminating it. Browsers have no exit event either.
 *
 * The mechanism is `releaseWhenGone` of `@mem/types`. The releases are built here, not by a
 * closure in the instance's constructor, which would keep the constructor's context (`this`
 * included) and so the instance alive.
 *
 * This module is browser compatible.
 * @module
 */
import { releaseWhenGone } from '@mem/types';
import type { Freelist } from './freelist.js';
import type { WorkerCache } from './worker-cache.js';

/**
 * Arranges that, if `owner` is garbage-collected (or, with a `cache`, its worker exits normally)
 * before the returned function is called, `cache` is flushed to `global` and `unpublish` is
 * called (after collection only). The returned function cancels both; `close()` calls it.
 * Cost: O(1).
 */
export function whenGone(
  owner: object,
  cache: WorkerCache | undefined,
  global: Freelist,
  unpublish: () => void,
): () => void {
  return releaseWhenGone(owner, {
    ...(cache === undefined ? {} : { atExit: () => cache.flush(global) }),
    afterCollection: () => {
      cache?.flush(global);
      // The caller's code, last: if it throws, the cache is back already.
      unpublish();
    },
  });
}
