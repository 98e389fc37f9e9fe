import { describe, expect, it } from 'vitest';
import { SharedEpochArena, decodeHandle } from './index.js';
import { skipBusyRange } from './shared-arena-control.js';

/** The arena's control words, as the claim protocol sees them. */
function controlOf(arena: SharedEpochArena): Int32Array {
  return new Int32Array(arena.descriptor().control);
}

describe('skipBusyRange: dropping a claim that overlaps a range still being written', () => {
  it('never moves the bump pointer back, so a claim dropped after a reset cannot hand out bytes of the next generation', () => {
    const arena = SharedEpochArena.createShared({ capacity: 4096, chunkSize: 0 });
    // A claim of units [0, 64) in generation 0 overlaps a range announced until unit 32, and is
    // dropped late: meanwhile a reset started generation 1, whose allocations reached unit 64 too.
    arena.allocate(512);
    arena.reset(1);
    const first = arena.allocate(256); // units [0, 32)
    const second = arena.allocate(256); // units [32, 64)
    skipBusyRange(controlOf(arena), 64, 32);
    expect(arena.lengthOf(first)).toBe(256);
    expect(arena.lengthOf(second)).toBe(256);
    expect(decodeHandle(arena.allocate(8))!.address).toBe(64); // after both, not over the second
    arena.close();
  });

  it('moves the bump pointer forward past a busy range that ends beyond the dropped claim', () => {
    const arena = SharedEpochArena.createShared({ capacity: 4096, chunkSize: 0 });
    arena.allocate(256); // units [0, 32): the claim that is dropped
    skipBusyRange(controlOf(arena), 32, 100);
    expect(decodeHandle(arena.allocate(8))!.address).toBe(100);
    expect(arena.stats().bytesUsed).toBe(808);
    arena.close();
  });

  it('leaves the bump pointer alone when another claim moved it meanwhile', () => {
    const arena = SharedEpochArena.createShared({ capacity: 4096, chunkSize: 0 });
    arena.allocate(256);
    arena.allocate(256); // a claim of another worker after the dropped one
    skipBusyRange(controlOf(arena), 32, 100);
    expect(decodeHandle(arena.allocate(8))!.address).toBe(64);
    arena.close();
  });
});
