import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KV_TIER_ERROR_KINDS } from '@mem/paged-kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEMO_CONFIG } from './runtime/demo-config.js';
import { DemoRuntime } from './runtime/demo-runtime.js';
import { openKvTier } from './runtime/kv-tier-option.js';
import { HTTP_ROUTE_STATUSES, startServer } from './server/http-server.js';

// The Prometheus exposition of real demo servers, one without a KV tier and one with a disk tier
// (`--kv-tier file:DIR`), checked against the naming conventions, before any traffic and after
// some, and by `promtool check metrics` (Debian's `prometheus` package).

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const hasPromtool = promtool.status === 0;
if (!hasPromtool) {
  console.warn("promtool is absent: the promtool check of /metrics is skipped (.ci/run installs Debian's prometheus)");
}

/** The demo's own series: what no pool publishes. */
const DEMO_SERIES = [
  'demo_generated_tokens_total',
  'demo_http_requests_total',
  'demo_prefill_tokens_total',
  'demo_requests_cancelled_total',
  'demo_scheduler_steps_total',
  'demo_step_workspace_peak_bytes',
  'demo_time_to_first_token_seconds',
];

interface Family {
  readonly name: string;
  readonly type: string;
  readonly samples: { readonly name: string; readonly labels: Record<string, string> }[];
}

/** The metric families of an exposition, ours only (`mem_*`, `demo_*`). */
function families(text: string): Map<string, Family> {
  const found = new Map<string, Family>();
  let current: Family | undefined;
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) {
      current = { name: type[1]!, type: type[2]!, samples: [] };
      if (/^(mem|demo)_/.test(current.name)) found.set(current.name, current);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (sample === null || current === undefined || !found.has(current.name)) continue;
    const labels: Record<string, string> = {};
    for (const pair of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!;
    }
    current.samples.push({ name: sample[1]!, labels });
  }
  return found;
}

/** A demo server, its exposition before any traffic and after some, and how to stop it. */
interface Scraped {
  readonly idle: Map<string, Family>;
  readonly busy: Map<string, Family>;
  readonly busyText: string;
  close(): Promise<void>;
}

/** Starts a demo server (with the tier `--kv-tier` opens from `kvTier`), scrapes it idle, serves two requests, scrapes again. */
async function scrapeServer(kvTier: string | undefined): Promise<Scraped> {
  const tier = kvTier === undefined ? undefined : await openKvTier(kvTier);
  const runtime = new DemoRuntime(DEFAULT_DEMO_CONFIG, { log: () => {}, ...(tier && { kvTier: tier.tier }) });
  const server = await startServer(runtime, { port: 0 });
  const scrape = async (): Promise<string> => (await fetch(`${server.url}/metrics`)).text();
  const idle = families(await scrape());
  for (const stream of [false, true]) {
    const response = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'metrics, please: a prompt of more than one block', max_tokens: 4, stream }),
    });
    await response.text();
  }
  const busyText = await scrape();
  return {
    idle,
    busy: families(busyText),
    busyText,
    close: async () => {
      await server.close();
      runtime.close();
      await tier?.close();
    },
  };
}

const directory = mkdtempSync(join(tmpdir(), 'mem-demo-metrics-'));
const servers: Record<string, Scraped> = {};

beforeAll(async () => {
  servers['without a KV tier'] = await scrapeServer(undefined);
  servers['with a KV tier'] = await scrapeServer(`file:${directory}`);
});

afterAll(async () => {
  for (const server of Object.values(servers)) await server.close();
  rmSync(directory, { recursive: true, force: true });
});

describe.each(['without a KV tier', 'with a KV tier'])('the /metrics names of a server %s', (which) => {
  const scraped = (): Scraped => servers[which]!;

  it('end in their unit, with _total on counters only', () => {
    for (const family of scraped().busy.values()) {
      const base = family.type === 'counter' ? family.name.replace(/_total$/, '') : family.name;
      expect(family.name.endsWith('_total'), family.name).toBe(family.type === 'counter');
      for (const unit of ['bytes', 'seconds', 'ratio', 'blocks', 'tokens']) {
        if (base.includes(`_${unit}_`)) expect.unreachable(`${family.name}: the unit ${unit} is not last`);
      }
    }
  });

  it('keep the demo to series no pool publishes', () => {
    expect([...scraped().busy.keys()].filter((name) => name.startsWith('demo_')).sort()).toEqual(DEMO_SERIES);
  });

  it('label every pool series with pool, the pool name', () => {
    const pools = new Set<string>();
    for (const family of scraped().busy.values()) {
      if (!family.name.startsWith('mem_')) continue;
      for (const sample of family.samples) {
        expect(sample.labels.pool, sample.name).toMatch(/^[a-z-]+$/);
        pools.add(sample.labels.pool!);
      }
    }
    expect([...pools].sort()).toEqual(['activations', 'io-buffers', 'paged-kv', 'step-metadata']);
  });

  it('export labelled counters at 0 before their first event', () => {
    const { idle } = scraped();
    const hits = idle.get('mem_buffer_pool_hits_total')!.samples.map((sample) => sample.labels.tier);
    expect(new Set(hits)).toEqual(new Set(['local', 'global', 'new']));
    const answers = idle
      .get('demo_http_requests_total')!
      .samples.map((sample) => `${sample.labels.route} ${sample.labels.status}`);
    for (const [route, statuses] of Object.entries(HTTP_ROUTE_STATUSES)) {
      for (const status of statuses) expect(answers).toContain(`${route} ${status}`);
    }
    const tierErrors = idle.get('mem_paged_kv_tier_errors_total');
    if (which === 'without a KV tier') {
      expect(tierErrors).toBeUndefined();
      return;
    }
    const kinds = tierErrors!.samples.map((sample) => `${sample.labels.tier} ${sample.labels.kind}`);
    expect(kinds.sort()).toEqual([...KV_TIER_ERROR_KINDS, 'timeout', 'rejected'].map((kind) => `disk ${kind}`).sort());
    expect(idle.get('mem_paged_kv_tier_load_seconds')?.type).toBe('histogram');
  });

  it.skipIf(!hasPromtool)('pass promtool check metrics with no finding of ours', () => {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: scraped().busyText, encoding: 'utf8' });
    const findings = `${check.stdout}${check.stderr}`.split('\n').filter((line) => line.trim() !== '');
    // What remains is prom-client's default process metrics (nodejs_active_handles_total is a gauge).
    const ours = findings.filter((line) => /^(mem|demo)_/.test(line));
    expect(ours).toEqual([]);
    expect(findings.every((line) => line.startsWith('nodejs_'))).toBe(true);
  });
});
