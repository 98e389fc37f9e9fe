/**
 * Releasing what an attached shared object holds when it goes away without being detached: at a
 * normal exit of its worker, or when it is garbage-collected.
 *
 * - Normal exit of a Node worker (its event loop drains, or it calls `process.exit()`): one
 *   `process.on('exit')` listener runs every pending release of the worker.
 * - An instance that is garbage-collected without `detach()`: a FinalizationRegistry runs its
 *   release (what the release needs is held apart from the instance, so it outlives it).
 * - `worker.terminate()` runs no JavaScript in the worker, so nothing can run: detach in the worker
 *   before terminating it. Browsers have no exit event either.
 *
 * The runtime is feature-detected through `globalThis.process`, so this module loads in browsers.
 *
 * This module is browser compatible.
 * @module
 */

const atExit = new Set<() => void>();
let listening = false;

const afterCollection = new FinalizationRegistry<() => void>((release) => {
  atExit.delete(release);
  release();
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
 * Runs `release` when this worker exits normally, or when `owner` is garbage-collected, whichever
 * comes first; returns the function that cancels both (call it from an explicit detach).
 * `release` must not reference `owner`. Cost: O(1).
 */
export function releaseWhenGone(owner: object, release: () => void): () => void {
  listenForExit();
  atExit.add(release);
  const token = {};
  afterCollection.register(owner, release, token);
  return () => {
    atExit.delete(release);
    afterCollection.unregister(token);
  };
}
