import { describe, expect, it } from 'vitest';
import { PrivateFreelist, type Freelist } from './freelist.js';
import { SharedFreelist } from './shared-freelist.js';

const implementations: [string, (classes: number, perClass: number) => Freelist][] = [
  ['PrivateFreelist', (classes, perClass) => new PrivateFreelist(classes, perClass)],
  ['SharedFreelist', (classes, perClass) => new SharedFreelist(SharedFreelist.allocate(classes, classes * perClass))],
];

describe.each(implementations)('%s', (_name, create) => {
  it('returns each parked slot exactly once, then nothing', () => {
    const list = create(1, 2);
    list.put(0, 0);
    list.put(0, 1);
    expect(list.length(0)).toBe(2);
    const taken = [list.take(0), list.take(0)].sort();
    expect(taken).toEqual([0, 1]);
    expect(list.take(0)).toBe(-1);
    expect(list.length(0)).toBe(0);
  });

  it('keeps classes apart', () => {
    const list = create(2, 4);
    list.put(0, 1);
    list.put(1, 6);
    expect(list.take(1)).toBe(6);
    expect(list.take(1)).toBe(-1);
    expect(list.take(0)).toBe(1);
  });

  it('moves batches in and out, each slot once', () => {
    const list = create(1, 16);
    const slots = Int32Array.from([3, 9, 4, 12, 0]);
    list.putBatch(0, slots, 1, 3);
    list.put(0, 7);
    expect(list.length(0)).toBe(4);
    const out = new Int32Array(16);
    const taken = list.takeBatch(0, 3, out);
    expect(taken).toBe(3);
    const rest = list.takeBatch(0, 10, out.subarray(3));
    expect(rest).toBe(1);
    expect([...out.subarray(0, 4)].sort((a, b) => a - b)).toEqual([4, 7, 9, 12]);
    expect(list.takeBatch(0, 4, out)).toBe(0);
    list.putBatch(0, slots, 0, 0);
    expect(list.length(0)).toBe(0);
  });
});

describe('SharedFreelist', () => {
  it('is the same stack when two instances wrap the same memory', () => {
    const memory = SharedFreelist.allocate(1, 8);
    const a = new SharedFreelist(memory);
    const b = new SharedFreelist(structuredClone(memory));
    a.put(0, 5);
    expect(b.length(0)).toBe(1);
    expect(b.take(0)).toBe(5);
    expect(a.take(0)).toBe(-1);
  });

  it('tags its head so that a stale head value cannot be swapped in after a pop and a push of the same top (ABA)', () => {
    const memory = SharedFreelist.allocate(1, 8);
    const list = new SharedFreelist(memory);
    const heads = new BigUint64Array(memory.heads);
    list.put(0, 1);
    list.put(0, 2);
    // A worker reads the head (top 2, next 1) and is descheduled...
    const stale = Atomics.load(heads, 0);
    // ...while others pop 2 and 1, then push 2 back: the top is 2 again, but its next is now "empty".
    expect(list.take(0)).toBe(2);
    expect(list.take(0)).toBe(1);
    list.put(0, 2);
    expect(Number(Atomics.load(heads, 0) & 0xffffffffn)).toBe(Number(stale & 0xffffffffn));
    // Its compare-exchange from the stale value must fail: the tag moved on.
    const staleSwap = (stale & ~0xffffffffn) | 2n;
    expect(Atomics.compareExchange(heads, 0, stale, staleSwap)).not.toBe(stale);
    expect(list.take(0)).toBe(2);
    expect(list.take(0)).toBe(-1);
  });

  it('wraps its 32-bit tag around without losing the stack', () => {
    const memory = SharedFreelist.allocate(1, 4);
    const heads = new BigUint64Array(memory.heads);
    Atomics.store(heads, 0, 0xffffffffn << 32n);
    const list = new SharedFreelist(memory);
    list.put(0, 3);
    list.put(0, 1);
    expect(Atomics.load(heads, 0) >> 32n).toBe(1n);
    expect(list.take(0)).toBe(1);
    expect(list.take(0)).toBe(3);
  });
});
