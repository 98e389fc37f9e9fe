/**
 * `@mem/paged-kv/webgpu`: paged KV storage and paged attention on WebGPU, on the `GPUDevice` you
 * already have (a browser's `navigator.gpu`, or the `webgpu` npm package in Node). The package
 * has no dependency on any WebGPU package: its types are the structural ones of
 * `@mem/types/webgpu`, which a real `GPUDevice` satisfies.
 *
 * - {@link GpuKvStore}: K/V of every layer in GPU buffers, in the CPU `KvStore`'s layout
 *   (float32, float16, bfloat16), split to the device's binding limit; `copyBlock` for copy-on-write.
 * - {@link GpuPagedAttention}: the kernels: K/V writes of a scheduler step's tokens through their
 *   block tables, and decode and prefill attention (causal, grouped-query) through them.
 *
 * This module is browser compatible.
 * @module
 */
export { GpuKvStore, type GpuKvStoreOptions } from './gpu-kv-store.js';
export { GpuPagedAttention, type GpuAttentionOptions, type GpuStepEntry } from './gpu-paged-attention.js';
