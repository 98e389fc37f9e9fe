import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * The gc() function: the global one under --expose-gc, or one made by turning the flag on now.
 * @returns {() => void}
 */
function getGc() {
  const exposed = globalThis.gc;
  if (typeof exposed === 'function') return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc');
}

/** Runs a full garbage collection. */
export const collectGarbage = getGc();

/**
 * Collects garbage and lets finalization tasks run (they run as tasks after a collection) until
 * `done()` holds or the attempts run out.
 *
 * @param {() => boolean} done
 * @param {{ attempts?: number, pauseMs?: number }} [options] rounds (40) and the pause after each (2 ms)
 * @returns {Promise<void>}
 */
export async function collectUntil(done, { attempts = 40, pauseMs = 2 } = {}) {
  for (let attempt = 0; attempt < attempts && !done(); attempt += 1) {
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}
