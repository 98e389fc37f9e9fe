/**
 * `@mem/types/webgpu`: the part of the WebGPU API that the mem packages use, as structural types,
 * so that their published types need no WebGPU type package: a `GPUDevice` from a browser
 * (`navigator.gpu`), from the `webgpu` npm package or from `@webgpu/types` is a
 * {@link WebGpuDevice} as it is. Also the buffer usage and map mode flags (the numbers the WebGPU
 * specification fixes, for runtimes without the `GPUBufferUsage` global) and the check of a device
 * argument.
 *
 * This module is browser compatible.
 * @module
 */
import { invalidArgument } from './validators.js';

/** The `GPUBufferUsage` flags (fixed by the WebGPU specification). */
export const GPU_BUFFER_USAGE = Object.freeze({
  /** Mappable for reading. */
  MAP_READ: 0x0001,
  /** Mappable for writing. */
  MAP_WRITE: 0x0002,
  /** A copy source. */
  COPY_SRC: 0x0004,
  /** A copy destination (and of `queue.writeBuffer`). */
  COPY_DST: 0x0008,
  /** An index buffer. */
  INDEX: 0x0010,
  /** A vertex buffer. */
  VERTEX: 0x0020,
  /** A uniform buffer. */
  UNIFORM: 0x0040,
  /** A storage buffer. */
  STORAGE: 0x0080,
  /** Indirect dispatch and draw arguments. */
  INDIRECT: 0x0100,
  /** A query resolve destination. */
  QUERY_RESOLVE: 0x0200,
});

/** The `GPUMapMode` flags (fixed by the WebGPU specification). */
export const GPU_MAP_MODE = Object.freeze({
  /** Map for reading. */
  READ: 0x0001,
  /** Map for writing. */
  WRITE: 0x0002,
});

/** A `GPUBuffer`, as far as the mem packages use it. */
export interface WebGpuBuffer {
  /** Its size in bytes. */
  readonly size: number;
  /** Its `GPUBufferUsage` flags. */
  readonly usage: number;
  /** Maps it for reading (`GPU_MAP_MODE.READ`) or writing. */
  mapAsync(mode: number, offset?: number, size?: number): Promise<undefined | void>;
  /** The mapped bytes. */
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  /** Ends the mapping. */
  unmap(): undefined | void;
  /** Frees its memory; later use is an error (work already submitted completes). */
  destroy(): undefined | void;
}

/** A range of a buffer bound to a shader: `GPUBufferBinding`. */
export interface WebGpuBufferBinding {
  /** The buffer. */
  readonly buffer: WebGpuBuffer;
  /** Where the range starts, in bytes. @defaultValue 0 */
  readonly offset?: number;
  /** The range's size in bytes. @defaultValue the rest of the buffer */
  readonly size?: number;
}

/** A `GPUComputePassEncoder`, as far as the mem packages use it. */
export interface WebGpuComputePass {
  /** Sets the pipeline of the next dispatches. */
  setPipeline(pipeline: unknown): undefined | void;
  /** Sets bind group `index` of the next dispatches. */
  setBindGroup(index: number, group: unknown): undefined | void;
  /** Dispatches a grid of workgroups. */
  dispatchWorkgroups(x: number, y?: number, z?: number): undefined | void;
  /** Ends the pass. */
  end(): undefined | void;
}

/** A `GPUCommandEncoder`, as far as the mem packages use it. */
export interface WebGpuCommandEncoder {
  /** Begins a compute pass. */
  beginComputePass(descriptor?: unknown): WebGpuComputePass;
  /** Copies bytes between two different buffers. */
  copyBufferToBuffer(
    source: WebGpuBuffer,
    sourceOffset: number,
    destination: WebGpuBuffer,
    destinationOffset: number,
    size: number,
  ): undefined | void;
  /** Fills a range of a buffer with zeros. */
  clearBuffer(buffer: WebGpuBuffer, offset?: number, size?: number): undefined | void;
  /** Finishes the commands into a command buffer for `queue.submit`. */
  finish(): unknown;
}

/** A `GPUQueue`, as far as the mem packages use it. */
export interface WebGpuQueue {
  /** Writes bytes into a buffer, in queue order with submissions. */
  writeBuffer(buffer: WebGpuBuffer, offset: number, data: ArrayBufferView<ArrayBuffer> | ArrayBuffer): undefined | void;
  /** Runs command buffers, in order. */
  submit(commandBuffers: Iterable<unknown>): undefined | void;
  /** Resolves once the work submitted so far is done. */
  onSubmittedWorkDone(): Promise<undefined | void>;
}

/** A `GPUDevice`, as far as the mem packages use it. */
export interface WebGpuDevice {
  /** The device's limits. */
  readonly limits: {
    /** The largest storage buffer binding, in bytes. */
    readonly maxStorageBufferBindingSize: number;
    /** The largest buffer, in bytes. */
    readonly maxBufferSize: number;
    /** What a storage binding's offset must be a multiple of. */
    readonly minStorageBufferOffsetAlignment: number;
    /** The most workgroups of a dispatch in each dimension. */
    readonly maxComputeWorkgroupsPerDimension: number;
    /** The most workgroup memory of a compute shader, in bytes. */
    readonly maxComputeWorkgroupStorageSize: number;
  };
  /** The device's features (`'shader-f16'`, ...). */
  readonly features: {
    /** Whether the device has `feature`. */
    has(feature: string): boolean;
  };
  /** Its queue. */
  readonly queue: WebGpuQueue;
  /** Creates a buffer. */
  createBuffer(descriptor: { size: number; usage: number; label?: string; mappedAtCreation?: boolean }): WebGpuBuffer;
  /** Compiles WGSL. */
  createShaderModule(descriptor: { code: string; label?: string }): unknown;
  /** Creates a compute pipeline (the mem packages use layout `'auto'`). */
  createComputePipeline(descriptor: unknown): {
    /** The layout of bind group `index` (of a pipeline made with layout `'auto'`). */
    getBindGroupLayout(index: number): unknown;
  };
  /** Binds resources to a pipeline's layout. */
  createBindGroup(descriptor: unknown): unknown;
  /** Starts recording commands. */
  createCommandEncoder(descriptor?: unknown): WebGpuCommandEncoder;
}

/**
 * Checks that `value` looks like a `GPUDevice` (a queue and the factories the packages call) and
 * returns it.
 * Cost: O(1).
 * @throws MemError INVALID_ARGUMENT otherwise.
 *
 * @example
 * ```ts
 * import { assertWebGpuDevice, type WebGpuDevice } from '@mem/types/webgpu';
 * function start(device: WebGpuDevice): WebGpuDevice {
 *   return assertWebGpuDevice(device, 'device');
 * }
 * ```
 */
export function assertWebGpuDevice(value: unknown, name: string): WebGpuDevice {
  const device = value as Partial<WebGpuDevice> | null;
  if (
    device === null ||
    typeof device !== 'object' ||
    typeof device.createBuffer !== 'function' ||
    typeof device.createComputePipeline !== 'function' ||
    typeof device.createCommandEncoder !== 'function' ||
    typeof device.queue !== 'object' ||
    typeof device.limits !== 'object'
  ) {
    throw invalidArgument(name, value, 'a GPUDevice');
  }
  return value as WebGpuDevice;
}

/**
 * Checks a buffer binding argument: a buffer (with a size) and an offset that is a multiple of
 * `alignment` (the device's `minStorageBufferOffsetAlignment`), with at least `minSize` bytes in
 * range. Returns the offset and size it binds.
 * Cost: O(1).
 * @throws MemError INVALID_ARGUMENT otherwise.
 *
 * @example
 * ```ts
 * import { checkBufferBinding, type WebGpuBufferBinding } from '@mem/types/webgpu';
 * function bind(binding: WebGpuBufferBinding): number {
 *   return checkBufferBinding(binding, 'query', 256, 64).size; // at least 64 bytes from a 256-aligned offset
 * }
 * ```
 */
export function checkBufferBinding(
  binding: WebGpuBufferBinding,
  name: string,
  alignment: number,
  minSize: number,
): Required<WebGpuBufferBinding> {
  const value = binding as Partial<WebGpuBufferBinding> | null;
  const buffer = value !== null && typeof value === 'object' ? value.buffer : undefined;
  if (buffer === null || typeof buffer !== 'object' || typeof buffer.size !== 'number') {
    throw invalidArgument(name, binding, 'a buffer binding { buffer, offset?, size? }');
  }
  const offset = value!.offset ?? 0;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0 || offset % alignment !== 0) {
    throw invalidArgument(`${name}.offset`, offset, `a non-negative multiple of ${alignment}`);
  }
  const size = value!.size ?? buffer.size - offset;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < minSize || offset + size > buffer.size) {
    throw invalidArgument(
      `${name}.size`,
      size,
      `at least ${minSize} bytes within the buffer's ${buffer.size} (from offset ${offset})`,
    );
  }
  return { buffer, offset, size };
}
