/**
 * A stand-in model for tier tests over a real KvStore: the K and V written at position `p` are a
 * function of every token up to `p` (a running hash), and the token sampled is a function of every
 * K and V the sequence holds, read back from the store. A block holding bytes of another prefix, or
 * none, changes the tokens; equal tokens with and without a tier mean the tier delivered exact KV.
 */
import { KvCacheManager } from '../kv-cache-manager.js';
import { KvStore } from '../kv-store.js';
import type { ScheduledRequest } from '../scheduled-request.js';
import { Scheduler, type SchedulerOptions } from '../scheduler.js';
import type { SchedulerTierOptions } from './scheduler-tier.js';

export const LAYOUT = { numLayers: 2, numKvHeads: 2, headDim: 4, blockSize: 4 } as const;
const WIDTH = LAYOUT.numKvHeads * LAYOUT.headDim;

/** A manager, its store and a scheduler over them, as an engine holds them. */
export interface ToyServer {
  readonly store: KvStore;
  readonly kv: KvCacheManager;
  readonly scheduler: Scheduler;
}

/**
 * A server of `numBlocks` blocks whose scheduler takes `options`, and the tier `tierFor` makes for
 * its store.
 */
export function toyServer(
  numBlocks: number,
  options: Partial<SchedulerOptions> = {},
  tierFor?: (store: KvStore) => SchedulerTierOptions,
): ToyServer {
  const store = new KvStore({ ...LAYOUT, numBlocks });
  const kv = new KvCacheManager({ numBlocks, blockSize: LAYOUT.blockSize, copyBlock: (s, t) => store.copyBlock(s, t) });
  const tier = tierFor?.(store);
  const scheduler = new Scheduler(kv, { maxTokensPerStep: 64, maxRunning: 8, ...options, ...(tier ? { tier } : {}) });
  return { store, kv, scheduler };
}

function prefixHash(tokens: Uint32Array, position: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i <= position; i += 1) h = Math.imul(h ^ tokens[i]!, 0x01000193);
  return h >>> 0;
}

/** Runs one step's entries: writes their K/V, samples where they sample. */
function compute(server: ToyServer, entries: ReturnType<Scheduler['step']>['entries']): number[] {
  const key = new Float32Array(WIDTH);
  const value = new Float32Array(WIDTH);
  return entries.map((entry) => {
    const tokens = entry.sequence.tokens;
    for (let p = entry.start; p < entry.start + entry.count; p += 1) {
      const h = prefixHash(tokens, p);
      for (let i = 0; i < WIDTH; i += 1) {
        key[i] = ((h >>> (i % 24)) & 0xff) / 256 + i;
        value[i] = ((h >>> ((i + 5) % 24)) & 0xff) / 128 - p;
      }
      for (let layer = 0; layer < LAYOUT.numLayers; layer += 1) {
        server.store.writeToken(layer, entry.sequence, p, key, value);
      }
    }
    if (!entry.samples) return 0;
    let sum = 0;
    for (let p = 0; p < entry.start + entry.count; p += 1) {
      for (let layer = 0; layer < LAYOUT.numLayers; layer += 1) {
        server.store.readToken(layer, entry.sequence, p, key, value);
        for (let i = 0; i < WIDTH; i += 1) sum = (sum * 31 + key[i]! * 977 + value[i]! * 131) % 1_000_003;
      }
    }
    return 1 + (Math.floor(Math.abs(sum)) % 200);
  });
}

/** Steps the server until it has no work, awaiting its tier when every waiting request is loading. */
export async function runToEnd(server: ToyServer): Promise<void> {
  const { scheduler } = server;
  while (scheduler.hasWork) {
    const step = scheduler.step();
    if (step.entries.length === 0) {
      await scheduler.whenTierSettles();
      continue;
    }
    scheduler.commit(step, compute(server, step.entries));
  }
}

/** Submits each prompt, runs to the end and returns what each generated. */
export async function generate(server: ToyServer, prompts: readonly number[][], maxNewTokens = 6): Promise<number[][]> {
  const requests: ScheduledRequest[] = prompts.map((tokens) => server.scheduler.submit({ tokens, maxNewTokens }));
  await runToEnd(server);
  return requests.map((request) => request.generated);
}

/** A prompt of `length` tokens from `seed`, the same for the same arguments. */
export function prompt(seed: number, length: number): number[] {
  return Array.from({ length }, (_, i) => 1 + ((seed * 7919 + i * 104729) % 997));
}
