/**
 * Test helpers of the GPU KV store: a real device (skipping loudly where none can be made, failing
 * under CI), buffers filled from and read back into typed arrays, and one step run on the GPU.
 */
import { GPU_BUFFER_USAGE, GPU_MAP_MODE } from '@mem/types/webgpu';
import { requestTestDevice } from '@mem/testkit/webgpu';
import type { GpuPagedAttention, GpuStepEntry } from './gpu-paged-attention.js';

/** The test device, or undefined where no adapter exists (outside CI). */
export const gpu = await requestTestDevice();

/** A storage buffer holding `data` (at least 4 bytes). */
export function upload(device: GPUDevice, data: Float32Array<ArrayBuffer>): GPUBuffer {
  const buffer = device.createBuffer({
    size: Math.max(4, data.byteLength),
    usage: GPU_BUFFER_USAGE.STORAGE | GPU_BUFFER_USAGE.COPY_SRC | GPU_BUFFER_USAGE.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}

/** Reads `length` floats of `buffer` back. */
export async function download(device: GPUDevice, buffer: GPUBuffer, length: number): Promise<Float32Array> {
  const staging = device.createBuffer({
    size: length * 4,
    usage: GPU_BUFFER_USAGE.MAP_READ | GPU_BUFFER_USAGE.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, length * 4);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPU_MAP_MODE.READ);
  const result = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return result;
}

/**
 * Runs one step of `layer` on the GPU: prepares `entries`, writes the K/V rows, attends with the
 * query rows, and returns the output rows.
 */
export async function runStep(
  attention: GpuPagedAttention,
  layer: number,
  entries: readonly GpuStepEntry[],
  rows: { keys: Float32Array<ArrayBuffer>; values: Float32Array<ArrayBuffer>; query: Float32Array<ArrayBuffer> },
): Promise<Float32Array> {
  const device = attention.store.device as GPUDevice;
  attention.prepare(entries);
  const keys = upload(device, rows.keys);
  const values = upload(device, rows.values);
  const query = upload(device, rows.query);
  const out = upload(device, new Float32Array(rows.query.length));
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  attention.writeKv(pass, layer, { buffer: keys }, { buffer: values });
  attention.attend(pass, layer, { buffer: query }, { buffer: out });
  pass.end();
  device.queue.submit([encoder.finish()]);
  const result = await download(device, out, rows.query.length);
  for (const buffer of [keys, values, query, out]) buffer.destroy();
  return result;
}

/** The largest `|gpu - cpu| - relative * |cpu|` over the elements: below `absolute` when within tolerance. */
export function excess(gpuValues: Float32Array, cpuValues: Float32Array, relative: number): number {
  let worst = 0;
  for (let i = 0; i < cpuValues.length; i += 1) {
    const over = Math.abs(gpuValues[i]! - cpuValues[i]!) - relative * Math.abs(cpuValues[i]!);
    if (!(over <= worst)) worst = over; // NaN propagates as a failure
  }
  return worst;
}
