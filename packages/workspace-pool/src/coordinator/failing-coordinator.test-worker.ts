/** A coordinator worker whose pools cannot be created: it answers init with a failure. */
import { parentPort } from 'node:worker_threads';

parentPort!.on('message', () => {
  parentPort!.postMessage({
    kind: 'failed',
    error: { code: 'EXHAUSTED', message: 'no memory for pool a', details: {} },
  });
});
