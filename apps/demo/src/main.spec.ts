import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requestTestDevice } from '@mem/testkit/webgpu';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

/** The test device's adapter: the GPU test skips (loudly) where none can be made, and fails under CI. */
const gpu = await requestTestDevice();
gpu?.device.destroy();

/** Runs `npm run demo -- ...args` to its end: its exit code and its output. */
function demo(args: readonly string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--conditions=@mem/source', MAIN, ...args],
      { encoding: 'utf8' },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), output: stdout + stderr }),
    );
  });
}

describe('npm run demo', () => {
  it.skipIf(gpu === undefined)(
    '--verify --device webgpu finds every token on the GPU equal to the reference and exits 0',
    async () => {
      const { code, output } = await demo(['--verify', '--device', 'webgpu']);
      expect(output).toMatch(
        /^verified: all 12 completions through the paged path, its attention and KV cache on WebGPU \(/m,
      );
      expect(output).not.toMatch(/^FAIL/m);
      expect(code).toBe(0);
    },
  );

  it('refuses an unknown --device, and --kv-tier with --device webgpu, with exit code 1', async () => {
    const unknown = await demo(['--verify', '--device', 'tpu']);
    expect(unknown).toEqual({ code: 1, output: '--device must be cpu or webgpu, got tpu\n' });
    const tier = await demo(['--device', 'webgpu', '--kv-tier', 'file:/nonexistent']);
    expect(tier.code).toBe(1);
    expect(tier.output).toMatch(/^--kv-tier needs --device cpu/);
  });
});
