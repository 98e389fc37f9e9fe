import { describe, expect, it } from 'vitest';
import { MemError } from '@mem/types';
import { type Arena, ArenaPool, EpochArena, SharedEpochArena, decodeHandle } from './index.js';

/** Builds a handle from its fields (the layout of handle-layout.ts). */
function forge(arenaId: number, generation: number, inlineLength: number, address: number): number {
  return ((arenaId << 19) | (generation << 9) | inlineLength) * 2 ** 28 + address;
}

const ACCESSORS: ReadonlyArray<readonly [string, (arena: Arena | ArenaPool, handle: number) => unknown]> = [
  ['view', (arena, handle) => arena.view(handle)],
  ['copy', (arena, handle) => arena.copy(handle)],
  ['copyTo', (arena, handle) => arena.copyTo(handle, new Uint8Array(1 << 16))],
  ['write', (arena, handle) => arena.write(handle, new Uint8Array(0))],
  ['fill', (arena, handle) => arena.fill(handle)],
  ['compare', (arena, handle) => arena.compare(handle, new Uint8Array(1))],
  ['equals', (arena, handle) => arena.equals(handle, new Uint8Array(1))],
  ['lengthOf', (arena, handle) => arena.lengthOf(handle)],
  ['epochOf', (arena, handle) => arena.epochOf(handle)],
];

function expectRejected(arena: Arena | ArenaPool, handle: unknown, code: string): void {
  for (const [name, access] of ACCESSORS) {
    let caught: unknown;
    try {
      access(arena, handle as number);
    } catch (error) {
      caught = error;
    }
    expect(caught, `${name}(${String(handle)})`).toBeInstanceOf(MemError);
    expect((caught as MemError).code, `${name}(${String(handle)})`).toBe(code);
  }
  expect(arena.isValid(handle)).toBe(false);
}

interface Subject {
  readonly name: string;
  /** Bytes past the last allocation that still count as in use (a shared arena's claimed chunk). */
  readonly slack: number;
  make(): Arena;
  other(): Arena;
}

const SUBJECTS: Subject[] = [
  {
    name: 'EpochArena',
    slack: 0,
    make: () => new EpochArena({ blockSize: 8192, id: 5 }),
    other: () => new EpochArena({ blockSize: 8192, id: 6 }),
  },
  {
    name: 'SharedEpochArena',
    slack: 1024 - 16,
    make: () => SharedEpochArena.createShared({ capacity: 1 << 16, chunkSize: 1024, id: 5 }),
    other: () => SharedEpochArena.createShared({ capacity: 1 << 16, chunkSize: 1024, id: 6 }),
  },
];

describe.each(SUBJECTS)('$name handle checks', ({ make, other, slack }) => {
  it('rejects every handle of an earlier generation with STALE_HANDLE, through every accessor', () => {
    const arena = make();
    const small = arena.allocate(16);
    const long = arena.allocate(3000);
    const key = arena.allocateKey(new Uint8Array([1, 2, 3]));
    arena.reset(1);
    for (const handle of [small, long, key]) expectRejected(arena, handle, 'STALE_HANDLE');
    // Still stale once the same addresses are handed out again.
    arena.allocate(16);
    arena.allocate(3000);
    for (const handle of [small, long, key]) expectRejected(arena, handle, 'STALE_HANDLE');
  });

  it("rejects another arena's handle with FOREIGN_HANDLE", () => {
    const arena = make();
    const foreign = other();
    arena.allocate(64);
    const handle = foreign.allocate(16);
    expectRejected(arena, handle, 'FOREIGN_HANDLE');
    expect(foreign.lengthOf(handle)).toBe(16);
  });

  it('rejects numbers that are no handle with INVALID_ARGUMENT', () => {
    const arena = make();
    arena.allocate(16);
    for (const value of [0, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 60 + 2 ** 47 * 5, Number.MAX_VALUE]) {
      expectRejected(arena, value, 'INVALID_ARGUMENT');
    }
  });

  it('rejects values of the wrong type with INVALID_ARGUMENT', () => {
    const arena = make();
    const handle = arena.allocate(16);
    for (const value of [String(handle), BigInt(handle), null, undefined, {}, [handle], { valueOf: () => handle }]) {
      expectRejected(arena, value, 'INVALID_ARGUMENT');
    }
  });

  it('rejects a fraction of a real handle', () => {
    const arena = make();
    const handle = arena.allocate(16);
    expectRejected(arena, handle + 0.5, 'INVALID_ARGUMENT');
  });

  it('rejects forged handles beyond the bytes in use with INVALID_ARGUMENT', () => {
    const arena = make();
    const handle = arena.allocate(16);
    const { arenaId, generation, address } = decodeHandle(handle)!;
    // The same start, longer than what was used (for a shared arena: than its claimed chunk).
    expectRejected(arena, forge(arenaId, generation, 16 + slack + 8, address), 'INVALID_ARGUMENT');
    // Past the bump pointer.
    expectRejected(arena, forge(arenaId, generation, 8, address + 5000), 'INVALID_ARGUMENT');
    // A far block or offset.
    expectRejected(arena, forge(arenaId, generation, 1, 2 ** 28 - 1), 'INVALID_ARGUMENT');
  });

  it('rejects a forged long length whose header is missing or does not match', () => {
    const arena = make();
    arena.allocate(64);
    const handle = arena.allocate(64);
    const { arenaId, generation, address } = decodeHandle(handle)!;
    expectRejected(arena, forge(arenaId, generation, 511, address), 'INVALID_ARGUMENT');
    // A real long allocation whose header was overwritten through the block's buffer.
    const long = arena.allocate(1000);
    const view = arena.view(long);
    new Uint8Array(view.buffer, view.byteOffset - 8, 4).set([1, 0, 0, 0]);
    expectRejected(arena, long, 'INVALID_ARGUMENT');
  });

  it('rejects a generation that has not happened yet with INVALID_ARGUMENT', () => {
    const arena = make();
    const handle = arena.allocate(16);
    const { arenaId, address } = decodeHandle(handle)!;
    expectRejected(arena, forge(arenaId, 7, 16, address), 'INVALID_ARGUMENT');
  });

  it('rejects arena id 0, which no arena has, with INVALID_ARGUMENT', () => {
    const arena = make();
    const handle = arena.allocate(16);
    const { generation, address } = decodeHandle(handle)!;
    expectRejected(arena, forge(0, generation, 16, address), 'INVALID_ARGUMENT');
  });

  it('accepts a handle only while it is live, and the check is repeatable', () => {
    const arena = make();
    const handle = arena.allocate(16);
    expect(arena.isValid(handle)).toBe(true);
    expect(arena.isValid(handle)).toBe(true);
    expect(arena.lengthOf(handle)).toBe(16);
  });

  it('detects a stale handle for 1023 resets; at exactly 1024 the 10-bit tag repeats (documented limit)', () => {
    const arena = make();
    const handle = arena.allocate(16);
    for (let epoch = 1; epoch < 1024; epoch += 1) {
      arena.reset(epoch);
      arena.allocate(16);
      expect(arena.isValid(handle)).toBe(false);
    }
    arena.reset(1024);
    arena.allocate(16);
    expect(arena.isValid(handle)).toBe(true);
  });
});

describe('SharedEpochArena range checks', () => {
  it('without chunks, rejects a forged length even one byte past the last allocation', () => {
    const arena = SharedEpochArena.createShared({ capacity: 1 << 16, chunkSize: 0 });
    const handle = arena.allocate(16);
    const { arenaId, generation, address } = decodeHandle(handle)!;
    expectRejected(arena, forge(arenaId, generation, 17, address), 'INVALID_ARGUMENT');
  });

  it('with chunks, range-checks against the bytes claimed by chunks (the documented slack)', () => {
    const arena = SharedEpochArena.createShared({ capacity: 1 << 16, chunkSize: 1024 });
    const handle = arena.allocate(16);
    const { arenaId, generation, address } = decodeHandle(handle)!;
    expect(arena.lengthOf(forge(arenaId, generation, 500, address))).toBe(500);
    expectRejected(arena, forge(arenaId, generation, 8, address + 1024 / 8), 'INVALID_ARGUMENT');
  });
});

describe('handle checks across arenas with equal ids', () => {
  it('cannot tell arenas with the same id apart, but still range-checks the handle', () => {
    const first = new EpochArena({ id: 9, blockSize: 8192 });
    const second = new EpochArena({ id: 9, blockSize: 8192 });
    const handle = first.allocate(100);
    // Same id and generation: only the range check stands between the handle and second's bytes.
    expect(() => second.view(handle)).toThrowError(MemError);
    second.allocate(200);
    expect(second.lengthOf(handle)).toBe(100);
  });
});

describe('ArenaPool handle checks', () => {
  it("rejects handles of reclaimed epochs with STALE_HANDLE and other pools' handles with FOREIGN_HANDLE", () => {
    const pool = new ArenaPool({ ringSize: 2 });
    const other = new ArenaPool({ ringSize: 2 });
    const handle = pool.allocate(16);
    const foreign = other.allocate(16);
    expectRejected(pool, foreign, 'FOREIGN_HANDLE');
    pool.advanceEpoch();
    expect(pool.lengthOf(handle)).toBe(16);
    pool.advanceEpoch();
    expectRejected(pool, handle, 'STALE_HANDLE');
    expectRejected(pool, 1.5, 'INVALID_ARGUMENT');
    expectRejected(pool, 'x', 'INVALID_ARGUMENT');
    expect(() => pool.arenaOf(handle)).toThrowError(expect.objectContaining({ code: 'STALE_HANDLE' }));
  });

  it('routes a handle to the arena that issued it', () => {
    const pool = new ArenaPool({ ringSize: 3 });
    const first = pool.allocateCopy(new Uint8Array([1]));
    pool.advanceEpoch();
    const second = pool.allocateCopy(new Uint8Array([2]));
    expect(pool.arenaOf(first)).not.toBe(pool.arenaOf(second));
    expect([...pool.view(first)]).toEqual([1]);
    expect([...pool.view(second)]).toEqual([2]);
    expect(pool.epochOf(first)).toBe(0);
    expect(pool.epochOf(second)).toBe(1);
  });
});
