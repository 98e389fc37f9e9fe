/**
 * A real WebGPU device for tests: `openWebGpuDevice` of `@mem/app-kit/webgpu-device` (the `webgpu`
 * package; Mesa's software OpenGL ES where there is no GPU, or the backend `MEM_WEBGPU_BACKEND`
 * names).
 *
 * When no adapter can be created: under CI (`CI` set) it throws, so the GPU tests fail instead of
 * skipping; elsewhere it says so loudly on stderr and returns undefined (the specs then skip).
 */
import { openWebGpuDevice } from '@mem/app-kit/webgpu-device';

/**
 * @param {{ requiredLimits?: Record<string, number> }} [options]
 * @returns {Promise<{ device: GPUDevice, adapterName: string } | undefined>}
 */
export async function requestTestDevice(options = {}) {
  try {
    return await openWebGpuDevice(options);
  } catch (error) {
    const message = `${error instanceof Error ? error.message : String(error)} The GPU tests cannot run.`;
    if (process.env.CI) throw new Error(`${message} Under CI they must run, so this is a failure.`, { cause: error });
    console.warn(`\n!!!!!!!!!!\n!!! SKIPPING GPU TESTS: ${message}\n!!!!!!!!!!\n`);
    return undefined;
  }
}
