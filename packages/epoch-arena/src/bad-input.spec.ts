import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import type { MemErrorCode } from '@mem/types';
import { ArenaKey, ArenaPool, SharedArenaPool, EpochArena, SharedEpochArena } from './index.js';

/** The values every numeric argument is tried with (DESIGN.md's bad-input matrix). */
const NOT_A_SIZE: unknown[] = [-1, -0.5, 1.5, NaN, Infinity, -Infinity, '8', null, {}, [], 8n, true];
const NOT_BYTES: unknown[] = [
  undefined,
  null,
  'abc',
  [1, 2],
  new Uint16Array(2),
  new ArrayBuffer(4),
  new DataView(new ArrayBuffer(4)),
  5,
];

/** Runs every bad call on a fresh subject, checks its code and that the subject is unchanged and still works. */
function checkMatrix<T extends { stats(): unknown }>(
  make: () => T,
  calls: ReadonlyArray<readonly [string, (subject: T) => unknown, MemErrorCode]>,
  stillWorks: (subject: T) => void,
): void {
  for (const [name, call, code] of calls) {
    const subject = make();
    stillWorks(subject);
    const before = JSON.stringify(subject.stats());
    expectMemError(() => call(subject), code, name);
    expect(JSON.stringify(subject.stats()), `${name} changed the state`).toBe(before);
    stillWorks(subject);
  }
}

function arenaWorks(arena: EpochArena | SharedEpochArena): void {
  const handle = arena.allocateCopy(new Uint8Array([1, 2, 3]));
  expect([...arena.view(handle)]).toEqual([1, 2, 3]);
}

type ArenaCall<T> = readonly [string, (arena: T) => unknown, MemErrorCode];

function arenaCalls<T extends EpochArena | SharedEpochArena>(): Array<ArenaCall<T>> {
  const calls: Array<ArenaCall<T>> = [];
  for (const value of NOT_A_SIZE) {
    calls.push([`allocate(${String(value)})`, (arena) => arena.allocate(value as number), 'INVALID_ARGUMENT']);
  }
  calls.push(['allocate(2^31 + 8)', (arena) => arena.allocate(2 ** 31 + 8), 'OVERSIZED']);
  calls.push(['allocate(2^53)', (arena) => arena.allocate(2 ** 53), 'INVALID_ARGUMENT']);
  for (const align of [0, 3, -8, 1.5, NaN, Infinity, 8192, '8', null]) {
    calls.push([`allocate(8, ${String(align)})`, (arena) => arena.allocate(8, align as number), 'INVALID_ARGUMENT']);
  }
  for (const value of NOT_BYTES) {
    calls.push([
      `allocateCopy(${String(value)})`,
      (arena) => arena.allocateCopy(value as Uint8Array),
      'INVALID_ARGUMENT',
    ]);
    calls.push([
      `allocateKey(${String(value)})`,
      (arena) => arena.allocateKey(value as Uint8Array),
      'INVALID_ARGUMENT',
    ]);
  }
  calls.push(['allocateKey(257 bytes)', (arena) => arena.allocateKey(new Uint8Array(257)), 'OVERSIZED']);
  for (const epoch of [-1, 1.5, NaN, Infinity, '2', null, 2 ** 53, 2n]) {
    calls.push([`reset(${String(epoch)})`, (arena) => arena.reset(epoch as number), 'INVALID_ARGUMENT']);
  }
  for (const options of ['x', 5, null, { retainBlocks: -1 }, { retainBlocks: 1.5 }, { retainBlocks: 'all' }]) {
    calls.push([
      `reset(1, ${JSON.stringify(options)})`,
      (arena) => arena.reset(1, options as object),
      'INVALID_ARGUMENT',
    ]);
  }
  return calls;
}

/** Calls that take a live handle plus a bad second argument; the handle is made before the state is recorded. */
function accessorCalls(): Array<
  readonly [string, (arena: EpochArena | SharedEpochArena, handle: number) => unknown, MemErrorCode]
> {
  const calls: Array<
    readonly [string, (arena: EpochArena | SharedEpochArena, handle: number) => unknown, MemErrorCode]
  > = [];
  for (const value of NOT_BYTES) {
    calls.push([
      `copyTo(h, ${String(value)})`,
      (arena, handle) => arena.copyTo(handle, value as Uint8Array),
      'INVALID_ARGUMENT',
    ]);
    calls.push([
      `write(h, ${String(value)})`,
      (arena, handle) => arena.write(handle, value as Uint8Array),
      'INVALID_ARGUMENT',
    ]);
    calls.push([
      `compare(h, ${String(value)})`,
      (arena, handle) => arena.compare(handle, value as Uint8Array),
      'INVALID_ARGUMENT',
    ]);
    calls.push([
      `equals(h, ${String(value)})`,
      (arena, handle) => arena.equals(handle, value as Uint8Array),
      'INVALID_ARGUMENT',
    ]);
  }
  for (const offset of [...NOT_A_SIZE, 5, 2 ** 53]) {
    calls.push([
      `copyTo(h, target, ${String(offset)})`,
      (arena, handle) => arena.copyTo(handle, new Uint8Array(8), offset as number),
      'INVALID_ARGUMENT',
    ]);
    calls.push([
      `write(h, one byte, ${String(offset)})`,
      (arena, handle) => arena.write(handle, new Uint8Array(1), offset as number),
      'INVALID_ARGUMENT',
    ]);
  }
  calls.push(['copyTo(h, too short)', (arena, handle) => arena.copyTo(handle, new Uint8Array(3)), 'INVALID_ARGUMENT']);
  calls.push(['write(h, too long)', (arena, handle) => arena.write(handle, new Uint8Array(5)), 'INVALID_ARGUMENT']);
  for (const value of [-1, 256, 1.5, NaN, Infinity, '0', null]) {
    calls.push([
      `fill(h, ${String(value)})`,
      (arena, handle) => arena.fill(handle, value as number),
      'INVALID_ARGUMENT',
    ]);
  }
  return calls;
}

describe('bad input: EpochArena', () => {
  it('refuses bad constructor options with INVALID_ARGUMENT', () => {
    const bad: unknown[] = [
      'options',
      5,
      null,
      [],
      ...[-1, 1.5, NaN, Infinity, '1', 2 ** 53].map((epoch) => ({ epoch })),
      ...[0, -1, 1000, 4096, 2 ** 25, NaN, Infinity, 1.5, '8192'].map((blockSize) => ({ blockSize })),
      ...[-1, NaN, 1.5, Infinity, '1'].map((allocationLimit) => ({ allocationLimit })),
      ...[-1, 1.5, NaN, '2'].map((retainBlocks) => ({ retainBlocks })),
      ...[0, 64, -1, 1.5, '3'].map((id) => ({ id })),
    ];
    for (const options of bad) {
      expectMemError(
        () => new EpochArena(options as object),
        'INVALID_ARGUMENT',
        JSON.stringify(options) ?? String(options),
      );
    }
  });

  it('refuses bad arguments to every allocation entry point, unchanged and still working after', () => {
    checkMatrix(() => new EpochArena({ blockSize: 8192 }), arenaCalls<EpochArena>(), arenaWorks);
  });

  it('refuses bad second arguments to every accessor, unchanged and still working after', () => {
    for (const [name, call, code] of accessorCalls()) {
      const arena = new EpochArena();
      const handle = arena.allocateCopy(new Uint8Array([5, 6, 7, 8]));
      const before = JSON.stringify(arena.stats());
      expectMemError(() => call(arena, handle), code, name);
      expect(JSON.stringify(arena.stats())).toBe(before);
      expect([...arena.view(handle)]).toEqual([5, 6, 7, 8]);
      arenaWorks(arena);
    }
  });

  it('refuses a bad allocation limit with INVALID_ARGUMENT and keeps the old one', () => {
    const arena = new EpochArena({ allocationLimit: 1 << 22 });
    for (const limit of [-1, NaN, 1.5, Infinity, '5', undefined]) {
      expectMemError(() => arena.setAllocationLimit(limit as number), 'INVALID_ARGUMENT');
      expect(arena.allocationLimit).toBe(1 << 22);
    }
    arenaWorks(arena);
  });
});

describe('bad input: SharedEpochArena', () => {
  it('refuses bad create options with INVALID_ARGUMENT', () => {
    const bad: unknown[] = [
      undefined,
      null,
      'options',
      {},
      ...[-1, 0, 63, NaN, Infinity, 1.5, 2 ** 31, '1024'].map((capacity) => ({ capacity })),
      ...[100, 3000, -1, 2 ** 21, NaN, '0'].map((chunkSize) => ({ capacity: 4096, chunkSize })),
      ...[0, 257, 1.5, NaN].map((maxAttachments) => ({ capacity: 4096, maxAttachments })),
      ...[-1, NaN, '1'].map((allocationLimit) => ({ capacity: 4096, allocationLimit })),
      ...[-1, 1.5, NaN].map((epoch) => ({ capacity: 4096, epoch })),
      ...[0, 64].map((id) => ({ capacity: 4096, id })),
    ];
    for (const options of bad) {
      expectMemError(
        () => SharedEpochArena.createShared(options as never),
        'INVALID_ARGUMENT',
        JSON.stringify(options) ?? String(options),
      );
    }
  });

  it('refuses bad arguments to every allocation entry point, unchanged and still working after', () => {
    checkMatrix(
      () => SharedEpochArena.createShared({ capacity: 1 << 16, chunkSize: 1024 }),
      arenaCalls<SharedEpochArena>(),
      arenaWorks,
    );
  });

  it('refuses bad second arguments to every accessor', () => {
    for (const [name, call, code] of accessorCalls()) {
      const arena = SharedEpochArena.createShared({ capacity: 4096 });
      const handle = arena.allocateCopy(new Uint8Array([5, 6, 7, 8]));
      expectMemError(() => call(arena, handle), code, name);
      expect([...arena.view(handle)]).toEqual([5, 6, 7, 8]);
    }
  });
});

describe('bad input: ArenaPool', () => {
  it('refuses bad constructor options with INVALID_ARGUMENT', () => {
    const bad: unknown[] = [
      'options',
      7,
      null,
      ...[0, 33, -1, 1.5, NaN, Infinity, '4'].map((ringSize) => ({ ringSize })),
      ...[-1, 1.5, NaN, '0'].map((initialEpoch) => ({ initialEpoch })),
      { ringSize: 4, maxArenas: 4 },
      { maxArenas: 64 },
      { maxArenas: 1.5 },
      { blockSize: 1000 },
      { allocationLimit: -1 },
      { retainBlocks: NaN },
    ];
    for (const options of bad) {
      expectMemError(
        () => new ArenaPool(options as object),
        'INVALID_ARGUMENT',
        JSON.stringify(options) ?? String(options),
      );
    }
  });

  it('refuses bad createShared options and bad descriptors with INVALID_ARGUMENT', () => {
    for (const options of [
      undefined,
      null,
      {},
      { capacity: -1 },
      { capacity: 4096, spareArenas: -1 },
      { capacity: 4096, spareArenas: 63 },
      { capacity: 4096, ringSize: 0 },
    ]) {
      expectMemError(
        () => SharedArenaPool.createShared(options as never),
        'INVALID_ARGUMENT',
        JSON.stringify(options) ?? 'undefined',
      );
    }
    const pool = SharedArenaPool.createShared({ capacity: 4096, ringSize: 1 });
    const good = pool.descriptor();
    for (const descriptor of [
      undefined,
      null,
      1,
      {},
      { ...good, kind: 'x' },
      { ...good, version: 0 },
      { ...good, state: new SharedArrayBuffer(8) },
      { ...good, arenas: [] },
      { ...good, arenas: [{}, {}] },
    ]) {
      expectMemError(() => SharedArenaPool.attach(descriptor as never), 'INVALID_ARGUMENT');
    }
    // A failed attach leaves no attachment behind.
    expect(pool.stats().arenas.map((arena) => (arena.arena as { attachments?: number }).attachments)).toEqual([1, 1]);
    pool.close();
  });

  it('refuses bad epochs to pin and isEpochValid, unchanged and still working after', () => {
    const calls: Array<readonly [string, (pool: ArenaPool) => unknown, MemErrorCode]> = [];
    for (const epoch of [-1, 1.5, NaN, Infinity, '0', null, 2 ** 53, 0n]) {
      calls.push([`pin(${String(epoch)})`, (pool) => pool.pin(epoch as number), 'INVALID_ARGUMENT']);
      calls.push([`isEpochValid(${String(epoch)})`, (pool) => pool.isEpochValid(epoch as number), 'INVALID_ARGUMENT']);
    }
    calls.push(['pin(a future epoch)', (pool) => pool.pin(5), 'INVALID_ARGUMENT']);
    calls.push(['allocate(-1)', (pool) => pool.allocate(-1), 'INVALID_ARGUMENT']);
    calls.push(['allocateKey(300 bytes)', (pool) => pool.allocateKey(new Uint8Array(300)), 'OVERSIZED']);
    calls.push(['allocateCopy("x")', (pool) => pool.allocateCopy('x' as never), 'INVALID_ARGUMENT']);
    calls.push(['local().allocate(NaN)', (pool) => pool.local().allocate(NaN), 'INVALID_ARGUMENT']);
    calls.push(['view("1")', (pool) => pool.view('1' as never), 'INVALID_ARGUMENT']);
    checkMatrix(
      () => new ArenaPool({ ringSize: 2 }),
      calls,
      (pool) => {
        const handle = pool.allocateCopy(new Uint8Array([9]));
        expect([...pool.view(handle)]).toEqual([9]);
      },
    );
  });

  it('refuses a released guard with DOUBLE_FREE and USE_AFTER_RELEASE', () => {
    const pool = new ArenaPool();
    const guard = pool.pin();
    guard.release();
    expectMemError(() => guard.release(), 'DOUBLE_FREE');
    expectMemError(() => guard.epoch, 'USE_AFTER_RELEASE');
    expect(pool.stats().activeGuards).toBe(0);
    guard[Symbol.dispose]();
    expect(pool.stats().activeGuards).toBe(0);
  });
});

describe('bad input: ArenaKey', () => {
  it('refuses a bad arena or handle', () => {
    const arena = new EpochArena();
    const other = new EpochArena();
    for (const bad of [null, undefined, {}, 5, 'arena']) {
      expectMemError(() => new ArenaKey(bad as never, arena.allocate(1)), 'INVALID_ARGUMENT');
    }
    expectMemError(() => new ArenaKey(arena, other.allocate(1)), 'FOREIGN_HANDLE');
    expectMemError(() => new ArenaKey(arena, -1), 'INVALID_ARGUMENT');
    const handle = arena.allocateKey(new Uint8Array([1]));
    const key = new ArenaKey(arena, handle);
    arena.reset(1);
    expectMemError(() => key.bytes(), 'STALE_HANDLE');
    expectMemError(() => key.equals(new Uint8Array([1])), 'STALE_HANDLE');
    expect(key.isValid()).toBe(false);
    expectMemError(() => new ArenaKey(arena, handle), 'STALE_HANDLE');
  });
});
