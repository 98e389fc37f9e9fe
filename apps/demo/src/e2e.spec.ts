import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_CHARTS } from './server/dashboard-page.js';
import { DEFAULT_DEMO_CONFIG } from './runtime/demo-config.js';
import { DemoRuntime } from './runtime/demo-runtime.js';
import { startServer, type RunningServer } from './server/http-server.js';
import { runLoad, type LoadSummary } from './load/load-run.js';
import { DEFAULT_TRACE_OPTIONS, buildLoadTrace } from './load/load-trace.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `${CHROMIUM} is absent: the dashboard's browser checks are skipped (.ci/run installs Debian's chromium)`,
  );
}

/** A short trace: 6 conversations over 2 system prompts, a few seconds of work. */
const SHORT_TRACE = buildLoadTrace({
  ...DEFAULT_TRACE_OPTIONS,
  conversations: 6,
  systemPrompts: 2,
  systemPromptTokens: [128, 256],
  turns: [2, 3],
  durationMs: 300,
  thinkTimeMs: [20, 60],
});

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Parses the Prometheus text format strictly: every line is a comment, HELP, TYPE or a sample. */
function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = sample.exec(line);
    if (match === null) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[4]) });
  }
  return samples;
}

function total(samples: Sample[], name: string): number {
  const matching = samples.filter((s) => s.name === name);
  if (matching.length === 0) throw new Error(`metric ${name} is missing`);
  return matching.reduce((sum, s) => sum + s.value, 0);
}

let runtime: DemoRuntime;
let server: RunningServer;
let summary: LoadSummary;

beforeAll(async () => {
  runtime = new DemoRuntime({ ...DEFAULT_DEMO_CONFIG, sampleIntervalMs: 200 }, { log: () => {} });
  server = await startServer(runtime, { port: 0 });
  summary = await runLoad(server.url, SHORT_TRACE, 'e2e');
});

afterAll(async () => {
  await server?.close();
  runtime?.close();
});

describe('the demo end to end', () => {
  it('serves the whole short trace, with prefix-cache hits', () => {
    expect(summary.failed).toBe(0);
    expect(summary.requests).toBe(SHORT_TRACE.trace.requests.length);
    expect(summary.prefixHitRate).toBeGreaterThan(0.3);
    expect(summary.ttftP50Ms).toBeGreaterThan(0);
  });

  it('keeps serving after bad input and a client that disconnects mid-stream', async () => {
    const post = (body: string) =>
      fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect((await post('{not json')).status).toBe(400);
    expect((await post('{"prompt": 1}')).status).toBe(400);
    expect((await post(JSON.stringify({ prompt: 'x', max_tokens: -1 }))).status).toBe(400);
    expect((await post(JSON.stringify({ prompt: 'x', max_tokens: 10 ** 9 }))).status).toBe(400);
    expect((await post(JSON.stringify({ prompt: 'x'.repeat(100_000) }))).status).toBe(413);
    const controller = new AbortController();
    const response = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'tell me a long story', max_tokens: 500, stream: true }),
      signal: controller.signal,
    });
    await response.body!.getReader().read();
    controller.abort();
    const cancelledBefore = runtime.engine.stats().cancelled;
    for (let i = 0; i < 200 && runtime.engine.stats().cancelled === cancelledBefore; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(runtime.engine.stats().cancelled).toBe(cancelledBefore + 1);
    const ok = await post(JSON.stringify({ prompt: 'still there?', max_tokens: 3 }));
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(3);
  });

  it('exposes the pools in /metrics, in a format that parses', async () => {
    const response = await fetch(`${server.url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const samples = parsePrometheus(await response.text());
    expect(total(samples, 'mem_paged_kv_capacity_blocks')).toBe(DEFAULT_DEMO_CONFIG.numBlocks);
    expect(total(samples, 'mem_paged_kv_prefix_query_tokens_total')).toBeGreaterThan(0);
    expect(total(samples, 'mem_paged_kv_prefix_hit_tokens_total')).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === 'mem_paged_kv_preemptions_total')).toBe(true);
    expect(total(samples, 'mem_buffer_pool_hits_total')).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === 'mem_buffer_pool_exhausted_total')).toBe(true);
    expect(total(samples, 'mem_workspace_pool_acquisitions_total')).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === 'mem_workspace_pool_fragmentation_ratio')).toBe(true);
    expect(total(samples, 'demo_step_workspace_peak_bytes')).toBeGreaterThan(0);
    expect(total(samples, 'mem_epoch_arena_used_bytes')).toBeGreaterThan(0);
    expect(total(samples, 'mem_arena_pool_advances_total')).toBeGreaterThan(0);
    expect(total(samples, 'demo_generated_tokens_total')).toBeGreaterThan(0);
    expect(total(samples, 'demo_time_to_first_token_seconds_count')).toBeGreaterThan(0);
  });

  it('returns every pool to its idle state after the load', async () => {
    // Response chunks go back to the buffer pool when the socket has written them: give it a moment.
    for (let i = 0; i < 100 && runtime.idleState().buffersInUse > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(runtime.idleState()).toEqual({
      trackedRequests: 0,
      kvBlocksInUse: 0,
      kvSequences: 0,
      buffersInUse: 0,
      liveWorkspaces: 0,
      workspaceBytesInUse: 0,
      arenaGuards: 0,
    });
  });

  describe.skipIf(!hasChromium)('the dashboard in headless Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('draws every chart with non-zero data and shows the workspace memory map', async () => {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1200 } });
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${server.url}/`);
      await page.waitForFunction(() => Number(document.body.dataset.updates ?? 0) >= 2, undefined, { timeout: 15_000 });
      await page.waitForFunction(() => {
        const img = document.getElementById('map-img') as HTMLImageElement | null;
        return img !== null && img.complete && img.naturalWidth > 0;
      });
      const charts = await page.$$eval('.chart[data-chart]', (elements) =>
        elements.map((element) => {
          const canvas = element.querySelector('canvas');
          // Pixels uPlot painted (not transparent): the lines, axes and grid drawn on its canvas.
          const pixels = canvas?.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data;
          let painted = 0;
          for (let i = 3; pixels !== undefined && i < pixels.length; i += 4) if (pixels[i]! > 0) painted++;
          return {
            id: (element as HTMLElement).dataset.chart,
            points: Number((element as HTMLElement).dataset.points),
            max: Number((element as HTMLElement).dataset.max),
            lines: element.querySelectorAll('.u-legend .u-series').length - 1,
            painted,
          };
        }),
      );
      expect(charts.map((chart) => chart.id)).toEqual(DASHBOARD_CHARTS.map((chart) => chart.id));
      for (const chart of charts) {
        expect(chart.lines, chart.id).toBe(DASHBOARD_CHARTS.find((c) => c.id === chart.id)!.series.length);
        expect(chart.points, chart.id).toBeGreaterThan(1);
        expect(chart.painted, chart.id).toBeGreaterThan(1000);
      }
      const max = Object.fromEntries(charts.map((chart) => [chart.id, chart.max]));
      for (const id of ['throughput', 'requests', 'kv', 'prefix', 'buffers', 'arena', 'workspace']) {
        expect(max[id], id).toBeGreaterThan(0);
      }
      const tiles = await page.$$eval('.tile .v', (nodes) => nodes.map((node) => node.textContent));
      expect(tiles.length).toBeGreaterThan(5);
      expect(await page.textContent('#device')).toMatch(/^KV cache and attention on CPU \(/);
      expect(errors).toEqual([]);
      await page.close();
    });
  });
});
