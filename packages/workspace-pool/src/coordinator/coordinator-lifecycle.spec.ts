/**
 * The lifecycle of the coordinator's shared objects: a client that closes, exits, is terminated,
 * is dropped, or loses its coordinator; what its handles do after; and that a lease taken back
 * never lets its old handle touch the slot's next lease.
 */
import { startWorker } from '@mem/testkit';
import { collectUntil } from '@mem/testkit/collect-garbage';
import { describe, expect, it } from 'vitest';
import {
  codeOf,
  coordinatorWorkerSource,
  sharedCoordinator,
  useCoordinators,
  waitUntil,
} from './coordinator.test-helper.js';
import { checkMemoryMap } from '../pool-invariants.test-helper.js';
import type { WorkspaceClientDescriptor } from './client-descriptor.js';
import type { SharedWorkspace } from './shared-workspace.js';
import { WorkspaceClient } from './workspace-client.js';
import type { WorkspaceCoordinator } from './workspace-coordinator.js';

const lifecycleSource = new URL('./coordinator-lifecycle.test-worker.ts', import.meta.url);
const coordinatorWorker = (): ReturnType<typeof startWorker> => startWorker(coordinatorWorkerSource);
const start = useCoordinators(coordinatorWorker);
const pool = { initialSize: 64 * 1024, maxSize: 1 << 20 };
/** One coordinator for the tests that leave it as they found it: a pool each. */
const sharedByTests = sharedCoordinator({
  worker: coordinatorWorker,
  pools: { closes: pool, inFlight: pool, exits: pool, terminated: pool, dropped: pool },
});
/** Two lease slots, for the tests that need a slot to be reused; each gives every lease back. */
const twoSlots = sharedCoordinator({ worker: coordinatorWorker, pools: { activations: pool }, maxWorkspaces: 2 });

async function live(coordinator: WorkspaceCoordinator, name = 'activations'): Promise<number> {
  return (await coordinator.stats(name)).liveWorkspaces;
}

async function pinned(coordinator: WorkspaceCoordinator, name = 'activations'): Promise<number> {
  return (await coordinator.stats(name)).pinnedWorkspaces;
}

/** Every use of a handle whose lease is gone, by name, with the code it throws. */
async function usesOf(workspace: SharedWorkspace): Promise<Record<string, string | undefined>> {
  return {
    pin: await codeOf(() => workspace.pin()),
    access: await codeOf(() => workspace.access(() => 0)),
    view: await codeOf(() => workspace.view(Uint8Array)),
    segment: await codeOf(() => workspace.segment),
    byteOffset: await codeOf(() => workspace.byteOffset),
    release: await codeOf(() => workspace.release()),
  };
}

const allStale = {
  pin: 'STALE_HANDLE',
  access: 'STALE_HANDLE',
  view: 'STALE_HANDLE',
  segment: 'STALE_HANDLE',
  byteOffset: 'STALE_HANDLE',
  release: 'STALE_HANDLE',
};

describe('a client that closes', () => {
  it('makes every use of its handles (pin, unpin, access, view, segment, byteOffset, release) fail with STALE_HANDLE', async () => {
    const coordinator = await sharedByTests();
    const client = WorkspaceClient.attach(coordinator.descriptor());
    const idle = await client.acquire('closes', 512);
    const held = await client.acquire('closes', 512);
    held.pin();
    await client.close();
    expect(client.closed).toBe(true);
    expect(await usesOf(idle)).toEqual(allStale);
    expect(await codeOf(() => idle.unpin())).toBe('STALE_HANDLE');
    expect(idle.stale).toBe(true);
    expect(idle.released).toBe(false);
    expect(() => idle[Symbol.dispose]()).not.toThrow(); // `using` leaves it alone
    // A pin taken before the close can still be dropped, and only that.
    expect(await codeOf(() => held.view(Uint8Array))).toBe('STALE_HANDLE');
    expect(await codeOf(() => held.pin())).toBe('STALE_HANDLE');
    held.unpin();
    expect(await codeOf(() => held.unpin())).toBe('STALE_HANDLE');
    expect(await usesOf(held)).toEqual(allStale);
    await waitUntil('both workspaces are back', async () => (await live(coordinator, 'closes')) === 0);
  });

  it('keeps the bytes of an access still running for it, then gives them back; the next lease of the slot is untouched', async () => {
    const coordinator = await twoSlots();
    const client = WorkspaceClient.attach(coordinator.descriptor());
    const workspace = await client.acquire('activations', 4096);
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const running = workspace.access(async (bytes) => {
      await gate;
      bytes.fill(0xaa); // after close(): its bytes are still its own
      return bytes.length;
    });
    await client.close();
    expect(await live(coordinator)).toBe(1);
    expect(await pinned(coordinator)).toBe(1);
    const next = await coordinator.acquire('activations', 4096);
    next.access((bytes) => bytes.fill(0x55));
    finish();
    expect(await running).toBe(4096);
    await waitUntil('the closed client’s workspace is back', async () => (await live(coordinator)) === 1);
    expect(await pinned(coordinator)).toBe(0);
    // Its slot serves a new lease, and nothing the old handle did reaches it or the other one.
    const again = await coordinator.acquire('activations', 4096);
    again.access((bytes) => bytes.fill(0x33));
    expect(next.access((bytes) => bytes.every((byte) => byte === 0x55))).toBe(true);
    expect(again.access((bytes) => bytes.every((byte) => byte === 0x33))).toBe(true);
    expect(await codeOf(() => workspace.pin())).toBe('STALE_HANDLE');
    expect((await coordinator.defragment('activations')).pinnedWorkspaces).toBe(0);
    checkMemoryMap(await coordinator.snapshot('activations'));
    next.release();
    again.release();
    await coordinator.flush();
  });

  it('answers an acquire in flight with a handle that is stale at once, and takes the workspace back', async () => {
    const coordinator = await sharedByTests();
    const client = WorkspaceClient.attach(coordinator.descriptor());
    const acquiring = client.acquire('inFlight', 256);
    const closing = client.close();
    expect(client.close()).toBe(closing); // twice: the same close
    const workspace = await acquiring;
    expect(workspace.stale).toBe(true);
    await closing;
    expect(await codeOf(() => client.acquire('inFlight', 64))).toBe('USE_AFTER_RELEASE');
    expect(await codeOf(() => client.stats('inFlight'))).toBe('USE_AFTER_RELEASE');
    expect(await live(coordinator, 'inFlight')).toBe(0);
  });
});

describe('a lease taken back with its pin', () => {
  it('never lets its old handle unpin, pin or read the slot’s next lease', async () => {
    const coordinator = await twoSlots();
    const filler = await coordinator.acquire('activations', 64); // one slot left: the next lease reuses it
    const descriptor = coordinator.descriptor();
    const client = WorkspaceClient.attach(descriptor);
    const old = await client.acquire('activations', 4096);
    const raw = old.pin();
    descriptor.port.close(); // as if the client's thread had ended: the coordinator takes all back
    await waitUntil('the lease is back', async () => (await live(coordinator)) === 1);
    expect(client.closed).toBe(true);
    const next = await coordinator.acquire('activations', 4096);
    const nextRaw = next.pin();
    old.unpin(); // the old holder's late unpin
    expect(await pinned(coordinator)).toBe(1); // the next holder's pin is intact
    next.unpin();
    expect(await pinned(coordinator)).toBe(0);
    expect(await codeOf(() => old.pin())).toBe('STALE_HANDLE');
    expect(await codeOf(() => old.byteOffset)).toBe('STALE_HANDLE');
    expect(await codeOf(() => old.segment)).toBe('STALE_HANDLE');
    expect(await codeOf(() => old.release())).toBe('STALE_HANDLE');
    expect(raw.byteLength).toBe(nextRaw.byteLength);
    expect(next.access((bytes) => bytes.length)).toBe(4096);
    expect((await coordinator.defragment('activations')).pinnedWorkspaces).toBe(0);
    next.release();
    filler.release();
    await coordinator.flush();
  });
});

describe('a client thread that goes away', () => {
  async function clientThread(
    coordinator: WorkspaceCoordinator,
    name: string,
  ): Promise<{
    worker: ReturnType<typeof startWorker>;
    ids: number[];
  }> {
    const descriptor = coordinator.descriptor();
    const worker = startWorker(lifecycleSource, {
      workerData: { descriptor, pool: name, count: 4, pinned: 2 },
      transferList: [descriptor.port as never],
    });
    const { ids } = await new Promise<{ ids: number[] }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    return { worker, ids };
  }

  it('gives its workspaces back when it exits without closing its client, pinned ones included', async () => {
    const coordinator = await sharedByTests();
    const { worker, ids } = await clientThread(coordinator, 'exits');
    expect(ids).toHaveLength(4);
    expect(await live(coordinator, 'exits')).toBe(4);
    expect(await pinned(coordinator, 'exits')).toBe(2);
    worker.postMessage('exit');
    await waitUntil('every workspace is back', async () => (await live(coordinator, 'exits')) === 0);
    expect(await pinned(coordinator, 'exits')).toBe(0);
    checkMemoryMap(await coordinator.snapshot('exits'));
  });

  it('gives its workspaces back when terminate() stops it while it pins them', async () => {
    const coordinator = await sharedByTests();
    const { worker } = await clientThread(coordinator, 'terminated');
    expect(await pinned(coordinator, 'terminated')).toBe(2);
    await worker.terminate();
    await waitUntil('every workspace is back', async () => (await live(coordinator, 'terminated')) === 0);
    // Its memory serves others, and moves again.
    const workspace = await coordinator.acquire('terminated', 4096);
    expect(workspace.access((bytes) => bytes.length)).toBe(4096);
    expect((await coordinator.defragment('terminated')).pinnedWorkspaces).toBe(0);
    checkMemoryMap(await coordinator.snapshot('terminated'));
  });
});

describe('a client dropped without close()', () => {
  let collected = 0;
  const registry = new FinalizationRegistry(() => (collected += 1));

  /** Attaches a client, lets `use` have one of its workspaces, and drops the client. */
  async function attachAndDrop<T>(
    descriptor: WorkspaceClientDescriptor,
    use: (workspace: SharedWorkspace) => T,
  ): Promise<T> {
    const client = WorkspaceClient.attach(descriptor);
    registry.register(client, 'client');
    return use(await client.acquire('dropped', 1024));
  }

  it('is collected once idle, and its workspaces go back as close() would give them', async () => {
    const coordinator = await sharedByTests();
    const before = collected;
    await attachAndDrop(coordinator.descriptor(), (workspace) => void workspace.access((bytes) => bytes.fill(1)));
    await collectUntil(() => collected > before);
    expect(collected).toBe(before + 1);
    await waitUntil('its workspace is back', async () => (await live(coordinator, 'dropped')) === 0);
  });

  it('is kept while it pins a workspace, so that a view from pin() never outlives its lease', async () => {
    const coordinator = await sharedByTests();
    const descriptor = coordinator.descriptor();
    const before = collected;
    const raw = await attachAndDrop(descriptor, (workspace) => workspace.pin());
    await collectUntil(() => collected > before, { attempts: 5 });
    expect(collected).toBe(before);
    raw.fill(2); // still its own bytes
    expect(await live(coordinator, 'dropped')).toBe(1);
    expect(await pinned(coordinator, 'dropped')).toBe(1);
    descriptor.port.close(); // what the end of its thread does
    await waitUntil('its workspace is back', async () => (await live(coordinator, 'dropped')) === 0);
  });
});

describe('a client whose coordinator goes away', () => {
  it('fails requests with USE_AFTER_RELEASE and its handles with STALE_HANDLE when the coordinator closes', async () => {
    const coordinator = await start();
    const client = WorkspaceClient.attach(coordinator.descriptor());
    const workspace = await client.acquire('activations', 256);
    const raw = workspace.pin();
    raw.fill(9);
    await coordinator.close();
    await waitUntil('the client sees it', () => client.closed);
    expect(await codeOf(() => client.acquire('activations', 64))).toBe('USE_AFTER_RELEASE');
    expect(await codeOf(() => client.defragment('activations'))).toBe('USE_AFTER_RELEASE');
    expect(await codeOf(() => client.snapshot('activations'))).toBe('USE_AFTER_RELEASE');
    expect(raw[255]).toBe(9); // a view taken before stays readable
    workspace.unpin();
    expect(await usesOf(workspace)).toEqual(allStale);
    await client.close();
  });

  it('does the same when the coordinator’s worker dies', async () => {
    const coordinator = await start();
    const client = WorkspaceClient.attach(coordinator.descriptor());
    const workspace = await client.acquire('activations', 256);
    const own = await coordinator.acquire('activations', 256);
    await start.worker().terminate();
    await waitUntil('both clients see it', () => client.closed && coordinator.closed);
    expect(await codeOf(() => coordinator.stats('activations'))).toBe('USE_AFTER_RELEASE');
    expect(await codeOf(() => coordinator.descriptor())).toBe('USE_AFTER_RELEASE');
    expect(await usesOf(workspace)).toEqual(allStale);
    expect(await usesOf(own)).toEqual(allStale);
  });
});
