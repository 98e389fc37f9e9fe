/**
 * `@mem/buffer-pool/node` where a Node server spends its buffers, against Node's own allocation
 * paths, on loopback only, bounded in count and time:
 * - a TCP echo server and a TCP proxy (to an upstream echo server in the client process), with 1
 *   and 2 server threads, and an HTTP/1.1 server answering each POST with its 1 to 64 KiB body,
 *   under a fixed closed-loop load (16 connections) from a client process that checks every byte:
 *   requests/s, MB/s, p50/p99/p99.9 latency, server CPU per request, GC pause per second, and the
 *   server process's RSS and `arrayBuffers` over the run;
 * - a file job (read, SHA-256, write, in 64 KiB chunks): MB/s, MB per CPU-second, GC pause, RSS;
 * - retention: the bytes one small live slice keeps unusable.
 * Every server runs in a process of its own (its GC and RSS are its own); the Node and pooled
 * servers of a configuration are up together and take turns, in alternating order, window by
 * window, after a warm-up each. Figures are medians over the windows; latency percentiles are
 * over every request of every window.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import type { BenchContext, Suite } from '../suite.js';
import { median, summarize } from '../statistics.js';
import type { FileJob, FileJobResult } from './io-file-job.js';
import {
  ask,
  forkModule,
  runJob,
  stopChild,
  type FromClient,
  type FromServer,
  type IoImpl,
  type LoadResult,
  type LoadSpec,
  type Percentiles,
  type ServerConfig,
  type ServerKind,
  type ServerWindow,
} from './io-protocol.js';
import type { RetentionCase, RetentionResult } from './io-retention.js';
import { formatSize } from './native.suite.js';

const KiB = 1024;
const MiB = 1024 * 1024;
const CONNECTIONS = 16;
const IMPLS: readonly IoImpl[] = ['node', 'pooled'];
const NAMES: Record<IoImpl, string> = { node: 'Node (a Buffer per read)', pooled: '@mem/buffer-pool/node' };

/** How long and how often each configuration is measured. */
interface Plan {
  readonly rounds: number;
  readonly windowSeconds: number;
  readonly warmupSeconds: number;
}

/** What one implementation of a case gathered, window by window. */
interface Tally {
  /** Nanoseconds per request of each window (its throughput, inverted). */
  readonly nsPerRequest: number[];
  /** Server CPU microseconds per request of each window. */
  readonly cpuPerRequest: number[];
  /** GC pause milliseconds per second of each window. */
  readonly gcPerSecond: number[];
  readonly gcCountPerSecond: number[];
  readonly rss: number[];
  arrayBuffersMax: number;
  mismatches: number;
  fallbacks: number;
}

function emptyTally(): Tally {
  return {
    nsPerRequest: [],
    cpuPerRequest: [],
    gcPerSecond: [],
    gcCountPerSecond: [],
    rss: [],
    arrayBuffersMax: 0,
    mismatches: 0,
    fallbacks: 0,
  };
}

function add(tally: Tally, load: LoadResult, window: ServerWindow): void {
  const requests = Math.max(1, load.requests);
  tally.nsPerRequest.push((load.seconds * 1e9) / requests);
  tally.cpuPerRequest.push(window.cpuMicros / requests);
  tally.gcPerSecond.push(window.gcPauseMs / window.seconds);
  tally.gcCountPerSecond.push(window.gcCount / window.seconds);
  tally.rss.push(...window.rss);
  tally.arrayBuffersMax = Math.max(tally.arrayBuffersMax, window.arrayBuffersMax);
  tally.mismatches += load.mismatches;
  tally.fallbacks = window.fallbacks;
}

const round1 = (value: number): number => Math.round(value * 10) / 10;
const mib = (bytes: number): number => round1(bytes / MiB);

/** A running server process. */
interface ServerProcess {
  readonly child: ChildProcess;
  readonly ports: readonly number[];
}

async function startServer(config: ServerConfig): Promise<ServerProcess> {
  const child = forkModule('./io-server.ts', [JSON.stringify(config)]);
  const ready = (await ask<FromServer & { type: 'ready' }>(child, undefined, 'ready')).ports;
  return { child, ports: ready };
}

/** One measured window: the server records while the client applies the load. */
async function measure(
  client: ChildProcess,
  server: ServerProcess,
  load: LoadSpec,
): Promise<[LoadResult, ServerWindow]> {
  server.child.send({ type: 'start' });
  const result = await ask<FromClient & { type: 'result' }>(client, { type: 'load', load }, 'result');
  const window = await ask<FromServer & { type: 'window' }>(server.child, { type: 'stop' }, 'window');
  return [result.result, window.window];
}

async function percentiles(client: ChildProcess, series: string): Promise<Percentiles> {
  return (await ask<FromClient & { type: 'percentiles' }>(client, { type: 'percentiles', series }, 'percentiles'))
    .percentiles;
}

/**
 * Records a case. Figures are medians over the windows (a window that another process on the
 * machine slowed down moves a median little), except the RSS and `arrayBuffers` figures, which
 * follow the server process over the whole run.
 */
function report(
  context: BenchContext,
  caseName: string,
  size: number,
  tallies: Record<IoImpl, Tally>,
  latency: Record<IoImpl, Percentiles>,
): void {
  const rps = (impl: IoImpl): number => 1e9 / median(tallies[impl].nsPerRequest);
  for (const impl of IMPLS) {
    const tally = tallies[impl];
    const name = NAMES[impl];
    context.record(caseName, name, summarize(tally.nsPerRequest));
    const figure = (value: number, unit: string): void => void context.figure(caseName, name, value, unit);
    figure(Math.round(rps(impl)), 'requests/s');
    figure(round1((rps(impl) * size * 2) / 1e6), 'MB/s (both ways)');
    figure(round1(latency[impl].p50), 'µs p50 latency');
    figure(round1(latency[impl].p99), 'µs p99 latency');
    figure(round1(latency[impl].p999), 'µs p99.9 latency');
    figure(round1(median(tally.cpuPerRequest)), 'µs server CPU per request');
    figure(Math.round(median(tally.gcPerSecond) * 100) / 100, 'ms GC pause per s');
    figure(Math.round(median(tally.gcCountPerSecond)), 'GCs per s');
    figure(mib(tally.rss[0]!), 'MiB RSS at the first window');
    figure(mib(tally.rss.at(-1)!), 'MiB RSS at the last window');
    figure(mib(Math.max(...tally.rss)), 'MiB RSS max');
    figure(mib(tally.arrayBuffersMax), 'MiB arrayBuffers max');
    if (impl === 'pooled') figure(tally.fallbacks, 'pool fallbacks');
    if (tally.mismatches > 0) figure(tally.mismatches, 'MISMATCHED responses');
  }
  const ours = NAMES.pooled;
  const gc = median(tallies.node.gcPerSecond) / Math.max(median(tallies.pooled.gcPerSecond), 0.01);
  context.figure(caseName, ours, round1(gc), 'x less GC pause');
  context.figure(caseName, ours, Math.round((latency.node.p99 / latency.pooled.p99) * 100) / 100, 'x lower p99');
  context.figure(caseName, ours, Math.round((rps('pooled') / rps('node')) * 100) / 100, 'x the throughput');
  const cpu = median(tallies.node.cpuPerRequest) / median(tallies.pooled.cpuPerRequest);
  context.figure(caseName, ours, Math.round(cpu * 100) / 100, 'x less server CPU per request');
}

/** Measures `kind` at every size and thread count, Node against pooled, interleaved. */
async function serverCase(
  context: BenchContext,
  client: ChildProcess,
  kind: ServerKind,
  sizes: readonly number[],
  threadCounts: readonly number[],
  plan: Plan,
): Promise<void> {
  const protocol = kind === 'http' ? 'http' : 'tcp';
  const upstreamPort =
    kind === 'proxy'
      ? (await ask<FromClient & { type: 'upstream' }>(client, { type: 'upstream' }, 'upstream')).port
      : undefined;
  for (const threads of threadCounts) {
    const servers = Object.fromEntries(
      await Promise.all(IMPLS.map(async (impl) => [impl, await startServer({ kind, impl, threads, upstreamPort })])),
    ) as Record<IoImpl, ServerProcess>;
    for (const size of sizes) {
      const caseName = `${kind} ${formatSize(size)}, ${threads} thread${threads > 1 ? 's' : ''}, ${CONNECTIONS} connections`;
      const tallies = { node: emptyTally(), pooled: emptyTally() };
      const spec = (impl: IoImpl, seconds: number, series: string): LoadSpec => ({
        protocol,
        ports: servers[impl].ports,
        connections: CONNECTIONS,
        size,
        seconds,
        series,
      });
      for (const impl of IMPLS) {
        context.progress(`${caseName}: warm-up`, 0, plan.rounds);
        await measure(client, servers[impl], spec(impl, plan.warmupSeconds, 'warm-up'));
      }
      for (let round = 0; round < plan.rounds; round += 1) {
        const order = round % 2 === 0 ? IMPLS : [...IMPLS].reverse();
        for (const impl of order) {
          const [load, window] = await measure(
            client,
            servers[impl],
            spec(impl, plan.windowSeconds, `${caseName} ${impl}`),
          );
          add(tallies[impl], load, window);
        }
        context.progress(caseName, round + 1, plan.rounds);
      }
      const latency = {
        node: await percentiles(client, `${caseName} node`),
        pooled: await percentiles(client, `${caseName} pooled`),
      };
      report(context, caseName, size, tallies, latency);
    }
    await Promise.all(IMPLS.map((impl) => stopChild(servers[impl].child)));
  }
}

async function fileCase(context: BenchContext, bytes: number, rounds: number): Promise<void> {
  const chunk = 64 * KiB;
  const caseName = `file: read, SHA-256 and write ${formatSize(bytes)} in ${formatSize(chunk)} chunks`;
  const directory = join(tmpdir(), `mem-bench-io-${process.pid}`);
  const source = join(directory, 'source');
  const target = join(directory, 'target');
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory);
  try {
    const data = randomBytes(bytes);
    writeFileSync(source, data);
    const digest = createHash('sha256').update(data).digest('hex');
    const results: Record<IoImpl, FileJobResult[]> = { node: [], pooled: [] };
    for (let round = 0; round < rounds; round += 1) {
      const order = round % 2 === 0 ? IMPLS : [...IMPLS].reverse();
      for (const impl of order) {
        const job: FileJob = { impl, source, target, chunk };
        const result = await runJob<FileJobResult>('./io-file-job.ts', JSON.stringify(job));
        if (result.digest !== digest || result.bytes !== bytes)
          throw new Error(`the ${impl} file job read wrong bytes`);
        results[impl].push(result);
        rmSync(target, { force: true });
      }
      context.progress(caseName, round + 1, rounds);
    }
    const pauses: Record<IoImpl, number> = { node: 0, pooled: 0 };
    for (const impl of IMPLS) {
      const runs = results[impl];
      const name = NAMES[impl];
      const figure = (value: number, unit: string): void => void context.figure(caseName, name, value, unit);
      context.record(caseName, name, summarize(runs.map((run) => (run.seconds * 1e9) / (bytes / chunk))));
      pauses[impl] = median(runs.map((run) => run.gcPauseMs / run.seconds));
      figure(round1(bytes / median(runs.map((run) => run.seconds)) / 1e6), 'MB/s');
      // On a shared machine the wall time follows the other processes; the CPU time much less.
      figure(round1(bytes / (median(runs.map((run) => run.cpuMicros)) / 1e6) / 1e6), 'MB per CPU-second');
      figure(Math.round(pauses[impl] * 100) / 100, 'ms GC pause per s');
      figure(median(runs.map((run) => run.gcCount)), 'GCs per run');
      figure(mib(Math.max(...runs.map((run) => Math.max(...run.rss)))), 'MiB RSS max');
      figure(mib(Math.max(...runs.map((run) => run.rss.at(-1)! - run.rss[0]!))), 'MiB RSS growth over a run, max');
      figure(mib(Math.max(...runs.map((run) => run.arrayBuffersMax))), 'MiB arrayBuffers max');
    }
    context.figure(caseName, NAMES.pooled, round1(pauses.node / Math.max(pauses.pooled, 0.01)), 'x less GC pause');
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

async function retentionCase(context: BenchContext): Promise<void> {
  const cases: [RetentionCase, string, string][] = [
    ['node-slices', 'retention: 1 KiB slices, one kept per 8 KiB', 'Node (Buffer.allocUnsafe, its pool)'],
    ['pooled-slices', 'retention: 1 KiB slices, one kept per 8 KiB', NAMES.pooled],
    ['node-socket', 'retention: 1 KiB socket reads, all kept', NAMES.node],
    ['pooled-socket', 'retention: 1 KiB socket reads, all kept', `${NAMES.pooled} (owned chunks, 64 KiB chunkSize)`],
    ['pooled-socket-copy', 'retention: 1 KiB socket reads, all kept', `${NAMES.pooled} (copy: true)`],
  ];
  for (const [which, caseName, name] of cases) {
    context.progress(caseName, 0, 1);
    const result = await runJob<RetentionResult>('./io-retention.ts', which);
    context.figure(caseName, name, Math.round(result.bytesPerKept), 'bytes unusable per kept slice');
    if (which === 'pooled-slices')
      context.figure(caseName, name, result.createdAgain, 'buffers created to refill the freed ones');
  }
}

const suite: Suite = {
  name: 'io',
  description:
    'Node servers on loopback (TCP echo and proxy with 1 and 2 threads, HTTP bodies of 1-64 KiB), a file job and retention: Node allocation against @mem/buffer-pool/node',
  async run(context) {
    const plan: Plan = context.quick
      ? { rounds: 2, windowSeconds: 0.5, warmupSeconds: 0.3 }
      : { rounds: 5, windowSeconds: 2, warmupSeconds: 1 };
    const client = forkModule('./io-client.ts');
    await ask<FromClient>(client, undefined, 'ready');
    try {
      const sizes = context.quick ? [KiB, 64 * KiB] : [KiB, 16 * KiB, 64 * KiB];
      await serverCase(context, client, 'echo', sizes, [1, 2], plan);
      await serverCase(context, client, 'proxy', [16 * KiB], context.quick ? [1] : [1, 2], plan);
      await serverCase(context, client, 'http', sizes, [1], plan);
    } finally {
      await stopChild(client);
    }
    await fileCase(context, context.quick ? 64 * MiB : 256 * MiB, context.quick ? 2 : 3);
    await retentionCase(context);
  },
};

export default suite;
