/**
 * Every `@throws MemError CODE` documented on the pool, its buffers and views, and `toNodeBuffer`,
 * produced by the call it documents, one test per method and code; and a failed call changes
 * nothing. (The configuration's builders have theirs in buffer-pool-config.spec.ts; the codes that
 * need the runtime to refuse memory are in memory-refused.spec.ts.)
 */
import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { RecordingMetricsSink, type MetricsSink } from '@mem/types';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { BufferTransfer } from './buffer-transfer.js';
import type { FrozenBuffer } from './frozen-buffer.js';
import { IoBuffer } from './io-buffer.js';
import { toNodeBuffer } from './node/index.js';
import { MAX_TRANSFERS_IN_FLIGHT } from './pool-limits.js';

const config = BufferPoolConfig.from({ minSize: 1024, maxSize: 2048, maxPerClass: 2 });

function privatePool(): BufferPool {
  return new BufferPool(config, { leakDetection: 'off' });
}

function sharedPool(): BufferPool {
  return BufferPool.createShared(config, { leakDetection: 'off' });
}

/** Per class: created, free and in use; and the transfers in flight. */
function state(pool: BufferPool): unknown {
  const stats = pool.stats();
  return [stats.transfersInFlight, stats.classes.map((c) => [c.created, c.globalFree, c.localFree, c.inUse])];
}

/** A released buffer and a released frozen view. */
function released(pool: BufferPool): { buffer: IoBuffer; view: FrozenBuffer } {
  const buffer = pool.alloc(1024);
  buffer.release();
  const view = pool.alloc(1024).freeze();
  view.release();
  return { buffer, view };
}

/** Fills the transfer table with views of `view`; returns the descriptors. */
function fillTransfers(view: FrozenBuffer): BufferTransfer[] {
  return Array.from({ length: MAX_TRANSFERS_IN_FLIGHT }, () => view.clone().transfer());
}

describe('BufferPool: documented errors', () => {
  it('new BufferPool throws INVALID_ARGUMENT for a bad configuration, option, or metrics sink', () => {
    expectMemError(() => new BufferPool({ minSize: 1000 }), 'INVALID_ARGUMENT');
    expectMemError(() => new BufferPool(config, { leakDetection: 'loud' as never }), 'INVALID_ARGUMENT');
    const recording = new RecordingMetricsSink();
    const broken: MetricsSink = {
      counter: () => ({}) as never,
      gauge: (...args) => recording.gauge(...args),
      addCollector: (collect) => recording.addCollector(collect),
    };
    expectMemError(() => new BufferPool(config, { metrics: broken }), 'INVALID_ARGUMENT');
    const noUnregister: MetricsSink = {
      counter: (...args) => recording.counter(...args),
      gauge: (...args) => recording.gauge(...args),
      addCollector: () => undefined as never,
    };
    expectMemError(() => new BufferPool(config, { metrics: noUnregister }), 'INVALID_ARGUMENT');
  });

  it('BufferPool.attach throws INVALID_ARGUMENT for what descriptor() did not make, and for bad options', () => {
    const pool = sharedPool();
    const before = state(pool);
    expectMemError(() => BufferPool.attach({ kind: 'mem.buffer-pool', version: 2 } as never), 'INVALID_ARGUMENT');
    expectMemError(() => BufferPool.attach(pool.descriptor(), { shared: true } as never), 'INVALID_ARGUMENT');
    expect(state(pool)).toEqual(before);
  });

  for (const method of ['alloc', 'tryAlloc', 'allocZeroed', 'tryAllocZeroed'] as const) {
    it(`BufferPool.${method} throws INVALID_ARGUMENT for a size that is not an integer in [0, 2^53 - 1]`, () => {
      const pool = privatePool();
      const before = state(pool);
      expectMemError(() => pool[method](-1), 'INVALID_ARGUMENT');
      expectMemError(() => pool[method]('1024' as never), 'INVALID_ARGUMENT');
      expect(state(pool)).toEqual(before);
    });

    it(`BufferPool.${method} throws USE_AFTER_RELEASE once the pool was closed`, () => {
      const pool = privatePool();
      pool.close();
      expectMemError(() => pool[method](1024), 'USE_AFTER_RELEASE');
    });
  }

  for (const method of ['alloc', 'allocZeroed'] as const) {
    it(`BufferPool.${method} throws EXHAUSTED when the runtime cannot allocate the fallback buffer`, () => {
      const pool = privatePool();
      const before = state(pool);
      expectMemError(() => pool[method](2 ** 45), 'EXHAUSTED');
      expect(state(pool)).toEqual(before);
    });
  }

  for (const method of ['tryAlloc', 'tryAllocZeroed'] as const) {
    it(`BufferPool.${method} throws OVERSIZED above maxSize`, () => {
      const pool = privatePool();
      const before = state(pool);
      expectMemError(() => pool[method](2049), 'OVERSIZED');
      expect(state(pool)).toEqual(before);
    });

    it(`BufferPool.${method} throws EXHAUSTED when the class has all its buffers out`, () => {
      const pool = privatePool();
      const out = [pool.tryAlloc(2048), pool.tryAlloc(2048)];
      const before = state(pool);
      expectMemError(() => pool[method](2048), 'EXHAUSTED');
      expect(state(pool)).toEqual(before);
      for (const buffer of out) buffer.release();
      pool[method](2048).release();
    });
  }

  it('BufferPool.adopt throws INVALID_ARGUMENT for what is not a descriptor, or one edited to describe another buffer', () => {
    const pool = sharedPool();
    const descriptor = pool.alloc(1024).transfer();
    const before = state(pool);
    expectMemError(() => pool.adopt(null as never), 'INVALID_ARGUMENT');
    expectMemError(() => pool.adopt({ ...descriptor, length: 1 }), 'INVALID_ARGUMENT');
    expect(state(pool)).toEqual(before);
    pool.adopt(descriptor).release();
  });

  it('BufferPool.adopt throws FOREIGN_HANDLE for a descriptor of another pool', () => {
    const pool = sharedPool();
    const descriptor = sharedPool().alloc(1024).transfer();
    const before = state(pool);
    expectMemError(() => pool.adopt(descriptor), 'FOREIGN_HANDLE');
    expect(state(pool)).toEqual(before);
  });

  it('BufferPool.adopt throws STALE_HANDLE for a descriptor already adopted', () => {
    const pool = sharedPool();
    const descriptor = pool.alloc(1024).transfer();
    const adopted = pool.adopt(descriptor);
    const before = state(pool);
    expectMemError(() => pool.adopt(descriptor), 'STALE_HANDLE');
    expect(state(pool)).toEqual(before);
    adopted.release();
  });

  it('BufferPool.adopt throws USE_AFTER_RELEASE on a closed instance, and the descriptor stays adoptable', () => {
    const pool = sharedPool();
    const instance = BufferPool.attach(pool.descriptor());
    const descriptor = pool.alloc(1024).transfer();
    instance.close();
    expectMemError(() => instance.adopt(descriptor), 'USE_AFTER_RELEASE');
    pool.adopt(descriptor).release();
  });

  it('BufferPool.descriptor throws INVALID_ARGUMENT for a private pool, USE_AFTER_RELEASE once closed', () => {
    expectMemError(() => privatePool().descriptor(), 'INVALID_ARGUMENT');
    const pool = sharedPool();
    pool.close();
    expectMemError(() => pool.descriptor(), 'USE_AFTER_RELEASE');
  });
});

describe('IoBuffer: documented errors', () => {
  it('IoBuffer.release throws DOUBLE_FREE after a release, a freeze or a transfer', () => {
    const pool = privatePool();
    const { buffer } = released(pool);
    const frozen = pool.alloc(1024);
    const view = frozen.freeze();
    const moved = pool.alloc(1024);
    const descriptor = moved.transfer();
    const before = state(pool);
    for (const handle of [buffer, frozen, moved]) expectMemError(() => handle.release(), 'DOUBLE_FREE');
    expect(state(pool)).toEqual(before);
    view.release();
    pool.adopt(descriptor).release();
  });

  it('IoBuffer.tryFromFrozen throws INVALID_ARGUMENT for what is not a FrozenBuffer, USE_AFTER_RELEASE for a released one', () => {
    const pool = privatePool();
    const { buffer, view } = released(pool);
    expectMemError(() => IoBuffer.tryFromFrozen(buffer as never), 'INVALID_ARGUMENT');
    expectMemError(() => IoBuffer.tryFromFrozen(view), 'USE_AFTER_RELEASE');
  });

  it('IoBuffer.length (set) throws INVALID_ARGUMENT outside [0, capacity], USE_AFTER_RELEASE once released', () => {
    const pool = privatePool();
    const live = pool.alloc(1024);
    expectMemError(() => (live.length = 1025), 'INVALID_ARGUMENT');
    expect(live.length).toBe(0);
    const { buffer } = released(pool);
    expectMemError(() => (buffer.length = 1), 'USE_AFTER_RELEASE');
  });

  it('IoBuffer.bytes, .capacityBytes, .arrayBuffer and .byteOffset throw USE_AFTER_RELEASE once released', () => {
    const { buffer } = released(privatePool());
    expectMemError(() => buffer.bytes, 'USE_AFTER_RELEASE');
    expectMemError(() => buffer.capacityBytes, 'USE_AFTER_RELEASE');
    expectMemError(() => buffer.arrayBuffer, 'USE_AFTER_RELEASE');
    expectMemError(() => buffer.byteOffset, 'USE_AFTER_RELEASE');
  });

  it('IoBuffer.write throws INVALID_ARGUMENT for an array that is not bytes (["a", "b"]), writing nothing', () => {
    const buffer = privatePool().alloc(1024);
    buffer.capacityBytes.fill(9);
    expectMemError(() => buffer.write(['a', 'b'] as never), 'INVALID_ARGUMENT');
    expect(buffer.length).toBe(0);
    expect(buffer.capacityBytes.every((byte) => byte === 9)).toBe(true);
  });

  it('IoBuffer.write throws LIMIT_EXCEEDED past the capacity, writing nothing; USE_AFTER_RELEASE once released', () => {
    const pool = privatePool();
    const buffer = pool.alloc(1024);
    buffer.write([1]);
    expectMemError(() => buffer.write(new Uint8Array(1024)), 'LIMIT_EXCEEDED');
    expect(buffer.length).toBe(1);
    buffer.release();
    expectMemError(() => buffer.write([1]), 'USE_AFTER_RELEASE');
  });

  it('IoBuffer.freeze and IoBuffer.transfer throw USE_AFTER_RELEASE once released', () => {
    const { buffer } = released(privatePool());
    expectMemError(() => buffer.freeze(), 'USE_AFTER_RELEASE');
    expectMemError(() => buffer.transfer(), 'USE_AFTER_RELEASE');
  });

  it('IoBuffer.transfer and FrozenBuffer.transfer throw USE_AFTER_RELEASE once their private pool closed (nobody could adopt), staying live', () => {
    const pool = privatePool();
    const buffer = pool.alloc(1024);
    buffer.write([3]);
    const view = pool.alloc(1024).freeze();
    pool.close();
    expectMemError(() => buffer.transfer(), 'USE_AFTER_RELEASE');
    expectMemError(() => view.transfer(), 'USE_AFTER_RELEASE');
    expect([...buffer.bytes]).toEqual([3]);
    expect(view.referenceCount).toBe(1);
    buffer.release();
    view.release();
    expect(pool.stats().classes[0]!.inUse).toBe(0);
  });

  it('IoBuffer.transfer throws LIMIT_EXCEEDED with 4096 transfers in flight, and the buffer stays live', () => {
    const pool = privatePool();
    const view = pool.alloc(1024).freeze();
    const descriptors = fillTransfers(view);
    const buffer = pool.alloc(1024);
    buffer.write([5]);
    expectMemError(() => buffer.transfer(), 'LIMIT_EXCEEDED');
    expect([...buffer.bytes]).toEqual([5]);
    for (const descriptor of descriptors) pool.adopt(descriptor).release();
    pool.adopt(buffer.transfer()).release();
    view.release();
  });
});

describe('FrozenBuffer: documented errors', () => {
  it('FrozenBuffer.bytes, .referenceCount, .isUnique, .clone and .transfer throw USE_AFTER_RELEASE once released', () => {
    const { view } = released(privatePool());
    expectMemError(() => view.bytes, 'USE_AFTER_RELEASE');
    expectMemError(() => view.referenceCount, 'USE_AFTER_RELEASE');
    expectMemError(() => view.isUnique, 'USE_AFTER_RELEASE');
    expectMemError(() => view.clone(), 'USE_AFTER_RELEASE');
    expectMemError(() => view.transfer(), 'USE_AFTER_RELEASE');
  });

  it('FrozenBuffer.slice throws INVALID_ARGUMENT for bounds outside [0, length], USE_AFTER_RELEASE once released', () => {
    const pool = privatePool();
    const live = pool.alloc(1024);
    live.write([1, 2]);
    const view = live.freeze();
    expectMemError(() => view.slice(1, 3), 'INVALID_ARGUMENT');
    expect(view.referenceCount).toBe(1);
    view.release();
    expectMemError(() => view.slice(0, 1), 'USE_AFTER_RELEASE');
  });

  it('FrozenBuffer.transfer throws LIMIT_EXCEEDED with 4096 transfers in flight, and the view stays live (untracked too)', () => {
    const pool = privatePool();
    const view = pool.alloc(1024).freeze();
    const untracked = pool.alloc(4096).freeze();
    const descriptors = fillTransfers(view);
    expectMemError(() => view.transfer(), 'LIMIT_EXCEEDED');
    expectMemError(() => untracked.transfer(), 'LIMIT_EXCEEDED');
    expect(view.referenceCount).toBe(MAX_TRANSFERS_IN_FLIGHT + 1);
    expect(untracked.referenceCount).toBe(1);
    for (const descriptor of descriptors) pool.adopt(descriptor).release();
    expect(view.isUnique).toBe(true);
    view.release();
  });

  it('FrozenBuffer.detachUnique (behind IoBuffer.tryFromFrozen) throws USE_AFTER_RELEASE once released', () => {
    const { view } = released(privatePool());
    // An internal method (stripped from the published types; specs compile against the sources).
    expectMemError(() => view.detachUnique(), 'USE_AFTER_RELEASE');
  });
});

describe('toNodeBuffer: documented errors', () => {
  it('toNodeBuffer throws INVALID_ARGUMENT for other values, unknown ranges and a frozen capacity; USE_AFTER_RELEASE once released', () => {
    const pool = privatePool();
    const buffer = pool.alloc(1024);
    expectMemError(() => toNodeBuffer(new Uint8Array(4) as never), 'INVALID_ARGUMENT');
    expectMemError(() => toNodeBuffer(buffer, 'all' as never), 'INVALID_ARGUMENT');
    const view = pool.alloc(1024).freeze();
    expectMemError(() => toNodeBuffer(view, 'capacity'), 'INVALID_ARGUMENT');
    buffer.release();
    expectMemError(() => toNodeBuffer(buffer), 'USE_AFTER_RELEASE');
  });
});
