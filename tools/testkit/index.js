import { Worker } from 'node:worker_threads';

const SOURCE_CONDITION = '--conditions=@mem/source';
// Process-wide V8 flags that a worker's execArgv rejects (ERR_WORKER_INVALID_EXEC_ARGV); the bench runs with them.
const PROCESS_ONLY_FLAGS = new Set(['--expose-gc', '--expose_gc']);

/**
 * Starts a worker_threads worker from a module URL. A `.ts` module cannot be loaded by a Node 20
 * worker directly (not even with `--import tsx`), so it is started from an `eval` bootstrap that
 * registers tsx's ESM hooks inside the worker and then imports the module. The worker resolves
 * sibling packages from source through the `@mem/source` condition, as the tests do.
 *
 * @param {URL} moduleUrl the worker module (`new URL('./x.test-worker.ts', import.meta.url)`)
 * @param {import('node:worker_threads').WorkerOptions} [options]
 * @returns {Worker}
 */
export function startWorker(moduleUrl, options = {}) {
  const inherited = (options.execArgv ?? process.execArgv).filter((flag) => !PROCESS_ONLY_FLAGS.has(flag));
  const execArgv = [...inherited, SOURCE_CONDITION];
  if (!moduleUrl.pathname.endsWith('.ts')) {
    return new Worker(moduleUrl, { ...options, execArgv });
  }
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(moduleUrl.href)}); })
  .catch((error) => { process.nextTick(() => { throw error; }); });`;
  return new Worker(bootstrap, { ...options, eval: true, execArgv });
}

/**
 * Runs a worker to completion and resolves with the first message it posts.
 * Rejects if the worker throws, or exits (with any code) before posting.
 *
 * @template T
 * @param {URL} moduleUrl
 * @param {unknown} workerData
 * @param {{ transferList?: import('node:worker_threads').TransferListItem[] }} [options]
 * @returns {Promise<T>}
 */
export function runWorker(moduleUrl, workerData, options = {}) {
  return new Promise((resolve, reject) => {
    const worker = startWorker(moduleUrl, { workerData, transferList: options.transferList });
    let settled = false;
    worker.once('message', (message) => {
      settled = true;
      resolve(message);
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`worker ${moduleUrl.href} exited with code ${code} before answering`));
    });
  });
}

/**
 * Runs several workers at once and resolves with their answers in order.
 *
 * @template T
 * @param {URL} moduleUrl
 * @param {unknown[]} workerDatas one entry per worker
 * @returns {Promise<T[]>}
 */
export function runWorkers(moduleUrl, workerDatas) {
  return Promise.all(workerDatas.map((data) => runWorker(moduleUrl, data)));
}
