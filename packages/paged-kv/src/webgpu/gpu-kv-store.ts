/**
 * Paged K and V storage in GPU buffers: the layout of the CPU `KvStore` (per layer,
 * `[block][kvHead][slot][dim]`, float32, float16 or bfloat16), on the `GPUDevice` you pass.
 *
 * Each layer's blocks are split into buffers of `blocksPerBuffer` blocks ("shards"), each holding
 * the K of its blocks and then their V, so that no buffer exceeds the device's
 * `maxStorageBufferBindingSize` or `maxBufferSize`. With the default limits a layer of up to
 * 64 MiB of K (and as much V) is one buffer.
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
  type WebGpuDevice,
} from '@mem/types/webgpu';
import { KV_LAYOUT_OPTION_NAMES, checkKvLayout, type KvDType, type KvLayoutSizes } from '../kv-store-layout.js';
import type { KvArray, KvStoreOptions } from '../kv-store.js';
import { WORKGROUP_SIZE, copyKernel } from './kv-shaders.js';

const OPTION_NAMES: readonly string[] = [...KV_LAYOUT_OPTION_NAMES, 'label', 'maxBufferSize'];

/** Options of {@link GpuKvStore.create}: the layout of a `KvStore`, and a label for the buffers. */
export interface GpuKvStoreOptions extends KvStoreOptions {
  /** Prefix of the buffers' labels (shown in GPU debuggers and validation messages). @defaultValue 'kv' */
  readonly label?: string;
  /**
   * The largest buffer the store makes, in bytes (smaller buffers are easier for a driver to
   * place). At most the device's `maxStorageBufferBindingSize` and `maxBufferSize`.
   * @defaultValue the smaller of those two limits
   */
  readonly maxBufferSize?: number;
}

/** One shard: a buffer and the blocks it holds. @internal */
export interface KvShard {
  /** K of the blocks, then their V. */
  readonly buffer: WebGpuBuffer;
  /** The first block it holds. */
  readonly first: number;
  /** How many blocks it holds. */
  readonly count: number;
  /** The uniform the kernels read the shard from: first, count, index. */
  readonly uniform: WebGpuBuffer;
}

/**
 * Paged K/V storage for all layers in GPU buffers, with the layout of the CPU `KvStore`.
 *
 * Write it with {@link GpuPagedAttention.writeKv} (the K/V of a step's tokens, through their block
 * tables) and read it with {@link GpuPagedAttention.attend}. Its {@link GpuKvStore.copyBlock} is
 * the copy-on-write callback of a `KvCacheManager`. {@link GpuKvStore.readLayer} reads a layer
 * back in the CPU store's layout.
 *
 * @example
 * ```ts
 * import { KvCacheManager } from '@mem/paged-kv';
 * import { GpuKvStore } from '@mem/paged-kv/webgpu';
 * import type { WebGpuDevice } from '@mem/types/webgpu';
 * declare const device: WebGpuDevice; // (await (await navigator.gpu.requestAdapter())!.requestDevice())
 * const store = GpuKvStore.create(device, { numLayers: 2, numBlocks: 64, numKvHeads: 2, blockSize: 16, headDim: 64 });
 * const kv = new KvCacheManager({ numBlocks: 64, blockSize: 16, copyBlock: (s, t) => store.copyBlock(s, t) });
 * ```
 */
export class GpuKvStore {
  /** The device the buffers live on. */
  readonly device: WebGpuDevice;
  /** Transformer layers. */
  readonly numLayers: number;
  /** Physical blocks. */
  readonly numBlocks: number;
  /** KV heads. */
  readonly numKvHeads: number;
  /** Tokens per block. */
  readonly blockSize: number;
  /** Elements per head. */
  readonly headDim: number;
  /** Element type. */
  readonly dtype: KvDType;
  /** Elements of one block of one layer's K (or V): `numKvHeads * blockSize * headDim`. */
  readonly blockElements: number;
  /** Blocks per buffer: all of them unless a layer is larger than the device lets one buffer be. */
  readonly blocksPerBuffer: number;
  /** Bytes of all K and V storage. */
  readonly byteLength: number;
  /** Per layer, its shards in block order. */
  #layers: KvShard[][] | null;
  readonly #bytesPerElement: number;
  readonly #copyPipeline: { getBindGroupLayout(index: number): unknown };
  readonly #copyUniform: WebGpuBuffer;

  private constructor(device: WebGpuDevice, layout: KvLayoutSizes, blocksPerBuffer: number, label: string) {
    this.device = device;
    this.numLayers = layout.numLayers;
    this.numBlocks = layout.numBlocks;
    this.numKvHeads = layout.numKvHeads;
    this.blockSize = layout.blockSize;
    this.headDim = layout.headDim;
    this.dtype = layout.dtype;
    this.blockElements = layout.blockElements;
    this.blocksPerBuffer = blocksPerBuffer;
    this.byteLength = layout.byteLength;
    this.#bytesPerElement = layout.bytesPerElement;
    const blockBytes = layout.blockElements * layout.bytesPerElement;
    const usage = GPU_BUFFER_USAGE.STORAGE | GPU_BUFFER_USAGE.COPY_SRC | GPU_BUFFER_USAGE.COPY_DST;
    const uniformUsage = GPU_BUFFER_USAGE.UNIFORM | GPU_BUFFER_USAGE.COPY_DST;
    const uniforms: WebGpuBuffer[] = [];
    for (let first = 0, index = 0; first < layout.numBlocks; first += blocksPerBuffer, index += 1) {
      const count = Math.min(blocksPerBuffer, layout.numBlocks - first);
      const uniform = device.createBuffer({ size: 16, usage: uniformUsage, label: `${label}.shard${index}` });
      device.queue.writeBuffer(uniform, 0, new Uint32Array([first, count, index, 0]));
      uniforms.push(uniform);
    }
    this.#layers = [];
    for (let layer = 0; layer < layout.numLayers; layer += 1) {
      this.#layers.push(
        uniforms.map((uniform, index) => {
          const first = index * blocksPerBuffer;
          const count = Math.min(blocksPerBuffer, layout.numBlocks - first);
          const size = 2 * count * blockBytes;
          const buffer = device.createBuffer({ size, usage, label: `${label}.layer${layer}.shard${index}` });
          return { buffer, first, count, uniform };
        }),
      );
    }
    const module = device.createShaderModule({ code: copyKernel(layout), label: `${label}.copy` });
    this.#copyPipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    this.#copyUniform = device.createBuffer({ size: 16, usage: uniformUsage, label: `${label}.copy` });
  }

  /**
   * Allocates the storage on `device` (zeroed by WebGPU) and compiles the block-copy kernel.
   * Cost: the buffers' allocation, one shader compilation.
   * @throws MemError INVALID_ARGUMENT if `device` is not a GPUDevice, an option is invalid or
   * unknown, a 16-bit store has an odd `headDim` (two elements share a 32-bit word), or one block
   * of K and V is larger than the largest buffer (`maxBufferSize`, or the device's limits).
   *
   * @example
   * ```ts
   * import { GpuKvStore } from '@mem/paged-kv/webgpu';
   * import type { WebGpuDevice } from '@mem/types/webgpu';
   * declare const device: WebGpuDevice;
   * const store = GpuKvStore.create(device, { numLayers: 1, numBlocks: 8, numKvHeads: 1, blockSize: 4, headDim: 2, dtype: 'float16' });
   * store.byteLength; // 256: 2 (K, V) x 8 blocks x 8 elements x 2 bytes
   * ```
   */
  static create(device: WebGpuDevice, options: GpuKvStoreOptions): GpuKvStore {
    assertWebGpuDevice(device, 'device');
    if (options === undefined) throw invalidArgument('options', options, 'an object');
    const checked = assertOptions<GpuKvStoreOptions>(options, 'options', OPTION_NAMES);
    const layout = checkKvLayout(checked, 'options');
    const label = checked.label ?? 'kv';
    if (typeof label !== 'string') throw invalidArgument('options.label', label, 'a string');
    if (layout.dtype !== 'float32' && layout.headDim % 2 !== 0) {
      throw invalidArgument('options.headDim', layout.headDim, `even for ${layout.dtype} (two elements share a word)`);
    }
    const deviceLimit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    const limit =
      checked.maxBufferSize === undefined
        ? deviceLimit
        : assertInteger(checked.maxBufferSize, 'options.maxBufferSize', { min: 1, max: deviceLimit });
    const pairBytes = 2 * layout.blockElements * layout.bytesPerElement;
    const blocksPerBuffer = Math.min(layout.numBlocks, Math.floor(limit / pairBytes));
    if (blocksPerBuffer === 0) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `one block of K and V takes ${pairBytes} bytes, more than the largest buffer (${limit} bytes)`,
      );
    }
    return new GpuKvStore(device, layout, blocksPerBuffer, label);
  }

  /** Buffers per layer: `ceil(numBlocks / blocksPerBuffer)`. Cost: O(1). @throws never */
  get buffersPerLayer(): number {
    return Math.ceil(this.numBlocks / this.blocksPerBuffer);
  }

  /** Whether {@link GpuKvStore.destroy} was called. Cost: O(1). @throws never */
  get destroyed(): boolean {
    return this.#layers === null;
  }

  /**
   * The buffer of shard `index` of `layer`: the K of blocks `index * blocksPerBuffer ..` (as many
   * as fit), then their V, for your own kernels.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `layer` or `index` is out of range.
   * @throws MemError USE_AFTER_RELEASE after {@link GpuKvStore.destroy}.
   */
  buffer(layer: number, index = 0): WebGpuBuffer {
    const shards = this.shards(layer);
    return shards[assertInteger(index, 'index', { min: 0, max: shards.length - 1 })]!.buffer;
  }

  /**
   * Copies block `source` into block `target` in every layer, K and V (the copy-on-write callback:
   * pass `(s, t) => store.copyBlock(s, t)` as `copyBlock`). The copy is submitted to the device's
   * queue at once, so it runs before any work submitted after it.
   * Cost: one submission of `numLayers` dispatches (blocks in one buffer) or copies (blocks in two).
   * @throws MemError INVALID_ARGUMENT if a block index is out of range.
   * @throws MemError USE_AFTER_RELEASE after {@link GpuKvStore.destroy}.
   */
  copyBlock(source: number, target: number): void {
    const layers = this.#live();
    assertInteger(source, 'source', { min: 0, max: this.numBlocks - 1 });
    assertInteger(target, 'target', { min: 0, max: this.numBlocks - 1 });
    if (source === target) return;
    const per = this.blocksPerBuffer;
    const from = Math.floor(source / per);
    const to = Math.floor(target / per);
    const encoder = this.device.createCommandEncoder();
    if (from === to) {
      const count = layers[0]![from]!.count;
      const v = (count * this.blockElements * this.#bytesPerElement) / 4;
      this.device.queue.writeBuffer(
        this.#copyUniform,
        0,
        new Uint32Array([source - from * per, target - to * per, v, 0]),
      );
      const pass = encoder.beginComputePass();
      pass.setPipeline(this.#copyPipeline);
      const words = (this.blockElements * this.#bytesPerElement) / 4;
      const groups = Math.min(Math.ceil(words / WORKGROUP_SIZE), this.device.limits.maxComputeWorkgroupsPerDimension);
      for (const shards of layers) {
        pass.setBindGroup(0, this.#bindCopy(shards[from]!.buffer));
        pass.dispatchWorkgroups(groups);
      }
      pass.end();
    } else {
      const bytes = this.blockElements * this.#bytesPerElement;
      for (const shards of layers) {
        const a = shards[from]!;
        const b = shards[to]!;
        const s = (source - a.first) * bytes;
        const t = (target - b.first) * bytes;
        encoder.copyBufferToBuffer(a.buffer, s, b.buffer, t, bytes);
        encoder.copyBufferToBuffer(a.buffer, a.count * bytes + s, b.buffer, b.count * bytes + t, bytes);
      }
    }
    this.device.queue.submit([encoder.finish()]);
  }

  /**
   * Reads `layer`'s K and V back, in the CPU `KvStore`'s layout (`Float32Array` for float32, a
   * `Uint16Array` of bits for the 16-bit types): for checks, debugging and moving a cache to the
   * CPU. Waits for the work submitted before it.
   * Cost: copies of the layer's bytes to a mapped buffer and into the result.
   * @throws MemError INVALID_ARGUMENT if `layer` is out of range (the promise rejects).
   * @throws MemError USE_AFTER_RELEASE after {@link GpuKvStore.destroy} (the promise rejects).
   */
  async readLayer(layer: number): Promise<{
    /** The layer's K, as `store.keys(layer)` of a CPU store holds it. */
    keys: KvArray;
    /** The layer's V, as `store.values(layer)` holds it. */
    values: KvArray;
  }> {
    const shards = this.shards(layer);
    const half = this.numBlocks * this.blockElements * this.#bytesPerElement;
    const staging = this.device.createBuffer({
      size: 2 * half,
      usage: GPU_BUFFER_USAGE.MAP_READ | GPU_BUFFER_USAGE.COPY_DST,
    });
    try {
      const encoder = this.device.createCommandEncoder();
      const blockBytes = this.blockElements * this.#bytesPerElement;
      for (const shard of shards) {
        const bytes = shard.count * blockBytes;
        encoder.copyBufferToBuffer(shard.buffer, 0, staging, shard.first * blockBytes, bytes);
        encoder.copyBufferToBuffer(shard.buffer, bytes, staging, half + shard.first * blockBytes, bytes);
      }
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPU_MAP_MODE.READ);
      const copy = staging.getMappedRange().slice(0);
      staging.unmap();
      const length = this.numBlocks * this.blockElements;
      return this.dtype === 'float32'
        ? { keys: new Float32Array(copy, 0, length), values: new Float32Array(copy, half, length) }
        : { keys: new Uint16Array(copy, 0, length), values: new Uint16Array(copy, half, length) };
    } finally {
      staging.destroy();
    }
  }

  /**
   * Frees every buffer of the store; afterwards every method throws USE_AFTER_RELEASE. Work
   * already submitted completes. Idempotent. Cost: O(buffers).
   * @throws never
   */
  destroy(): void {
    const layers = this.#layers;
    if (layers === null) return;
    this.#layers = null;
    for (const shards of layers) for (const shard of shards) shard.buffer.destroy();
    for (const shard of layers[0]!) shard.uniform.destroy();
    this.#copyUniform.destroy();
  }

  /** @internal The shards of `layer`, checked. */
  shards(layer: number): readonly KvShard[] {
    const layers = this.#live();
    return layers[assertInteger(layer, 'layer', { min: 0, max: this.numLayers - 1 })]!;
  }

  #live(): KvShard[][] {
    const layers = this.#layers;
    if (layers === null) throw new MemError('USE_AFTER_RELEASE', 'the GPU KV store was destroyed');
    return layers;
  }

  #bindCopy(buffer: WebGpuBuffer): unknown {
    return this.device.createBindGroup({
      layout: this.#copyPipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.#copyUniform } },
        { binding: 1, resource: { buffer } },
      ],
    });
  }
}
