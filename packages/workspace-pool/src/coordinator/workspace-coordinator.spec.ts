import { existsSync, readdirSync, statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { startWorker } from '@mem/testkit';
import { MemError } from '@mem/types';
import { describe, expect, it } from 'vitest';
import {
  codeOf,
  coordinatorWorkerSource as workerSource,
  sharedCoordinator,
  useCoordinators,
  waitUntil,
} from './coordinator.test-helper.js';
import { checkMemoryMap } from '../pool-invariants.test-helper.js';
import type { SharedWorkspace } from './shared-workspace.js';
import { WorkspaceClient } from './workspace-client.js';
import { WorkspaceConfig } from '../workspace-config.js';
import { WorkspaceCoordinator } from './workspace-coordinator.js';
import type { WorkspaceLogEntry } from '../workspace-pool-options.js';
import { serveWorkspaceCoordinator } from './coordinator-host.js';

const KiB = 1024;
const start = useCoordinators(() => startWorker(workerSource));
/** One coordinator for the tests that leave their pool as they found it, a pool each. */
const shared = sharedCoordinator({
  worker: () => startWorker(workerSource),
  pools: { nested: { initialSize: 64 * KiB }, flush: { initialSize: 64 * KiB }, access: { initialSize: 256 * KiB } },
});

describe('WorkspaceCoordinator', () => {
  it('lends workspaces of a pool run in a worker, as views of shared memory', async () => {
    const coordinator = await start();
    expect(coordinator.pools).toEqual(['activations']);
    const workspace = await coordinator.acquire('activations', 1000, { label: 'qkv' });
    expect(workspace).toMatchObject({ pool: 'activations', size: 1000, capacity: 1024, label: 'qkv' });
    const bytes = workspace.pin();
    expect(bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(bytes.length).toBe(1000);
    bytes.fill(7);
    expect(workspace.view(Float32Array).length).toBe(250);
    workspace.unpin();
    expect(workspace.access((view) => view[999])).toBe(7);
    const stats = await coordinator.stats('activations');
    expect(stats).toMatchObject({ liveWorkspaces: 1, bytesRequested: 1000, acquisitions: 1 });
    workspace.release();
    await coordinator.flush();
    expect((await coordinator.stats('activations')).liveWorkspaces).toBe(0);
  });

  it('runs several pools and keeps them apart', async () => {
    const coordinator = await start({
      pools: { a: { initialSize: 64 * KiB }, b: WorkspaceConfig.smallModel() },
    });
    await coordinator.acquire('a', 100);
    await coordinator.acquire('b', 100);
    await coordinator.acquire('b', 100);
    expect((await coordinator.stats('a')).liveWorkspaces).toBe(1);
    expect((await coordinator.stats('b')).liveWorkspaces).toBe(2);
    expect((await coordinator.snapshot('b')).segments[0]!.kind).toBe('shared-array-buffer');
  });

  it('answers a defragmentation with the real report, and moved workspaces keep their bytes', async () => {
    const logs: WorkspaceLogEntry[] = [];
    const coordinator = await start({ logger: (entry) => logs.push(entry) });
    const all = [];
    for (let i = 0; i < 16; i += 1) {
      const workspace = await coordinator.acquire('activations', 8 * KiB);
      workspace.access((bytes) => bytes.fill(i + 1));
      all.push(workspace);
    }
    all.filter((_, i) => i % 2 === 0).forEach((workspace) => workspace.release());
    const kept = all.filter((_, i) => i % 2 === 1);
    const pinned = kept[3]!;
    const raw = pinned.pin();
    const place = pinned.byteOffset;
    const offsets = kept.map((workspace) => workspace.byteOffset);
    const report = await coordinator.defragment('activations');
    expect(report.outcome).toBe('compacted');
    expect(report.reclaimedBytes).toBeGreaterThan(0);
    expect(report.workspacesMoved).toBeGreaterThan(0);
    expect(report.pinnedWorkspaces).toBe(1);
    expect(pinned.byteOffset).toBe(place);
    expect(raw.every((byte) => byte === 8)).toBe(true);
    pinned.unpin();
    expect(kept.map((workspace) => workspace.byteOffset)).not.toEqual(offsets);
    kept.forEach((workspace, k) =>
      expect(workspace.access((bytes) => bytes.every((byte) => byte === 2 * k + 2))).toBe(true),
    );
    const snapshot = await coordinator.snapshot('activations');
    checkMemoryMap(snapshot);
    for (const workspace of kept) {
      expect(snapshot.segments[0]!.blocks.find((block) => block.owner === workspace.id)!.offset).toBe(
        workspace.byteOffset,
      );
    }
    await coordinator.flush();
    expect(logs.map((entry) => entry.event)).toContain('defragment');
    expect(logs.find((entry) => entry.event === 'defragment')!.report!.reclaimedBytes).toBe(report.reclaimedBytes);
  });

  it('takes back the workspaces of a client that closes (pinned ones once unpinned); its handles then fail with STALE_HANDLE', async () => {
    const coordinator = await start();
    const client = WorkspaceClient.attach(coordinator.descriptor());
    const workspace = await client.acquire('activations', 512);
    await client.acquire('activations', 512);
    workspace.pin();
    expect((await coordinator.stats('activations')).liveWorkspaces).toBe(2);
    await client.close();
    expect(client.closed).toBe(true);
    expect((await coordinator.stats('activations')).liveWorkspaces).toBe(1); // the pinned one stays lent
    expect(await codeOf(() => workspace.pin())).toBe('STALE_HANDLE');
    expect(await codeOf(() => client.acquire('activations', 64))).toBe('USE_AFTER_RELEASE');
    workspace.unpin();
    await waitUntil('the pinned workspace is back', async () => {
      return (await coordinator.stats('activations')).liveWorkspaces === 0;
    });
    await client.close(); // twice: nothing
  });

  it('tells clients which expansion segments were released', async () => {
    const coordinator = await start({ pools: { p: { initialSize: 64 * KiB, maxSize: 4 << 20 } } });
    const big = await coordinator.acquire('p', 512 * KiB);
    expect(big.segment).toBe(1);
    big.release();
    const report = await coordinator.defragment('p');
    expect(report.segmentsReleased).toBe(1);
    expect((await coordinator.stats('p')).segments).toBe(1);
    const again = await coordinator.acquire('p', 512 * KiB); // a new segment, index 2
    expect(again.segment).toBe(2);
    expect(again.access((bytes) => bytes.length)).toBe(512 * KiB);
  });

  it('rejects bad requests with the pool errors, and keeps serving', async () => {
    const coordinator = await start({ maxWorkspaces: 2 });
    expect(await codeOf(() => coordinator.acquire('nope', 64))).toBe('NOT_FOUND');
    expect(await codeOf(() => coordinator.acquire(42 as never, 64))).toBe('INVALID_ARGUMENT');
    for (const size of [-1, 0, NaN, Infinity, 1.5, '64', null]) {
      expect(await codeOf(() => coordinator.acquire('activations', size as never))).toBe('INVALID_ARGUMENT');
    }
    expect(await codeOf(() => coordinator.acquire('activations', 2 ** 40))).toBe('OVERSIZED');
    expect(await codeOf(() => coordinator.acquire('activations', 64, null as never))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(() => coordinator.acquire('activations', 64, { label: 1 as never }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(() => coordinator.defragment('activations', { throwIfBlocked: 1 as never }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(() => coordinator.stats('nope'))).toBe('NOT_FOUND');
    expect(await codeOf(() => coordinator.snapshot(undefined as never))).toBe('INVALID_ARGUMENT');
    const a = await coordinator.acquire('activations', 64);
    const b = await coordinator.acquire('activations', 64);
    expect(await codeOf(() => coordinator.acquire('activations', 64))).toBe('LIMIT_EXCEEDED'); // two lease slots
    expect((await coordinator.stats('activations')).liveWorkspaces).toBe(2);
    expect(await codeOf(() => a.unpin())).toBe('INVALID_ARGUMENT');
    expect(await codeOf(() => a.view(Float32Array))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(() => a.access('fill' as never))).toBe('INVALID_ARGUMENT');
    a.pin();
    expect(await codeOf(() => a.release())).toBe('PINNED');
    expect(await codeOf(() => a.view(Array as never))).toBe('INVALID_ARGUMENT');
    a.unpin();
    a.release();
    expect(await codeOf(() => a.release())).toBe('DOUBLE_FREE');
    expect(await codeOf(() => a.pin())).toBe('USE_AFTER_RELEASE');
    b.release();
    await coordinator.flush();
    expect((await coordinator.stats('activations')).liveWorkspaces).toBe(0);
    const c = await coordinator.acquire('activations', 64);
    expect(c.access((bytes) => bytes.length)).toBe(64);
  });

  it('nests pins: a workspace stays pinned, and in place, until its last unpin', async () => {
    const coordinator = await shared();
    const all = await Promise.all(Array.from({ length: 3 }, () => coordinator.acquire('nested', 16 * KiB)));
    all[0]!.release();
    all[2]!.release();
    const nested = all[1]!; // alone, above a hole
    nested.pin();
    nested.pin();
    expect(nested.pinCount).toBe(2);
    const place = nested.byteOffset;
    nested.unpin();
    expect(nested.pinned).toBe(true);
    expect((await coordinator.defragment('nested')).pinnedWorkspaces).toBe(1);
    expect(nested.byteOffset).toBe(place);
    nested.unpin();
    expect(nested.pinned).toBe(false);
    expect((await coordinator.defragment('nested')).workspacesMoved).toBeGreaterThan(0);
    expect(nested.byteOffset).not.toBe(place);
    nested.release();
    await coordinator.flush();
  });

  it('throws from flush() the first error a release met, once (flush USE_AFTER_RELEASE)', async () => {
    const coordinator = await shared();
    const descriptor = coordinator.descriptor();
    const client = WorkspaceClient.attach(descriptor);
    const workspace = await client.acquire('flush', 64);
    // A disconnect behind the client's back: the coordinator takes back every lease but the pinned one.
    workspace.pin();
    const disconnected = new Promise((resolve) =>
      descriptor.port.addEventListener('message', ({ data }) => {
        if ((data as { id?: unknown }).id === -1) resolve(data);
      }),
    );
    descriptor.port.postMessage({ id: -1, op: 'disconnect' });
    await disconnected;
    workspace.unpin();
    workspace.release(); // sent: the coordinator answers USE_AFTER_RELEASE
    expect(await codeOf(() => client.flush())).toBe('USE_AFTER_RELEASE');
    expect(await codeOf(() => client.flush())).toBe('no error');
    await client.close();
  });

  it('passes on what the function of access() throws or rejects with, and drops its pin (access)', async () => {
    const coordinator = await shared();
    const workspace = await coordinator.acquire('access', 64);
    const failure = new Error('kernel failed');
    expect(() =>
      workspace.access(() => {
        throw failure;
      }),
    ).toThrow(failure);
    expect(workspace.pinned).toBe(false);
    await expect(workspace.access(() => Promise.reject(failure))).rejects.toBe(failure);
    expect(workspace.pinned).toBe(false);
    expect((await coordinator.stats('access')).pinnedWorkspaces).toBe(0);
    workspace.release();
  });

  it('lets the function of access() call every method of its workspace and client: it works or throws a MemError', async () => {
    const coordinator = await shared();
    const client = WorkspaceClient.attach(coordinator.descriptor());
    const other = await client.acquire('access', 64);
    const reentries: [string, (workspace: SharedWorkspace) => unknown, string][] = [
      ['pin', (workspace) => workspace.pin(), 'done'], // a nested pin, still held after the access
      ['unpin', (workspace) => workspace.unpin(), 'done'],
      ['access', (workspace) => workspace.access((bytes) => bytes.length), 'done'],
      ['view', (workspace) => workspace.view(Float32Array), 'done'],
      ['segment and byteOffset', (workspace) => workspace.segment + workspace.byteOffset, 'done'],
      ['release', (workspace) => workspace.release(), 'PINNED'],
      ['release of another', () => other.release(), 'done'],
      ['acquire', () => client.acquire('access', 64), 'done'],
      ['defragment', () => client.defragment('access'), 'done'],
      ['stats and snapshot', () => Promise.all([client.stats('access'), client.snapshot('access')]), 'done'],
      ['flush', () => client.flush(), 'done'],
      ['close', () => client.close(), 'done'],
    ];
    for (const [name, reenter, expected] of reentries) {
      const workspace = await client.acquire('access', 256);
      let outcome = 'done';
      await workspace.access(async (bytes) => {
        bytes.fill(5);
        try {
          await reenter(workspace);
        } catch (error) {
          outcome = MemError.is(error) ? error.code : String(error);
        }
      });
      expect(outcome, name).toBe(expected);
      if (name === 'pin') workspace.unpin(); // the pin it took is its own to drop
      expect(workspace.pinned, name).toBe(false);
      if (!client.closed) {
        expect(
          workspace.access((bytes) => bytes.every((byte) => byte === 5)),
          name,
        ).toBe(true);
        expect((await client.stats('access')).pinnedWorkspaces, name).toBe(0);
      }
    }
    await waitUntil('every workspace is back', async () => {
      return (await coordinator.stats('access')).liveWorkspaces === 0;
    });
  });

  it('lets its logger call back into the coordinator: every method works or rejects with a MemError', async () => {
    const reentries: [string, (coordinator: WorkspaceCoordinator) => Promise<unknown> | unknown][] = [
      ['acquire', (coordinator) => coordinator.acquire('activations', 64)],
      ['defragment', (coordinator) => coordinator.defragment('activations')],
      ['stats', (coordinator) => coordinator.stats('activations')],
      ['snapshot', (coordinator) => coordinator.snapshot('activations')],
      ['flush', (coordinator) => coordinator.flush()],
      ['connect', (coordinator) => WorkspaceClient.attach(coordinator.descriptor()).close()],
      ['close', (coordinator) => coordinator.close()],
    ];
    const outcomes: string[] = [];
    let next = 0;
    const running: Promise<void>[] = [];
    const coordinator: WorkspaceCoordinator = await start({
      logger: () => {
        const reentry = reentries[next++];
        if (reentry === undefined) return;
        running.push(
          Promise.resolve()
            .then(() => reentry[1](coordinator))
            .then(
              () => outcomes.push(`${reentry[0]}: done`),
              (error: unknown) => outcomes.push(`${reentry[0]}: ${MemError.is(error) ? error.code : String(error)}`),
            )
            .then(() => undefined),
        );
      },
    });
    while (next < reentries.length) {
      await coordinator.defragment('activations'); // each logs an entry
      await Promise.all(running);
    }
    await Promise.all(running);
    expect(outcomes).toEqual(reentries.map(([name]) => `${name}: done`));
    expect(coordinator.closed).toBe(true);
  });

  it('refuses to defragment past pins when asked to throw', async () => {
    const coordinator = await start();
    const all = await Promise.all(Array.from({ length: 4 }, () => coordinator.acquire('activations', 16 * KiB)));
    all[0]!.release();
    all[2]!.release();
    all[1]!.pin();
    all[3]!.pin();
    expect(await codeOf(() => coordinator.defragment('activations', { throwIfBlocked: true }))).toBe('PINNED');
    expect((await coordinator.defragment('activations')).outcome).toBe('blocked-by-pins');
  });

  it('fails requests once closed, and the handles of its workspaces', async () => {
    const coordinator = await start();
    const workspace = await coordinator.acquire('activations', 64);
    await coordinator.close();
    expect(await codeOf(() => coordinator.stats('activations'))).toBe('USE_AFTER_RELEASE');
    expect(await codeOf(() => coordinator.descriptor())).toBe('USE_AFTER_RELEASE');
    expect(await codeOf(() => workspace.release())).toBe('STALE_HANDLE');
    await coordinator.close(); // twice: nothing
  });
});

describe('WorkspaceCoordinator.createShared', () => {
  const worker = (): Worker => startWorker(workerSource);
  it.each<[string, unknown]>([
    ['no options', undefined],
    ['a worker that is not a function', { worker: 'coordinator.js', pools: { a: {} } }],
    ['no pools', { worker, pools: {} }],
    ['pools that are not an object', { worker, pools: 'a' }],
    ['a bad pool configuration', { worker, pools: { a: { initialSize: -1 } } }],
    ['an empty pool name', { worker, pools: { '': {} } }],
    ['a zero maxWorkspaces', { worker, pools: { a: {} }, maxWorkspaces: 0 }],
    ['a fractional maxWorkspaces', { worker, pools: { a: {} }, maxWorkspaces: 1.5 }],
    ['a huge maxWorkspaces', { worker, pools: { a: {} }, maxWorkspaces: 2 ** 40 }],
    ['a NaN start timeout', { worker, pools: { a: {} }, startTimeoutMs: NaN }],
    ['a logger that is not a function', { worker, pools: { a: {} }, logger: 1 }],
  ])('rejects %s with INVALID_ARGUMENT before starting a worker', async (_, options) => {
    expect(await codeOf(() => WorkspaceCoordinator.createShared(options as never))).toBe('INVALID_ARGUMENT');
  });

  it('rejects a worker factory that returns no worker', async () => {
    expect(
      await codeOf(() => WorkspaceCoordinator.createShared({ worker: () => ({}) as never, pools: { a: {} } })),
    ).toBe('INVALID_ARGUMENT');
  });

  it('passes on the error of a worker that could not create its pools, and terminates it', async () => {
    const failing = new URL('./failing-coordinator.test-worker.ts', import.meta.url);
    let worker: Worker | undefined;
    const error = await WorkspaceCoordinator.createShared({
      worker: () => (worker = startWorker(failing)),
      pools: { a: {} },
    }).catch((caught: unknown) => caught);
    expect(MemError.is(error, 'EXHAUSTED')).toBe(true);
    expect((error as MemError).message).toBe('no memory for pool a');
    expect(worker!.threadId).toBe(-1); // terminated
  });

  it('answers an init it cannot honour with a failure, in the worker', async () => {
    const channel = new MessageChannel();
    const replies: unknown[] = [];
    let listener: ((data: unknown) => void) | undefined;
    serveWorkspaceCoordinator({
      postMessage: (message: unknown) => replies.push(message),
      on: (_event: string, handler: (data: unknown) => void) => (listener = handler),
    } as never);
    listener!({ kind: 'init', pools: { a: { initialSize: -1 } }, maxWorkspaces: 4, port: channel.port2 });
    expect(replies).toEqual([
      {
        kind: 'failed',
        error: expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/initialSize/) }),
      },
    ]);
    channel.port1.close();
    channel.port2.close();
  });

  it('gives up on a worker that never answers', async () => {
    const silent = new URL('./silent.test-worker.ts', import.meta.url);
    const starting = WorkspaceCoordinator.createShared({
      worker: () => startWorker(silent),
      pools: { a: {} },
      startTimeoutMs: 300,
    });
    expect(await codeOf(() => starting)).toBe('USE_AFTER_RELEASE');
  });

  it('makes every pool shared, whatever its preset says', async () => {
    const coordinator = await start({ pools: { a: WorkspaceConfig.smallModel(), b: { backing: 'wasm-memory' } } });
    expect((await coordinator.snapshot('a')).segments[0]!.kind).toBe('shared-array-buffer');
    const b = await coordinator.snapshot('b');
    expect(b.segments[0]!.kind).toBe('wasm-memory');
    const workspace = await coordinator.acquire('b', 64);
    expect(workspace.access((bytes) => bytes.buffer instanceof SharedArrayBuffer)).toBe(true);
  });

  it('rejects descriptors that do not come from descriptor()', () => {
    expect(() => WorkspaceClient.attach({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => WorkspaceClient.attach(null as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => serveWorkspaceCoordinator(null as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});

describe('the built worker entry', () => {
  const dist = new URL('../../dist/node/coordinator.worker.js', import.meta.url);
  const sources = new URL('../', import.meta.url);
  // Only meaningful against a build at least as new as the sources (npm test builds first).
  const fresh =
    existsSync(dist) &&
    readdirSync(sources, { recursive: true })
      .map(String)
      .filter((file) => file.endsWith('.ts') && !file.includes('.spec.') && !file.includes('.test-'))
      .every((file) => {
        const built = new URL(`../../dist/${file.replace(/\.ts$/, '.js')}`, import.meta.url);
        return existsSync(built) && statSync(new URL(file, sources)).mtimeMs <= statSync(built).mtimeMs;
      });

  it.runIf(fresh)('starts from dist with a plain Node worker and serves requests', async () => {
    // A plain worker, as in production: no source condition, so @mem/types resolves to its build too.
    const coordinator = await start({ worker: () => new Worker(dist, { execArgv: [] }) });
    const workspace = await coordinator.acquire('activations', 100);
    expect(workspace.access((bytes) => bytes.length)).toBe(100);
    expect((await coordinator.defragment('activations')).outcome).toBe('already-compact');
  });
});
