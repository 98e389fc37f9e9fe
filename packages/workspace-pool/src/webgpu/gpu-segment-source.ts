/**
 * Workspaces in GPU memory: a segment source whose segments are `GPUBuffer`s, for a
 * {@link WorkspacePool} that then lends ranges of them (bind each with {@link gpuBinding}) and
 * defragments them with `copyBufferToBuffer`.
 *
 * WebGPU refuses a copy within one buffer, so a workspace that slides down inside its segment goes
 * through a staging buffer (in chunks of at most `stagingSize` bytes, in an order that never
 * overwrites bytes not yet copied); a move between two segments is one direct copy. The copies of
 * one defragmentation are encoded together and submitted once, so they run after every command
 * submitted before and before every command submitted after: re-read bindings after a call that
 * may defragment, as you re-read a CPU workspace's views.
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, assertInteger, assertOptions, invalidArgument } from '@mem/types';
import {
  GPU_BUFFER_USAGE,
  GPU_MAP_MODE,
  assertWebGpuDevice,
  type WebGpuBuffer,
  type WebGpuBufferBinding,
  type WebGpuCommandEncoder,
  type WebGpuDevice,
} from '@mem/types/webgpu';
import type { DeviceMemory } from '../device-memory.js';
import type { SegmentProvider } from '../segment.js';
import { WorkspaceConfig, type WorkspaceConfigOptions } from '../workspace-config.js';
import type { WorkspacePoolOptions } from '../workspace-pool-options.js';
import { WorkspacePool } from '../workspace-pool.js';
import { Workspace } from '../workspace.js';

/** Options of a {@link GpuSegmentSource}. */
export interface GpuSegmentSourceOptions {
  /** `GPUBufferUsage` flags to add to `STORAGE | COPY_SRC | COPY_DST` (e.g. `UNIFORM`). @defaultValue 0 */
  readonly usage?: number;
  /** Prefix of the buffers' labels. @defaultValue 'workspace' */
  readonly label?: string;
  /** The largest staging buffer for moves within a segment, in bytes (a multiple of 4). @defaultValue 4 MiB */
  readonly stagingSize?: number;
}

/** A GPU buffer a segment lives in. */
class GpuSegmentMemory implements DeviceMemory {
  readonly kind = 'gpu-buffer';

  constructor(
    readonly source: GpuSegmentSource,
    readonly buffer: WebGpuBuffer,
    readonly byteLength: number,
  ) {}

  canCopyFrom(source: DeviceMemory): boolean {
    return source instanceof GpuSegmentMemory && source.source.device === this.source.device;
  }

  copyFrom(source: DeviceMemory, from: number, to: number, size: number): void {
    this.source.copy((source as GpuSegmentMemory).buffer, from, this.buffer, to, size);
  }

  flush(): void {
    this.source.flush();
  }

  zero(offset: number, size: number): void {
    const encoder = this.source.device.createCommandEncoder();
    // clearBuffer takes whole words; the block is a multiple of the alignment (at least 8 bytes).
    encoder.clearBuffer(this.buffer, offset, Math.ceil(size / 4) * 4);
    this.source.device.queue.submit([encoder.finish()]);
  }

  release(): void {
    this.source.forget(this);
    this.buffer.destroy();
  }
}

/**
 * Makes the segments of a {@link WorkspacePool} out of `GPUBuffer`s on one device. Pass
 * {@link GpuSegmentSource.provide} as the pool's `segmentSource` with a configuration from
 * {@link GpuSegmentSource.configure}, or let {@link GpuSegmentSource.createPool} do both.
 *
 * @example
 * ```ts
 * import { GpuSegmentSource, gpuBinding } from '@mem/workspace-pool/webgpu';
 * import type { WebGpuDevice } from '@mem/types/webgpu';
 * declare const device: WebGpuDevice; // (await (await navigator.gpu.requestAdapter())!.requestDevice())
 * const source = new GpuSegmentSource(device);
 * const pool = source.createPool({ initialSize: 64 << 20 });
 * const scores = pool.acquire(4 * 1024 * 1024, { label: 'attention.scores' });
 * const binding = gpuBinding(scores); // { buffer, offset, size }: bind it in your bind group
 * scores.release();
 * source.destroy();
 * ```
 */
export class GpuSegmentSource {
  /** The device the buffers live on. */
  readonly device: WebGpuDevice;
  /** The buffers' usage flags. */
  readonly usage: number;
  /**
   * The provider to pass as a pool's `segmentSource`: a new buffer of the segment's size per call
   * (zeroed by WebGPU).
   */
  readonly provide: SegmentProvider;
  readonly #label: string;
  readonly #stagingSize: number;
  readonly #live = new Set<GpuSegmentMemory>();
  #staging: WebGpuBuffer | null = null;
  #encoder: WebGpuCommandEncoder | null = null;
  #destroyed = false;

  /**
   * Cost: O(1); buffers are made when pools ask for segments.
   * @throws MemError INVALID_ARGUMENT if `device` is not a GPUDevice or an option is invalid or unknown.
   */
  constructor(device: WebGpuDevice, options: GpuSegmentSourceOptions = {}) {
    this.device = assertWebGpuDevice(device, 'device');
    const checked = assertOptions<GpuSegmentSourceOptions>(options, 'options', ['usage', 'label', 'stagingSize']);
    const extra = assertInteger(checked.usage ?? 0, 'options.usage', { min: 0, max: 0xffff });
    if ((extra & (GPU_BUFFER_USAGE.MAP_READ | GPU_BUFFER_USAGE.MAP_WRITE)) !== 0) {
      throw invalidArgument(
        'options.usage',
        extra,
        'usage flags without MAP_READ or MAP_WRITE (storage cannot be mapped)',
      );
    }
    this.usage = GPU_BUFFER_USAGE.STORAGE | GPU_BUFFER_USAGE.COPY_SRC | GPU_BUFFER_USAGE.COPY_DST | extra;
    const label = checked.label ?? 'workspace';
    if (typeof label !== 'string') throw invalidArgument('options.label', label, 'a string');
    this.#label = label;
    const stagingSize = assertInteger(checked.stagingSize ?? 4 << 20, 'options.stagingSize', {
      min: 4,
      max: device.limits.maxBufferSize,
    });
    if (stagingSize % 4 !== 0) throw invalidArgument('options.stagingSize', stagingSize, 'a multiple of 4');
    this.#stagingSize = stagingSize;
    this.provide = (byteLength, index) => this.#createSegment(byteLength, index);
  }

  /**
   * `configuration` fitted to the device: the alignment raised to at least the device's
   * `minStorageBufferOffsetAlignment` (so every workspace can be bound at its offset) and
   * `maxSegmentSize` lowered to at most its `maxBufferSize`.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT as `WorkspaceConfig.from` does.
   */
  configure(configuration: WorkspaceConfig | WorkspaceConfigOptions = {}): WorkspaceConfig {
    const config = WorkspaceConfig.from(configuration);
    const alignment = Math.max(config.alignment, this.device.limits.minStorageBufferOffsetAlignment);
    const largest = Math.floor(this.device.limits.maxBufferSize / alignment) * alignment;
    return config.with({ alignment, maxSegmentSize: Math.min(config.maxSegmentSize, largest) });
  }

  /**
   * A pool over this source: `new WorkspacePool(source.configure(configuration), { ...options, segmentSource: source.provide })`.
   * Cost: the initial reservation's buffers.
   * @throws MemError INVALID_ARGUMENT for a bad configuration or option; USE_AFTER_RELEASE after
   * {@link GpuSegmentSource.destroy}.
   */
  createPool(
    configuration: WorkspaceConfig | WorkspaceConfigOptions = {},
    options: Omit<WorkspacePoolOptions, 'segmentSource'> = {},
  ): WorkspacePool {
    this.#assertLive();
    return new WorkspacePool(this.configure(configuration), { ...options, segmentSource: this.provide });
  }

  /** Bytes of the live segment buffers and the staging buffer. Cost: O(segments). @throws never */
  get allocatedBytes(): number {
    let bytes = this.#staging?.size ?? 0;
    for (const memory of this.#live) bytes += memory.byteLength;
    return bytes;
  }

  /**
   * Frees every buffer this source made; pools over it must not be used afterwards, and a pool
   * that asks for a segment gets USE_AFTER_RELEASE. Idempotent. Cost: O(segments).
   * @throws never
   */
  destroy(): void {
    this.#destroyed = true;
    for (const memory of this.#live) memory.buffer.destroy();
    this.#live.clear();
    this.#staging?.destroy();
    this.#staging = null;
    this.#encoder = null;
  }

  /** Queues a copy of `size` bytes (for compaction). @internal */
  copy(source: WebGpuBuffer, from: number, target: WebGpuBuffer, to: number, size: number): void {
    const encoder = (this.#encoder ??= this.device.createCommandEncoder());
    if (source !== target) {
      encoder.copyBufferToBuffer(source, from, target, to, size);
      return;
    }
    const chunk = Math.min(this.#stagingSize, size);
    if (this.#staging === null || this.#staging.size < chunk) {
      this.#staging?.destroy();
      this.#staging = this.device.createBuffer({
        size: chunk,
        usage: GPU_BUFFER_USAGE.COPY_SRC | GPU_BUFFER_USAGE.COPY_DST,
        label: `${this.#label}.staging`,
      });
    }
    const staging = this.#staging;
    // Moving down, copy the lowest chunk first; moving up, the highest: no chunk overwrites bytes
    // of the source that are still to be read.
    const count = Math.ceil(size / chunk);
    for (let k = 0; k < count; k += 1) {
      const at = (to < from ? k : count - 1 - k) * chunk;
      const length = Math.min(chunk, size - at);
      encoder.copyBufferToBuffer(source, from + at, staging, 0, length);
      encoder.copyBufferToBuffer(staging, 0, target, to + at, length);
    }
  }

  /** Submits the queued copies. @internal */
  flush(): void {
    const encoder = this.#encoder;
    if (encoder === null) return;
    this.#encoder = null;
    this.device.queue.submit([encoder.finish()]);
  }

  /** Drops a released segment's memory. @internal */
  forget(memory: GpuSegmentMemory): void {
    this.#live.delete(memory);
  }

  #assertLive(): void {
    if (this.#destroyed) throw new MemError('USE_AFTER_RELEASE', 'the GPU segment source was destroyed');
  }

  #createSegment(byteLength: number, index: number): DeviceMemory {
    this.#assertLive();
    if (byteLength > this.device.limits.maxBufferSize) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `a segment of ${byteLength} bytes exceeds the device's maxBufferSize ${this.device.limits.maxBufferSize}: configure the pool with source.configure()`,
      );
    }
    const buffer = this.device.createBuffer({ size: byteLength, usage: this.usage, label: `${this.#label}.${index}` });
    const memory = new GpuSegmentMemory(this, buffer, byteLength);
    this.#live.add(memory);
    return memory;
  }
}

/** The GPU memory of a workspace, checked. */
function gpuMemoryOf(workspace: Workspace): { memory: GpuSegmentMemory; offset: number } {
  if (!(workspace instanceof Workspace)) throw invalidArgument('workspace', workspace, 'a Workspace');
  const segment = workspace.segment; // USE_AFTER_RELEASE, STALE_HANDLE
  const memory = (workspace.pool as WorkspacePool).segmentMemory(segment)?.memory;
  if (!(memory instanceof GpuSegmentMemory)) {
    throw invalidArgument('workspace', workspace, 'a workspace of a pool over a GpuSegmentSource');
  }
  return { memory, offset: workspace.byteOffset };
}

/**
 * Where `workspace` lives now, as a buffer binding: `{ buffer, offset, size }` with `size` the
 * bytes asked for. Defragmentation moves unpinned workspaces: take the binding again after a call
 * that may defragment, or pin the workspace while a bind group made from it is in use.
 * Cost: O(1).
 * @throws MemError INVALID_ARGUMENT if `workspace` is not a workspace of a pool over a
 * {@link GpuSegmentSource}; USE_AFTER_RELEASE after its release; STALE_HANDLE after `pool.clear()`.
 */
export function gpuBinding(workspace: Workspace): Required<WebGpuBufferBinding> {
  const { memory, offset } = gpuMemoryOf(workspace);
  return { buffer: memory.buffer, offset, size: workspace.size };
}

/**
 * Writes `data` to the start of `workspace` (a `queue.writeBuffer`, in queue order with
 * submissions).
 * Cost: one copy of `data` into the queue.
 * @throws MemError INVALID_ARGUMENT as {@link gpuBinding}, or if `data` is not a typed array of a
 * multiple of 4 bytes, at most the workspace's size rounded up to 4; USE_AFTER_RELEASE,
 * STALE_HANDLE as {@link gpuBinding}.
 */
export function writeGpuWorkspace(workspace: Workspace, data: ArrayBufferView<ArrayBuffer>): void {
  const { memory, offset } = gpuMemoryOf(workspace);
  const room = Math.ceil(workspace.size / 4) * 4;
  if (!ArrayBuffer.isView(data) || data.byteLength % 4 !== 0 || data.byteLength > room) {
    throw invalidArgument('data', data, `a typed array of a multiple of 4 bytes, at most ${room}`);
  }
  memory.source.device.queue.writeBuffer(memory.buffer, offset, data);
}

/**
 * Reads `workspace`'s bytes (its `size` rounded up to 4) once the work submitted before is done.
 * Cost: a copy to a mapped buffer and into the result.
 * @throws MemError INVALID_ARGUMENT, USE_AFTER_RELEASE, STALE_HANDLE as {@link gpuBinding} (the
 * promise rejects).
 */
export async function readGpuWorkspace(workspace: Workspace): Promise<Uint8Array> {
  const { memory, offset } = gpuMemoryOf(workspace);
  const device = memory.source.device;
  const size = Math.ceil(workspace.size / 4) * 4;
  const staging = device.createBuffer({ size, usage: GPU_BUFFER_USAGE.MAP_READ | GPU_BUFFER_USAGE.COPY_DST });
  try {
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(memory.buffer, offset, staging, 0, size);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPU_MAP_MODE.READ);
    const bytes = new Uint8Array(staging.getMappedRange().slice(0));
    staging.unmap();
    return bytes;
  } finally {
    staging.destroy();
  }
}
