/// <reference types="@webgpu/types" />
/**
 * A WebGPU device in Node from the `webgpu` package: Mesa's software OpenGL ES by default, or the
 * backend `MEM_WEBGPU_BACKEND` names. Its instance is kept for the life of the process.
 * Rejects with an `Error` saying why, and what to install, when no adapter can be made.
 */
export declare function openWebGpuDevice(options?: {
  readonly requiredLimits?: Record<string, number>;
}): Promise<{ readonly device: GPUDevice; readonly adapterName: string }>;
