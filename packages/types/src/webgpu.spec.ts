import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { GPU_BUFFER_USAGE, GPU_MAP_MODE, assertWebGpuDevice, checkBufferBinding, type WebGpuBuffer } from './webgpu.js';

// Stand-ins: these checks read shapes only; the packages' GPU specs run on a real device.
const buffer = { size: 1024, usage: GPU_BUFFER_USAGE.STORAGE } as WebGpuBuffer;
const device = { createBuffer() {}, createComputePipeline() {}, createCommandEncoder() {}, queue: {}, limits: {} };

describe('@mem/types/webgpu', () => {
  it('has the usage and map-mode numbers of the WebGPU specification', () => {
    expect(GPU_BUFFER_USAGE.STORAGE | GPU_BUFFER_USAGE.COPY_DST | GPU_BUFFER_USAGE.MAP_READ).toBe(0x89);
    expect(GPU_MAP_MODE.READ).toBe(1);
  });

  it('assertWebGpuDevice returns a device and refuses anything else (INVALID_ARGUMENT)', () => {
    expect(assertWebGpuDevice(device, 'device')).toBe(device);
    for (const bad of [null, undefined, 1, {}, { ...device, queue: undefined }, { ...device, createBuffer: 1 }]) {
      expectMemError(() => assertWebGpuDevice(bad, 'device'), 'INVALID_ARGUMENT');
    }
  });

  it('checkBufferBinding resolves offset and size, and refuses bad bindings (INVALID_ARGUMENT)', () => {
    expect(checkBufferBinding({ buffer }, 'b', 256, 16)).toEqual({ buffer, offset: 0, size: 1024 });
    expect(checkBufferBinding({ buffer, offset: 256, size: 64 }, 'b', 256, 16)).toEqual({
      buffer,
      offset: 256,
      size: 64,
    });
    for (const bad of [
      null,
      {},
      { buffer: {} },
      { buffer, offset: 4 },
      { buffer, offset: -256 },
      { buffer, size: 8 },
      { buffer, offset: 768, size: 512 },
      { buffer, size: 0.5 },
    ]) {
      expectMemError(() => checkBufferBinding(bad as never, 'b', 256, 16), 'INVALID_ARGUMENT');
    }
  });
});
