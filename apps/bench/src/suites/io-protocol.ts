/**
 * What the processes and threads of the `io` suite say to each other: the suite (orchestrator), the
 * server process (one per implementation and configuration), its server threads, the load client
 * process and the one-shot job processes (file job, retention).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** Node's own allocation paths, or the pooled helpers of `@mem/buffer-pool/node`. */
export type IoImpl = 'node' | 'pooled';

/** What a server process serves. */
export type ServerKind = 'echo' | 'proxy' | 'http';

/** How a server process is started (its one argument, as JSON). */
export interface ServerConfig {
  readonly kind: ServerKind;
  readonly impl: IoImpl;
  /** Server threads, each listening on a port of its own (Node 20 has no `reusePort` for threads). */
  readonly threads: number;
  /** For `proxy`: where the upstream echo server listens. */
  readonly upstreamPort?: number;
}

/** What one server thread measured over a window. */
export interface ThreadWindow {
  readonly gcPauseMs: number;
  readonly gcCount: number;
  /** The thread's `arrayBuffers` (bytes), sampled every 100 ms: the largest and the last. */
  readonly arrayBuffersMax: number;
  readonly arrayBuffersLast: number;
}

/** What a server process measured over a window. */
export interface ServerWindow {
  readonly seconds: number;
  /** CPU time of the whole process (all threads), in microseconds. */
  readonly cpuMicros: number;
  readonly gcPauseMs: number;
  readonly gcCount: number;
  /** Resident set size samples (bytes), every 100 ms over the window. */
  readonly rss: readonly number[];
  /** The sum over threads of their largest `arrayBuffers` (bytes). */
  readonly arrayBuffersMax: number;
  /** The sum over threads of their last `arrayBuffers` (bytes). */
  readonly arrayBuffersLast: number;
  /** For the pooled server: buffers handed out untracked because the pool was exhausted. */
  readonly fallbacks: number;
}

/** Messages from the suite to a server process. */
export type ToServer = { readonly type: 'start' } | { readonly type: 'stop' } | { readonly type: 'exit' };

/** Messages from a server process to the suite. */
export type FromServer =
  | { readonly type: 'ready'; readonly ports: readonly number[] }
  | { readonly type: 'window'; readonly window: ServerWindow };

/** A load the client applies: closed-loop request/response on `connections` connections, for `seconds`. */
export interface LoadSpec {
  readonly protocol: 'tcp' | 'http';
  readonly ports: readonly number[];
  readonly connections: number;
  /** Bytes of each request's payload (the echo, or the HTTP body). */
  readonly size: number;
  readonly seconds: number;
  /** The latencies of loads of the same series are kept together, for {@link ToClient} `percentiles`. */
  readonly series: string;
}

/** Latency percentiles of a series, in microseconds. */
export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
}

/** What a load measured. */
export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  /** Payload bytes sent and received back. */
  readonly bytes: number;
  /** Responses whose bytes were not the request's (should stay 0). */
  readonly mismatches: number;
}

/** Messages from the suite to the client process. */
export type ToClient =
  | { readonly type: 'load'; readonly load: LoadSpec }
  | { readonly type: 'percentiles'; readonly series: string }
  | { readonly type: 'upstream' }
  | { readonly type: 'exit' };

/** Messages from the client process to the suite. */
export type FromClient =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly result: LoadResult }
  | { readonly type: 'percentiles'; readonly percentiles: Percentiles }
  | { readonly type: 'upstream'; readonly port: number };

/** A child process of the suite, running one of this directory's modules with the suite's flags (tsx included). */
export function forkModule(module: string, args: readonly string[] = []): ChildProcess {
  const path = fileURLToPath(new URL(module, import.meta.url));
  return fork(path, [...args], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** Runs a one-shot module of this directory in a fresh process and resolves with the JSON line it prints. */
export async function runJob<T>(module: string, argument: string): Promise<T> {
  const path = fileURLToPath(new URL(module, import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, path, argument], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`${module} ${argument} failed (exit ${code})`);
  return JSON.parse(output.trim().split('\n').at(-1)!) as T;
}

/** Sends `message` to `child` and resolves with its next message of type `type`. */
export async function ask<T extends { readonly type: string }>(
  child: ChildProcess,
  message: unknown,
  type: T['type'],
): Promise<T> {
  const answer = new Promise<T>((resolve, reject) => {
    const onMessage = (reply: T): void => {
      if (reply.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(reply);
    };
    const onExit = (code: number | null): void =>
      reject(new Error(`a child of the io suite exited (${code}) before answering ${type}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
  if (message !== undefined) child.send(message as never);
  return answer;
}

/** Asks `child` to exit and waits for it. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.send({ type: 'exit' });
  await exited;
}

/** The `p`-th percentile (0..100) of sorted `values`, nearest rank. */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
