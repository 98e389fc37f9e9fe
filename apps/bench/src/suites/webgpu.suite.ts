/**
 * The GPU side of `@mem/paged-kv` and `@mem/workspace-pool` on a real WebGPU adapter (the `webgpu`
 * package: Mesa's software OpenGL ES by default, or the backend `MEM_WEBGPU_BACKEND` names):
 * decode and prefill attention through block tables against the CPU `pagedAttention`, K/V writes
 * against `KvStore.writeToken`, GPU workspace acquire+release against a buffer created and
 * destroyed per request, and defragmentation of a GPU pool against the same pool in CPU memory.
 *
 * GPU cases are timed from submission to `onSubmittedWorkDone` over a batch of operations, in
 * rounds that alternate with the CPU baseline's samples. Every figure names the adapter.
 */
import { KvCacheManager, KvStore, pagedAttention, type KvSequence } from '@mem/paged-kv';
import { GpuKvStore, GpuPagedAttention, type GpuStepEntry } from '@mem/paged-kv/webgpu';
import { seededRandom } from '@mem/testkit/seeded-random';
import { requestTestDevice } from '@mem/testkit/webgpu';
import { GPU_BUFFER_USAGE } from '@mem/types/webgpu';
import { WorkspacePool, type Workspace } from '@mem/workspace-pool';
import { GpuSegmentSource } from '@mem/workspace-pool/webgpu';
import { summarize } from '../statistics.js';
import type { BenchContext, BenchImpl, Suite } from '../suite.js';

const GPU = '@mem/paged-kv/webgpu';
const CPU = '@mem/paged-kv pagedAttention (CPU)';

/** The model shape every attention case uses (a 7B-class layer: 32 query heads, 8 KV heads, dim 128). */
const SHAPE = { numKvHeads: 8, numQueryHeads: 32, headDim: 128, blockSize: 16 } as const;

interface Fixture {
  readonly device: GPUDevice;
  readonly cpu: KvStore;
  readonly gpu: GpuKvStore;
  readonly attention: GpuPagedAttention;
  readonly sequences: KvSequence[];
}

/** `count` sequences of `length` tokens with random K/V, in a CPU store and a GPU store alike. */
function fixture(device: GPUDevice, count: number, length: number): Fixture {
  const { numKvHeads, headDim, blockSize, numQueryHeads } = SHAPE;
  const numBlocks = count * Math.ceil(length / blockSize);
  const layout = { numLayers: 1, numBlocks, numKvHeads, blockSize, headDim };
  const cpu = new KvStore(layout);
  const gpu = GpuKvStore.create(device, layout);
  const attention = new GpuPagedAttention(gpu, { numQueryHeads });
  const kv = new KvCacheManager({ numBlocks, blockSize, prefixCaching: false, maxBlocksPerSequence: numBlocks });
  const random = seededRandom(7);
  const sequences = Array.from({ length: count }, (_, s) => {
    const sequence = kv.createSequence({ tokens: Array.from({ length }, (_, i) => (i + s) % 1000) });
    kv.admit(sequence);
    return sequence;
  });
  // Fill both stores with the same K/V: each GPU layer's bytes are the CPU layer's (one layout).
  const keys = cpu.keys(0) as Float32Array<ArrayBuffer>;
  const values = cpu.values(0) as Float32Array<ArrayBuffer>;
  for (let i = 0; i < keys.length; i += 1) {
    keys[i] = random() * 2 - 1;
    values[i] = random() * 2 - 1;
  }
  const per = gpu.blocksPerBuffer;
  for (let index = 0; index < gpu.buffersPerLayer; index += 1) {
    const first = index * per * gpu.blockElements;
    const end = Math.min(first + per * gpu.blockElements, keys.length);
    const buffer = gpu.buffer(0, index) as GPUBuffer;
    device.queue.writeBuffer(buffer, 0, keys.subarray(first, end));
    device.queue.writeBuffer(buffer, (end - first) * 4, values.subarray(first, end));
  }
  return { device, cpu, gpu, attention, sequences };
}

/** A storage buffer of `floats` random floats. */
function randomBuffer(device: GPUDevice, floats: number): GPUBuffer {
  const random = seededRandom(floats);
  const buffer = device.createBuffer({
    size: floats * 4,
    usage: GPU_BUFFER_USAGE.STORAGE | GPU_BUFFER_USAGE.COPY_DST,
  });
  device.queue.writeBuffer(
    buffer,
    0,
    Float32Array.from({ length: floats }, () => random() * 2 - 1),
  );
  return buffer;
}

/**
 * Times `encode` (which encodes `iterations` operations into a pass) from submission to completion,
 * alternating with `cpu`, round by round. Returns nanoseconds per operation of each.
 */
async function alternate(
  context: BenchContext,
  device: GPUDevice,
  encode: (pass: GPUComputePassEncoder) => void,
  cpu: () => void,
): Promise<{ gpu: number[]; cpu: number[] }> {
  const runGpu = async (iterations: number): Promise<number> => {
    const started = performance.now();
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    for (let i = 0; i < iterations; i += 1) encode(pass);
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return ((performance.now() - started) * 1e6) / iterations;
  };
  const runCpu = (iterations: number): number => {
    const started = performance.now();
    for (let i = 0; i < iterations; i += 1) cpu();
    return ((performance.now() - started) * 1e6) / iterations;
  };
  const targetNs = (context.quick ? 60 : 200) * 1e6;
  const gpuIterations = Math.max(1, Math.round(targetNs / (await runGpu(1))));
  const cpuIterations = Math.max(1, Math.round(targetNs / runCpu(1)));
  const rounds = context.quick ? 5 : 12;
  const samples = { gpu: [] as number[], cpu: [] as number[] };
  for (let round = 0; round < rounds; round += 1) {
    samples.gpu.push(await runGpu(gpuIterations));
    samples.cpu.push(runCpu(cpuIterations));
  }
  return samples;
}

/** Records both sides of an attention case, with tokens/s and the GPU's KV read bandwidth. */
function recordAttention(
  context: BenchContext,
  caseName: string,
  samples: { gpu: number[]; cpu: number[] },
  tokens: number,
  kvBytes: number,
  adapter: string,
): void {
  const gpu = context.record(caseName, `${GPU} on ${adapter}`, summarize(samples.gpu));
  const cpu = context.record(caseName, CPU, summarize(samples.cpu));
  context.figure(caseName, `${GPU} on ${adapter}`, Math.round((tokens * 1e9) / gpu.nsPerOp), 'tokens/s');
  context.figure(caseName, CPU, Math.round((tokens * 1e9) / cpu.nsPerOp), 'tokens/s');
  context.figure(caseName, `${GPU} on ${adapter}`, Math.round((kvBytes / gpu.nsPerOp) * 100) / 100, 'GB/s of K/V read');
}

async function decodeAttention(context: BenchContext, device: GPUDevice, adapter: string): Promise<void> {
  const batch = context.quick ? 4 : 16;
  const length = context.quick ? 512 : 1024;
  const f = fixture(device, batch, length);
  const { numQueryHeads, numKvHeads, headDim } = SHAPE;
  const entries: GpuStepEntry[] = f.sequences.map((sequence) => ({ sequence, start: length - 1, count: 1 }));
  f.attention.prepare(entries);
  const query = randomBuffer(device, batch * numQueryHeads * headDim);
  const out = randomBuffer(device, batch * numQueryHeads * headDim);
  const q = new Float32Array(numQueryHeads * headDim).fill(0.1);
  const options = { numQueryHeads, out: new Float32Array(numQueryHeads * headDim) };
  const samples = await alternate(
    context,
    device,
    (pass) => f.attention.attend(pass, 0, { buffer: query }, { buffer: out }),
    () => {
      for (const sequence of f.sequences) pagedAttention(f.cpu, 0, sequence, length, q, options);
    },
  );
  const kvBytes = batch * length * numKvHeads * headDim * 4 * 2;
  recordAttention(
    context,
    `decode attention: ${batch} sequences x ${length} positions`,
    samples,
    batch,
    kvBytes,
    adapter,
  );
  f.attention.destroy();
  f.gpu.destroy();
}

async function prefillAttention(context: BenchContext, device: GPUDevice, adapter: string): Promise<void> {
  const chunk = context.quick ? 64 : 256;
  const start = context.quick ? 256 : 1024;
  const f = fixture(device, 1, start + chunk);
  const { numQueryHeads, numKvHeads, headDim } = SHAPE;
  const sequence = f.sequences[0]!;
  f.attention.prepare([{ sequence, start, count: chunk }]);
  const query = randomBuffer(device, chunk * numQueryHeads * headDim);
  const out = randomBuffer(device, chunk * numQueryHeads * headDim);
  const q = new Float32Array(numQueryHeads * headDim).fill(0.1);
  const options = { numQueryHeads, out: new Float32Array(numQueryHeads * headDim) };
  const samples = await alternate(
    context,
    device,
    (pass) => f.attention.attend(pass, 0, { buffer: query }, { buffer: out }),
    () => {
      for (let p = start; p < start + chunk; p += 1) pagedAttention(f.cpu, 0, sequence, p + 1, q, options);
    },
  );
  const positions = chunk * start + (chunk * (chunk + 1)) / 2;
  recordAttention(
    context,
    `prefill attention: ${chunk} query tokens after ${start} (causal)`,
    samples,
    chunk,
    positions * numKvHeads * headDim * 4 * 2,
    adapter,
  );
  f.attention.destroy();
  f.gpu.destroy();
}

async function kvWrite(context: BenchContext, device: GPUDevice, adapter: string): Promise<void> {
  const tokens = context.quick ? 256 : 1024;
  const f = fixture(device, 1, tokens);
  const { numKvHeads, headDim } = SHAPE;
  const sequence = f.sequences[0]!;
  f.attention.prepare([{ sequence, start: 0, count: tokens }]);
  const keys = randomBuffer(device, tokens * numKvHeads * headDim);
  const values = randomBuffer(device, tokens * numKvHeads * headDim);
  const k = new Float32Array(numKvHeads * headDim).fill(0.5);
  const samples = await alternate(
    context,
    device,
    (pass) => f.attention.writeKv(pass, 0, { buffer: keys }, { buffer: values }),
    () => {
      for (let p = 0; p < tokens; p += 1) f.cpu.writeToken(0, sequence, p, k, k);
    },
  );
  const caseName = `K/V write: ${tokens} tokens x ${numKvHeads} heads x ${headDim}`;
  const gpu = context.record(caseName, `${GPU} writeKv on ${adapter}`, summarize(samples.gpu));
  const cpu = context.record(caseName, '@mem/paged-kv KvStore.writeToken (CPU)', summarize(samples.cpu));
  const bytes = tokens * numKvHeads * headDim * 4 * 2;
  context.figure(caseName, `${GPU} writeKv on ${adapter}`, Math.round((bytes / gpu.nsPerOp) * 100) / 100, 'GB/s');
  context.figure(
    caseName,
    '@mem/paged-kv KvStore.writeToken (CPU)',
    Math.round((bytes / cpu.nsPerOp) * 100) / 100,
    'GB/s',
  );
  f.attention.destroy();
  f.gpu.destroy();
}

async function workspacePairs(context: BenchContext, device: GPUDevice, adapter: string): Promise<void> {
  const size = 256 * 1024;
  const source = new GpuSegmentSource(device);
  const gpuPool = source.createPool({ initialSize: 64 << 20 });
  const cpuPool = new WorkspacePool({ initialSize: 64 << 20, alignment: 256 });
  const usage = GPU_BUFFER_USAGE.STORAGE | GPU_BUFFER_USAGE.COPY_SRC | GPU_BUFFER_USAGE.COPY_DST;
  const impls: BenchImpl[] = [
    {
      name: `@mem/workspace-pool/webgpu on ${adapter}`,
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) {
          const workspace = gpuPool.acquire(size);
          sum += workspace.id;
          workspace.release();
        }
        return sum;
      },
    },
    {
      name: `native: device.createBuffer + destroy on ${adapter}`,
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) {
          const buffer = device.createBuffer({ size, usage });
          sum += buffer.size;
          buffer.destroy();
        }
        return sum;
      },
    },
    {
      name: '@mem/workspace-pool (CPU memory)',
      run(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i += 1) {
          const workspace = cpuPool.acquire(size);
          sum += workspace.id;
          workspace.release();
        }
        return sum;
      },
    },
  ];
  await context.compare('GPU workspace acquire+release 256 KiB', impls);
  source.destroy();
}

/** Acquires 64 workspaces of 256 KiB into a pool and releases every other one. */
function fragment(pool: WorkspacePool): Workspace[] {
  const held = Array.from({ length: 64 }, () => pool.acquire(256 * 1024));
  held.filter((_, i) => i % 2 === 0).forEach((workspace) => workspace.release());
  return held.filter((_, i) => i % 2 === 1);
}

async function defragmentation(context: BenchContext, device: GPUDevice, adapter: string): Promise<void> {
  const rounds = context.quick ? 5 : 15;
  const gpuSamples: number[] = [];
  const cpuSamples: number[] = [];
  let moved = 0;
  const source = new GpuSegmentSource(device);
  for (let round = 0; round < rounds; round += 1) {
    const gpuPool = source.createPool({ initialSize: 16 << 20, autoExpand: false });
    const live = fragment(gpuPool);
    await device.queue.onSubmittedWorkDone();
    let started = performance.now();
    const report = gpuPool.defragment();
    await device.queue.onSubmittedWorkDone();
    gpuSamples.push((performance.now() - started) * 1e6);
    moved = report.bytesMoved;
    live.forEach((workspace) => workspace.release());
    gpuPool.clear();
    const cpuPool = new WorkspacePool({ initialSize: 16 << 20, alignment: 256, autoExpand: false });
    fragment(cpuPool);
    started = performance.now();
    cpuPool.defragment();
    cpuSamples.push((performance.now() - started) * 1e6);
  }
  source.destroy();
  const caseName = `defragment 32 live of 64 workspaces of 256 KiB (${moved} bytes moved)`;
  const gpu = context.record(caseName, `@mem/workspace-pool/webgpu on ${adapter}`, summarize(gpuSamples));
  const cpu = context.record(caseName, '@mem/workspace-pool (CPU memory)', summarize(cpuSamples));
  context.figure(
    caseName,
    `@mem/workspace-pool/webgpu on ${adapter}`,
    Math.round((moved / gpu.nsPerOp) * 100) / 100,
    'GB/s moved',
  );
  context.figure(
    caseName,
    '@mem/workspace-pool (CPU memory)',
    Math.round((moved / cpu.nsPerOp) * 100) / 100,
    'GB/s moved',
  );
}

const suite: Suite = {
  name: 'webgpu',
  description: 'GPU paged attention (decode, prefill), K/V writes, GPU workspaces and defragmentation vs the CPU',
  async run(context) {
    const gpu = await requestTestDevice();
    if (gpu === undefined) throw new Error('no WebGPU adapter: the webgpu suite needs one');
    const { device, adapterName } = gpu;
    context.figure('adapter', adapterName, 1, 'WebGPU adapter the GPU figures ran on');
    // Implementations name the adapter by its first word (llvmpipe, or the GPU's name).
    const adapter = adapterName.split(' ')[0] ?? adapterName;
    const cases = [decodeAttention, prefillAttention, kvWrite, workspacePairs, defragmentation];
    for (const [index, run] of cases.entries()) {
      context.progress('webgpu', index, cases.length);
      await run(context, device, adapter);
    }
    device.destroy();
  },
};

export default suite;
