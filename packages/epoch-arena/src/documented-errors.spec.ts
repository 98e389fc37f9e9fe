import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { ArenaKey, SharedArenaPool, EpochArena, SharedEpochArena } from './index.js';

/** Documented error codes that the behaviour tests elsewhere do not reach. */
describe('documented error codes', () => {
  it('Arena.view throws FOREIGN_HANDLE for a handle of another arena, in both kinds of arena', () => {
    const arenas = [new EpochArena({ id: 1 }), SharedEpochArena.createShared({ capacity: 4096, id: 2 })];
    const [first, second] = arenas;
    expectMemError(() => first!.view(second!.allocate(8)), 'FOREIGN_HANDLE');
    expectMemError(() => second!.view(first!.allocate(8)), 'FOREIGN_HANDLE');
  });

  it('EpochArena.allocateKey throws LIMIT_EXCEEDED when a new block would cross the limit, and changes nothing', () => {
    const arena = new EpochArena({ blockSize: 8192, allocationLimit: 8192 });
    const key = new Uint8Array(200).fill(3);
    let count = 0;
    expectMemError(() => {
      for (;;) {
        arena.allocateKey(key);
        count += 1;
      }
    }, 'LIMIT_EXCEEDED');
    expect(count).toBe(Math.floor(8192 / 208));
    expect(arena.stats()).toMatchObject({ allocationCount: count, totalCapacity: 8192 });
  });

  it('EpochArena.allocateKey throws EXHAUSTED when the generation has used every block a handle can address', () => {
    // 16 MiB blocks: 128 per generation; untouched pages of a block cost no physical memory.
    const arena = new EpochArena({ blockSize: 16 * 1024 * 1024 });
    for (let block = 0; block < 127; block += 1) arena.allocate(16 * 1024 * 1024 - 4096);
    arena.allocate(16 * 1024 * 1024 - 64 * 1024); // leaves room for 256 keys of 256 bytes in the last block
    const key = new Uint8Array(256).fill(9);
    let keys = 0;
    expectMemError(() => {
      for (;;) {
        arena.allocateKey(key);
        keys += 1;
      }
    }, 'EXHAUSTED');
    expect(keys).toBeGreaterThan(200);
    arena.reset(1, { retainBlocks: 0 });
    expect(arena.equals(arena.allocateKey(key), key)).toBe(true);
  });

  it('ArenaKey.compare throws STALE_HANDLE once its arena has been reset', () => {
    const arena = new EpochArena();
    const key = new ArenaKey(arena, arena.allocateKey(new Uint8Array([1, 2])));
    expect(key.compare(new Uint8Array([1, 2]))).toBe(0);
    arena.reset(1);
    expectMemError(() => key.compare(new Uint8Array([1, 2])), 'STALE_HANDLE');
  });

  it('SharedArenaPool.attach throws EXHAUSTED when one arena has no slot left, and gives back the slots it took', () => {
    const pool = SharedArenaPool.createShared({ ringSize: 2, capacity: 4096, maxAttachments: 2 });
    const crowded = SharedEpochArena.attach(pool.descriptor().arenas[1]!); // the second arena's last slot
    const attachments = () => pool.stats().arenas.map(({ arena }) => (arena as { attachments?: number }).attachments);
    expect(attachments()).toEqual([1, 2, 1]);
    expectMemError(() => SharedArenaPool.attach(pool.descriptor()), 'EXHAUSTED');
    expect(attachments()).toEqual([1, 2, 1]);
    crowded.close();
    SharedArenaPool.attach(pool.descriptor()).close();
  });

  it('SharedArenaPool.allocate, allocateCopy, allocateKey, arenaOf and LocalArena.allocateCopy, allocateKey throw USE_AFTER_RELEASE once the attachment is closed', () => {
    const pool = SharedArenaPool.createShared({ capacity: 4096 });
    const handle = pool.allocate(8);
    const attached = SharedArenaPool.attach(pool.descriptor());
    const local = attached.local();
    attached.close();
    expectMemError(() => attached.allocate(8), 'USE_AFTER_RELEASE');
    expectMemError(() => attached.allocateCopy(new Uint8Array(2)), 'USE_AFTER_RELEASE');
    expectMemError(() => attached.allocateKey(new Uint8Array(2)), 'USE_AFTER_RELEASE');
    expectMemError(() => attached.arenaOf(handle), 'USE_AFTER_RELEASE');
    expectMemError(() => local.allocateCopy(new Uint8Array(2)), 'USE_AFTER_RELEASE');
    expectMemError(() => local.allocateKey(new Uint8Array(2)), 'USE_AFTER_RELEASE');
    expect(pool.lengthOf(handle)).toBe(8);
  });
});
