import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { ArenaPool, EpochArena, SharedEpochArena, type ArenaHandle } from './index.js';

/** A Uint8Array whose `length` property understates the bytes it views. */
class ShortLength extends Uint8Array {
  override get length(): number {
    return 0;
  }
}

/** The bytes of a view after the transfer of its buffer: none, and `set` refuses it. */
function detachedView(): Uint8Array {
  const view = new Uint8Array(16).fill(1);
  structuredClone(view.buffer, { transfer: [view.buffer] });
  return view;
}

type Arena = EpochArena | SharedEpochArena;

const arenas: [string, () => Arena][] = [
  ['EpochArena', () => new EpochArena({ blockSize: 8192 })],
  ['SharedEpochArena with chunks', () => SharedEpochArena.createShared({ capacity: 1 << 22, chunkSize: 1024 })],
  ['SharedEpochArena without chunks', () => SharedEpochArena.createShared({ capacity: 1 << 22, chunkSize: 0 })],
];

/** Allocations around the one under test, to see that none of their bytes change. */
function neighbours(arena: Arena): { check(): void } {
  const kept: [ArenaHandle, number][] = [];
  for (let i = 0; i < 20; i += 1) kept.push([arena.allocateCopy(new Uint8Array(24).fill(100 + i)), 100 + i]);
  return {
    check() {
      for (const [handle, byte] of kept) expect(arena.view(handle).every((value) => value === byte)).toBe(true);
    },
  };
}

describe('byte sources that do not say what they hold', () => {
  for (const [name, make] of arenas) {
    it(`${name}: write refuses a source longer than its length says with INVALID_ARGUMENT; no neighbour changes`, () => {
      const arena = make();
      const target = arena.allocate(8);
      const around = neighbours(arena);
      expectMemError(() => arena.write(target, new ShortLength(64).fill(9)), 'INVALID_ARGUMENT');
      around.check();
    });

    it(`${name}: allocateCopy and allocateKey of such a source never write past their own free space`, () => {
      const arena = make();
      const around = neighbours(arena);
      for (let i = 0; i < 200; i += 1) {
        const source = new ShortLength(i % 2 === 0 ? 64 : 4000).fill(7);
        for (const copy of [() => arena.allocateCopy(source), () => arena.allocateKey(source)]) {
          try {
            const handle = copy();
            const mine = arena.allocateCopy(new Uint8Array([1, 2, 3])); // lands where the extra bytes went
            expect([...arena.view(mine)]).toEqual([1, 2, 3]);
            expect(arena.isValid(handle)).toBe(true);
          } catch (error) {
            expect(['INVALID_ARGUMENT', 'OVERSIZED']).toContain((error as { code?: string }).code);
          }
        }
      }
      around.check();
    });

    it(`${name}: allocateCopy, allocateKey and write refuse a proxy of a Uint8Array with INVALID_ARGUMENT`, () => {
      const arena = make();
      const target = arena.allocate(8);
      const proxy = new Proxy(new Uint8Array(8), {});
      expectMemError(() => arena.allocateCopy(proxy), 'INVALID_ARGUMENT');
      expectMemError(() => arena.allocateKey(proxy), 'INVALID_ARGUMENT');
      expectMemError(() => arena.write(target, proxy), 'INVALID_ARGUMENT');
      expectMemError(() => arena.allocateCopy(Object.create(Uint8Array.prototype) as Uint8Array), 'INVALID_ARGUMENT');
    });

    it(`${name}: a view whose buffer was transferred copies as empty and writes nothing`, () => {
      const arena = make();
      const target = arena.allocateCopy(new Uint8Array([4, 5]));
      expect(arena.lengthOf(arena.allocateCopy(detachedView()))).toBe(0);
      expect(arena.lengthOf(arena.allocateKey(detachedView()))).toBe(0);
      arena.write(target, detachedView());
      expect([...arena.view(target)]).toEqual([4, 5]);
      expect(arena.compare(target, detachedView())).toBe(1);
    });
  }

  it('a shared arena copy never reaches the chunk of the worker next to it', () => {
    const arena = SharedEpochArena.createShared({ capacity: 1 << 16, chunkSize: 1024 });
    const other = SharedEpochArena.attach(arena.descriptor());
    const first = arena.allocate(8); // this instance's chunk: [0, 1024)
    const theirs = other.allocateCopy(new Uint8Array(16).fill(42)); // the other's chunk: [1024, 2048)
    expect(arena.view(theirs).byteOffset - arena.view(first).byteOffset).toBe(1024);
    for (let i = 0; i < 4; i += 1) arena.allocate(248); // leaves 24 bytes of this chunk
    expectMemError(() => arena.allocateCopy(new ShortLength(200).fill(9)), 'INVALID_ARGUMENT');
    expect([...arena.view(theirs)]).toEqual(new Array(16).fill(42));
    other.close();
  });

  it('ArenaPool.allocateCopy goes through the same checks', () => {
    const pool = new ArenaPool();
    expectMemError(() => pool.allocateCopy(new Proxy(new Uint8Array(2), {})), 'INVALID_ARGUMENT');
    expect(pool.lengthOf(pool.allocateCopy(detachedView()))).toBe(0);
  });
});
