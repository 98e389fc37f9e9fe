/**
 * A WebGPU device in Node, from the `webgpu` npm package (Dawn). On a machine without a GPU it runs
 * on Mesa's software OpenGL ES (llvmpipe): `EGL_PLATFORM=surfaceless`, the `opengles` backend and
 * the `compatibility` feature level (Dawn refuses Mesa's software Vulkan). `MEM_WEBGPU_BACKEND`
 * (`vulkan`, `metal`, `d3d12`, `opengl`, `opengles`, or `default` for Dawn's choice) picks another
 * backend, for a real GPU.
 *
 * The `GPU` object `create()` returns is kept for the life of the process: Dawn frees its instance
 * when that object is collected, and a device of a freed instance crashes the process at its next
 * event (a `mapAsync` or `onSubmittedWorkDone`).
 */

/** The instances made so far, kept alive: see above. */
const instances = [];

/**
 * @param {{ requiredLimits?: Record<string, number> }} [options]
 * @returns {Promise<{ device: GPUDevice, adapterName: string }>}
 */
export async function openWebGpuDevice(options = {}) {
  process.env.EGL_PLATFORM ??= 'surfaceless';
  const backend = process.env.MEM_WEBGPU_BACKEND ?? 'opengles';
  let reason;
  try {
    const { create } = await import('webgpu');
    const gpu = create(backend === 'default' ? [] : [`backend=${backend}`]);
    instances.push(gpu);
    const featureLevel = backend === 'opengles' || backend === 'opengl' ? 'compatibility' : 'core';
    const adapter = await gpu.requestAdapter({ featureLevel });
    if (adapter !== null) {
      const device = await adapter.requestDevice({ requiredLimits: options.requiredLimits ?? {} });
      const info = adapter.info;
      const adapterName = [info.vendor, info.device, info.description].filter(Boolean).join(' ');
      return { device, adapterName };
    }
    reason = `no WebGPU adapter for backend ${backend}`;
  } catch (error) {
    reason = `WebGPU failed to start (${error instanceof Error ? error.message : String(error)})`;
  }
  throw new Error(
    `${reason}. Install Mesa (apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri) ` +
      `or set MEM_WEBGPU_BACKEND for a real GPU.`,
  );
}
