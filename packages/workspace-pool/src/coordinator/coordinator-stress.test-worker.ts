/**
 * A client thread of the coordinator stress test, in one of four roles:
 *
 * - `churn`: acquires, stamps, verifies and releases workspaces at random, pins across a
 *   defragmentation, holds an access across turns of the event loop, and finally closes;
 * - `closer`: holds accesses that keep writing across turns of the event loop, closes its client
 *   in the middle of them, and keeps writing (its bytes must still be its own);
 * - `victim`: keeps writing into pinned workspaces until the test terminates it;
 * - `fuzzer`: posts malformed requests and releases of guessed leases on a raw connection.
 *
 * Every byte a client writes carries its stamp (its tag, the workspace's id, the byte's index),
 * so a byte that lands in another client's workspace shows up in that client's checks. Reports
 * `{ mismatches, checkedBytes, steps }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { seededRandom } from '@mem/testkit/seeded-random';
import { WorkspaceClient, type SharedWorkspace, type WorkspaceClientDescriptor } from '@mem/workspace-pool';
import { fuzzRequest, fuzzValue } from './protocol-fuzz.test-helper.js';

interface Job {
  readonly role: 'churn' | 'closer' | 'victim' | 'fuzzer';
  readonly descriptor: WorkspaceClientDescriptor;
  readonly pool: string;
  readonly seed: number;
  readonly tag: number;
  readonly steps: number;
}

const { role, descriptor, pool, seed, tag, steps } = workerData as Job;
const random = seededRandom(seed);
const mismatches: string[] = [];
let checkedBytes = 0;

const stampOf = (id: number, index: number): number => (tag * 61 + id * 7 + index * 13 + (index >>> 8)) & 0xff;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function stamp(workspace: SharedWorkspace, bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = stampOf(workspace.id, i);
}

function verify(workspace: SharedWorkspace, bytes: Uint8Array, when: string): void {
  for (let i = 0; i < bytes.length; i += 1) {
    if (bytes[i] !== stampOf(workspace.id, i)) {
      mismatches.push(`${role} ${tag} (seed ${seed}) ${when}: workspace #${workspace.id} byte ${i} is ${bytes[i]}`);
      return;
    }
  }
  checkedBytes += bytes.length;
}

async function churn(client: WorkspaceClient): Promise<void> {
  const held: SharedWorkspace[] = [];
  for (let step = 0; step < steps; step += 1) {
    const roll = random();
    if (roll < 0.45 || held.length === 0) {
      const workspace = await client.acquire(pool, 64 + Math.floor(random() * 6000));
      workspace.access((bytes) => stamp(workspace, bytes));
      held.push(workspace);
    } else if (roll < 0.8) {
      const [workspace] = held.splice(Math.floor(random() * held.length), 1);
      workspace!.access((bytes) => verify(workspace!, bytes, 'before release'));
      workspace!.release();
    } else if (roll < 0.9) {
      // Pinned across a defragmentation: it must not move, and keep its bytes.
      const anchor = held[Math.floor(random() * held.length)]!;
      const raw = anchor.pin();
      const place = `${anchor.segment}:${anchor.byteOffset}`;
      await client.defragment(pool);
      if (`${anchor.segment}:${anchor.byteOffset}` !== place) mismatches.push(`pinned #${anchor.id} moved`);
      verify(anchor, raw, 'pinned across a defragmentation');
      anchor.unpin();
    } else {
      // An access held across turns of the event loop while others defragment.
      const workspace = held[Math.floor(random() * held.length)]!;
      await workspace.access(async (bytes) => {
        await turn();
        verify(workspace, bytes, 'inside an access');
        stamp(workspace, bytes);
      });
    }
    if (step % 16 === 0) for (const workspace of held) workspace.access((bytes) => verify(workspace, bytes, 'sweep'));
  }
  for (const workspace of held) workspace.access((bytes) => verify(workspace, bytes, 'at the end'));
  for (const workspace of held) workspace.release();
  await client.flush();
  await client.close();
}

async function closer(client: WorkspaceClient): Promise<void> {
  const held = await Promise.all(
    Array.from({ length: 8 }, () => client.acquire(pool, 64 + Math.floor(random() * 6000))),
  );
  let closed = false;
  const writers = held.map((workspace, k) =>
    workspace.access(async (bytes) => {
      // Writes until `steps` turns after the close: its bytes must stay its own all along.
      for (let round = 0; !closed || round < steps; round += closed ? 1 : 0) {
        stamp(workspace, bytes);
        await turn();
        verify(workspace, bytes, `writing, ${closed ? `${round} turns after close` : 'before close'}, access ${k}`);
      }
    }),
  );
  for (let round = 0; round < 8; round += 1) await turn();
  await client.close(); // the accesses go on writing after this
  closed = true;
  await Promise.all(writers);
}

async function victim(client: WorkspaceClient): Promise<void> {
  const held = await Promise.all(
    Array.from({ length: 4 }, () => client.acquire(pool, 1024 + Math.floor(random() * 2048))),
  );
  for (const workspace of held) {
    void workspace.access(async (bytes) => {
      for (;;) {
        stamp(workspace, bytes);
        await turn();
      }
    });
  }
  parentPort!.postMessage({ ready: true });
  await new Promise(() => {}); // until terminated
}

async function fuzzer(): Promise<void> {
  const port = descriptor.port;
  let id = 1;
  let answered = 0;
  port.onmessage = () => (answered += 1);
  for (let step = 0; step < steps; step += 1) {
    port.postMessage(fuzzValue(random));
    port.postMessage(fuzzRequest(random, () => id++, [pool]));
    // Releases of guessed leases: other clients' (FOREIGN_HANDLE) or past ones (STALE_HANDLE).
    port.postMessage({ id: id++, op: 'release', slot: Math.floor(random() * 16), serial: Math.floor(random() * 400) });
    if (step % 8 === 0) await turn();
  }
  while (answered < 1) await turn();
  port.close();
}

if (role === 'fuzzer') {
  await fuzzer();
} else {
  const client = WorkspaceClient.attach(descriptor);
  if (role === 'churn') await churn(client);
  else if (role === 'closer') await closer(client);
  else await victim(client);
}
parentPort!.postMessage({ mismatches, checkedBytes, steps });
