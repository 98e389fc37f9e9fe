/**
 * The compiled attention kernels: `attention-kernels.wat`, shipped as bytes inside the package and
 * compiled synchronously on first use, once per realm (the module is under the 4 KiB that browsers
 * compile synchronously on the main thread). Two forms: one importing a private memory, one
 * importing a shared memory. A runtime without WebAssembly SIMD128 refuses the module, and the
 * stores it would serve run the JavaScript kernels instead.
 *
 * This module is browser compatible.
 * @module
 */
import { ATTENTION_KERNELS_SHARED_WASM, ATTENTION_KERNELS_WASM } from './attention-kernels.generated.js';

/** A compiled form, or why it could not be had. */
type Compiled = WebAssembly.Module | { readonly reason: string };

let privateModule: Compiled | undefined;
let sharedModule: Compiled | undefined;

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** `(module (func (result v128) v128.const i32x4 0 0 0 0))`: valid exactly where SIMD128 is. */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 11,
]);

function compile(base64: string): Compiled {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.Module !== 'function') {
    return { reason: 'this runtime has no WebAssembly' };
  }
  if (!WebAssembly.validate(SIMD_PROBE)) return { reason: 'this runtime has no WebAssembly SIMD128' };
  const bytes = decodeBase64(base64);
  if (!WebAssembly.validate(bytes)) {
    return { reason: 'this runtime does not accept the kernels (a shared WebAssembly.Memory needs threads)' };
  }
  try {
    return new WebAssembly.Module(bytes);
  } catch (error) {
    return { reason: `this runtime could not compile the WebAssembly kernels (${String(error)})` };
  }
}

/**
 * The kernels' module for a private (`shared` false) or a shared memory, compiled on first call,
 * or the reason the JavaScript kernels must run instead. Cost: one synchronous compile per form
 * and realm, then O(1).
 */
export function attentionKernelModule(shared: boolean): Compiled {
  if (shared) return (sharedModule ??= compile(ATTENTION_KERNELS_SHARED_WASM));
  return (privateModule ??= compile(ATTENTION_KERNELS_WASM));
}
