/**
 * A client thread of the coordinator tests: it attaches to a coordinator from the descriptor it
 * is given, churns workspaces of its pool (each filled with its own pattern while pinned), asks for
 * defragmentations, checks every workspace it holds after each step, and reports what it saw.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WorkspaceClient, type SharedWorkspace, type WorkspaceClientDescriptor } from '@mem/workspace-pool';

interface Job {
  readonly descriptor: WorkspaceClientDescriptor;
  readonly pool: string;
  readonly steps: number;
  readonly seed: number;
}

const { descriptor, pool, steps, seed } = workerData as Job;
let state = seed;
const next = (): number => {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return state / 2 ** 32;
};
const pattern = (id: number, index: number): number => (id * 131 + index * 7 + seed) & 0xff;

const client = WorkspaceClient.attach(descriptor);
const held: SharedWorkspace[] = [];
let checkedBytes = 0;
let moved = 0;
let defragmentations = 0;
const mismatches: string[] = [];

function check(workspace: SharedWorkspace): void {
  workspace.access((bytes) => {
    for (let i = 0; i < bytes.length; i += 1) {
      if (bytes[i] !== pattern(workspace.id, i)) {
        mismatches.push(`workspace #${workspace.id} byte ${i}: ${bytes[i]} instead of ${pattern(workspace.id, i)}`);
        return;
      }
    }
    checkedBytes += bytes.length;
  });
}

for (let step = 0; step < steps; step += 1) {
  const roll = next();
  if (roll < 0.5 || held.length === 0) {
    const workspace = await client.acquire(pool, 64 + Math.floor(next() * 6000));
    workspace.access((bytes) => {
      for (let i = 0; i < bytes.length; i += 1) bytes[i] = pattern(workspace.id, i);
    });
    held.push(workspace);
  } else if (roll < 0.85) {
    const [workspace] = held.splice(Math.floor(next() * held.length), 1);
    check(workspace!);
    workspace!.release();
  } else {
    // Hold one workspace pinned across the defragmentation: it must not move.
    const anchor = held[Math.floor(next() * held.length)]!;
    const raw = anchor.pin();
    const where = [anchor.segment, anchor.byteOffset];
    const report = await client.defragment(pool);
    if (anchor.segment !== where[0] || anchor.byteOffset !== where[1])
      mismatches.push(`pinned workspace #${anchor.id} moved`);
    for (let i = 0; i < raw.length; i += 1)
      if (raw[i] !== pattern(anchor.id, i)) mismatches.push(`pinned #${anchor.id} changed`);
    anchor.unpin();
    moved += report.workspacesMoved;
    defragmentations += 1;
  }
  if (step % 10 === 0) held.forEach(check);
}
held.forEach(check);
for (const workspace of held) workspace.release();
await client.flush();
const stats = await client.stats(pool);
await client.close();
parentPort!.postMessage({ checkedBytes, moved, defragmentations, mismatches, liveAfter: stats.liveWorkspaces });
