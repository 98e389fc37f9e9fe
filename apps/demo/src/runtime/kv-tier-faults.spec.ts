/**
 * Two demo servers (the real model, real engines) sharing a real redis-server as their KV tier,
 * while Redis fails: stopped, restarted, paused past the command timeout, a value corrupted or
 * evicted in the middle of a chain, a master of a Redis Cluster down. Every request must complete
 * with the tokens the reference model generates, the errors must be counted, nothing may throw out
 * of the server, and the tier must serve again once it is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockHashChain } from '@mem/paged-kv';
import { RedisKvTier } from '@mem/kv-connector-redis';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '@mem/testkit/redis-server';
import { generateReference } from '../model/reference-model.js';
import { PRINTABLE_TOKENS, encodeText } from '../model/tokenizer.js';
import { DEFAULT_DEMO_CONFIG } from './demo-config.js';
import { DemoRuntime } from './demo-runtime.js';

const MAX_TOKENS = 4;
/** Redis commands give up after this: a paused Redis costs a request this much, then it recomputes. */
const COMMAND_TIMEOUT_MS = 300;

/** A demo server on `tier`, and every line it logged. */
interface Server {
  readonly demo: DemoRuntime;
  readonly tier: RedisKvTier;
  readonly logged: string[];
}

async function startServer(url: string): Promise<Server> {
  const tier = await RedisKvTier.connect({ url, commandTimeoutMs: COMMAND_TIMEOUT_MS });
  const logged: string[] = [];
  const demo = new DemoRuntime(DEFAULT_DEMO_CONFIG, { log: (line) => logged.push(line), kvTier: tier });
  return { demo, tier, logged };
}

async function stopServer(server: Server | undefined): Promise<void> {
  if (server === undefined) return;
  server.demo.close();
  await server.tier.close();
}

/** Turn `turn` of conversation `seed`: a document of 13 blocks of 16 tokens, then the questions so far. */
function prompt(seed: number, turn: number): Uint8Array {
  let text = `Document ${seed}. `;
  while (text.length < 13 * 16) text += `Line ${text.length * (seed + 3)} of document ${seed} reads on; `;
  for (let t = 0; t <= turn; t += 1) text += ` Question ${t}: what does part ${t} of ${seed} say? Answer:`;
  return encodeText(text);
}

/** Serves `tokens` on `server` and checks that it generated what the reference model does. */
async function serve(server: Server, tokens: Uint8Array): Promise<void> {
  const generated: number[] = [];
  await new Promise<string>((resolve, reject) => {
    server.demo.engine.submit(
      { promptTokens: tokens, maxTokens: MAX_TOKENS },
      { onToken: (token) => generated.push(token), onFinish: resolve, onError: reject },
    );
  });
  expect(generated).toEqual(generateReference(server.demo.weights, tokens, MAX_TOKENS, PRINTABLE_TOKENS));
}

/** The server's tier counts: prompt tokens loaded, and errors by kind (the scheduler's too). */
function tierCounts(server: Server): { hitTokens: number; errors: Record<string, number> } {
  const engine = server.demo.engine;
  const scheduler = engine.scheduler.stats();
  return {
    hitTokens: engine.kv.stats().tierHitTokens,
    errors: {
      ...engine.connector!.stats().errors,
      timeout: scheduler.tierTimeouts,
      rejected: scheduler.tierRejections,
    },
  };
}

/** Whether nothing was logged as a failure (the engine logs what throws out of a step). */
function quiet(server: Server): boolean {
  return !server.logged.some((line) => /fail|error/i.test(line));
}

/**
 * Conversations from `seed` on until one's first turn on `first` is saved and its second turn on
 * `second` loads it: the tier serves again (once the client has reconnected).
 */
async function servesAgain(first: Server, second: Server, seed: number): Promise<void> {
  const before = tierCounts(second).hitTokens;
  for (let attempt = 0; attempt < 40 && tierCounts(second).hitTokens === before; attempt += 1) {
    await serve(first, prompt(seed + attempt, 0));
    await first.demo.engine.connector!.flush();
    await serve(second, prompt(seed + attempt, 1));
    if (tierCounts(second).hitTokens === before) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(tierCounts(second).hitTokens).toBeGreaterThan(before);
}

/** The key of prompt block `index` of `tokens` in `server`'s tier. */
function keyOf(server: Server, tokens: Uint8Array, index: number): string {
  return server.demo.engine.connector!.keyOf(blockHashChain(tokens, DEFAULT_DEMO_CONFIG.blockSize), index);
}

describe('demo servers sharing a Redis KV tier', () => {
  let redis: RedisServer;
  let a: Server;
  let b: Server;
  beforeAll(async () => {
    redis = await startRedis({ maxmemory: '64mb' });
    [a, b] = await Promise.all([startServer(redis.url), startServer(redis.url)]);
  });
  afterAll(async () => {
    await Promise.all([stopServer(a), stopServer(b)]);
    await redis?.close();
  });

  it('serve a second turn from the blocks the first turn saved on the other server, with the same tokens', async () => {
    await servesAgain(a, b, 100);
    expect(tierCounts(b).hitTokens).toBeGreaterThanOrEqual(13 * 16);
    expect(quiet(a) && quiet(b)).toBe(true);
  });

  it('complete every request while Redis is stopped, counting the errors, and use it again once started', async () => {
    await serve(a, prompt(200, 0));
    await a.demo.engine.connector!.flush();
    await redis.stop();
    const before = tierCounts(b).errors.load!;
    await serve(b, prompt(200, 1));
    await serve(a, prompt(201, 0));
    await a.demo.engine.connector!.flush();
    expect(tierCounts(b).errors.load).toBeGreaterThan(before);
    expect(tierCounts(a).errors.save).toBeGreaterThan(0);
    await redis.start(); // empty
    await servesAgain(a, b, 210);
    expect(quiet(a) && quiet(b)).toBe(true);
  });

  it('recompute what a restart lost, and share again right after', async () => {
    await serve(a, prompt(300, 0));
    await a.demo.engine.connector!.flush();
    await redis.restart();
    const before = tierCounts(b);
    await serve(b, prompt(300, 1)); // the client reconnects meanwhile; the tier holds nothing
    expect(tierCounts(b).hitTokens).toBe(before.hitTokens);
    await servesAgain(a, b, 310);
    expect(quiet(a) && quiet(b)).toBe(true);
  });

  it('give up on a paused Redis after the command timeout, recompute, and use it again after the pause', async () => {
    await serve(a, prompt(400, 0));
    await a.demo.engine.connector!.flush();
    const before = tierCounts(b).errors.load!;
    await redis.cli('client', 'pause', String(4 * COMMAND_TIMEOUT_MS), 'ALL');
    await serve(b, prompt(400, 1));
    expect(tierCounts(b).errors.load).toBe(before + 1);
    await new Promise((resolve) => setTimeout(resolve, 4 * COMMAND_TIMEOUT_MS));
    await servesAgain(a, b, 410);
    expect(quiet(a) && quiet(b)).toBe(true);
  });

  it('load up to a value corrupted in the middle of a chain, count it and recompute the rest', async () => {
    const first = prompt(500, 0);
    await serve(a, first);
    await a.demo.engine.connector!.flush();
    await redis.cli('setrange', keyOf(a, first, 5), '200', 'garbage');
    const before = tierCounts(b);
    await serve(b, prompt(500, 1));
    expect(tierCounts(b).hitTokens - before.hitTokens).toBe(5 * 16);
    expect(tierCounts(b).errors.corrupt).toBe(before.errors.corrupt! + 1);
  });

  it('load up to a value evicted in the middle of a chain, count it and recompute the rest', async () => {
    const first = prompt(600, 0);
    await serve(a, first);
    await a.demo.engine.connector!.flush();
    expect(await redis.cli('del', keyOf(a, first, 7))).toBe('1');
    const before = tierCounts(b);
    await serve(b, prompt(600, 1));
    expect(tierCounts(b).hitTokens - before.hitTokens).toBe(7 * 16);
    expect(tierCounts(b).errors.missing).toBe(before.errors.missing! + 1);
    expect(quiet(a) && quiet(b)).toBe(true);
  });
});

describe('demo servers sharing a Redis Cluster KV tier', () => {
  let cluster: RedisCluster;
  let a: Server;
  let b: Server;
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, maxmemory: '32mb' });
    a = await startServer(cluster.urls[0]!);
    b = await startServer(cluster.urls[2]!);
  });
  afterAll(async () => {
    await Promise.all([stopServer(a), stopServer(b)]);
    await cluster?.close();
  });

  it('load the leading blocks the other masters hold while one is down, recompute the rest with the same tokens, and use it again once back', async () => {
    await servesAgain(a, b, 700);
    const first = prompt(800, 0);
    await serve(a, first);
    await a.demo.engine.connector!.flush();
    // The second turn shares every full block of the first; find a master holding one of them, not the first.
    const keys = Array.from({ length: Math.floor(first.length / DEFAULT_DEMO_CONFIG.blockSize) }, (_, i) =>
      keyOf(a, first, i),
    );
    const prefix = a.demo.engine.connector!.keyPrefix;
    const held = await Promise.all(
      [0, 1, 2].map(async (node) => new Set((await cluster.cli(node, 'keys', `${prefix}*`)).split('\n'))),
    );
    const owner = held.findIndex((node) => node.has(keys[0]!));
    const down = [1, 2].map((step) => (owner + step) % 3).find((node) => keys.some((key) => held[node]!.has(key)))!;
    const leading = keys.findIndex((key) => held[down]!.has(key));
    expect(leading).toBeGreaterThan(0);
    await cluster.stopNode(down);
    const before = tierCounts(b);
    await serve(b, prompt(800, 1)); // the same tokens as the reference model
    expect(tierCounts(b).hitTokens - before.hitTokens).toBe(leading * DEFAULT_DEMO_CONFIG.blockSize);
    expect(tierCounts(b).errors.load).toBe(before.errors.load! + 1);
    await cluster.startNode(down);
    await servesAgain(a, b, 810);
    expect(quiet(a) && quiet(b)).toBe(true);
  });
});
