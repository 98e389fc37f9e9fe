/**
 * The memory a `KvStore` lives in, and whether the WebAssembly SIMD128 kernels run over it.
 *
 * Where they can, a store's memory is a `WebAssembly.Memory`, so that the kernels read K and V in
 * place: K and V from byte 0, as the layout says, then the kernels' scratch. A private store has
 * one 256 KiB scratch slot. A shared store's memory is a shared `WebAssembly.Memory` (its buffer
 * is a SharedArrayBuffer) with 8 slots (2 MiB) that calls claim with Atomics, so that up to 8
 * workers attend over one store at once; a call that finds every slot busy runs the JavaScript
 * kernels. Elsewhere (no SIMD128, `kernels: 'js'`, a head dimension that is not a multiple of 4
 * up to 4096, a store past what a WebAssembly memory holds) the memory is an ArrayBuffer or
 * SharedArrayBuffer of exactly the K/V bytes, and the JavaScript kernels run.
 *
 * This module is browser compatible.
 * @module
 */
import { BackingMemory, alignUp, invalidArgument } from '@mem/types';
import type { KvKernels } from './kv-kernels.js';
import type { KvLayoutSizes } from './kv-store-layout.js';
import { attentionKernelModule } from './wasm/kernel-module.js';
import { MAX_KERNEL_HEAD_DIM, SLOT_BYTES, WasmAttention } from './wasm/wasm-attention.js';

const PAGE_BYTES = 65536;
/** The most pages a WebAssembly memory (32-bit addresses) has. */
const MAX_PAGES = 65536;
const SHARED_SLOTS = 8;

/** A store's memory, the kernels over it (null for the JavaScript kernels), and why not. */
export interface KvMemory {
  readonly memory: BackingMemory;
  readonly kernel: WasmAttention | null;
  readonly fallbackReason: string | null;
}

/** Where the scratch of a kernel memory for `layout` lies, and the memory's size. */
interface KernelPlan {
  /** Byte offset of the lock words (shared), or -1. */
  readonly locks: number;
  readonly scratch: number;
  readonly slots: number;
  readonly pages: number;
}

function plan(layout: KvLayoutSizes, shared: boolean): KernelPlan {
  const end = alignUp(layout.byteLength, 64);
  const scratch = shared ? end + 64 : end;
  const slots = shared ? SHARED_SLOTS : 1;
  return { locks: shared ? end : -1, scratch, slots, pages: Math.ceil((scratch + slots * SLOT_BYTES) / PAGE_BYTES) };
}

/** Why the WebAssembly kernels cannot run over `layout`, or their module. */
function kernelModule(layout: KvLayoutSizes, shared: boolean, kernels: KvKernels): WebAssembly.Module | string {
  if (kernels === 'js') return "the store was made with kernels: 'js'";
  if (layout.headDim % 4 !== 0 || layout.headDim > MAX_KERNEL_HEAD_DIM) {
    return `the WebAssembly kernels take a headDim that is a multiple of 4 up to ${MAX_KERNEL_HEAD_DIM}, not ${layout.headDim}`;
  }
  if (plan(layout, shared).pages > MAX_PAGES) return 'the store is larger than a WebAssembly memory holds (4 GiB)';
  const module = attentionKernelModule(shared);
  return 'reason' in module ? module.reason : module;
}

/**
 * Allocates zeroed memory for `layout`: a WebAssembly.Memory with the kernels where they can run,
 * else an ArrayBuffer (SharedArrayBuffer when `shared`) of the K/V bytes.
 * Cost: one allocation, zeroed by the runtime; the kernels' module is compiled on first use.
 * @throws MemError as `BackingMemory.allocate`.
 */
export function allocateKvMemory(layout: KvLayoutSizes, shared: boolean, kernels: KvKernels): KvMemory {
  const module = kernelModule(layout, shared, kernels);
  let reason: string;
  if (typeof module === 'string') {
    reason = module;
  } else {
    const { pages, scratch, slots, locks } = plan(layout, shared);
    try {
      const wasm = new WebAssembly.Memory(shared ? { initial: pages, maximum: pages, shared } : { initial: pages });
      const kernel = new WasmAttention(module, wasm, layout, scratch, slots, locks);
      return { memory: BackingMemory.wrap(wasm), kernel, fallbackReason: null };
    } catch (error) {
      reason = `the runtime could not allocate a WebAssembly.Memory of ${pages} pages (${String(error)})`;
    }
  }
  return { memory: BackingMemory.allocate(layout.byteLength, { shared }), kernel: null, fallbackReason: reason };
}

/**
 * The memory of a shared store another worker describes: its shared WebAssembly.Memory (`memory`,
 * with `buffer` its SharedArrayBuffer), or a SharedArrayBuffer of the K/V bytes alone.
 * Cost: O(1), no copy.
 * @throws MemError INVALID_ARGUMENT if they are not memory of `layout`'s size.
 */
export function attachKvMemory(layout: KvLayoutSizes, buffer: unknown, memory: unknown): KvMemory {
  const hasShared = typeof SharedArrayBuffer !== 'undefined';
  if (memory !== undefined) {
    const bytes = plan(layout, true).pages * PAGE_BYTES;
    const wasmBuffer: unknown =
      typeof WebAssembly === 'object' && memory instanceof WebAssembly.Memory ? memory.buffer : undefined;
    if (!hasShared || !(wasmBuffer instanceof SharedArrayBuffer) || wasmBuffer.byteLength !== bytes) {
      throw invalidArgument('descriptor.memory', memory, `a shared WebAssembly.Memory of ${bytes} bytes`);
    }
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== bytes) {
      throw invalidArgument('descriptor.buffer', buffer, `the SharedArrayBuffer of descriptor.memory (${bytes} bytes)`);
    }
    const wasm = memory as WebAssembly.Memory;
    const module = kernelModule(layout, true, 'auto');
    if (typeof module === 'string') return { memory: BackingMemory.wrap(wasm), kernel: null, fallbackReason: module };
    const { scratch, slots, locks } = plan(layout, true);
    const kernel = new WasmAttention(module, wasm, layout, scratch, slots, locks);
    return { memory: BackingMemory.wrap(wasm), kernel, fallbackReason: null };
  }
  if (!hasShared || !(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== layout.byteLength) {
    throw invalidArgument('descriptor.buffer', buffer, `a SharedArrayBuffer of ${layout.byteLength} bytes`);
  }
  return {
    memory: BackingMemory.wrap(buffer),
    kernel: null,
    fallbackReason: 'the store is a SharedArrayBuffer without a WebAssembly.Memory',
  };
}
