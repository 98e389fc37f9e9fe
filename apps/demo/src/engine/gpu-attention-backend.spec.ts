import { afterEach, describe, expect, it } from 'vitest';
import { requestTestDevice } from '@mem/testkit/webgpu';
import type { KvStore } from '@mem/paged-kv';
import type { GpuKvStore } from '@mem/paged-kv/webgpu';
import { DEFAULT_DEMO_CONFIG, type DemoConfig } from '../runtime/demo-config.js';
import { DemoRuntime } from '../runtime/demo-runtime.js';
import { encodeText } from '../model/tokenizer.js';

/** The test device (the software adapter where there is no GPU); undefined where none can be made, outside CI. */
const gpu = await requestTestDevice();

/** A step budget of 64 tokens: the long prompts are prefilled in chunks, and requests batch. */
const CONFIG: DemoConfig = { ...DEFAULT_DEMO_CONFIG, numBlocks: 64, maxTokensPerStep: 64, maxRunning: 8 };

const runtimes: DemoRuntime[] = [];
function runtime(onGpu: boolean): DemoRuntime {
  const created = new DemoRuntime(CONFIG, { log: () => {}, ...(onGpu ? { gpu: gpu! } : {}) });
  runtimes.push(created);
  return created;
}
afterEach(() => {
  for (const created of runtimes.splice(0)) created.close();
});

/** Submits every prompt at once (so they batch) and resolves with each one's tokens. */
function generate(demo: DemoRuntime, prompts: readonly Uint8Array[], maxTokens: number): Promise<number[][]> {
  return Promise.all(
    prompts.map(
      (prompt) =>
        new Promise<number[]>((resolve, reject) => {
          const tokens: number[] = [];
          demo.engine.submit(
            { promptTokens: prompt, maxTokens },
            { onToken: (token) => tokens.push(token), onFinish: () => resolve(tokens), onError: reject },
          );
        }),
    ),
  );
}

const system = encodeText('System: answer in one line, and mind the pools. '.repeat(3)); // 147 tokens
const join = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((part) => [...part]));
const FIRST_ROUND = [
  join(system, encodeText('User: what is a KV block?\nAssistant:')),
  Uint8Array.from({ length: 200 }, (_, i) => 32 + ((i * 37) % 95)), // prefilled in chunks of the step budget
  encodeText('0123456789abcdef'.repeat(4)), // exactly four blocks
  encodeText('A'),
];
// After the first round: the system prompt's blocks are cached, and the 64-token prompt, asked
// twice at once, is served from the cache but for its last block (a prompt's last token is
// always computed: it yields the first logits).
const SECOND_ROUND = [
  join(system, encodeText('User: and a prefix hit?\nAssistant:')),
  FIRST_ROUND[2]!,
  FIRST_ROUND[2]!,
];

describe.skipIf(gpu === undefined)(`the serving engine on WebGPU (${gpu?.adapterName ?? 'no adapter'})`, () => {
  it('generates the tokens the CPU path generates, with batching, chunked prefill and prefix hits', async () => {
    const cpu = runtime(false);
    const onGpu = runtime(true);
    const expected = [...(await generate(cpu, FIRST_ROUND, 20)), ...(await generate(cpu, SECOND_ROUND, 20))];
    const actual = [...(await generate(onGpu, FIRST_ROUND, 20)), ...(await generate(onGpu, SECOND_ROUND, 20))];
    expect(actual.map((tokens) => tokens.length)).toEqual(expected.map(() => 20));
    expect(actual).toEqual(expected);

    const stats = onGpu.engine.stats();
    expect(stats.largestStep).toBe(64); // batched to the budget, the long prompt in chunks
    expect(onGpu.engine.kv.stats().prefixHitTokens).toBeGreaterThanOrEqual(
      Math.floor(system.length / 16) * 16 + 2 * 48,
    );
    expect(onGpu.engine.kv.stats().prefixHitTokens).toBe(cpu.engine.kv.stats().prefixHitTokens);
    expect(Object.values(onGpu.idleState())).toEqual(Object.values(onGpu.idleState()).map(() => 0));

    // Both ran the same steps into the same blocks. Layer 0's K and V come from the embeddings
    // alone: the GPU holds the CPU's bits. Layer 1's follow attention, whose GPU numerics differ
    // within the documented tolerance of the kernels, 1e-5 + 1e-4 * |value|.
    const cpuStore = cpu.engine.store as KvStore;
    const gpuStore = onGpu.engine.store as GpuKvStore;
    const layer0 = await gpuStore.readLayer(0);
    expect(layer0.keys).toEqual(cpuStore.keys(0));
    expect(layer0.values).toEqual(cpuStore.values(0));
    const layer1 = await gpuStore.readLayer(1);
    for (const [actual, expected] of [
      [layer1.keys, cpuStore.keys(1)],
      [layer1.values, cpuStore.values(1)],
    ] as const) {
      let worst = 0;
      for (let i = 0; i < expected.length; i++) {
        worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) - 1e-4 * Math.abs(expected[i]!));
      }
      expect(worst).toBeLessThanOrEqual(1e-5);
    }
  });

  it('shows the device and its GPU memory on the dashboard, and frees the GPU buffers on close', async () => {
    const demo = runtime(true);
    await generate(demo, [FIRST_ROUND[0]!], 4);
    const { device } = demo.dashboardStats() as { device: ReturnType<DemoRuntime['device']> };
    expect(device.kind).toBe('webgpu');
    expect(device.name).toBe(`WebGPU (${gpu!.adapterName})`);
    // K and V of 2 layers x 64 blocks x 2 KV heads x 16 slots x 16 floats.
    expect(device.gpuMemory!.kvBytes).toBe(demo.engine.store.byteLength);
    expect(device.gpuMemory!.kvBytes).toBe(2 * 2 * 64 * 2 * 16 * 16 * 4);
    // At least the Q, K, V and output rows of a full step, and its readback.
    expect(device.gpuMemory!.stepBytes).toBeGreaterThanOrEqual(64 * (64 + 32 + 32 + 64 + 64) * 4);
    demo.close();
    expect(demo.engine.gpuMemory()).toEqual({ kvBytes: 0, stepBytes: 0 });
    expect((demo.engine.store as GpuKvStore).destroyed).toBe(true);
  });

  it('fails the requests of a step the GPU cannot finish, and gives back everything they held', async () => {
    const lost = (await requestTestDevice())!; // a device of its own, lost in the middle of a step
    const demo = new DemoRuntime(CONFIG, { log: () => {}, gpu: lost });
    runtimes.push(demo);
    const outcome = new Promise<Error>((resolve, reject) =>
      demo.engine.submit(
        { promptTokens: FIRST_ROUND[0]!, maxTokens: 12 },
        { onToken: () => {}, onFinish: () => reject(new Error('finished on a lost device')), onError: resolve },
      ),
    );
    await new Promise((resolve) => setImmediate(resolve)); // the first step waits for the GPU
    lost.device.destroy();
    expect((await outcome).message).toMatch(/^layer 0's attention could not be read back from the GPU \(AbortError/);
    expect(demo.engine.stats().failed).toBe(1);
    expect(Object.values(demo.idleState())).toEqual(Object.values(demo.idleState()).map(() => 0));
  });

  it('cancels a request while the GPU computes its step, once the step is committed', async () => {
    const demo = runtime(true);
    const dropped = demo.engine.submit(
      { promptTokens: encodeText('A'), maxTokens: 12 },
      { onToken: () => {}, onFinish: () => {}, onError: () => {} },
    );
    const kept = generate(demo, [FIRST_ROUND[0]!], 12);
    // The engine's first step (both requests) starts on the next turn of the event loop and waits
    // for the GPU; this runs while it waits, when the scheduler refuses to cancel a request of it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(demo.engine.stats().steps).toBe(0);
    expect(demo.engine.busy).toBe(true);
    dropped.cancel();
    const [tokens] = await kept;
    const cpu = runtime(false);
    expect(tokens).toEqual((await generate(cpu, [FIRST_ROUND[0]!], 12))[0]);
    expect(demo.engine.stats().cancelled).toBe(1);
    expect(Object.values(demo.idleState())).toEqual(Object.values(demo.idleState()).map(() => 0));
  });
});
