/**
 * Every message port of the coordinator, fuzzed: a client's port as the worker reads it (random
 * values, malformed requests, requests from foreign and closed clients, serials from the past),
 * the worker's control port, and a client's port as the client reads it. Whatever arrives is
 * answered with a MemError or dropped, and both sides keep working. Seeds are printed on failure.
 */
import { MessageChannel, type Worker } from 'node:worker_threads';
import { startWorker } from '@mem/testkit';
import { seededRandom } from '@mem/testkit/seeded-random';
import { MemError, MemErrorCode } from '@mem/types';
import { describe, expect, it } from 'vitest';
import type { AcquireAnswer } from './coordinator-protocol.js';
import { serveWorkspaceCoordinator } from './coordinator-host.js';
import { codeOf, coordinatorWorkerSource, sharedCoordinator, waitUntil } from './coordinator.test-helper.js';
import { checkMemoryMap } from '../pool-invariants.test-helper.js';
import { fuzzRequest, fuzzValue } from './protocol-fuzz.test-helper.js';
import { WorkspaceClient } from './workspace-client.js';
import type { WorkspaceCoordinator } from './workspace-coordinator.js';

const SEEDS = [11, 12, 13];
const MESSAGES = 400;
let coordinatorWorker: Worker | undefined;
const shared = sharedCoordinator({
  worker: () => (coordinatorWorker = startWorker(coordinatorWorkerSource)),
  pools: { activations: { initialSize: 64 * 1024, maxSize: 1 << 20 }, other: { initialSize: 64 * 1024 } },
  maxWorkspaces: 64,
});

interface Answer {
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: { readonly code?: string; readonly message?: string };
}

/** Node's view of a `MessagePort`, with its `close` event. */
interface NodePort {
  on(event: 'close', listener: () => void): void;
  on(event: 'message', listener: (data: unknown) => void): void;
}

/** A raw connection to the coordinator's worker: post anything, read the answers in order. */
function rawClient(coordinator: WorkspaceCoordinator): {
  port: MessagePort;
  request(body: Record<string, unknown>): Promise<Answer>;
  answers: Answer[];
} {
  const { port } = coordinator.descriptor();
  const answers: Answer[] = [];
  const waiting = new Map<number, (answer: Answer) => void>();
  let nextId = 1_000_000;
  port.onmessage = ({ data }: MessageEvent<Answer>) => {
    answers.push(data);
    waiting.get(data.id)?.(data);
  };
  return {
    port,
    answers,
    request: (body) =>
      new Promise((resolve) => {
        const id = nextId++;
        waiting.set(id, resolve);
        port.postMessage({ ...body, id });
      }),
  };
}

async function liveIn(coordinator: WorkspaceCoordinator, pool = 'activations'): Promise<number> {
  return (await coordinator.stats(pool)).liveWorkspaces;
}

describe('a client port, as the coordinator reads it', () => {
  it.each(SEEDS)(
    'answers every request with a usable id and drops the rest, and keeps serving (seed %i)',
    async (seed) => {
      const coordinator = await shared();
      const random = seededRandom(seed);
      const raw = rawClient(coordinator);
      let id = 1;
      const answerable: number[] = [];
      for (let i = 0; i < MESSAGES; i += 1) {
        const message = random() < 0.5 ? fuzzValue(random) : fuzzRequest(random, () => id++, coordinator.pools);
        const messageId = (message as { id?: unknown } | null)?.id;
        if (typeof messageId === 'number' && Number.isSafeInteger(messageId)) answerable.push(messageId);
        raw.port.postMessage(message);
      }
      const probe = await raw.request({ op: 'stats', pool: 'activations' }); // answered after all of them
      expect(probe.ok, `seed ${seed}`).toBe(true);
      const answers = raw.answers.slice(0, -1);
      expect(
        answers.map((answer) => answer.id),
        `seed ${seed}: one answer per request with a usable id, in order`,
      ).toEqual(answerable);
      for (const answer of answers) {
        if (!answer.ok) {
          expect(Object.hasOwn(MemErrorCode, answer.error?.code ?? ''), `seed ${seed}: ${answer.error?.message}`).toBe(
            true,
          );
        }
      }
      // The leases the fuzz took are its port's; they go back when it closes, and everything works.
      raw.port.close();
      await waitUntil('the fuzzed port’s leases are back', async () => (await liveIn(coordinator)) === 0);
      const workspace = await coordinator.acquire('activations', 1000);
      expect(workspace.access((bytes) => bytes.fill(1).length)).toBe(1000);
      workspace.release();
      await coordinator.flush();
      checkMemoryMap(await coordinator.snapshot('activations'));
      checkMemoryMap(await coordinator.snapshot('other'));
      expect(await liveIn(coordinator)).toBe(0);
    },
  );

  it('refuses releases from foreign clients (FOREIGN_HANDLE) and of serials from the past (STALE_HANDLE)', async () => {
    const coordinator = await shared();
    const owner = rawClient(coordinator);
    const stranger = rawClient(coordinator);
    const lease = (await owner.request({ op: 'acquire', pool: 'activations', size: 64 })).value as AcquireAnswer;
    const { slot, serial } = lease;
    const codeOfAnswer = (answer: Answer): string | undefined => (answer.ok ? 'no error' : answer.error?.code);
    expect(codeOfAnswer(await stranger.request({ op: 'release', slot, serial }))).toBe('FOREIGN_HANDLE');
    expect(await liveIn(coordinator)).toBe(1);
    expect(codeOfAnswer(await owner.request({ op: 'release', slot, serial: serial + 1 }))).toBe('STALE_HANDLE');
    expect(codeOfAnswer(await owner.request({ op: 'release', slot: -1, serial }))).toBe('STALE_HANDLE');
    expect(codeOfAnswer(await owner.request({ op: 'release', slot: 2 ** 40, serial }))).toBe('STALE_HANDLE');
    expect(codeOfAnswer(await owner.request({ op: 'release', slot: 0.5, serial }))).toBe('INVALID_ARGUMENT');
    expect(codeOfAnswer(await owner.request({ op: 'release', slot, serial }))).toBe('no error');
    expect(codeOfAnswer(await owner.request({ op: 'release', slot, serial }))).toBe('STALE_HANDLE');
    // The slot's next lease: the old serial names nothing, the new one is not the stranger's.
    const next = (await owner.request({ op: 'acquire', pool: 'activations', size: 64 })).value as AcquireAnswer;
    expect(next.serial).not.toBe(serial);
    expect(codeOfAnswer(await owner.request({ op: 'release', slot: next.slot, serial }))).toBe('STALE_HANDLE');
    expect(codeOfAnswer(await stranger.request({ op: 'release', slot: next.slot, serial: next.serial }))).toBe(
      'FOREIGN_HANDLE',
    );
    // A client that disconnected: every later request fails, and its leases are back.
    expect(codeOfAnswer(await owner.request({ op: 'disconnect' }))).toBe('no error');
    expect(await liveIn(coordinator)).toBe(0);
    for (const body of [
      { op: 'acquire', pool: 'activations', size: 64 },
      { op: 'release', slot: next.slot, serial: next.serial },
      { op: 'stats', pool: 'activations' },
      { op: 'disconnect' },
    ]) {
      expect(codeOfAnswer(await owner.request(body)), body.op).toBe('USE_AFTER_RELEASE');
    }
    owner.port.close();
    stranger.port.close();
  });

  it('serves the port a client hands over, closes the one a closing client hands over, and drops bad ones', async () => {
    const coordinator = await shared();
    const owner = rawClient(coordinator);
    const codeOfAnswer = (answer: Answer): string | undefined => (answer.ok ? 'no error' : answer.error?.code);
    const served = new MessageChannel();
    owner.port.postMessage({ op: 'connect', port: 'not a port' });
    owner.port.postMessage({ op: 'connect' });
    owner.port.postMessage({ op: 'connect', port: served.port2 }, [served.port2]);
    const answered = new Promise<Answer>((resolve) =>
      (served.port1 as unknown as NodePort).on('message', (data) => resolve(data as Answer)),
    );
    served.port1.postMessage({ id: 1, op: 'stats', pool: 'activations' });
    expect(codeOfAnswer(await answered)).toBe('no error');
    // With an id, connect is no request: it is answered as an unknown one.
    expect(codeOfAnswer(await owner.request({ op: 'connect' }))).toBe('INVALID_ARGUMENT');
    expect(codeOfAnswer(await owner.request({ op: 'disconnect' }))).toBe('no error');
    const refused = new MessageChannel();
    let refusedClosed = false;
    (refused.port1 as unknown as NodePort).on('close', () => (refusedClosed = true));
    owner.port.postMessage({ op: 'connect', port: refused.port2 }, [refused.port2]);
    await waitUntil('the port handed over by a closing client is closed', () => refusedClosed);
    served.port1.close();
    owner.port.close();
  });

  it('ignores whatever is posted on the port of a closed client', async () => {
    const coordinator = await shared();
    const descriptor = coordinator.descriptor();
    const client = WorkspaceClient.attach(descriptor);
    await client.acquire('activations', 64);
    await client.close();
    const random = seededRandom(SEEDS[0]!);
    for (let i = 0; i < 50; i += 1) descriptor.port.postMessage(fuzzRequest(random, () => i, coordinator.pools));
    descriptor.port.postMessage({ id: 1, op: 'acquire', pool: 'activations', size: 64 });
    expect((await coordinator.stats('activations')).liveWorkspaces).toBe(0);
  });
});

describe('the coordinator worker’s control port', () => {
  it('drops malformed control messages and keeps serving', async () => {
    const coordinator = await shared();
    const random = seededRandom(SEEDS[1]!);
    const stray = new MessageChannel();
    const control = [
      null,
      undefined,
      42,
      'connect',
      { kind: 'connect' },
      { kind: 'connect', port: 'port' },
      { kind: 'connect', port: { postMessage: 1 } },
      { kind: 'init', pools: { a: {} }, maxWorkspaces: 4, port: stray.port2 }, // a second init
      ...Array.from({ length: 100 }, () => fuzzValue(random)),
    ];
    for (const message of control) {
      coordinatorWorker!.postMessage(message, message === control[7] ? [stray.port2] : []);
    }
    expect((await coordinator.stats('activations')).liveWorkspaces).toBe(0);
    const client = WorkspaceClient.attach(coordinator.descriptor());
    expect((await client.acquire('other', 64)).access((bytes) => bytes.length)).toBe(64);
    await client.close();
    stray.port1.close();
  });

  it('answers an init it cannot honour with a failure, and drops control messages it does not know', async () => {
    const replies: { kind: string; error?: { code?: string } }[] = [];
    let deliver: ((data: unknown) => void) | undefined;
    serveWorkspaceCoordinator({
      postMessage: (message: unknown) => replies.push(message as never),
      on: (_event: string, handler: (data: unknown) => void) => (deliver ??= handler),
    } as never);
    const early = new MessageChannel();
    deliver!({ kind: 'connect', port: early.port2 }); // clients connect over their own port, not here
    const channel = new MessageChannel();
    deliver!({ kind: 'init', pools: { a: {} }, maxWorkspaces: 4, port: 'not a port' });
    deliver!({ kind: 'init', pools: null, maxWorkspaces: 4, port: channel.port2 });
    deliver!({ kind: 'init', pools: { a: {} }, maxWorkspaces: 2 ** 30, port: channel.port2 });
    deliver!({ kind: 'init', pools: { a: { initialSize: 'big' } }, maxWorkspaces: 4, port: channel.port2 });
    expect(replies.map((reply) => [reply.kind, reply.error?.code])).toEqual([
      ['failed', 'INVALID_ARGUMENT'],
      ['failed', 'INVALID_ARGUMENT'],
      ['failed', 'INVALID_ARGUMENT'],
      ['failed', 'INVALID_ARGUMENT'],
    ]);
    deliver!({ kind: 'init', pools: { a: { initialSize: 4096 } }, maxWorkspaces: 4, port: channel.port2 });
    expect(replies.at(-1)!.kind).toBe('ready');
    channel.port1.close();
    early.port1.close();
  });
});

describe('a client port, as the client reads it', () => {
  it.each(SEEDS)('drops malformed answers and events, and rejects requests answered badly (seed %i)', async (seed) => {
    const random = seededRandom(seed);
    const channel = new MessageChannel();
    const client = WorkspaceClient.attach({
      kind: 'mem.workspace-pool.client',
      version: 1,
      port: channel.port1 as unknown as globalThis.MessagePort, // Node's port, typed as the web's
      leaseTable: new SharedArrayBuffer(64),
      pools: ['p'],
    });
    const requests: { id: number; op: string }[] = [];
    channel.port2.on('message', (request: { id: number; op: string }) => requests.push(request));
    // Answers to requests never made (ids far above the client's) and malformed events.
    const stray = (id: unknown): unknown => (typeof id === 'number' && Number.isSafeInteger(id) ? 2 ** 40 + id : id);
    for (let i = 0; i < MESSAGES; i += 1) {
      const value = fuzzValue(random);
      channel.port2.postMessage(
        random() < 0.3
          ? { ...(value as object), event: random() < 0.5 ? 'log' : 'segments-released' }
          : random() < 0.5
            ? { id: stray(i), ok: random() < 0.5, value, error: fuzzValue(random) }
            : typeof value === 'object' && value !== null && 'id' in value
              ? { ...value, id: stray(value.id) }
              : value,
      );
    }
    const answer = async (value: Record<string, unknown>): Promise<void> => {
      await waitUntil('the request arrives', () => requests.length > 0);
      channel.port2.postMessage({ id: requests.shift()!.id, ...value });
    };
    const stats = client.stats('p');
    await answer({ ok: false, error: fuzzValue(random) });
    expect(
      await stats.then(
        () => 'resolved',
        (error: unknown) => error instanceof Error,
      ),
    ).toBe(true);
    const unknownCode = client.stats('p');
    await answer({ ok: false, error: { code: 'NOT_A_CODE', message: 'strange' } });
    await expect(unknownCode).rejects.toThrow('strange');
    const acquired = client.acquire('p', 64);
    await answer({ ok: true, value: { slot: 'one' } });
    expect(await codeOf(() => acquired)).toBe('INVALID_ARGUMENT');
    const good = client.snapshot('p');
    await answer({ ok: true, value: { segments: [] } });
    expect(await good).toEqual({ segments: [] });
    const failed = client.defragment('p');
    await answer({ ok: false, error: { code: 'PINNED', message: 'pinned', details: 5 } });
    const error = await failed.catch((caught: unknown) => caught);
    expect(MemError.is(error, 'PINNED')).toBe(true);
    channel.port2.close();
    await waitUntil('the client sees its coordinator gone', () => client.closed);
    await client.close();
  });
});
