/**
 * Worker side of the lifecycle tests: attaches to a shared arena or pool, takes something (a chunk,
 * a pin), reports it, and then either ends normally without closing or blocks until terminated.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { collectUntil } from '@mem/testkit/collect-garbage';
import {
  SharedArenaPool,
  SharedEpochArena,
  decodeHandle,
  type SharedArenaPoolDescriptor,
  type SharedEpochArenaDescriptor,
} from './index.js';

export interface LifecycleTask {
  readonly arena?: SharedEpochArenaDescriptor;
  readonly pool?: SharedArenaPoolDescriptor;
  /**
   * 'exit': end normally without closing; 'block': wait until terminated; 'leak': drop a guard
   * with an `onGuardLeak` that throws, and collect garbage until it runs.
   */
  readonly ending: 'exit' | 'block' | 'leak';
}

export interface LifecycleReport {
  /** Byte offset of the worker's allocation (in its chunk) in an arena. */
  readonly offset?: number;
  /** The epoch the worker pinned in a pool. */
  readonly pinned?: number;
}

/** Pins in its own frame and drops the guard without releasing it. */
function leakAGuard(pool: SharedArenaPool): void {
  pool.pin();
}

async function leak(task: LifecycleTask): Promise<void> {
  const pool = SharedArenaPool.attach(task.pool!, {
    leakDetection: 'paranoid',
    onGuardLeak: () => {
      throw new Error('onGuardLeak failed');
    },
  });
  leakAGuard(pool);
  held.push(pool);
  parentPort!.postMessage({ pinned: pool.currentEpoch } satisfies LifecycleReport);
  await collectUntil(() => false, { attempts: 200 });
}

function run(task: LifecycleTask): void {
  if (task.ending === 'leak') {
    void leak(task);
    return;
  }
  // Kept in a module-level list so that nothing is collected before the worker ends.
  const kept: unknown[] = [];
  if (task.arena !== undefined) {
    const arena = SharedEpochArena.attach(task.arena);
    const handle = arena.allocateCopy(new Uint8Array(8).fill(7));
    kept.push(arena);
    parentPort!.postMessage({ offset: decodeHandle(handle)!.address * 8 } satisfies LifecycleReport);
  } else {
    const pool = SharedArenaPool.attach(task.pool!, { leakDetection: 'off' });
    const guard = pool.pin();
    kept.push(pool, guard);
    parentPort!.postMessage({ pinned: guard.epoch } satisfies LifecycleReport);
  }
  held.push(kept);
  if (task.ending === 'block') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

const held: unknown[] = [];
if (!isMainThread) run(workerData as LifecycleTask);
