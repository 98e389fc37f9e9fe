/**
 * One run of the fleet: N servers (sharing a KV tier, or not), the fleet trace replayed with each
 * turn on the next server, and the figures a client and the servers measured.
 * @module
 */
import { streamCompletion } from '../load/load-client.js';
import { percentile } from '@mem/app-kit/percentile';
import type { DemoTotals } from '../runtime/stats-history.js';
import type { FleetTrace } from './fleet-trace.js';
import { startFleetServer, type FleetServer } from './fleet-server.js';

/** The figures of one run, as the JSON report holds them. */
export interface FleetRun {
  /** `'redis'` (servers share a Redis tier) or `'none'`. */
  readonly tier: 'redis' | 'none';
  /** Time to first token over every request, p50 and p99, ms. */
  readonly ttftP50Ms: number;
  readonly ttftP99Ms: number;
  /**
   * The same over the turns whose earlier turns all ran on other servers (with 2 servers, each
   * conversation's second turn): the turns the tier can serve and the server's own cache cannot.
   */
  readonly remoteTtftP50Ms: number;
  readonly remoteTtftP99Ms: number;
  /** Completed requests per second of the whole replay. */
  readonly requestsPerSecond: number;
  /** Share of prompt tokens served from the servers' own prefix caches. */
  readonly localHitRate: number;
  /** Share of prompt tokens loaded from the tier. */
  readonly tierHitRate: number;
  /** Bytes loaded from and saved to the tier. */
  readonly bytesLoaded: number;
  readonly bytesSaved: number;
  /** Bytes loaded per second of load latency (summed over loads), in GB/s. */
  readonly loadGBps: number;
  /** Tier operations that fell back to recompute. */
  readonly tierErrors: number;
  /** Those by kind (the connector's kinds, and the scheduler's `timeout` and `rejected`), where not 0. */
  readonly tierErrorKinds: Readonly<Record<string, number>>;
  /** Requests that failed. */
  readonly failed: number;
}

/** A run's figures and the text each request generated (by conversation, then turn). */
export interface FleetRunOutput {
  readonly run: FleetRun;
  readonly texts: string[][];
}

/** The servers' tier errors by kind, summed, leaving out the kinds that did not happen. */
async function errorKinds(fleet: readonly FleetServer[]): Promise<Record<string, number>> {
  const kinds: Record<string, number> = {};
  const add = (kind: string, count: number): void => {
    if (count > 0) kinds[kind] = (kinds[kind] ?? 0) + count;
  };
  for (const server of fleet) {
    const { pools } = await server.stats();
    for (const [kind, count] of Object.entries(pools.tier?.errors ?? {})) add(kind, count);
    add('timeout', pools.scheduler.tierTimeouts);
    add('rejected', pools.scheduler.tierRejections);
  }
  return kinds;
}

function sumTotals(all: readonly DemoTotals[], key: keyof DemoTotals): number {
  return all.reduce((sum, totals) => sum + totals[key], 0);
}

/**
 * Starts `servers` demo servers (with `--kv-tier redisUrl` when given), replays `trace` and stops
 * them. Cost: the servers' start (a few seconds) and the replay.
 */
export async function runFleet(
  servers: number,
  redisUrl: string | undefined,
  trace: FleetTrace,
  onProgress: (done: number, total: number) => void,
): Promise<FleetRunOutput> {
  const args = ['--blocks', '2048', ...(redisUrl === undefined ? [] : ['--kv-tier', redisUrl])];
  const fleet: FleetServer[] = await Promise.all(Array.from({ length: servers }, () => startFleetServer(args)));
  try {
    const total = trace.conversations.reduce((sum, turns) => sum + turns.length, 0);
    const ttft: number[] = [];
    const remoteTtft: number[] = [];
    const texts: string[][] = trace.conversations.map(() => []);
    let done = 0;
    let failed = 0;
    const started = performance.now();
    await Promise.all(
      trace.conversations.map(async (turns, conversation) => {
        for (let turn = 0; turn < turns.length; turn += 1) {
          const request = turns[turn]!;
          const wait = started + request.arrivalMs - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          try {
            const result = await streamCompletion(fleet[trace.server(conversation, turn)]!.url, request);
            ttft.push(result.ttftMs);
            if (trace.newToServer(conversation, turn)) remoteTtft.push(result.ttftMs);
            texts[conversation]![turn] = result.text;
          } catch {
            failed += 1;
            texts[conversation]![turn] = '';
          }
          onProgress(++done, total);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 100)); // the last saves answer
    return { run: await summarize(redisUrl, ttft, remoteTtft, done - failed, seconds, failed, fleet), texts };
  } finally {
    await Promise.all(fleet.map((server) => server.stop()));
  }
}

async function summarize(
  redisUrl: string | undefined,
  ttft: number[],
  remoteTtft: number[],
  completed: number,
  seconds: number,
  failed: number,
  fleet: readonly FleetServer[],
): Promise<FleetRun> {
  const all = await Promise.all(fleet.map((server) => server.totals()));
  const queried = Math.max(1, sumTotals(all, 'prefixQueriedTokens'));
  const loadSeconds = sumTotals(all, 'tierLoadSeconds');
  return {
    tier: redisUrl === undefined ? 'none' : 'redis',
    ttftP50Ms: percentile(ttft, 50),
    ttftP99Ms: percentile(ttft, 99),
    remoteTtftP50Ms: percentile(remoteTtft, 50),
    remoteTtftP99Ms: percentile(remoteTtft, 99),
    requestsPerSecond: completed / seconds,
    localHitRate: sumTotals(all, 'prefixHitTokens') / queried,
    tierHitRate: sumTotals(all, 'tierHitTokens') / queried,
    bytesLoaded: sumTotals(all, 'tierLoadedBytes'),
    bytesSaved: sumTotals(all, 'tierSavedBytes'),
    loadGBps: loadSeconds > 0 ? sumTotals(all, 'tierLoadedBytes') / loadSeconds / 1e9 : 0,
    tierErrors: sumTotals(all, 'tierErrors'),
    tierErrorKinds: await errorKinds(fleet),
    failed,
  };
}
