import { describe, expect, it } from 'vitest';
import { MemError } from '@mem/types';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { KvCacheManager } from '../kv-cache-manager.js';
import { GpuKvStore } from './gpu-kv-store.js';
import { gpu } from './gpu-kv.test-helper.js';
import { GpuPagedAttention } from './gpu-paged-attention.js';

const LAYOUT = { numLayers: 2, numBlocks: 8, numKvHeads: 1, blockSize: 4, headDim: 4 } as const;
const BAD_NUMBERS: unknown[] = [-1, 0.5, NaN, Infinity, '1', 1e12];

describe.skipIf(gpu === undefined)('GPU KV store and attention: bad input', () => {
  const device = gpu?.device as GPUDevice;
  const buffer = (size: number): GPUBuffer => device.createBuffer({ size, usage: 0x80 | 0x08 });

  it('GpuKvStore.create refuses a non-device, bad options and layouts the device cannot hold (INVALID_ARGUMENT)', () => {
    expectMemError(() => GpuKvStore.create({} as GPUDevice, LAYOUT), 'INVALID_ARGUMENT');
    expectMemError(() => GpuKvStore.create(device, undefined as never), 'INVALID_ARGUMENT');
    expectMemError(() => GpuKvStore.create(device, { ...LAYOUT, colour: 1 } as never), 'INVALID_ARGUMENT');
    for (const bad of BAD_NUMBERS) {
      expectMemError(() => GpuKvStore.create(device, { ...LAYOUT, numBlocks: bad as number }), 'INVALID_ARGUMENT');
      expectMemError(() => GpuKvStore.create(device, { ...LAYOUT, maxBufferSize: bad as number }), 'INVALID_ARGUMENT');
    }
    expectMemError(() => GpuKvStore.create(device, { ...LAYOUT, headDim: 3, dtype: 'float16' }), 'INVALID_ARGUMENT');
    expectMemError(() => GpuKvStore.create(device, { ...LAYOUT, dtype: 'int8' as never }), 'INVALID_ARGUMENT');
    // One block of K and V (2 x 16 floats) does not fit a buffer of 64 bytes.
    expectMemError(() => GpuKvStore.create(device, { ...LAYOUT, maxBufferSize: 64 }), 'INVALID_ARGUMENT');
  });

  it('GpuKvStore.buffer, copyBlock and readLayer refuse bad indices (INVALID_ARGUMENT) and work on', async () => {
    const store = GpuKvStore.create(device, LAYOUT);
    for (const bad of [...BAD_NUMBERS, 2]) expectMemError(() => store.buffer(bad as number), 'INVALID_ARGUMENT');
    for (const bad of [...BAD_NUMBERS, 8]) {
      expectMemError(() => store.copyBlock(bad as number, 1), 'INVALID_ARGUMENT');
      expectMemError(() => store.copyBlock(1, bad as number), 'INVALID_ARGUMENT');
    }
    expectMemError(() => store.buffer(0, 1), 'INVALID_ARGUMENT');
    await expect(store.readLayer(2)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    store.copyBlock(0, 1);
    expect((await store.readLayer(1)).keys.length).toBe(8 * 16);
    store.destroy();
  });

  it('GpuKvStore.buffer, copyBlock, readLayer and new GpuPagedAttention throw USE_AFTER_RELEASE after destroy()', async () => {
    const store = GpuKvStore.create(device, LAYOUT);
    store.destroy();
    store.destroy();
    expect(store.destroyed).toBe(true);
    expectMemError(() => store.buffer(0), 'USE_AFTER_RELEASE');
    expectMemError(() => store.copyBlock(0, 1), 'USE_AFTER_RELEASE');
    await expect(store.readLayer(0)).rejects.toMatchObject({ code: 'USE_AFTER_RELEASE' });
    expectMemError(() => new GpuPagedAttention(store, { numQueryHeads: 1 }), 'USE_AFTER_RELEASE');
  });

  it('new GpuPagedAttention refuses a non-store and bad options (INVALID_ARGUMENT)', () => {
    const store = GpuKvStore.create(device, { ...LAYOUT, numKvHeads: 2 });
    expectMemError(() => new GpuPagedAttention({} as GpuKvStore, { numQueryHeads: 2 }), 'INVALID_ARGUMENT');
    expectMemError(() => new GpuPagedAttention(store, undefined as never), 'INVALID_ARGUMENT');
    expectMemError(() => new GpuPagedAttention(store, { numQueryHeads: 3 }), 'INVALID_ARGUMENT');
    expectMemError(() => new GpuPagedAttention(store, { numQueryHeads: 2, scale: NaN }), 'INVALID_ARGUMENT');
    expectMemError(() => new GpuPagedAttention(store, { numQueryHeads: 2, extra: 1 } as never), 'INVALID_ARGUMENT');
    store.destroy();
    const wide = GpuKvStore.create(device, { ...LAYOUT, blockSize: 1, headDim: 8192 });
    expectMemError(() => new GpuPagedAttention(wide, { numQueryHeads: 1 }), 'INVALID_ARGUMENT');
    wide.destroy();
  });

  it('GpuPagedAttention.prepare, writeKv and attend refuse bad steps, passes and bindings, and work on', () => {
    const store = GpuKvStore.create(device, LAYOUT);
    const attention = new GpuPagedAttention(store, { numQueryHeads: 1 });
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4, prefixCaching: false });
    const sequence = kv.createSequence({ tokens: [1, 2, 3, 4, 5] });
    kv.admit(sequence);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    const rowBytes = 16;
    const ok = { buffer: buffer(5 * rowBytes) };
    // Nothing prepared yet.
    expectMemError(() => attention.writeKv(pass, 0, ok, ok), 'INVALID_ARGUMENT');
    expectMemError(() => attention.attend(pass, 0, ok, ok), 'INVALID_ARGUMENT');
    for (const entries of [[], undefined, [null], [{ sequence: {}, start: 0, count: 1 }]]) {
      expectMemError(() => attention.prepare(entries as never), 'INVALID_ARGUMENT');
    }
    for (const [start, count] of [
      [-1, 1],
      [0, 0],
      [0, 9],
      [8, 1],
      [0.5, 1],
      [0, NaN],
    ]) {
      expectMemError(() => attention.prepare([{ sequence, start: start!, count: count! }]), 'INVALID_ARGUMENT');
    }
    attention.prepare([{ sequence, start: 0, count: 5 }]);
    expect(attention.rows).toBe(5);
    for (const bad of [-1, 2, 0.5]) expectMemError(() => attention.writeKv(pass, bad, ok, ok), 'INVALID_ARGUMENT');
    expectMemError(() => attention.writeKv({} as GPUComputePassEncoder, 0, ok, ok), 'INVALID_ARGUMENT');
    expectMemError(() => attention.attend(null as never, 0, ok, ok), 'INVALID_ARGUMENT');
    const small = { buffer: buffer(4 * rowBytes) };
    const misaligned = { buffer: buffer(1024), offset: 4 };
    for (const binding of [small, misaligned, {}, null, { buffer: ok.buffer, size: 8 }]) {
      expectMemError(() => attention.writeKv(pass, 0, binding as never, ok), 'INVALID_ARGUMENT');
      expectMemError(() => attention.attend(pass, 0, ok, binding as never), 'INVALID_ARGUMENT');
    }
    attention.writeKv(pass, 0, ok, ok);
    attention.attend(pass, 0, ok, ok);
    pass.end();
    device.queue.submit([encoder.finish()]);
    attention.destroy();
    store.destroy();
  });

  it('GpuPagedAttention.prepare refuses positions below computedTokens (IN_USE) and released sequences (USE_AFTER_RELEASE)', () => {
    const store = GpuKvStore.create(device, LAYOUT);
    const attention = new GpuPagedAttention(store, { numQueryHeads: 1 });
    const kv = new KvCacheManager({ numBlocks: 8, blockSize: 4, prefixCaching: false });
    const sequence = kv.createSequence({ tokens: [1, 2, 3, 4, 5] });
    kv.admit(sequence);
    kv.markComputed(sequence, 3);
    expectMemError(() => attention.prepare([{ sequence, start: 2, count: 2 }]), 'IN_USE');
    attention.prepare([{ sequence, start: 3, count: 2 }]);
    sequence.release();
    expectMemError(() => attention.prepare([{ sequence, start: 3, count: 2 }]), 'USE_AFTER_RELEASE');
    attention.destroy();
    store.destroy();
  });

  it('GpuPagedAttention.prepare refuses a step whose partial results exceed the largest binding (LIMIT_EXCEEDED)', () => {
    const store = GpuKvStore.create(device, {
      numLayers: 1,
      numBlocks: 4096,
      numKvHeads: 1,
      blockSize: 16,
      headDim: 4,
    });
    const attention = new GpuPagedAttention(store, { numQueryHeads: 64 });
    const kv = new KvCacheManager({ numBlocks: 4096, blockSize: 16, prefixCaching: false, maxBlocksPerSequence: 4096 });
    const sequence = kv.createSequence({ tokens: Array.from({ length: 65536 }, (_, i) => i % 1000) });
    kv.admit(sequence);
    // 4096 rows x 64 heads x 256 partitions of 6 floats: 1.6 GB of partial sums, above any binding.
    const error = expectMemError(() => attention.prepare([{ sequence, start: 61440, count: 4096 }]), 'LIMIT_EXCEEDED');
    expect(error).toBeInstanceOf(MemError);
    attention.destroy();
    store.destroy();
  });

  it('GpuPagedAttention.prepare, writeKv and attend throw USE_AFTER_RELEASE after destroy()', () => {
    const store = GpuKvStore.create(device, LAYOUT);
    const attention = new GpuPagedAttention(store, { numQueryHeads: 1 });
    attention.destroy();
    const pass = device.createCommandEncoder().beginComputePass();
    const ok = { buffer: buffer(256) };
    expectMemError(() => attention.prepare([]), 'USE_AFTER_RELEASE');
    expectMemError(() => attention.writeKv(pass, 0, ok, ok), 'USE_AFTER_RELEASE');
    expectMemError(() => attention.attend(pass, 0, ok, ok), 'USE_AFTER_RELEASE');
    pass.end();
    store.destroy();
  });
});
