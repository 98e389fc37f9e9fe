/**
 * Returning a worker's local cache when the worker goes away, as the seed's thread-local caches do
 * on thread exit.
 *
 * - Normal exit of a Node worker (its event loop drains, or it calls `process.exit()`): a single
 *   `process.on('exit')` listener flushes every shared pool instance of the worker that is still open.
 * - A pool instance that is garbage-collected without `close()`: a FinalizationRegistry flushes its
 *   cache (the cache and the freelist are held apart from the instance, so they outlive it).
 * - `worker.terminate()` runs no JavaScript in the worker, so nothing can run: close the pool (or
 *   call `flush()`) in the worker before terminating it. Browsers have no exit event either.
 *
 * The runtime is feature-detected through `globalThis.process`, so this module loads in browsers.
 *
 * This module is browser compatible.
 * @module
 */

const atExit = new Set<() => void>();
let listening = false;

const afterCollection = new FinalizationRegistry<() => void>((flush) => {
  atExit.delete(flush);
  flush();
});

function listenForExit(): void {
  if (listening) return;
  listening = true;
  const runtime = (globalThis as { process?: { on?: unknown } }).process;
  if (typeof runtime?.on !== 'function') return;
  (runtime.on as (event: string, listener: () => void) => void).call(runtime, 'exit', () => {
    for (const flush of atExit) {
      try {
        flush();
      } catch {
        // Exiting: one failed flush must not keep the others from running.
      }
    }
    atExit.clear();
  });
}

/**
 * Runs `flush` when this worker exits normally, or when `owner` is garbage-collected, whichever
 * comes first; returns the function that cancels both. `flush` must not reference `owner`.
 * Cost: O(1).
 */
export function flushWhenGone(owner: object, flush: () => void): () => void {
  listenForExit();
  atExit.add(flush);
  const token = {};
  afterCollection.register(owner, flush, token);
  return () => {
    atExit.delete(flush);
    afterCollection.unregister(token);
  };
}
