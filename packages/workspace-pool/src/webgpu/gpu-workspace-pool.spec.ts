import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GPU_BUFFER_USAGE, GPU_MAP_MODE } from '@mem/types/webgpu';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { requestTestDevice } from '@mem/testkit/webgpu';
import { patternByte } from '../pool-invariants.test-helper.js';
import { configuration, runModel, step, type ModelBacking } from '../pool-model.test-helper.js';
import { WorkspacePool } from '../workspace-pool.js';
import type { Workspace } from '../workspace.js';
import { GpuSegmentSource, gpuBinding, readGpuWorkspace, writeGpuWorkspace } from './gpu-segment-source.js';

const gpu = await requestTestDevice();

/** The pattern of `seed` over `size` bytes rounded up to 4 (GPU writes are whole words). */
function pattern(size: number, seed: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length: Math.ceil(size / 4) * 4 }, (_, i) => patternByte(seed, i));
}

/**
 * Reads every workspace's bytes back in one submission and one map: one copy per workspace into a
 * staging buffer.
 */
async function readAll(device: GPUDevice, handles: readonly Workspace[]): Promise<Uint8Array[]> {
  const sizes = handles.map((handle) => Math.ceil(handle.size / 4) * 4);
  const total = sizes.reduce((sum, size) => sum + size, 0);
  if (total === 0) return [];
  const staging = device.createBuffer({ size: total, usage: GPU_BUFFER_USAGE.MAP_READ | GPU_BUFFER_USAGE.COPY_DST });
  const encoder = device.createCommandEncoder();
  let at = 0;
  handles.forEach((handle, i) => {
    const { buffer, offset } = gpuBinding(handle);
    encoder.copyBufferToBuffer(buffer as GPUBuffer, offset, staging, at, sizes[i]!);
    at += sizes[i]!;
  });
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPU_MAP_MODE.READ);
  const bytes = new Uint8Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  at = 0;
  return sizes.map((size, i) => bytes.subarray((at += size) - size, at - size + handles[i]!.size));
}

describe.skipIf(gpu === undefined)(`WorkspacePool over GPU buffers on ${gpu?.adapterName ?? 'no adapter'}`, () => {
  const device = gpu?.device as GPUDevice;

  it('keeps every invariant of the reference model, with every workspace read back from the GPU after each step', async () => {
    let source: GpuSegmentSource | undefined;
    const backing: ModelBacking = {
      createPool(config) {
        source = new GpuSegmentSource(device);
        return source.createPool(config);
      },
      fill: (handle, seed) => writeGpuWorkspace(handle, pattern(handle.size, seed)),
      async verify(entries) {
        const bytes = await readAll(
          device,
          entries.map((entry) => entry.handle),
        );
        entries.forEach((entry, i) =>
          expect(bytes[i], `bytes of workspace #${entry.handle.id}`).toEqual(
            pattern(entry.handle.size, entry.seed).subarray(0, entry.handle.size),
          ),
        );
      },
    };
    await fc.assert(
      fc.asyncProperty(configuration, fc.array(step, { minLength: 1, maxLength: 40 }), async (config, steps) => {
        try {
          await runModel(backing, config, steps);
        } finally {
          source?.destroy();
        }
      }),
      { numRuns: 20 },
    );
  });

  it('slides workspaces down within a buffer through staging chunks, honours pins and reports the bytes it reclaimed', async () => {
    const source = new GpuSegmentSource(device, { stagingSize: 1024 });
    const pool = source.createPool({ initialSize: 64 * 1024, maxSegmentSize: 64 * 1024, autoExpand: false });
    expect(pool.config.alignment).toBe(device.limits.minStorageBufferOffsetAlignment);
    const held = Array.from({ length: 8 }, (_, i) => pool.acquire(4096 + 256 * i));
    held.forEach((handle) => writeGpuWorkspace(handle, pattern(handle.size, handle.id)));
    const pinned = held[5]!;
    pinned.pin();
    const pinnedAt = gpuBinding(pinned).offset;
    for (const index of [0, 2, 4]) held[index]!.release();
    const survivors = held.filter((handle) => !handle.released);
    const before = survivors.map((handle) => gpuBinding(handle).offset);
    const report = pool.defragment();
    // The free bytes below the pinned workspace become one block: it grew by what moved down.
    expect(report.outcome).toBe('compacted');
    expect(report.reclaimedBytes).toBe(report.largestFreeBlockAfter - report.largestFreeBlockBefore);
    expect(report.reclaimedBytes).toBeGreaterThan(0);
    expect(report.movesBlockedByPins).toBeGreaterThan(0);
    expect(gpuBinding(pinned).offset).toBe(pinnedAt);
    const after = survivors.map((handle) => gpuBinding(handle).offset);
    expect(after.some((offset, i) => offset < before[i]!)).toBe(true);
    const bytes = await readAll(device, survivors);
    survivors.forEach((handle, i) =>
      expect(bytes[i]).toEqual(pattern(handle.size, handle.id).subarray(0, handle.size)),
    );
    // Moves larger than the staging buffer went through it in chunks.
    expect(survivors.some((handle, i) => after[i]! < before[i]! && handle.capacity > 1024)).toBe(true);
    pinned.unpin();
    source.destroy();
  });

  it('moves workspaces across buffers, releases emptied buffers and counts them reclaimed', async () => {
    const source = new GpuSegmentSource(device);
    const pool = source.createPool({ initialSize: 16 * 1024, maxSegmentSize: 16 * 1024, growthFactor: 2 });
    const handles = Array.from({ length: 6 }, () => pool.acquire(4096));
    handles.forEach((handle) => writeGpuWorkspace(handle, pattern(handle.size, handle.id)));
    expect(pool.stats().segments).toBeGreaterThan(1);
    const allocated = source.allocatedBytes;
    for (const handle of handles.slice(0, 4)) handle.release();
    const report = pool.defragment();
    expect(report.segmentsReleased).toBeGreaterThan(0);
    expect(report.reclaimedBytes).toBeGreaterThanOrEqual(report.bytesReleased);
    expect(source.allocatedBytes).toBe(allocated - report.bytesReleased);
    for (const handle of handles.slice(4)) {
      expect(handle.segment).toBe(0);
      expect(await readGpuWorkspace(handle)).toEqual(pattern(4096, handle.id));
    }
    source.destroy();
    expect(source.allocatedBytes).toBe(0);
  });

  it('zeroes a workspace on acquire with zero: true, and clear() frees the expansion buffers', async () => {
    const source = new GpuSegmentSource(device);
    const pool = source.createPool({ initialSize: 8192, maxSegmentSize: 8192 });
    const dirty = pool.acquire(8192);
    writeGpuWorkspace(dirty, pattern(8192, 3));
    dirty.release();
    const clean = pool.acquire(8190, { zero: true });
    expect(await readGpuWorkspace(clean)).toEqual(new Uint8Array(8192));
    pool.acquire(8192);
    expect(source.allocatedBytes).toBe(16384);
    pool.clear();
    expect(source.allocatedBytes).toBe(8192);
    source.destroy();
  });

  it('Workspace.bytes, view and buffer of a GPU workspace throw INVALID_ARGUMENT; pin() holds it with an empty view', () => {
    const source = new GpuSegmentSource(device);
    const pool = source.createPool();
    const handle = pool.acquire(256);
    expectMemError(() => handle.bytes(), 'INVALID_ARGUMENT');
    expectMemError(() => handle.view(Float32Array), 'INVALID_ARGUMENT');
    expectMemError(() => handle.buffer, 'INVALID_ARGUMENT');
    expect(handle.pin().length).toBe(0);
    expect(handle.pinned).toBe(true);
    handle.unpin();
    handle.release();
    source.destroy();
  });

  it('new GpuSegmentSource, configure, createPool, gpuBinding, writeGpuWorkspace and readGpuWorkspace refuse bad input (INVALID_ARGUMENT)', async () => {
    expectMemError(() => new GpuSegmentSource({} as GPUDevice), 'INVALID_ARGUMENT');
    for (const options of [
      { usage: -1 },
      { usage: GPU_BUFFER_USAGE.MAP_READ },
      { label: 1 },
      { stagingSize: 6 },
      { colour: 1 },
    ]) {
      expectMemError(() => new GpuSegmentSource(device, options as never), 'INVALID_ARGUMENT');
    }
    const source = new GpuSegmentSource(device);
    expectMemError(() => source.configure({ alignment: 3 }), 'INVALID_ARGUMENT');
    expectMemError(() => source.createPool({ initialSize: -1 }), 'INVALID_ARGUMENT');
    const cpuPool = new WorkspacePool();
    const cpuWorkspace = cpuPool.acquire(64);
    expectMemError(() => gpuBinding(cpuWorkspace), 'INVALID_ARGUMENT');
    expectMemError(() => gpuBinding({} as Workspace), 'INVALID_ARGUMENT');
    const handle = source.createPool().acquire(64);
    for (const data of [new Uint8Array(3), new Uint8Array(68), 'abcd']) {
      expectMemError(() => writeGpuWorkspace(handle, data as never), 'INVALID_ARGUMENT');
    }
    await expect(readGpuWorkspace(cpuWorkspace)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // A pool made without source.configure() may ask for a segment beyond the device's buffers.
    const unconfigured = new WorkspacePool({ initialSize: 1024 }, { segmentSource: source.provide });
    expectMemError(() => unconfigured.acquire(device.limits.maxBufferSize + 1024), 'INVALID_ARGUMENT');
    expect(unconfigured.stats().segments).toBe(1);
    source.destroy();
  });

  it('gpuBinding, writeGpuWorkspace and readGpuWorkspace throw USE_AFTER_RELEASE and STALE_HANDLE for dead workspaces; createPool USE_AFTER_RELEASE after destroy()', async () => {
    const source = new GpuSegmentSource(device);
    const pool = source.createPool();
    const released = pool.acquire(64);
    released.release();
    expectMemError(() => gpuBinding(released), 'USE_AFTER_RELEASE');
    expectMemError(() => writeGpuWorkspace(released, new Uint8Array(4)), 'USE_AFTER_RELEASE');
    await expect(readGpuWorkspace(released)).rejects.toMatchObject({ code: 'USE_AFTER_RELEASE' });
    const stale = pool.acquire(64);
    pool.clear();
    expectMemError(() => gpuBinding(stale), 'STALE_HANDLE');
    expectMemError(() => writeGpuWorkspace(stale, new Uint8Array(4)), 'STALE_HANDLE');
    await expect(readGpuWorkspace(stale)).rejects.toMatchObject({ code: 'STALE_HANDLE' });
    source.destroy();
    source.destroy();
    expectMemError(() => source.createPool(), 'USE_AFTER_RELEASE');
  });
});
