/**
 * The dashboard served at `GET /`: one self-contained HTML page (no CDN, no build step) that polls
 * `GET /api/stats` every second and draws its history as inline SVG line charts, with the workspace
 * pool's memory map (`GET /api/workspace-map.svg`) and the server's recent log events.
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
  .legend { font-size: 12px; color: #374151; display: flex; flex-wrap: wrap; gap: 10px; margin-top: 4px; }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
  svg.chart { width: 100%; height: 160px; display: block; }
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
<div class="tiles" id="tiles"></div>
<div class="grid" id="charts"></div>
<div class="grid" style="margin-top:12px">
  <div class="card wide" id="map"><h2>Workspace pool memory map, taken during a step (@mem/workspace-pool)</h2><img id="map-img" alt="workspace pool memory map"></div>
  <div class="card wide"><h2>Log</h2><pre id="events"></pre></div>
</div>
<script>
'use strict';
const CHARTS = ${charts};
const SVG = 'http://www.w3.org/2000/svg';
const chartsEl = document.getElementById('charts');
for (const chart of CHARTS) {
  const card = document.createElement('div');
  card.className = 'card';
  card.innerHTML = '<h2></h2><svg class="chart" viewBox="0 0 400 160" preserveAspectRatio="none"></svg><div class="legend"></div>';
  card.querySelector('h2').textContent = chart.title;
  const svg = card.querySelector('svg');
  svg.id = 'chart-' + chart.id;
  svg.dataset.chart = chart.id;
  const legend = card.querySelector('.legend');
  for (const s of chart.series) {
    const item = document.createElement('span');
    item.innerHTML = '<i></i><span></span>';
    item.querySelector('i').style.background = s.color;
    item.querySelector('span').textContent = s.label;
    item.dataset.field = s.field;
    legend.appendChild(item);
  }
  chartsEl.appendChild(card);
}

function fmt(v) {
  if (!Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return v.toFixed(1);
}

function el(name, attrs) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

// Draws one chart: a grid, one polyline per series, the scale's top value. Data attributes let a test
// (or a curious user) read what was drawn.
function drawChart(chart, history) {
  const svg = document.getElementById('chart-' + chart.id);
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const W = 400, H = 160, left = 34, bottom = 14, top = 6;
  let max = 0;
  for (const s of chart.series) for (const h of history) max = Math.max(max, h[s.field] || 0);
  const scaleMax = max > 0 ? max * 1.1 : 1;
  for (let i = 0; i <= 4; i++) {
    const y = top + ((H - top - bottom) * i) / 4;
    svg.appendChild(el('line', { x1: left, x2: W, y1: y, y2: y, stroke: '#e5e7eb', 'stroke-width': 1 }));
    const label = el('text', { x: left - 4, y: y + 3, 'text-anchor': 'end', 'font-size': 9, fill: '#6b7280' });
    label.textContent = fmt((scaleMax * (4 - i)) / 4);
    svg.appendChild(label);
  }
  const n = history.length;
  const t0 = n > 0 ? history[0].t : 0;
  const span = n > 1 ? history[n - 1].t - t0 : 1;
  let points = 0;
  for (const s of chart.series) {
    const coords = history.map((h) => {
      const x = left + ((W - left) * (h.t - t0)) / (span || 1);
      const y = top + (H - top - bottom) * (1 - (h[s.field] || 0) / scaleMax);
      return x.toFixed(1) + ',' + y.toFixed(1);
    });
    points += coords.length;
    svg.appendChild(el('polyline', { points: coords.join(' '), fill: 'none', stroke: s.color, 'stroke-width': 1.6, 'vector-effect': 'non-scaling-stroke', 'data-field': s.field }));
  }
  const axis = el('text', { x: W - 2, y: H - 2, 'text-anchor': 'end', 'font-size': 9, fill: '#6b7280' });
  axis.textContent = n > 1 ? 'last ' + Math.round(span / 1000) + ' s (' + chart.unit + ')' : chart.unit;
  svg.appendChild(axis);
  svg.dataset.points = String(points);
  svg.dataset.max = String(max);
  const last = history[n - 1] || {};
  for (const item of svg.parentElement.querySelectorAll('.legend > span')) {
    const s = chart.series.find((x) => x.field === item.dataset.field);
    item.querySelector('span').textContent = s.label + ': ' + fmt(last[s.field]);
  }
}

function drawTiles(stats) {
  const t = stats.totals;
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
    for (const chart of CHARTS) drawChart(chart, stats.history);
    drawTiles(stats);
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
