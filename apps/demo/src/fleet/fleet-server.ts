/**
 * One demo server of the fleet, in a process of its own (as a fleet runs: one event loop per
 * server): started with this process's loader, its URL read from its first line, stopped with
 * SIGTERM (it saves what it has to its tier, then exits).
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { KvTierStats, SchedulerStats } from '@mem/paged-kv';
import type { DemoTotals } from '../runtime/stats-history.js';

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));

/** A running demo server process. */
export interface FleetServer {
  /** Its base URL. */
  readonly url: string;
  /** Its running totals (`GET /api/stats`). */
  totals(): Promise<DemoTotals>;
  /** The scheduler's and the tier's stats (`GET /api/stats`). */
  stats(): Promise<{ pools: { scheduler: SchedulerStats; tier: KvTierStats | null } }>;
  /** Stops it and waits for it to exit. */
  stop(): Promise<void>;
}

/** Every server process started and not yet stopped (stopped on Ctrl-C). */
export const runningServers = new Set<ChildProcess>();

/**
 * Starts `npm run demo` with `args` (`--port 0 --quiet` added) and resolves once it serves. Node
 * runs with `nodeArgs`: this process's own by default (the TypeScript loader `npm run` gave it).
 */
export function startFleetServer(
  args: readonly string[],
  nodeArgs: readonly string[] = process.execArgv,
): Promise<FleetServer> {
  const child = spawn(process.execPath, [...nodeArgs, MAIN, '--port', '0', '--quiet', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  runningServers.add(child);
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => runningServers.delete(child));
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /serving on (\S+)/.exec(output);
      if (match === null) return;
      child.stdout!.removeAllListeners('data');
      child.stdout!.resume();
      const url = match[1]!;
      resolve({
        url,
        totals: async () => ((await (await fetch(`${url}/api/stats`)).json()) as { totals: DemoTotals }).totals,
        stats: async () => (await (await fetch(`${url}/api/stats`)).json()) as never,
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
        },
      });
    });
    void exited.then(() => reject(new Error(`a demo server exited before serving: ${errors.trim()}`)));
  });
}
