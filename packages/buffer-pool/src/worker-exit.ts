/**
 * What a pool instance leaves to be done if it goes away without `close()`: its local cache goes
 * back to the global freelists (shared pools), as Netty's PoolThreadCache does on thread exit, and its
 * metrics collector is unregistered.
 *
 * - Normal exit of a Node worker (its event loop drains, or it calls `process.exit()`): a single
 *   `process.on('exit')` listener returns the cache of every shared pool instance of the worker
 *   that is still open.
 * - A pool instance that is garbage-collected without `close()`: a FinalizationRegistry returns
 *   its cache and unregisters its collector.
 * - `worker.terminate()` runs no JavaScript in the worker, so nothing can run: close the pool (or
 *   call `flush()`) in the worker before terminating it. Browsers have no exit event either.
 *
 * What these hold must not reach the instance, or the instance could never be collected: they
 * hold a {@link Farewell}, a record of the cache, the freelist and the collector's unregister
 * function (none of which refers to the instance), built here rather than by a closure in the
 * instance's constructor (a closure there would keep the constructor's context, `this` included).
 *
 * The runtime is feature-detected through `globalThis.process`, so this module loads in browsers.
 *
 * This module is browser compatible.
 * @module
 */
import type { Freelist } from './freelist.js';
import type { WorkerCache } from './worker-cache.js';

/** What is left to do for an instance that went away. */
interface Farewell {
  /** The local cache to return to `global` (a shared pool's), or `undefined`. */
  readonly cache: WorkerCache | undefined;
  readonly global: Freelist;
  /** Unregisters the instance's metrics collector. */
  readonly unpublish: () => void;
}

/** Farewells of open shared instances, run if the worker exits. */
const atExit = new Set<Farewell>();
let listening = false;

function returnCache(farewell: Farewell): void {
  farewell.cache?.flush(farewell.global);
}

const afterCollection = new FinalizationRegistry<Farewell>((farewell) => {
  atExit.delete(farewell);
  returnCache(farewell);
  // The caller's code, last: if it throws, the cache is back already.
  farewell.unpublish();
});

function listenForExit(): void {
  if (listening) return;
  listening = true;
  const runtime = (globalThis as { process?: { on?: unknown } }).process;
  if (typeof runtime?.on !== 'function') return;
  (runtime.on as (event: string, listener: () => void) => void).call(runtime, 'exit', () => {
    for (const farewell of atExit) {
      try {
        returnCache(farewell);
      } catch {
        // Exiting: one failed return must not keep the others from running.
      }
    }
    atExit.clear();
  });
}

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
  const farewell: Farewell = { cache, global, unpublish };
  if (cache !== undefined) {
    listenForExit();
    atExit.add(farewell);
  }
  const token = {};
  afterCollection.register(owner, farewell, token);
  return () => {
    atExit.delete(farewell);
    afterCollection.unregister(token);
  };
}
