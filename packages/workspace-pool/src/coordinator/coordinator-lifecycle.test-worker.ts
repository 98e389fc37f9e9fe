/**
 * A client thread for the lifecycle tests: it attaches, acquires `count` workspaces, stamps them,
 * pins `pinned` of them (one with pin(), the others with an access that never ends), reports
 * `{ ids }`, and then exits when the test posts 'exit' (without closing its client) or waits to be
 * terminated.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WorkspaceClient, type WorkspaceClientDescriptor } from '@mem/workspace-pool';

interface Job {
  readonly descriptor: WorkspaceClientDescriptor;
  readonly pool: string;
  readonly count: number;
  readonly pinned: number;
}

const { descriptor, pool, count, pinned } = workerData as Job;
const client = WorkspaceClient.attach(descriptor);
const ids: number[] = [];
for (let i = 0; i < count; i += 1) {
  const workspace = await client.acquire(pool, 4096);
  workspace.access((bytes) => bytes.fill(0xee));
  ids.push(workspace.id);
  if (i === 0 && pinned > 0) workspace.pin();
  else if (i < pinned) void workspace.access(() => new Promise(() => {}));
}
parentPort!.on('message', (message) => {
  if (message === 'exit') process.exit(0);
});
parentPort!.postMessage({ ids });
