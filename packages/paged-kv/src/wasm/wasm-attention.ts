/**
 * Paged attention through the WebAssembly SIMD128 kernels, over a store's WebAssembly.Memory: the
 * JavaScript side of `attention-kernels.wat`. It copies the block table and the query vectors into
 * a scratch slot of the memory, runs the kernel per KV head over tiles of the query vectors that
 * read it, and copies the outputs out. K and V are read in place.
 *
 * This module is browser compatible.
 * @module
 */
import type { KvLayoutSizes } from '../kv-store-layout.js';

/** Bytes of one scratch slot: block table, 16-bit conversion buffers, query tile. */
export const SLOT_BYTES = 262144;
/** Block ids the table area holds; longer tables are walked in chunks. */
const TABLE_ENTRIES = 4096;
const WORK_OFFSET = TABLE_ENTRIES * 4;
/** Bytes of each of the two conversion buffers (K and V of one run). */
const RUN_BYTES = 16384;
const TILE_OFFSET = WORK_OFFSET + 2 * RUN_BYTES;
const TILE_BYTES = SLOT_BYTES - TILE_OFFSET;
/** The largest head dimension the kernels take (one query record must fit the tile). */
export const MAX_KERNEL_HEAD_DIM = 4096;

interface KernelExports {
  begin(tile: number, vectors: number, dim: number, run: number): void;
  end(tile: number, vectors: number, dim: number, run: number): void;
  attend(
    keys: number,
    values: number,
    blockBytes: number,
    table: number,
    blocks: number,
    first: number,
    blockSize: number,
    dim: number,
    dtype: number,
    run: number,
    tile: number,
    vectors: number,
    scale: number,
    work: number,
  ): void;
}

const DTYPE_CODES = { float32: 0, float16: 1, bfloat16: 2 } as const;

/**
 * The kernels of one store attachment. `slots` scratch slots start at byte `scratch`; a shared
 * memory has `slots` lock words at `locks`, claimed per call with Atomics, so that several workers
 * attend over one memory at once.
 */
export class WasmAttention {
  readonly #kernels: KernelExports;
  readonly #memory: WebAssembly.Memory;
  readonly #layout: KvLayoutSizes;
  readonly #scratch: number;
  readonly #slots: number;
  readonly #locks: number;
  readonly #dtype: number;
  /** Positions per kernel run, bytes per query record, records per tile. */
  readonly #run: number;
  readonly #record: number;
  readonly #perTile: number;
  #f32: Float32Array;
  #i32: Int32Array;
  #u32: Uint32Array;
  #busyCalls = 0;

  constructor(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    layout: KvLayoutSizes,
    scratch: number,
    slots: number,
    locks: number,
  ) {
    this.#kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
    this.#memory = memory;
    this.#layout = layout;
    this.#scratch = scratch;
    this.#slots = slots;
    this.#locks = locks;
    this.#dtype = DTYPE_CODES[layout.dtype];
    const dim = layout.headDim;
    this.#run = Math.max(1, Math.min(64, Math.floor(RUN_BYTES / (4 * dim))));
    this.#record = 8 * dim + 16 + 4 * ((this.#run + 3) & ~3);
    this.#perTile = Math.floor(TILE_BYTES / this.#record);
    this.#f32 = new Float32Array(memory.buffer);
    this.#i32 = new Int32Array(memory.buffer);
    this.#u32 = new Uint32Array(memory.buffer);
  }

  /** Calls that ran the JavaScript kernels because every scratch slot was in use by another worker. */
  get busyCalls(): number {
    return this.#busyCalls;
  }

  /**
   * Attention of `rows` query rows (`heads * headDim` floats each, from `query[0]`) over `layer`
   * through `table`: row `r` attends positions `0 .. firstLength + r - 1`. Writes `out` in the
   * query's layout. Returns false, having done nothing, when no scratch slot is free.
   * Cost: O(heads * rows * length * headDim), no allocation.
   */
  attend(
    layer: number,
    table: Uint32Array,
    rows: number,
    firstLength: number,
    query: Float32Array,
    heads: number,
    scale: number,
    out: Float32Array,
  ): boolean {
    this.#refresh();
    const slot = this.#claim();
    if (slot < 0) {
      this.#busyCalls += 1;
      return false;
    }
    try {
      this.#attendIn(this.#scratch + slot * SLOT_BYTES, layer, table, rows, firstLength, query, heads, scale, out);
    } finally {
      if (this.#locks >= 0) Atomics.store(this.#i32, (this.#locks >>> 2) + slot, 0);
    }
    return true;
  }

  #claim(): number {
    if (this.#locks < 0) return 0;
    const base = this.#locks >>> 2;
    for (let slot = 0; slot < this.#slots; slot += 1) {
      if (Atomics.compareExchange(this.#i32, base + slot, 0, 1) === 0) return slot;
    }
    return -1;
  }

  /** New views after the memory was grown (by whoever holds it). */
  #refresh(): void {
    const buffer = this.#memory.buffer;
    if (this.#f32.buffer === buffer) return;
    this.#f32 = new Float32Array(buffer);
    this.#i32 = new Int32Array(buffer);
    this.#u32 = new Uint32Array(buffer);
  }

  /** Hot path: fills each tile's query records, runs the kernel over the table, copies the outputs out. */
  #attendIn(
    slot: number,
    layer: number,
    table: Uint32Array,
    rows: number,
    firstLength: number,
    query: Float32Array,
    heads: number,
    scale: number,
    out: Float32Array,
  ): void {
    const f32 = this.#f32;
    const i32 = this.#i32;
    const kernels = this.#kernels;
    const { numKvHeads, blockSize, headDim, blockElements, layerElements, bytesPerElement } = this.#layout;
    const run = this.#run;
    const record = this.#record;
    const perTile = this.#perTile;
    const dtype = this.#dtype;
    const tableAt = slot;
    const work = slot + WORK_OFFSET;
    const tile = slot + TILE_OFFSET;
    const group = heads / numKvHeads;
    const blocks = Math.ceil((firstLength + rows - 1) / blockSize);
    const chunked = blocks > TABLE_ENTRIES;
    if (!chunked) this.#copyTable(table, 0, blocks, tableAt);
    const layerBytes = layerElements * bytesPerElement;
    const keys = 2 * layer * layerBytes;
    const blockBytes = blockElements * bytesPerElement;
    const slabBytes = blockSize * headDim * bytesPerElement;
    const vectors = rows * group;
    for (let kvHead = 0; kvHead < numKvHeads; kvHead += 1) {
      const headKeys = keys + kvHead * slabBytes;
      for (let first = 0; first < vectors; first += perTile) {
        const count = Math.min(perTile, vectors - first);
        for (let t = 0; t < count; t += 1) {
          const row = ((first + t) / group) | 0;
          const from = (row * heads + kvHead * group + first + t - row * group) * headDim;
          const at = (tile + t * record) >>> 2;
          for (let d = 0; d < headDim; d += 1) f32[at + d] = query[from + d]!;
          i32[at + 2 * headDim + 2] = firstLength + row;
        }
        const lastRow = ((first + count - 1) / group) | 0;
        const tileBlocks = Math.ceil((firstLength + lastRow) / blockSize);
        kernels.begin(tile, count, headDim, run);
        for (let chunk = 0; chunk < tileBlocks; chunk += TABLE_ENTRIES) {
          const chunkBlocks = Math.min(TABLE_ENTRIES, tileBlocks - chunk);
          if (chunked) this.#copyTable(table, chunk, chunkBlocks, tableAt);
          kernels.attend(
            headKeys,
            headKeys + layerBytes,
            blockBytes,
            tableAt,
            chunkBlocks,
            chunk * blockSize,
            blockSize,
            headDim,
            dtype,
            run,
            tile,
            count,
            scale,
            work,
          );
        }
        kernels.end(tile, count, headDim, run);
        for (let t = 0; t < count; t += 1) {
          const row = ((first + t) / group) | 0;
          const to = (row * heads + kvHead * group + first + t - row * group) * headDim;
          const at = ((tile + t * record) >>> 2) + headDim;
          for (let d = 0; d < headDim; d += 1) out[to + d] = f32[at + d]!;
        }
      }
    }
  }

  #copyTable(table: Uint32Array, from: number, count: number, at: number): void {
    const u32 = this.#u32;
    const base = at >>> 2;
    for (let i = 0; i < count; i += 1) u32[base + i] = table[from + i]!;
  }
}
