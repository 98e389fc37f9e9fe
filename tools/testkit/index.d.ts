import type { TransferListItem, Worker, WorkerOptions } from 'node:worker_threads';

/** Starts a worker from a `.ts` or `.js` module URL, resolving siblings from source. */
export declare function startWorker(moduleUrl: URL, options?: WorkerOptions): Worker;
/** Runs a worker and resolves with the first message it posts; rejects on error or early exit. */
export declare function runWorker<T = unknown>(
  moduleUrl: URL,
  workerData: unknown,
  options?: { transferList?: TransferListItem[] },
): Promise<T>;
/** Runs one worker per entry of `workerDatas` at once and resolves with their answers in order. */
export declare function runWorkers<T = unknown>(moduleUrl: URL, workerDatas: unknown[]): Promise<T[]>;
