/**
 * The dashboard served at `GET /`: one HTML page (no CDN, no build step) that polls `GET
 * /api/stats` every second and draws its history as time-series charts with uPlot (served by this
 * server from the `uplot` package, `dashboard-assets.ts`), with the device the KV cache and
 * attention run on (and the GPU memory they hold), the workspace pool's memory map
 * (`GET /api/workspace-map.svg`) and the server's recent log events.
 * @module
 */

/** The charts of the dashboard: a title, the sample fields drawn, their colours and a unit. */
export const DASHBOARD_CHARTS = [
  {
    id: 'throughput',
    title: 'Throughput',
    unit: 'tokens/s',
    series: [
      { field: 'generatedTokensPerSecond', label: 'generated tokens/s', color: '#2563eb' },
      { field: 'prefillTokensPerSecond', label: 'prefilled tokens/s', color: '#16a34a' },
    ],
  },
  {
    id: 'requests',
    title: 'Requests',
    unit: 'requests',
    series: [
      { field: 'running', label: 'running', color: '#2563eb' },
      { field: 'waiting', label: 'waiting', color: '#f59e0b' },
      { field: 'completedPerSecond', label: 'completed/s', color: '#16a34a' },
    ],
  },
  {
    id: 'kv',
    title: 'KV cache blocks (@mem/paged-kv)',
    unit: 'blocks',
    series: [
      { field: 'kvBlocksInUse', label: 'in use', color: '#dc2626' },
      { field: 'kvBlocksCached', label: 'cached, free', color: '#9333ea' },
      { field: 'kvBlocksTotal', label: 'capacity', color: '#9ca3af' },
    ],
  },
  {
    id: 'prefix',
    title: 'Prefix cache hit rate (@mem/paged-kv)',
    unit: '%',
    series: [{ field: 'prefixHitRatePercent', label: 'hit rate (tokens, last 10 s)', color: '#9333ea' }],
  },
  {
    id: 'tier',
    title: 'KV tier (@mem/paged-kv connector)',
    unit: 'per s',
    series: [
      { field: 'tierHitTokensPerSecond', label: 'prompt tokens loaded/s', color: '#9333ea' },
      { field: 'tierLoadedKiBPerSecond', label: 'KiB loaded/s', color: '#2563eb' },
      { field: 'tierSavedKiBPerSecond', label: 'KiB saved/s', color: '#16a34a' },
      { field: 'tierErrorsPerSecond', label: 'fallbacks to recompute/s', color: '#dc2626' },
    ],
  },
  {
    id: 'preemptions',
    title: 'Preemptions (@mem/paged-kv)',
    unit: 'total',
    series: [{ field: 'preemptions', label: 'preemptions', color: '#dc2626' }],
  },
  {
    id: 'buffers',
    title: 'I/O buffers (@mem/buffer-pool)',
    unit: 'per s',
    series: [
      { field: 'bufferAllocationsPerSecond', label: 'pooled allocations/s', color: '#2563eb' },
      { field: 'bufferFallbacksPerSecond', label: 'fallbacks (exhausted/oversized)/s', color: '#dc2626' },
      { field: 'buffersInUse', label: 'in use', color: '#f59e0b' },
    ],
  },
  {
    id: 'arena',
    title: 'Step metadata bytes per epoch (@mem/epoch-arena)',
    unit: 'bytes',
    series: [{ field: 'arenaBytesPerEpoch', label: 'bytes in the last epoch', color: '#0891b2' }],
  },
  {
    id: 'workspace',
    title: 'Activation workspaces (@mem/workspace-pool)',
    unit: '% / KiB',
    series: [
      { field: 'workspaceFragmentationPercent', label: 'fragmentation %', color: '#dc2626' },
      { field: 'workspacePeakKiB', label: 'peak KiB in use per step', color: '#2563eb' },
    ],
  },
] as const;

/** The HTML of the dashboard page. */
export function renderDashboardPage(title: string): string {
  const charts = JSON.stringify(DASHBOARD_CHARTS);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="/assets/uplot.min.css">
<script src="/assets/uplot.iife.min.js"></script>
<style>
  :root { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; color: #111827; background: #f3f4f6; }
  body { margin: 0; padding: 16px 24px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .sub { color: #6b7280; font-size: 13px; margin-bottom: 12px; }
  .tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px; margin-bottom: 12px; }
  .tile { background: #fff; border-radius: 8px; padding: 8px 12px; box-shadow: 0 1px 2px rgb(0 0 0 / 8%); }
  .tile .v { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .tile .k { font-size: 12px; color: #6b7280; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 12px; }
  .card { background: #fff; border-radius: 8px; padding: 10px 12px; box-shadow: 0 1px 2px rgb(0 0 0 / 8%); }
  .card h2 { font-size: 14px; margin: 0 0 6px; }
  .chart { width: 100%; min-height: 200px; }
  .chart .u-legend { font-size: 12px; }
  .wide { grid-column: 1 / -1; }
  #map img { width: 100%; max-width: 960px; background: #fff; }
  #events { font: 12px ui-monospace, monospace; max-height: 220px; overflow: auto; white-space: pre-wrap; margin: 0; }
  .status { font-size: 12px; color: #6b7280; }
  .err { color: #dc2626; }
</style>
</head>
<body>
<h1>${title}</h1>
<div class="sub">A byte-level transformer served on <b>@mem/paged-kv</b> (KV cache, prefix cache, scheduler),
<b>@mem/workspace-pool</b> (activations), <b>@mem/buffer-pool</b> (request bodies, SSE chunks) and
<b>@mem/epoch-arena</b> (per-step metadata). <span id="status" class="status">connecting...</span></div>
<div class="sub" id="device"></div>
<div class="tiles" id="tiles"></div>
<div class="grid" id="charts"></div>
<div class="grid" style="margin-top:12px">
  <div class="card wide" id="map"><h2>Workspace pool memory map, taken during a step (@mem/workspace-pool)</h2><img id="map-img" alt="workspace pool memory map"></div>
  <div class="card wide"><h2>Log</h2><pre id="events"></pre></div>
</div>
<script>
'use strict';
const CHARTS = ${charts};
const chartsEl = document.getElementById('charts');
const plots = new Map();

function fmt(v) {
  if (!Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return v.toFixed(1);
}

// One uPlot chart per entry of CHARTS: a time axis, a y axis from 0 in the chart's unit, a live legend.
for (const chart of CHARTS) {
  const card = document.createElement('div');
  card.className = 'card';
  card.innerHTML = '<h2></h2><div class="chart"></div>';
  card.querySelector('h2').textContent = chart.title;
  const el = card.querySelector('.chart');
  el.id = 'chart-' + chart.id;
  el.dataset.chart = chart.id;
  chartsEl.appendChild(card);
  const series = chart.series.map((s) => ({ label: s.label, stroke: s.color, width: 1.6, value: (u, v) => fmt(v) }));
  const options = {
    width: el.clientWidth || 400,
    height: 170,
    series: [{}, ...series],
    axes: [{}, { label: chart.unit, size: 56, values: (u, values) => values.map(fmt) }],
    scales: { y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
  };
  plots.set(chart.id, new uPlot(options, [[], ...chart.series.map(() => [])], el));
}
new ResizeObserver(() => {
  for (const [id, plot] of plots) {
    const width = document.getElementById('chart-' + id).clientWidth;
    if (width > 0 && width !== plot.width) plot.setSize({ width, height: 170 });
  }
}).observe(chartsEl);

// Hands one chart its series; data attributes let a test (or a curious user) read what was drawn.
function drawChart(chart, history, startSeconds) {
  const plot = plots.get(chart.id);
  const xs = history.map((h) => startSeconds + h.t / 1000);
  let max = 0;
  const columns = chart.series.map((s) => history.map((h) => {
    const value = h[s.field] || 0;
    max = Math.max(max, value);
    return value;
  }));
  plot.setData([xs, ...columns]);
  const el = document.getElementById('chart-' + chart.id);
  el.dataset.points = String(xs.length * chart.series.length);
  el.dataset.max = String(max);
}

function mib(bytes) {
  return (bytes / 1048576).toFixed(2) + ' MiB';
}

// Where the KV cache and attention run; on a GPU, the bytes of every buffer they hold there.
function drawDevice(device) {
  const el = document.getElementById('device');
  const memory = device.gpuMemory;
  el.dataset.kind = device.kind;
  el.textContent = 'KV cache and attention on ' + device.name + (memory === null ? '' :
    '; GPU memory ' + mib(memory.kvBytes + memory.stepBytes) + ' (KV cache ' + mib(memory.kvBytes) +
    ', step buffers ' + mib(memory.stepBytes) + ')');
}

function drawTiles(stats) {
  const t = stats.totals;
  const gpu = stats.device.gpuMemory;
  const tiles = [
    ['requests completed', t.requestsCompleted],
    ['tokens generated', t.tokensGenerated],
    ['prefix hit rate', (t.prefixQueriedTokens > 0 ? (100 * t.prefixHitTokens) / t.prefixQueriedTokens : 0).toFixed(1) + ' %'],
    ['preemptions', t.preemptions],
    ['KV blocks in use', t.kvBlocksInUse + ' / ' + t.kvBlocksTotal],
    ['TTFT p50 (last 100)', (t.ttftP50Ms ?? 0).toFixed(1) + ' ms'],
    ['scheduler steps', t.steps],
    ['arena epoch', t.arenaEpoch],
    ['defragmentations', t.defragmentations],
    ['cancelled', t.requestsCancelled],
    ['device', stats.device.kind === 'webgpu' ? 'WebGPU' : 'CPU'],
    ['GPU memory', gpu === null ? 'none' : mib(gpu.kvBytes + gpu.stepBytes)],
  ];
  const box = document.getElementById('tiles');
  box.innerHTML = '';
  for (const [k, v] of tiles) {
    const tile = document.createElement('div');
    tile.className = 'tile';
    tile.innerHTML = '<div class="v"></div><div class="k"></div>';
    tile.querySelector('.v').textContent = typeof v === 'number' ? fmt(v) : String(v);
    tile.querySelector('.k').textContent = k;
    box.appendChild(tile);
  }
}

let mapTick = 0;
async function poll() {
  const status = document.getElementById('status');
  try {
    const response = await fetch('/api/stats', { cache: 'no-store' });
    if (!response.ok) throw new Error('HTTP ' + response.status);
    const stats = await response.json();
    const startSeconds = Date.now() / 1000 - stats.uptimeSeconds;
    for (const chart of CHARTS) drawChart(chart, stats.history, startSeconds);
    drawTiles(stats);
    drawDevice(stats.device);
    document.getElementById('events').textContent = stats.events.map((e) => new Date(e.time).toISOString().slice(11, 19) + '  ' + e.message).join('\\n');
    if (mapTick++ % 2 === 0) document.getElementById('map-img').src = '/api/workspace-map.svg?t=' + Date.now();
    status.textContent = 'live, up ' + Math.round(stats.uptimeSeconds) + ' s, updated ' + new Date().toLocaleTimeString();
    status.className = 'status';
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  } catch (error) {
    status.textContent = 'disconnected: ' + error.message;
    status.className = 'status err';
  }
}
poll();
setInterval(poll, 1000);
</script>
</body>
</html>
`;
}
