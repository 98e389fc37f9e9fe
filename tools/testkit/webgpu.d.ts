/// <reference types="@webgpu/types" />
/**
 * A real WebGPU device for tests (the `webgpu` package; Mesa's software OpenGL ES by default, or
 * the backend `MEM_WEBGPU_BACKEND` names). Under CI a missing adapter throws; elsewhere it warns
 * loudly and resolves undefined, and the GPU specs skip.
 */
export declare function requestTestDevice(options?: {
  readonly requiredLimits?: Record<string, number>;
}): Promise<{ readonly device: GPUDevice; readonly adapterName: string } | undefined>;
