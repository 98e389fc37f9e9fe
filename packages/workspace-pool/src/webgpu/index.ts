/**
 * `@mem/workspace-pool/webgpu`: workspaces in GPU memory. A {@link GpuSegmentSource} makes a
 * `WorkspacePool`'s segments out of `GPUBuffer`s on the `GPUDevice` you pass (a browser's
 * `navigator.gpu`, or the `webgpu` npm package in Node); the pool lends ranges of them, aligned
 * for binding, and its defragmentation moves them with `copyBufferToBuffer`. No dependency on
 * any WebGPU package: the types are the structural ones of `@mem/types/webgpu`.
 *
 * - {@link GpuSegmentSource}: the segment source, `configure` and `createPool`.
 * - {@link gpuBinding}: a workspace as `{ buffer, offset, size }` for a bind group.
 * - {@link writeGpuWorkspace}, {@link readGpuWorkspace}: upload and read back.
 *
 * This module is browser compatible.
 * @module
 */
export {
  GpuSegmentSource,
  gpuBinding,
  readGpuWorkspace,
  writeGpuWorkspace,
  type GpuSegmentSourceOptions,
} from './gpu-segment-source.js';
