/**
 * The model's matrix products on WebAssembly SIMD128 (`matmul-kernel.wat`). The weights live in
 * the kernel's memory, copied there once when the model is made; a product copies its input rows
 * in and its output rows out (O(rows * (inDim + outDim)) next to O(rows * inDim * outDim) of
 * arithmetic), in chunks of rows that fit a fixed scratch, so the memory never grows and the
 * weights' views stay valid. Where the runtime has no SIMD128 the model keeps plain arrays and the
 * JavaScript loops of `tensor-math.ts` run.
 *
 * Runs in Node and browsers.
 * @module
 */
import { MATMUL_KERNEL_WASM } from './matmul-kernel.generated.js';

/** Which kernels the model's products run on: WebAssembly SIMD128 where available, or JavaScript. */
export type ModelKernels = 'auto' | 'js';

/** Floats of each of the two scratch areas (inputs, outputs). */
const SCRATCH_FLOATS = 65536;
const PAGE_BYTES = 65536;

let compiled: WebAssembly.Module | null | undefined;

function kernelModule(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  try {
    const binary = atob(MATMUL_KERNEL_WASM);
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    compiled = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  } catch {
    compiled = null;
  }
  return compiled;
}

/** The module's export, on byte addresses of its memory. */
type MatmulExport = (out: number, x: number, rows: number, w: number, outDim: number, inDim: number) => void;

/** The kernel that owns each memory holding weights, found from a weight's buffer. */
const owners = new WeakMap<ArrayBufferLike, WasmMatmul>();

/** A kernel instance and its memory: weights first, then the input and output scratch. */
export class WasmMatmul {
  readonly #matmul: MatmulExport;
  readonly #floats: Float32Array;
  readonly #input: number;
  readonly #output: number;
  #placed = 0;

  private constructor(module: WebAssembly.Module, weightFloats: number) {
    const bytes = (weightFloats + 2 * SCRATCH_FLOATS) * 4;
    const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / PAGE_BYTES) });
    const { exports } = new WebAssembly.Instance(module, { env: { memory } });
    this.#matmul = exports.matmul as MatmulExport;
    this.#floats = new Float32Array(memory.buffer);
    this.#input = weightFloats;
    this.#output = weightFloats + SCRATCH_FLOATS;
    owners.set(memory.buffer, this);
  }

  /** A kernel with room for `weightFloats` weights, or null where the runtime has no WebAssembly SIMD128. */
  static create(weightFloats: number): WasmMatmul | null {
    const module = kernelModule();
    return module === null ? null : new WasmMatmul(module, weightFloats);
  }

  /** The kernel whose memory holds `weight`, if any. Cost: one WeakMap lookup. */
  static of(weight: Float32Array): WasmMatmul | undefined {
    return owners.get(weight.buffer);
  }

  /** Copies `values` into the kernel's memory and returns the view there. */
  place(values: Float32Array): Float32Array {
    const view = this.#floats.subarray(this.#placed, this.#placed + values.length);
    if (view.length !== values.length) throw new RangeError('the kernel memory has no room for these weights');
    view.set(values);
    this.#placed += values.length;
    return view;
  }

  /**
   * `out[r][o] = sum_i x[r][i] * weight[o][i]`, as `matmulRows`, for a `weight` placed in this
   * kernel's memory; returns false (having done nothing) when `inDim` is not a multiple of 4 or a
   * row does not fit the scratch.
   */
  multiply(
    out: Float32Array,
    outOffset: number,
    x: Float32Array,
    xOffset: number,
    rows: number,
    weight: Float32Array,
    outDim: number,
    inDim: number,
  ): boolean {
    const chunk = Math.floor(SCRATCH_FLOATS / Math.max(inDim, outDim));
    if (inDim % 4 !== 0 || chunk === 0) return false;
    const floats = this.#floats;
    const w = weight.byteOffset;
    for (let first = 0; first < rows; first += chunk) {
      const count = Math.min(chunk, rows - first);
      const from = xOffset + first * inDim;
      for (let i = 0; i < count * inDim; i++) floats[this.#input + i] = x[from + i]!;
      this.#matmul(this.#output * 4, this.#input * 4, count, w, outDim, inDim);
      const to = outOffset + first * outDim;
      for (let i = 0; i < count * outDim; i++) out[to + i] = floats[this.#output + i]!;
    }
    return true;
  }
}
