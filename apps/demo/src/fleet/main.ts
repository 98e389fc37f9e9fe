/**
 * `npm run demo:fleet [-- --servers 2] [--conversations 8] [--json FILE] [--redis URL]`: a fleet of demo servers that
 * share KV blocks through Redis. It starts its own redis-server (unless given one), runs the fleet
 * trace twice with N servers, each conversation's turns on different servers: once with the servers
 * sharing the Redis tier, once without a tier. It prints a table (TTFT p50/p99, requests/s, local
 * and tier hit rates, bytes loaded and saved, load GB/s), checks that both runs generated the same
 * tokens, and writes the figures as JSON. It stops everything it started, also on Ctrl-C.
 * @module
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startRedis, type RedisServer } from '@mem/testkit/redis-server';
import { ProgressBar } from '@mem/app-kit/progress-bar';
import { runFleet, type FleetRun } from './fleet-run.js';
import { runningServers } from './fleet-server.js';
import { FLEET_TRACE_OPTIONS, buildFleetTrace } from './fleet-trace.js';

const USAGE = `usage: npm run demo:fleet -- [options]

  --servers <n>        demo servers in the fleet (default 2)
  --conversations <n>  conversations in the trace, each over its own document (default 8)
  --redis <url>        use this Redis (or Redis Cluster) instead of starting one
  --json <file>        also write the figures as JSON
  --help               this text`;

function formatTable(runs: readonly FleetRun[]): string {
  const rows: [string, (run: FleetRun) => string][] = [
    ['TTFT p50, all turns (ms)', (run) => run.ttftP50Ms.toFixed(1)],
    ['TTFT p99, all turns (ms)', (run) => run.ttftP99Ms.toFixed(1)],
    ['TTFT p50, turns new to their server (ms)', (run) => run.remoteTtftP50Ms.toFixed(1)],
    ['TTFT p99, turns new to their server (ms)', (run) => run.remoteTtftP99Ms.toFixed(1)],
    ['requests/s', (run) => run.requestsPerSecond.toFixed(2)],
    ['local prefix hit rate', (run) => `${(100 * run.localHitRate).toFixed(1)} %`],
    ['tier hit rate', (run) => `${(100 * run.tierHitRate).toFixed(1)} %`],
    ['bytes loaded', (run) => String(run.bytesLoaded)],
    ['bytes saved', (run) => String(run.bytesSaved)],
    ['load GB/s (bytes / load latency, queueing included)', (run) => run.loadGBps.toPrecision(3)],
    [
      'tier fallbacks to recompute',
      (run) =>
        `${run.tierErrors}${
          run.tierErrors > 0
            ? ` (${Object.entries(run.tierErrorKinds)
                .map(([k, n]) => `${k} ${n}`)
                .join(', ')})`
            : ''
        }`,
    ],
    ['failed requests', (run) => String(run.failed)],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const columns = runs.map((run) => Math.max(`tier: ${run.tier}`.length, ...rows.map(([, cell]) => cell(run).length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(width) : cell.padStart(columns[i - 1]!))).join(' | ')} |`;
  return [
    line(['', ...runs.map((run) => `tier: ${run.tier}`)]),
    `|${['-'.repeat(width + 2), ...columns.map((w) => '-'.repeat(w + 1) + ':')].join('|')}|`,
    ...rows.map(([name, cell]) => line([name, ...runs.map(cell)])),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      servers: { type: 'string', default: '2' },
      conversations: { type: 'string', default: String(FLEET_TRACE_OPTIONS.conversations) },
      redis: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const servers = Number(values.servers);
  if (!Number.isInteger(servers) || servers < 2 || servers > 16) {
    throw new Error(`--servers must be an integer in [2, 16], got ${values.servers}`);
  }
  const conversations = Number(values.conversations);
  if (!Number.isInteger(conversations) || conversations < 1 || conversations > 1000) {
    throw new Error(`--conversations must be an integer in [1, 1000], got ${values.conversations}`);
  }
  let redis: RedisServer | undefined;
  const stopAll = async (): Promise<void> => {
    for (const child of runningServers) child.kill('SIGTERM');
    await redis?.close();
  };
  process.once('SIGINT', () => {
    process.stderr.write('\ninterrupted: stopping the servers and Redis\n');
    void stopAll().finally(() => process.exit(130));
  });
  try {
    if (values.redis === undefined) redis = await startRedis({ maxmemory: '1gb' });
    const url = values.redis ?? redis!.url;
    const trace = buildFleetTrace(servers, { ...FLEET_TRACE_OPTIONS, conversations });
    console.log(
      `fleet: ${servers} servers, Redis at ${url}${redis ? ' (started for this run)' : ''}; trace: ${trace.requests} requests ` +
        `in ${trace.conversations.length} conversations, ${trace.promptTokens} prompt tokens (seed ${FLEET_TRACE_OPTIONS.seed})`,
    );
    const progress = new ProgressBar();
    const withTier = await runFleet(servers, url, trace, (done, total) => progress.update('tier: redis', done, total));
    progress.done();
    const without = await runFleet(servers, undefined, trace, (done, total) =>
      progress.update('tier: none', done, total),
    );
    progress.done();
    const identicalTokens =
      withTier.run.failed === 0 &&
      without.run.failed === 0 &&
      withTier.texts.every((turns, c) => turns.every((text, t) => text === without.texts[c]![t]));
    const runs = [withTier.run, without.run];
    console.log('');
    console.log(formatTable(runs));
    console.log(
      `\nwith the tier: ${(without.run.remoteTtftP50Ms / withTier.run.remoteTtftP50Ms).toFixed(1)}x lower TTFT p50 on turns ` +
        `whose earlier turns ran on other servers, ${(withTier.run.requestsPerSecond / without.run.requestsPerSecond).toFixed(2)}x the requests/s; ` +
        `identical tokens: ${identicalTokens}`,
    );
    if (values.json !== undefined)
      writeFileSync(values.json, `${JSON.stringify({ servers, runs, identicalTokens }, null, 2)}\n`);
    if (!identicalTokens) process.exitCode = 1;
  } finally {
    await stopAll();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).stack ?? String(error));
  process.exitCode = 1;
});
