import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { redisCli } from '@mem/testkit/redis-server';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'mem-demo-fleet-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** Runs `npm run demo:fleet -- ...args`; resolves with its exit code and output once it exits. */
function fleet(args: string[], onOutput?: (output: string, pid: number) => void) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@mem/source', MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer): void => {
    output += chunk.toString();
    onOutput?.(output, child.pid!);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  return new Promise<{ code: number | null; output: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, output })),
  );
}

/** Every process below `pid`. */
function descendants(pid: number): number[] {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number));
  const found: number[] = [];
  for (let i = 0, parents = [pid]; i < parents.length; i += 1) {
    for (const [child, parent] of table) {
      if (parent !== parents[i]) continue;
      found.push(child!);
      parents.push(child!);
    }
  }
  return found;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const redisPort = (output: string): number => Number(/Redis at redis:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1]);

describe('npm run demo:fleet', () => {
  it('replays the trace on 2 servers with and without Redis: the same tokens, the figures as JSON', async () => {
    const json = join(directory, 'fleet.json');
    const { code, output } = await fleet(['--servers', '2', '--conversations', '2', '--json', json]);
    expect(code, output).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as {
      servers: number;
      runs: Record<string, unknown>[];
      identicalTokens: boolean;
    };
    expect(report.identicalTokens).toBe(true);
    expect(report.runs.map((run) => run.tier)).toEqual(['redis', 'none']);
    for (const run of report.runs) {
      for (const key of ['ttftP50Ms', 'ttftP99Ms', 'requestsPerSecond', 'localHitRate', 'tierHitRate']) {
        expect(run[key], key).toBeTypeOf('number');
      }
      expect(run).toMatchObject({ failed: 0 });
    }
    const [tiered, plain] = report.runs;
    expect(tiered).toMatchObject({ bytesLoaded: expect.any(Number), bytesSaved: expect.any(Number) });
    expect(tiered!.tierHitRate).toBeGreaterThan(0);
    expect(tiered!.bytesLoaded).toBeGreaterThan(0);
    expect(plain).toMatchObject({ tierHitRate: 0, bytesLoaded: 0, bytesSaved: 0 });
    expect(output).toMatch(/\| TTFT p50, all turns \(ms\) +\|/);
    await expect(redisCli(redisPort(output), 'ping')).rejects.toThrow(); // the Redis it started is gone
  });

  it('stops its servers and its Redis on Ctrl-C', async () => {
    let started: number[] = [];
    let interrupted = false;
    const { code, output } = await fleet(['--conversations', '2'], (text, pid) => {
      if (interrupted || !text.includes('tier: redis [')) return; // the servers serve
      interrupted = true;
      started = descendants(pid);
      process.kill(pid, 'SIGINT');
    });
    expect(interrupted, output).toBe(true);
    expect(code).toBe(130);
    expect(started.length).toBeGreaterThanOrEqual(3); // 2 servers and redis-server
    for (let i = 0; i < 50 && started.some(alive); i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(started.filter(alive)).toEqual([]);
  });
});
