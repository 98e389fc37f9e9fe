/**
 * Paged attention on the GPU over a {@link GpuKvStore}: the K/V writes of a step's tokens through
 * their block tables, and attention for decode (one query token per sequence) and prefill (a
 * chunk of query tokens under the causal mask) in one kernel, with grouped-query attention.
 *
 * A step is prepared once (its rows, slots and block tables go to the GPU in one upload) and then
 * encoded per layer into your compute pass. Row `r` of a step is position `start + i` of its
 * entry, entries in order: it writes its K/V into that position's slot and attends over positions
 * `0 .. start + i` (the causal mask), which includes the rows written before it in the pass.
 *
 * Each row's context is scored in partitions of 256 positions per workgroup; each workgroup
 * writes a partial softmax (its largest score, the sum of exponentials and the weighted sum of
 * values), and a second kernel combines the partials of every partition and buffer (the
 * split-KV scheme of vLLM's paged attention v2 and flash-decoding).
 *
 * This module is browser compatible.
 * @module
 */
import { MemError, assertInteger, assertNumber, assertOptions, invalidArgument } from '@mem/types';
import {
  GPU_BUFFER_USAGE,
  checkBufferBinding,
  type WebGpuBuffer,
  type WebGpuBufferBinding,
  type WebGpuComputePass,
} from '@mem/types/webgpu';
import { checkBlockTable } from '../block-table-check.js';
import type { BlockTableView } from '../paged-sequence.js';
import { GpuKvStore } from './gpu-kv-store.js';
import {
  META_HEADER,
  META_ROW,
  PARTITION,
  WORKGROUP_SIZE,
  attentionKernel,
  combineKernel,
  writeKernel,
  type AttentionLayout,
} from './kv-shaders.js';

/** Options of a {@link GpuPagedAttention}. */
export interface GpuAttentionOptions {
  /** Query heads: a multiple of the store's KV heads. */
  readonly numQueryHeads: number;
  /** Score scale. @defaultValue 1 / sqrt(headDim) */
  readonly scale?: number;
}

/** One sequence's work in a step: positions `[start, start + count)`. A scheduler's `StepEntry` is one. */
export interface GpuStepEntry {
  /** The sequence, whose block table has slots for the positions. */
  readonly sequence: BlockTableView;
  /** The first position. */
  readonly start: number;
  /** How many positions. */
  readonly count: number;
}

type Pipeline = { getBindGroupLayout(index: number): unknown };

/** A buffer that grows (to a power of two) when a step needs more. */
class GrowingBuffer {
  buffer: WebGpuBuffer | null = null;
  constructor(
    private readonly store: GpuKvStore,
    private readonly usage: number,
    private readonly label: string,
  ) {}

  /** A buffer of at least `bytes` bytes; a new one (the old one destroyed) when it was smaller. */
  ensure(bytes: number): WebGpuBuffer {
    const current = this.buffer;
    if (current !== null && current.size >= bytes) return current;
    current?.destroy();
    const size = Math.max(256, 2 ** Math.ceil(Math.log2(bytes)));
    this.buffer = this.store.device.createBuffer({ size, usage: this.usage, label: this.label });
    return this.buffer;
  }

  destroy(): void {
    this.buffer?.destroy();
    this.buffer = null;
  }
}

/**
 * The GPU kernels of paged attention over one {@link GpuKvStore}, for one head configuration.
 *
 * Per scheduler step: {@link GpuPagedAttention.prepare} with the step's entries, then per layer
 * {@link GpuPagedAttention.writeKv} and {@link GpuPagedAttention.attend} into a compute pass, and
 * submit. The buffers you pass hold one row per computed position, in step order: K and V rows of
 * `numKvHeads * headDim` floats, query and output rows of `numQueryHeads * headDim` floats
 * (head-major), at offsets that are multiples of the device's `minStorageBufferOffsetAlignment`.
 *
 * Numerics: f32 arithmetic throughout (16-bit storage is widened on read); the outputs equal the
 * CPU `pagedAttention`'s within 1e-5 + 1e-4 x |value| for inputs of magnitude up to about 1 and
 * contexts of thousands of positions (the CPU sums in float64; the GPU sums partitions in float32
 * and combines them).
 *
 * @example
 * ```ts
 * import { KvCacheManager, Scheduler } from '@mem/paged-kv';
 * import { GpuKvStore, GpuPagedAttention } from '@mem/paged-kv/webgpu';
 * import type { WebGpuBufferBinding, WebGpuDevice } from '@mem/types/webgpu';
 * declare const device: WebGpuDevice;
 * declare const qkv: { query: WebGpuBufferBinding; keys: WebGpuBufferBinding; values: WebGpuBufferBinding; out: WebGpuBufferBinding };
 * const store = GpuKvStore.create(device, { numLayers: 1, numBlocks: 64, numKvHeads: 2, blockSize: 16, headDim: 64 });
 * const attention = new GpuPagedAttention(store, { numQueryHeads: 8 });
 * const kv = new KvCacheManager({ numBlocks: 64, blockSize: 16, copyBlock: (s, t) => store.copyBlock(s, t) });
 * const scheduler = new Scheduler(kv, { maxTokensPerStep: 256 });
 * scheduler.submit({ tokens: [1, 2, 3], maxNewTokens: 4 });
 * const step = scheduler.step();
 * attention.prepare(step.entries);
 * const encoder = device.createCommandEncoder();
 * const pass = encoder.beginComputePass();
 * // ... your kernels fill qkv for the step's rows (attention.rows of them) ...
 * attention.writeKv(pass, 0, qkv.keys, qkv.values);
 * attention.attend(pass, 0, qkv.query, qkv.out);
 * pass.end();
 * device.queue.submit([encoder.finish()]);
 * ```
 */
export class GpuPagedAttention {
  /** The store it reads and writes. */
  readonly store: GpuKvStore;
  /** Query heads. */
  readonly numQueryHeads: number;
  /** Score scale. */
  readonly scale: number;
  readonly #write: Pipeline;
  readonly #attention: Pipeline;
  readonly #combine: Pipeline;
  readonly #meta: GrowingBuffer;
  readonly #partials: GrowingBuffer;
  #rows = 0;
  #partitions = 0;
  #partialBytes = 0;
  #destroyed = false;

  /**
   * Compiles the kernels for `store` and `options`.
   * Cost: three shader compilations.
   * @throws MemError INVALID_ARGUMENT if `store` is not a GpuKvStore, an option is invalid or
   * unknown (`numQueryHeads` must be a multiple of the KV heads), or the store's `headDim` needs
   * more workgroup memory than the device has (`(headDim + 321) * 4` bytes: up to 3775 within 16 KiB).
   * @throws MemError USE_AFTER_RELEASE if `store` was destroyed.
   */
  constructor(store: GpuKvStore, options: GpuAttentionOptions) {
    if (!(store instanceof GpuKvStore)) throw invalidArgument('store', store, 'a GpuKvStore');
    if (options === undefined) throw invalidArgument('options', options, 'an object');
    const checked = assertOptions<GpuAttentionOptions>(options, 'options', ['numQueryHeads', 'scale']);
    store.shards(0);
    const heads = assertInteger(checked.numQueryHeads, 'options.numQueryHeads', { min: 1, max: 4096 });
    if (heads % store.numKvHeads !== 0) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `options.numQueryHeads (${heads}) must be a multiple of the KV heads (${store.numKvHeads}) for grouped-query attention`,
      );
    }
    // Each attention workgroup holds a query head, a partition's weights and a reduction in its memory.
    const workgroupBytes = (store.headDim + PARTITION + WORKGROUP_SIZE + 1) * 4;
    if (workgroupBytes > store.device.limits.maxComputeWorkgroupStorageSize) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `headDim ${store.headDim} needs ${workgroupBytes} bytes of workgroup memory, more than the device's ${store.device.limits.maxComputeWorkgroupStorageSize}`,
      );
    }
    this.store = store;
    this.numQueryHeads = heads;
    this.scale =
      checked.scale === undefined ? 1 / Math.sqrt(store.headDim) : assertNumber(checked.scale, 'options.scale');
    const { numKvHeads, blockSize, headDim, dtype } = store;
    const layout: AttentionLayout = {
      numKvHeads,
      blockSize,
      headDim,
      dtype,
      numQueryHeads: heads,
      scale: this.scale,
      shards: store.buffersPerLayer,
    };
    const device = store.device;
    const compile = (code: string, label: string): Pipeline =>
      device.createComputePipeline({
        layout: 'auto',
        compute: { module: device.createShaderModule({ code, label }), entryPoint: 'main' },
      });
    this.#write = compile(writeKernel(layout), 'kv.write');
    this.#attention = compile(attentionKernel(layout), 'kv.attention');
    this.#combine = compile(combineKernel(layout), 'kv.combine');
    this.#meta = new GrowingBuffer(store, GPU_BUFFER_USAGE.STORAGE | GPU_BUFFER_USAGE.COPY_DST, 'kv.step');
    this.#partials = new GrowingBuffer(store, GPU_BUFFER_USAGE.STORAGE, 'kv.partials');
  }

  /** Rows of the prepared step (its positions to compute). Cost: O(1). @throws never */
  get rows(): number {
    return this.#rows;
  }

  /**
   * Bytes of the GPU buffers it holds for steps: the rows' metadata and block tables, and the
   * partial softmaxes. They grow (to a power of two) with the largest step prepared, and are 0
   * after {@link GpuPagedAttention.destroy}. The store's buffers are its own
   * ({@link GpuKvStore.byteLength}). Cost: O(1). @throws never
   */
  get byteLength(): number {
    return (this.#meta.buffer?.size ?? 0) + (this.#partials.buffer?.size ?? 0);
  }

  /**
   * Uploads a step's work: for each row its context length, slot and block table. Call it once
   * per step, before encoding the step's layers, and submit those commands before the next
   * `prepare` (the upload is queued like a submission: a later one would be what earlier
   * unsubmitted commands read).
   * Cost: O(rows + block-table entries) on the CPU and one `queue.writeBuffer`; the buffers grow
   * (and are replaced) only when a step needs more than any before.
   * @throws MemError INVALID_ARGUMENT if `entries` is empty or malformed, a sequence's blocks are
   * not this store's, or a position has no slot.
   * @throws MemError USE_AFTER_RELEASE if a sequence was released, or the store destroyed.
   * @throws MemError IN_USE if an entry starts below its sequence's `computedTokens` (those
   * positions hold final K/V in blocks other requests may share).
   * @throws MemError LIMIT_EXCEEDED if the step's partial results would exceed the device's largest
   * storage binding (split the step: fewer tokens per step).
   */
  prepare(entries: readonly GpuStepEntry[]): void {
    this.#live();
    if (!Array.isArray(entries) || entries.length === 0) {
      throw invalidArgument('entries', entries, 'a non-empty array of { sequence, start, count }');
    }
    const { blockSize, numBlocks, headDim } = this.store;
    let rows = 0;
    let tableWords = 0;
    let longest = 0;
    const tables: Uint32Array[] = [];
    for (let i = 0; i < entries.length; i += 1) {
      const entry = entries[i] as Partial<GpuStepEntry> | null;
      if (entry === null || typeof entry !== 'object') throw invalidArgument(`entries[${i}]`, entry, 'an object');
      const sequence = entry.sequence as BlockTableView;
      const table = checkBlockTable(sequence, blockSize, numBlocks);
      const capacity = sequence.blockCount * blockSize;
      const start = assertInteger(entry.start, `entries[${i}].start`, { min: 0, max: Math.max(0, capacity - 1) });
      const count = assertInteger(entry.count, `entries[${i}].count`, { min: 1, max: capacity - start });
      const computed = sequence.computedTokens;
      if (computed !== undefined && start < computed) {
        throw new MemError(
          'IN_USE',
          `entries[${i}] writes position ${start}, below the sequence's ${computed} computed tokens: their K/V is final and may be shared`,
        );
      }
      rows += count;
      longest = Math.max(longest, start + count);
      tables.push(table.subarray(0, Math.ceil((start + count) / blockSize)));
      tableWords += tables[i]!.length;
    }
    const partitions = Math.ceil(longest / PARTITION);
    const partialBytes =
      this.store.buffersPerLayer *
      rows *
      this.numQueryHeads *
      partitions *
      (headDim + 2) *
      Float32Array.BYTES_PER_ELEMENT;
    const { maxStorageBufferBindingSize: limit, maxComputeWorkgroupsPerDimension: maxRows } = this.store.device.limits;
    if (partialBytes > limit || rows > maxRows) {
      throw new MemError(
        'LIMIT_EXCEEDED',
        `a step of ${rows} rows over up to ${longest} positions needs ${partialBytes} bytes of partial results; the device allows ${limit} bytes in a binding and ${maxRows} rows: schedule fewer tokens per step`,
      );
    }
    const meta = new Uint32Array(META_HEADER + rows * META_ROW + tableWords);
    meta[0] = rows;
    meta[1] = partitions;
    let row = META_HEADER;
    let at = META_HEADER + rows * META_ROW;
    for (let i = 0; i < entries.length; i += 1) {
      const { start, count } = entries[i]!;
      const table = tables[i]!;
      meta.set(table, at);
      for (let position = start; position < start + count; position += 1, row += META_ROW) {
        meta[row] = position + 1;
        meta[row + 1] = at;
        meta[row + 2] = table[Math.floor(position / blockSize)]! * blockSize + (position % blockSize);
      }
      at += table.length;
    }
    this.store.device.queue.writeBuffer(this.#meta.ensure(meta.byteLength), 0, meta);
    this.#partials.ensure(partialBytes);
    this.#rows = rows;
    this.#partitions = partitions;
    this.#partialBytes = partialBytes;
  }

  /**
   * Encodes into `pass` the writes of the prepared step's K and V rows into `layer`'s slots.
   * Cost: one dispatch per buffer of the layer, O(rows * numKvHeads * headDim) work.
   * @throws MemError INVALID_ARGUMENT if `layer` is out of range, `pass` is not a compute pass, no
   * step was prepared, or a binding is not a buffer range of `rows * numKvHeads * headDim` floats
   * at an aligned offset.
   * @throws MemError USE_AFTER_RELEASE if the store or this object was destroyed.
   */
  writeKv(pass: WebGpuComputePass, layer: number, keys: WebGpuBufferBinding, values: WebGpuBufferBinding): void {
    const shards = this.#begin(pass, layer);
    const rowBytes = this.store.numKvHeads * this.store.headDim * Float32Array.BYTES_PER_ELEMENT;
    const k = this.#binding(keys, 'keys', rowBytes);
    const v = this.#binding(values, 'values', rowBytes);
    const units = (this.store.numKvHeads * this.store.headDim) / (this.store.dtype === 'float32' ? 1 : 2);
    pass.setPipeline(this.#write);
    for (const shard of shards) {
      pass.setBindGroup(
        0,
        this.#bind(this.#write, [shard.uniform, this.#metaBinding(), k, v, { buffer: shard.buffer }]),
      );
      pass.dispatchWorkgroups(Math.ceil(units / WORKGROUP_SIZE), this.#rows);
    }
  }

  /**
   * Encodes into `pass` the attention of the prepared step's query rows over `layer`, writing one
   * output row per query row. Each row attends over positions `0 .. its position` of its
   * sequence: write the step's K/V first ({@link GpuPagedAttention.writeKv}, earlier in the pass).
   * Cost: one dispatch per buffer of the layer of `ceil(longest context / 256) x numQueryHeads x
   * rows` workgroups, and one combining dispatch; O(rows * numQueryHeads * context * headDim) work.
   * @throws MemError INVALID_ARGUMENT if `layer` is out of range, `pass` is not a compute pass, no
   * step was prepared, or a binding is not a buffer range of `rows * numQueryHeads * headDim`
   * floats at an aligned offset.
   * @throws MemError USE_AFTER_RELEASE if the store or this object was destroyed.
   */
  attend(pass: WebGpuComputePass, layer: number, query: WebGpuBufferBinding, out: WebGpuBufferBinding): void {
    const shards = this.#begin(pass, layer);
    const rowBytes = this.numQueryHeads * this.store.headDim * Float32Array.BYTES_PER_ELEMENT;
    const q = this.#binding(query, 'query', rowBytes);
    const o = this.#binding(out, 'out', rowBytes);
    const partials = { buffer: this.#partials.buffer!, offset: 0, size: this.#partialBytes };
    pass.setPipeline(this.#attention);
    for (const shard of shards) {
      pass.setBindGroup(
        0,
        this.#bind(this.#attention, [shard.uniform, this.#metaBinding(), q, { buffer: shard.buffer }, partials]),
      );
      pass.dispatchWorkgroups(this.#partitions, this.numQueryHeads, this.#rows);
    }
    pass.setPipeline(this.#combine);
    pass.setBindGroup(0, this.#bind(this.#combine, [this.#metaBinding(), partials, o]));
    pass.dispatchWorkgroups(this.numQueryHeads, this.#rows);
  }

  /**
   * Frees the step buffers; afterwards every method throws USE_AFTER_RELEASE. The store stays.
   * Idempotent. Cost: O(1).
   * @throws never
   */
  destroy(): void {
    this.#destroyed = true;
    this.#meta.destroy();
    this.#partials.destroy();
    this.#rows = 0;
  }

  #live(): void {
    if (this.#destroyed) throw new MemError('USE_AFTER_RELEASE', 'the GPU paged attention was destroyed');
  }

  /** Checks the arguments every encoding shares and returns the layer's shards. */
  #begin(pass: WebGpuComputePass, layer: number): ReturnType<GpuKvStore['shards']> {
    this.#live();
    const shards = this.store.shards(layer);
    if (pass === null || typeof pass !== 'object' || typeof pass.dispatchWorkgroups !== 'function') {
      throw invalidArgument('pass', pass, 'a GPUComputePassEncoder');
    }
    if (this.#rows === 0) {
      throw new MemError('INVALID_ARGUMENT', 'no step is prepared: call prepare(step.entries) first');
    }
    return shards;
  }

  #binding(binding: WebGpuBufferBinding, name: string, rowBytes: number): WebGpuBufferBinding {
    const alignment = this.store.device.limits.minStorageBufferOffsetAlignment;
    const size = this.#rows * rowBytes;
    const checked = checkBufferBinding(binding, name, alignment, size);
    return { buffer: checked.buffer, offset: checked.offset, size };
  }

  #metaBinding(): WebGpuBufferBinding {
    return { buffer: this.#meta.buffer! };
  }

  #bind(pipeline: Pipeline, resources: readonly (WebGpuBuffer | WebGpuBufferBinding)[]): unknown {
    return this.store.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: resources.map((resource, binding) => ({
        binding,
        resource: 'buffer' in resource ? resource : { buffer: resource },
      })),
    });
  }
}
