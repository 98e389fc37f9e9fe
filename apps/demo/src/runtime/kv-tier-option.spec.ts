import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { streamCompletion } from '../load/load-client.js';
import { startFleetServer, type FleetServer } from '../fleet/fleet-server.js';
import { DEFAULT_MODEL_CONFIG } from '../model/model-config.js';
import { generateWeights } from '../model/model-weights.js';
import { generateReference } from '../model/reference-model.js';
import { PRINTABLE_TOKENS, encodeText } from '../model/tokenizer.js';
import { openKvTier } from './kv-tier-option.js';

/** How the test starts a demo server process: Node with the TypeScript loader, packages from source. */
const NODE_ARGS = ['--import', 'tsx', '--conditions=@mem/source'];

const directory = mkdtempSync(join(tmpdir(), 'mem-demo-kv-tier-'));
const servers: FleetServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  rmSync(directory, { recursive: true, force: true });
});

async function start(args: string[]): Promise<FleetServer> {
  const server = await startFleetServer(args, NODE_ARGS);
  servers.push(server);
  return server;
}

describe('npm run demo -- --kv-tier file:DIR', () => {
  it('keeps the blocks a server computed in the directory, and a restarted server loads them', async () => {
    const tier = `file:${join(directory, 'tier')}`;
    const document = 'A document long enough for many KV blocks of sixteen tokens. '.repeat(6);
    const first = encodeText(`${document}Question: what is it about? Answer:`);
    const second = encodeText(`${document}Question: what is it about? Answer: blocks. Question: how many?`);

    const before = await start(['--kv-tier', tier]);
    await streamCompletion(before.url, { prompt: first, maxTokens: 4, arrivalMs: 0 });
    await before.stop(); // saves what it has, then exits
    expect(readdirSync(join(directory, 'tier')).length).toBeGreaterThanOrEqual(Math.floor(first.length / 16));

    const after = await start(['--kv-tier', tier]);
    const { text } = await streamCompletion(after.url, { prompt: second, maxTokens: 4, arrivalMs: 0 });
    const reference = generateReference(generateWeights(DEFAULT_MODEL_CONFIG), second, 4, PRINTABLE_TOKENS);
    expect(text).toBe(String.fromCharCode(...reference));
    const totals = await after.totals();
    expect(totals.tierHitTokens).toBe(Math.floor(first.length / 16) * 16);
    expect(totals.tierErrors).toBe(0);
  });

  it('refuses a --kv-tier that is neither redis:// nor file:DIR', async () => {
    for (const spec of ['http://x', 'file:', 'redis:/x', '']) {
      await expect(openKvTier(spec)).rejects.toThrow(/--kv-tier must be/);
    }
  });
});
