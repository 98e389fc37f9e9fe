/**
 * What the coordinator specs share: starting coordinators (closed after each test, or after the
 * file), the code of a call's MemError, and bounded waits for what another thread does. The specs
 * pass the worker factory (the test kit's `startWorker` of {@link coordinatorWorkerSource}).
 */
import { MemError } from '@mem/types';
import { afterAll, afterEach } from 'vitest';
import { WorkspaceCoordinator, type WorkerLike, type WorkspaceCoordinatorOptions } from './workspace-coordinator.js';

/** The coordinator's worker entry, from source. */
export const coordinatorWorkerSource = new URL('../node/coordinator.worker.ts', import.meta.url);

/** One pool `activations` of 256 KiB, up to 4 MiB. */
const defaultPools = { activations: { initialSize: 256 * 1024, maxSize: 4 << 20 } };

/**
 * Returns a `start(options?)` that starts a coordinator (by default with one pool `activations`)
 * in a worker from `worker()` and closes it after the test; `start.worker()` is the worker of the
 * last one started. Call it once per spec file, at its top level.
 */
export function useCoordinators<W extends WorkerLike>(
  worker: () => W,
): ((options?: Partial<WorkspaceCoordinatorOptions>) => Promise<WorkspaceCoordinator>) & { worker(): W } {
  const started: WorkspaceCoordinator[] = [];
  let last: W | undefined;
  afterEach(async () => {
    await Promise.all(started.splice(0).map((coordinator) => coordinator.close()));
  });
  const start = async (options: Partial<WorkspaceCoordinatorOptions> = {}): Promise<WorkspaceCoordinator> => {
    const coordinator = await WorkspaceCoordinator.createShared({
      worker: () => (last = worker()),
      pools: defaultPools,
      ...options,
    });
    started.push(coordinator);
    return coordinator;
  };
  return Object.assign(start, { worker: () => last! });
}

/**
 * Returns a function that starts one coordinator with `options` on its first call, returns the
 * same one after, and closes it once the spec file is done: for tests that can share a
 * coordinator (each with its own pool, or leaving it as it found it).
 */
export function sharedCoordinator(
  options: Partial<WorkspaceCoordinatorOptions> & Pick<WorkspaceCoordinatorOptions, 'worker'>,
): () => Promise<WorkspaceCoordinator> {
  let started: Promise<WorkspaceCoordinator> | undefined;
  afterAll(async () => {
    await (await started)?.close();
  });
  return () => (started ??= WorkspaceCoordinator.createShared({ pools: defaultPools, ...options }));
}

/** The code of the MemError that `action` throws (or rejects with), `'no error'`, or what else it threw. */
export async function codeOf(action: () => Promise<unknown> | unknown): Promise<string | undefined> {
  try {
    await action();
  } catch (error) {
    return MemError.is(error) ? error.code : `not a MemError: ${String(error)}`;
  }
  return 'no error';
}

/**
 * Waits until `done()` holds, checking every few milliseconds, for at most `attempts` checks;
 * throws naming `what` if it never does. For effects that reach this thread by message.
 */
export async function waitUntil(what: string, done: () => Promise<boolean> | boolean, attempts = 2000): Promise<void> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`gave up waiting until ${what}`);
}
