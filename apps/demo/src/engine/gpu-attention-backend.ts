/**
 * The serving path's attention on a GPU: K and V in a `GpuKvStore`, written and attended by
 * `GpuPagedAttention`'s kernels (`@mem/paged-kv/webgpu`), on the WebGPU device the demo opened.
 *
 * The projections, norms and MLP stay on the CPU (the WebAssembly SIMD matrix products): the model
 * is small, so they cost little beside attention over long prompts, and the GPU path then differs
 * from the CPU path in attention alone, which is what `--verify --device webgpu` checks. Per layer,
 * one submission uploads the step's Q, K and V rows, writes K/V through the block tables and
 * attends every row (decodes and prefill chunks alike), and copies the attention rows into a
 * mappable buffer; the layer goes on once they are read back (`mapAsync`).
 * @module
 */
import type { SchedulerStep } from '@mem/paged-kv';
import { GpuKvStore, GpuPagedAttention } from '@mem/paged-kv/webgpu';
import { GPU_BUFFER_USAGE, GPU_MAP_MODE } from '@mem/types/webgpu';
import { kvWidth, type ModelConfig } from '../model/model-config.js';
import type { AsyncAttentionBackend, ForwardBatch, ForwardScratch } from '../model/transformer.js';

/** The GPU memory of a {@link GpuAttentionBackend}, in bytes. */
export interface GpuMemory {
  /** The KV cache: every layer's K and V blocks. */
  readonly kvBytes: number;
  /**
   * Everything else it holds for steps: the attention kernels' step buffers (rows' metadata, block
   * tables, partial softmaxes) and the Q/K/V and output rows of a step with its readback buffer.
   */
  readonly stepBytes: number;
}

/** The KV cache's shape, and the most rows a step computes. */
export interface GpuCacheShape {
  /** KV blocks. */
  readonly numBlocks: number;
  /** Tokens per block. */
  readonly blockSize: number;
  /** The most rows of one step (the scheduler's token budget). */
  readonly maxRows: number;
}

/** Paged KV storage and attention on a WebGPU device, for the rows of one scheduler step at a time. */
export class GpuAttentionBackend implements AsyncAttentionBackend {
  /** The K/V storage of every layer. */
  readonly store: GpuKvStore;
  readonly #device: GPUDevice;
  readonly #attention: GpuPagedAttention;
  /** The step's rows: a section each for query, key, value and output, at aligned offsets. */
  readonly #rows: GPUBuffer;
  /** Where the output rows are copied to be read back. */
  readonly #readback: GPUBuffer;
  readonly #maxRows: number;
  readonly #queryBytes: number;
  readonly #kvBytes: number;
  readonly #offsets: { readonly key: number; readonly value: number; readonly out: number };
  #destroyed = false;

  /**
   * Allocates the KV cache of `config`'s layers and heads in `shape` on `device`, and the rows of a
   * step of up to `shape.maxRows` rows. Cost: the buffers' allocation, the kernels' compilation.
   */
  constructor(device: GPUDevice, config: ModelConfig, shape: GpuCacheShape) {
    this.#device = device;
    this.store = GpuKvStore.create(device, {
      numLayers: config.layerCount,
      numBlocks: shape.numBlocks,
      numKvHeads: config.kvHeadCount,
      blockSize: shape.blockSize,
      headDim: config.headDim,
      label: 'demo.kv',
    });
    const buffers: GPUBuffer[] = [];
    try {
      this.#attention = new GpuPagedAttention(this.store, { numQueryHeads: config.headCount });
      this.#maxRows = shape.maxRows;
      this.#queryBytes = config.headCount * config.headDim * 4;
      this.#kvBytes = kvWidth(config) * 4;
      const alignment = device.limits.minStorageBufferOffsetAlignment;
      const section = (rowBytes: number): number => Math.ceil((shape.maxRows * rowBytes) / alignment) * alignment;
      const key = section(this.#queryBytes);
      const value = key + section(this.#kvBytes);
      const out = value + section(this.#kvBytes);
      this.#offsets = { key, value, out };
      const usage = GPU_BUFFER_USAGE.STORAGE | GPU_BUFFER_USAGE.COPY_DST | GPU_BUFFER_USAGE.COPY_SRC;
      buffers.push(device.createBuffer({ size: out + section(this.#queryBytes), usage, label: 'demo.step-rows' }));
      const readUsage = GPU_BUFFER_USAGE.MAP_READ | GPU_BUFFER_USAGE.COPY_DST;
      buffers.push(device.createBuffer({ size: section(this.#queryBytes), usage: readUsage, label: 'demo.readback' }));
    } catch (error) {
      for (const buffer of buffers) buffer.destroy();
      this.store.destroy();
      throw error;
    }
    [this.#rows, this.#readback] = buffers as [GPUBuffer, GPUBuffer];
  }

  /**
   * Uploads the step's rows, slots and block tables for the layers that follow.
   * @throws RangeError if the step has more rows than the backend was made for.
   */
  prepare(step: SchedulerStep): void {
    if (step.tokens > this.#maxRows) {
      throw new RangeError(`a step of ${step.tokens} rows exceeds the ${this.#maxRows} rows the GPU backend holds`);
    }
    this.#attention.prepare(step.entries);
  }

  /** Writes the step's K/V of `layer` and attends every row on the GPU; resolves once the output rows are in `scratch.attention`. */
  async attend(layer: number, batch: ForwardBatch, scratch: ForwardScratch): Promise<void> {
    const device = this.#device;
    const outBytes = batch.rows * this.#queryBytes;
    // Validation errors of WebGPU are reported, not thrown: the scope turns them into a failed step.
    device.pushErrorScope('validation');
    try {
      this.#encode(layer, scratch, outBytes);
    } catch (error) {
      device.popErrorScope().catch(() => {}); // the thrown error says what went wrong
      throw error;
    }
    let error: GPUError | null;
    try {
      [error] = await Promise.all([device.popErrorScope(), this.#readback.mapAsync(GPU_MAP_MODE.READ, 0, outBytes)]);
    } catch (cause) {
      // Dawn rejects with a bare AbortError when the device is lost or destroyed meanwhile.
      const { name, message } = cause as Error;
      const why = message === '' ? name : `${name}: ${message}`;
      throw new Error(`layer ${layer}'s attention could not be read back from the GPU (${why})`, { cause });
    }
    try {
      if (error !== null) throw new Error(`WebGPU refused layer ${layer}'s attention: ${error.message}`);
      scratch.attention.set(new Float32Array(this.#readback.getMappedRange(0, outBytes)));
    } finally {
      this.#readback.unmap();
    }
  }

  /** What it holds on the GPU now (0 once destroyed). */
  memory(): GpuMemory {
    if (this.#destroyed) return { kvBytes: 0, stepBytes: 0 };
    return {
      kvBytes: this.store.byteLength,
      stepBytes: this.#attention.byteLength + this.#rows.size + this.#readback.size,
    };
  }

  /** Frees every GPU buffer it holds. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#attention.destroy();
    this.store.destroy();
    this.#rows.destroy();
    this.#readback.destroy();
  }

  /** One submission: the rows up, the K/V writes and attention of `layer`, the output rows to the readback buffer. */
  #encode(layer: number, scratch: ForwardScratch, outBytes: number): void {
    const device = this.#device;
    const rows = this.#rows;
    const { key, value, out } = this.#offsets;
    // The scratch views are of the workspace pool's ArrayBuffer (Dawn also copies from shared memory).
    device.queue.writeBuffer(rows, 0, scratch.query as Float32Array<ArrayBuffer>);
    device.queue.writeBuffer(rows, key, scratch.key as Float32Array<ArrayBuffer>);
    device.queue.writeBuffer(rows, value, scratch.value as Float32Array<ArrayBuffer>);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    this.#attention.writeKv(pass, layer, { buffer: rows, offset: key }, { buffer: rows, offset: value });
    this.#attention.attend(pass, layer, { buffer: rows, offset: 0 }, { buffer: rows, offset: out });
    pass.end();
    encoder.copyBufferToBuffer(rows, out, this.#readback, 0, outBytes);
    device.queue.submit([encoder.finish()]);
  }
}
