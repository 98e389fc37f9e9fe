/**
 * `npm run demo [-- options]`: starts the demo server and prints its URL.
 * `npm run demo -- --verify`: checks the serving path against the reference and exits.
 * `--device webgpu` puts the KV cache and attention on a GPU.
 * @module
 */
import { parseArgs } from 'node:util';
import { DEFAULT_DEMO_CONFIG, type DemoConfig } from './runtime/demo-config.js';
import { DemoRuntime } from './runtime/demo-runtime.js';
import { startServer } from './server/http-server.js';
import { MODEL_ID } from './server/request-fields.js';
import { formatVerification, verify } from './runtime/verify.js';
import { openKvTier } from './runtime/kv-tier-option.js';
import { openWebGpuDevice } from '@mem/app-kit/webgpu-device';

const USAGE = `usage: npm run demo -- [options]

  --port <n>          port to listen on (default 8080; 0 picks a free one)
  --host <addr>       address to listen on (default 127.0.0.1)
  --no-prefix-cache   serve without prefix caching (every prompt computed in full)
  --blocks <n>        KV cache blocks of 16 tokens (default ${DEFAULT_DEMO_CONFIG.numBlocks})
  --step-tokens <n>   token budget of a scheduler step (default ${DEFAULT_DEMO_CONFIG.maxTokensPerStep})
  --kv-tier <where>   share KV blocks with other servers: redis://host:port (a Redis or a Redis
                      Cluster) or file:DIR (a directory of this machine); needs --device cpu
  --device <where>    where the KV cache and attention run: cpu (default) or webgpu (a GPU through
                      the webgpu package: Mesa's software OpenGL ES by default, another backend with
                      MEM_WEBGPU_BACKEND=vulkan|metal|d3d12|default)
  --quiet             log nothing but the URL
  --verify            check the serving path (on --device) against the contiguous reference, then exit
  --help              this text`;

function positiveInteger(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new Error(`--${name} must be a non-negative integer, got ${value}`);
  return parsed;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      'no-prefix-cache': { type: 'boolean', default: false },
      blocks: { type: 'string' },
      'step-tokens': { type: 'string' },
      'kv-tier': { type: 'string' },
      device: { type: 'string', default: 'cpu' },
      quiet: { type: 'boolean', default: false },
      verify: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.device !== 'cpu' && values.device !== 'webgpu') {
    throw new Error(`--device must be cpu or webgpu, got ${values.device}`);
  }
  if (values.device === 'webgpu' && values['kv-tier'] !== undefined) {
    throw new Error('--kv-tier needs --device cpu: the KV tier loads and saves blocks of a KV cache in CPU memory');
  }
  const gpu = values.device === 'webgpu' ? await openWebGpuDevice() : undefined;
  if (values.verify) {
    const result = await verify(gpu === undefined ? {} : { gpu });
    console.log(formatVerification(result));
    process.exitCode = result.ok ? 0 : 1;
    return;
  }
  const config: DemoConfig = {
    ...DEFAULT_DEMO_CONFIG,
    prefixCaching: !values['no-prefix-cache'],
    numBlocks: positiveInteger(values.blocks, 'blocks', DEFAULT_DEMO_CONFIG.numBlocks),
    maxTokensPerStep: positiveInteger(values['step-tokens'], 'step-tokens', DEFAULT_DEMO_CONFIG.maxTokensPerStep),
  };
  const kvTier = values['kv-tier'] === undefined ? undefined : await openKvTier(values['kv-tier']);
  const runtime = new DemoRuntime(config, {
    ...(values.quiet ? { log: () => {} } : {}),
    ...(kvTier === undefined ? {} : { kvTier: kvTier.tier }),
    ...(gpu === undefined ? {} : { gpu }),
  });
  if (kvTier !== undefined) runtime.log(`KV tier: ${kvTier.description}`);
  const requestedPort = positiveInteger(values.port, 'port', 8080);
  let server;
  try {
    server = await startServer(runtime, { host: values.host, port: requestedPort });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || values.port !== undefined) throw error;
    server = await startServer(runtime, { host: values.host, port: 0 });
    runtime.log(`port ${requestedPort} is taken; listening on a free port instead`);
  }
  const { url } = server;
  console.log(`mem demo serving on ${url}`);
  console.log(`  dashboard   ${url}/`);
  console.log(`  metrics     ${url}/metrics`);
  console.log(`  openai      base URL ${url}/v1 (any API key), model ${MODEL_ID}`);
  console.log(
    `  chat        curl -N ${url}/v1/chat/completions -H 'content-type: application/json' -d '{"messages":[{"role":"user","content":"Hello"}],"max_tokens":32,"stream":true}'`,
  );
  console.log(
    `  completions curl -N ${url}/v1/completions -H 'content-type: application/json' -d '{"prompt":"Hello","max_tokens":32,"stream":true}'`,
  );
  console.log(`  load        npm run demo:load -- --url ${url}`);
  console.log(
    `  kernels     attention and KV cache on ${runtime.device().name}, matrix products ${runtime.weights.matmulKernel}`,
  );
  const shutdown = (): void => {
    runtime.log('shutting down');
    runtime.close();
    void server
      .close()
      .then(() => runtime.engine.connector?.flush())
      .then(() => kvTier?.close())
      .finally(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exitCode = 1;
});
