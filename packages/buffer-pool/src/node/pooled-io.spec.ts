import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { collectUntil } from '@mem/testkit/collect-garbage';
import { RecordingMetricsSink } from '@mem/types';
import { Buffer } from 'node:buffer';
import { Writable } from 'node:stream';
import { readSync, openSync, closeSync } from 'node:fs';
import { BufferPool } from '../buffer-pool.js';
import { BufferPoolConfig } from '../buffer-pool-config.js';
import { PooledIo } from './pooled-io.js';
import { close, inUse, pooledEcho, exchange, pattern } from './io.test-helper.js';

function pool(leakDetection: 'off' | 'paranoid' = 'off'): BufferPool {
  return new BufferPool(BufferPoolConfig.forNetwork(), { leakDetection, onLeak: () => {} });
}

describe('new PooledIo', () => {
  it('defaults to 64 KiB chunks (at most maxSize) and the fallback policy', () => {
    const io = new PooledIo(pool());
    expect(io.chunkSize).toBe(64 * 1024);
    expect(io.whenExhausted).toBe('fallback');
    expect(new PooledIo(new BufferPool({ minSize: 1024, maxSize: 4096 })).chunkSize).toBe(4096);
    const custom = new PooledIo(pool(), { chunkSize: 3000, whenExhausted: 'backpressure' });
    expect([custom.chunkSize, custom.whenExhausted]).toEqual([3000, 'backpressure']);
  });

  it('refuses what is not an open pool, and bad options', () => {
    for (const value of [undefined, null, {}, 'pool', BufferPoolConfig.forNetwork()]) {
      expectMemError(() => new PooledIo(value as never), 'INVALID_ARGUMENT');
    }
    const open = pool();
    for (const options of [
      null,
      'options',
      { chunkSize: 0 },
      { chunkSize: 128 * 1024 + 1 },
      { chunkSize: 1.5 },
      { chunkSize: NaN },
      { whenExhausted: 'wait' },
      { metrics: {} },
      { metrics: null },
      { chunksize: 1024 },
    ]) {
      expectMemError(() => new PooledIo(open, options as never), 'INVALID_ARGUMENT', JSON.stringify(options));
    }
    const bypassing = new BufferPool({ poolMinSize: 512, minSize: 1024 });
    expectMemError(() => new PooledIo(bypassing, { chunkSize: 100 }), 'INVALID_ARGUMENT');
    const broken = new RecordingMetricsSink();
    broken.counter = () => null as never;
    expectMemError(() => new PooledIo(open, { metrics: broken }), 'INVALID_ARGUMENT');
    const noUnregister = new RecordingMetricsSink();
    noUnregister.addCollector = () => 'no' as never;
    expectMemError(() => new PooledIo(open, { metrics: noUnregister }), 'INVALID_ARGUMENT');
    open.close();
    expectMemError(() => new PooledIo(open), 'USE_AFTER_RELEASE');
  });

  it('publishes its counters to the metrics sink until closed, labelled with the pool name like the pool', async () => {
    const sink = new RecordingMetricsSink();
    const named = new BufferPool({ minSize: 64, maxSize: 64 * 1024, maxPerClass: 64 }, { name: 'uploads' });
    expect(named.name).toBe('uploads');
    const io = new PooledIo(named, { metrics: sink, chunkSize: 16 * 1024 });
    const labels = { pool: 'uploads' };
    expect(sink.read('mem_buffer_pool_io_returned_total', { ...labels, by: 'error' })).toBe(0);
    expect(sink.read('mem_buffer_pool_io_returned_total', { ...labels, by: 'scope' })).toBe(0);
    const { server, port } = await pooledEcho(io);
    await exchange(port, pattern(100_000, 1));
    await close(server);
    sink.collect();
    expect(sink.read('mem_buffer_pool_io_read_bytes_total', labels)).toBe(100_000);
    expect(sink.read('mem_buffer_pool_io_written_bytes_total', labels)).toBe(100_000);
    expect(sink.read('mem_buffer_pool_io_writes_in_flight', labels)).toBe(0);
    using scope = io.scope();
    scope.alloc(10);
    scope.close();
    const samples = sink.collect();
    expect(sink.read('mem_buffer_pool_io_returned_total', { ...labels, by: 'scope' })).toBe(1);
    expect(samples.filter((sample) => sample.labels.pool !== 'uploads')).toEqual([]);
    expect(samples.filter((sample) => sample.name.startsWith('mem_buffer_pool_io_'))).toHaveLength(10);
    expect(pool().name).toBe('buffer-pool');
    io.close();
    expect(io.closed).toBe(true);
    io.close();
    scope.close();
    expect(() => sink.collect()).not.toThrow();
  });

  it('leaves the instance open when the sink fails to unregister, and closes on the next try', () => {
    const sink = new RecordingMetricsSink();
    let fail = true;
    const add = sink.addCollector.bind(sink);
    sink.addCollector = (collect) => {
      const remove = add(collect);
      return () => {
        if (fail) throw new Error('unregister failed');
        remove();
      };
    };
    const io = new PooledIo(pool(), { metrics: sink });
    expect(() => io.close()).toThrow('unregister failed');
    expect(io.closed).toBe(false);
    fail = false;
    io[Symbol.dispose]();
    expect(io.closed).toBe(true);
  });
});

describe('PooledIo.getBuffer and releaseBuffer', () => {
  it('hand out Buffers of the exact size over pooled memory, for fs reads and allocation hooks', () => {
    const shared = pool();
    const io = new PooledIo(shared);
    const { getBuffer, releaseBuffer } = io; // bound: usable as hooks
    const buffer = getBuffer(100);
    expect(Buffer.isBuffer(buffer)).toBe(true);
    expect(buffer.length).toBe(100);
    expect(inUse(shared)).toBe(1);
    expect(io.stats().factoryOutstanding).toBe(1);
    const fd = openSync('/proc/self/status', 'r');
    const read = readSync(fd, buffer, 0, 100, 0);
    closeSync(fd);
    expect(buffer.subarray(0, read).toString()).toContain('Name:');
    releaseBuffer(buffer);
    expect(inUse(shared)).toBe(0);
    expect(io.stats().factoryOutstanding).toBe(0);
    expectMemError(() => releaseBuffer(buffer), 'DOUBLE_FREE');
    expectMemError(() => releaseBuffer(Buffer.alloc(100)), 'FOREIGN_HANDLE');
    expectMemError(() => new PooledIo(shared).releaseBuffer(getBuffer(10)), 'FOREIGN_HANDLE');
    expectMemError(() => releaseBuffer('buffer' as never), 'INVALID_ARGUMENT');
    for (const size of [-1, 1.5, NaN, Infinity, 2 ** 30 + 1, '10']) {
      expectMemError(() => io.getBuffer(size as never), 'INVALID_ARGUMENT', String(size));
    }
  });

  it("falls back past the budget by default, and throws EXHAUSTED or OVERSIZED under 'backpressure'", () => {
    const small = new BufferPool({ minSize: 1024, maxSize: 1024, maxPerClass: 1 }, { leakDetection: 'off' });
    const fallback = new PooledIo(small);
    const first = fallback.getBuffer(1000);
    const second = fallback.getBuffer(1000);
    expect(small.stats().fallbacks).toBe(1);
    fallback.releaseBuffer(second);
    const strict = new PooledIo(small, { whenExhausted: 'backpressure' });
    expectMemError(() => strict.getBuffer(1000), 'EXHAUSTED');
    expectMemError(() => strict.getBuffer(5000), 'OVERSIZED');
    fallback.releaseBuffer(first);
    strict.releaseBuffer(strict.getBuffer(1000));
    strict.close();
    expectMemError(() => strict.getBuffer(10), 'USE_AFTER_RELEASE');
  });
});

describe('PooledIo.scope', () => {
  it('returns what a handler still holds when it throws half-way, counted as returned by scope', () => {
    const shared = pool();
    const io = new PooledIo(shared);
    const handle = (fail: boolean): void => {
      using scope = io.scope();
      const header = scope.alloc(100);
      header.write([1, 2, 3]);
      const body = scope.adopt(shared.alloc(5000));
      const done = scope.adopt(shared.alloc(10).freeze());
      done.release(); // handed on: not returned twice
      body.release();
      scope.alloc(2000);
      if (fail) throw new Error('the handler failed');
      expect(scope.live).toBe(2);
    };
    expect(() => handle(true)).toThrow('the handler failed');
    expect(inUse(shared)).toBe(0);
    expect(io.stats().returnedByScope).toBe(2);
    handle(false);
    expect(inUse(shared)).toBe(0);
    expect(io.stats().returnedByScope).toBe(4);
  });

  it('skips buffers written meanwhile: the write still holds them until it completed', async () => {
    const shared = pool();
    const io = new PooledIo(shared);
    {
      using scope = io.scope();
      const buffer = scope.alloc(1000);
      const completions: (() => void)[] = [];
      const slow = new Writable({ write: (_chunk, _encoding, callback) => void completions.push(callback) });
      io.write(slow, buffer);
      scope.close();
      expect(io.stats().writesInFlight).toBe(1);
      expect(inUse(shared)).toBe(1); // the write holds it
      completions.forEach((complete) => complete());
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(inUse(shared)).toBe(0);
  });

  it('keeps its list short when buffers are released as it goes, and refuses use after close', () => {
    const shared = pool();
    const io = new PooledIo(shared);
    const scope = io.scope();
    for (let i = 0; i < 10_000; i += 1) scope.alloc(1000).release();
    expect(scope.live).toBe(0);
    expect(scope.close()).toBe(0);
    expect(scope.closed).toBe(true);
    expect(scope.close()).toBe(0);
    expectMemError(() => scope.alloc(10), 'USE_AFTER_RELEASE');
    expectMemError(() => scope.adopt(shared.alloc(10)), 'USE_AFTER_RELEASE');
    const open = io.scope();
    expectMemError(() => open.adopt({} as never), 'INVALID_ARGUMENT');
    expectMemError(() => open.alloc(-1), 'INVALID_ARGUMENT');
    const released = shared.alloc(10);
    released.release();
    expectMemError(() => open.adopt(released), 'USE_AFTER_RELEASE');
    const strict = new PooledIo(new BufferPool({ minSize: 1024, maxSize: 1024, maxPerClass: 1 }), {
      whenExhausted: 'backpressure',
    });
    const strictScope = strict.scope();
    strictScope.alloc(1000);
    expectMemError(() => strictScope.alloc(1000), 'EXHAUSTED');
    expectMemError(() => strictScope.alloc(4000), 'OVERSIZED');
    strictScope.close();
    shared.close();
    expectMemError(() => open.alloc(10), 'USE_AFTER_RELEASE');
    io.close();
    expectMemError(() => io.scope(), 'USE_AFTER_RELEASE');
  });

  it('without a scope, a request that throws returns its buffers by finalization (leak detection), counted as leaks', async () => {
    const tracked = pool('paranoid');
    const handle = (): void => {
      tracked.alloc(1000);
      tracked.alloc(50_000).write([1]);
      throw new Error('the handler failed');
    };
    for (let i = 0; i < 5; i += 1) expect(handle).toThrow();
    await collectUntil(() => inUse(tracked) === 0, { attempts: 100, pauseMs: 5 });
    expect(inUse(tracked)).toBe(0);
    expect(tracked.stats().leaks).toBe(10);
  });
});
