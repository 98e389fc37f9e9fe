/**
 * `npm run demo:load [-- options]`: replays `@mem/paged-kv`'s seeded multi-turn chat trace against
 * the demo server, with a progress bar, and prints a summary table. By default it starts its own
 * server twice, with prefix caching on and then off, and compares; `--compare-kernels` starts it
 * twice with prefix caching on, on the JavaScript kernels and then on the WebAssembly SIMD128
 * kernels, and compares; `--compare-devices` starts it twice with prefix caching on, with the KV
 * cache and attention on the CPU and then on a GPU (WebGPU), and compares; `--url` drives a running server (for example the one whose dashboard you
 * are watching) once.
 * @module
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_DEMO_CONFIG, type DemoConfig } from '../runtime/demo-config.js';
import { DemoRuntime, type DemoRuntimeOptions } from '../runtime/demo-runtime.js';
import { openWebGpuDevice } from '@mem/app-kit/webgpu-device';
import { startServer } from '../server/http-server.js';
import { formatSummaryTable, runLoad, type LoadSummary } from './load-run.js';
import { DEFAULT_TRACE_OPTIONS, buildLoadTrace } from './load-trace.js';
import { ProgressBar } from '@mem/app-kit/progress-bar';

const USAGE = `usage: npm run demo:load -- [options]

  --url <url>            drive a running demo server once (default: start one with prefix caching
                         on, then one with it off, and compare)
  --compare-kernels      start one on the JavaScript kernels, then one on the WebAssembly SIMD128
                         kernels (attention and the model's matrix products), and compare
  --compare-devices      start one with the KV cache and attention on the CPU, then one with them on
                         a GPU (WebGPU; Mesa's software OpenGL ES unless MEM_WEBGPU_BACKEND names
                         another backend), and compare
  --conversations <n>    conversations in the trace (default ${DEFAULT_TRACE_OPTIONS.conversations})
  --seed <n>             the trace's seed (default ${DEFAULT_TRACE_OPTIONS.seed})
  --json <file>          also write the figures as JSON
  --help                 this text`;

function integer(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return parsed;
}

async function runLocal(
  label: string,
  settings: Pick<DemoConfig, 'prefixCaching' | 'kernels'>,
  trace: ReturnType<typeof buildLoadTrace>,
  progress: ProgressBar,
  gpu?: DemoRuntimeOptions['gpu'],
): Promise<LoadSummary> {
  const runtime = new DemoRuntime(
    { ...DEFAULT_DEMO_CONFIG, ...settings },
    { log: () => {}, ...(gpu === undefined ? {} : { gpu }) },
  );
  const server = await startServer(runtime, { port: 0 });
  try {
    const summary = await runLoad(server.url, trace, label, (done, total) => progress.update(label, done, total));
    progress.done();
    const idle = runtime.idleState();
    const leaked = Object.entries(idle).filter(([, value]) => value !== 0);
    process.stderr.write(
      `${label}: ${summary.requests} requests in ${summary.seconds.toFixed(1)} s; pools back to idle: ` +
        `${leaked.length === 0 ? 'yes' : `NO (${leaked.map(([k, v]) => `${k}=${v}`).join(', ')})`}\n`,
    );
    return summary;
  } finally {
    await server.close();
    runtime.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      conversations: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'string' },
      'compare-kernels': { type: 'boolean', default: false },
      'compare-devices': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const trace = buildLoadTrace({
    ...DEFAULT_TRACE_OPTIONS,
    conversations: integer(values.conversations, 'conversations', DEFAULT_TRACE_OPTIONS.conversations!),
    seed: integer(values.seed, 'seed', DEFAULT_TRACE_OPTIONS.seed),
  });
  const { requests, promptTokens, responseTokens } = trace.trace;
  console.log(
    `trace: ${requests.length} requests in ${trace.conversations.length} conversations, ` +
      `${promptTokens} prompt tokens, ${responseTokens} completion tokens (seed ${values.seed ?? DEFAULT_TRACE_OPTIONS.seed})`,
  );
  const progress = new ProgressBar();
  const runs: LoadSummary[] = [];
  if (values.url !== undefined) {
    const url = values.url.replace(/\/$/, '');
    runs.push(await runLoad(url, trace, url, (done, total) => progress.update('replaying', done, total)));
    progress.done();
  } else if (values['compare-kernels']) {
    runs.push(await runLocal('JS kernels', { prefixCaching: true, kernels: 'js' }, trace, progress));
    runs.push(await runLocal('WASM SIMD128 kernels', { prefixCaching: true, kernels: 'auto' }, trace, progress));
  } else if (values['compare-devices']) {
    const gpu = await openWebGpuDevice();
    console.log(`GPU: ${gpu.adapterName}`);
    runs.push(await runLocal('CPU', { prefixCaching: true, kernels: 'auto' }, trace, progress));
    runs.push(await runLocal('WebGPU', { prefixCaching: true, kernels: 'auto' }, trace, progress, gpu));
  } else {
    runs.push(await runLocal('prefix cache on', { prefixCaching: true, kernels: 'auto' }, trace, progress));
    runs.push(await runLocal('prefix cache off', { prefixCaching: false, kernels: 'auto' }, trace, progress));
  }
  console.log('');
  const comparison = values['compare-kernels'] || values['compare-devices'] ? 'second against first' : 'prefix caching';
  console.log(formatSummaryTable(runs, comparison));
  for (const run of runs) if (run.firstError !== undefined) console.log(`${run.label}: first error: ${run.firstError}`);
  if (values.json !== undefined)
    writeFileSync(
      values.json,
      `${JSON.stringify({ trace: { requests: requests.length, promptTokens, responseTokens }, runs }, null, 2)}\n`,
    );
  if (runs.some((run) => run.failed > 0)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error((error as Error).stack ?? String(error));
  process.exitCode = 1;
});
