/**
 * Views that change hands keep their place: whatever chain of `freeze`, `slice`, `tryFromFrozen`,
 * `transfer`, `adopt` and `toNodeBuffer` a buffer goes through, every handle covers exactly the
 * bytes of its slot that it covered before, in private and shared pools.
 */
import { describe, expect, it } from 'vitest';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { FrozenBuffer } from './frozen-buffer.js';
import { IoBuffer } from './io-buffer.js';
import { toNodeBuffer } from './node/index.js';

const config = BufferPoolConfig.from({ minSize: 1024, maxSize: 4096, maxPerClass: 8 });
const counting = Array.from({ length: 100 }, (_, i) => i);

describe.each([
  ['private', false],
  ['shared', true],
])('the place of a %s pool buffer across hand-offs', (_name, shared) => {
  const create = (): BufferPool =>
    shared
      ? BufferPool.createShared(config, { leakDetection: 'off' })
      : new BufferPool(config, { leakDetection: 'off' });

  it('a slice made mutable, frozen and transferred still covers the slice', () => {
    const pool = create();
    const buffer = pool.alloc(1024);
    buffer.write(counting);
    const frozen = buffer.freeze();
    const slice = frozen.slice(10, 20);
    frozen.release();
    const view = IoBuffer.tryFromFrozen(slice)!.freeze();
    const adopted = pool.adopt(view.transfer()) as FrozenBuffer;
    expect([...adopted.bytes]).toEqual(counting.slice(10, 20));
    expect([...toNodeBuffer(adopted)]).toEqual(counting.slice(10, 20));
    adopted.release();
    expect(pool.stats().classes[0]!.inUse).toBe(0);
  });

  it('an adopted buffer that starts inside its slot keeps its place when frozen and transferred again', () => {
    const pool = create();
    const buffer = pool.alloc(1024);
    buffer.write(counting);
    const frozen = buffer.freeze();
    const tail = frozen.slice(30);
    frozen.release();
    const mutable = pool.adopt(IoBuffer.tryFromFrozen(tail)!.transfer()) as IoBuffer;
    expect([...mutable.bytes]).toEqual(counting.slice(30));
    const refrozen = mutable.freeze();
    const again = pool.adopt(refrozen.slice(5, 15).transfer()) as FrozenBuffer;
    expect([...again.bytes]).toEqual(counting.slice(35, 45));
    refrozen.release();
    const thawed = IoBuffer.tryFromFrozen(again)!;
    expect(thawed.capacity).toBe(1024 - 35);
    expect([...toNodeBuffer(thawed)]).toEqual(counting.slice(35, 45));
    const back = pool.adopt(thawed.transfer()) as IoBuffer;
    expect([...back.bytes]).toEqual(counting.slice(35, 45));
    expect(back.capacity).toBe(1024 - 35);
    back.release();
    expect(pool.stats().classes[0]!.inUse).toBe(0);
  });

  it('a frozen slice of a thawed slice slices the original bytes', () => {
    const pool = create();
    const buffer = pool.alloc(1024);
    const slotOffset = buffer.byteOffset;
    buffer.write(counting);
    const frozen = buffer.freeze();
    const middle = frozen.slice(20, 80);
    frozen.release();
    const refrozen = IoBuffer.tryFromFrozen(middle)!.freeze();
    const inner = refrozen.slice(10, 20);
    expect([...inner.bytes]).toEqual(counting.slice(30, 40));
    refrozen.release();
    const thawed = IoBuffer.tryFromFrozen(inner)!;
    expect([...thawed.bytes]).toEqual(counting.slice(30, 40));
    expect(thawed.byteOffset).toBe(slotOffset + 30);
    expect(thawed.capacity).toBe(1024 - 30);
    thawed.release();
    expect(pool.stats().classes[0]!.inUse).toBe(0);
  });
});
