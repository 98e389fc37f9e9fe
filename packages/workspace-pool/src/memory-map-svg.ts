/**
 * Draws a memory map as an SVG picture: one bar per segment, to one scale, with used, pinned and
 * free blocks in their colours, so fragmentation can be seen at a glance. The result is a
 * standalone `<svg>` string, ready to embed in a page or write to a `.svg` file.
 *
 * This module is browser compatible.
 * @module
 */
import { assertBoolean, assertInteger, assertOptions, invalidArgument } from '@mem/types';
import type { MemoryMapBlockState, MemoryMapSegment, MemoryMapSnapshot } from './memory-map.js';

/** Colours of a memory-map picture (any CSS colour). */
export interface MemoryMapColors {
  /** Used blocks. @defaultValue '#3b6fd8' */
  readonly used?: string;
  /** Pinned blocks. @defaultValue '#e8871e' */
  readonly pinned?: string;
  /** Free blocks. @defaultValue '#e3e6ea' */
  readonly free?: string;
  /** Text. @defaultValue '#1d232b' */
  readonly text?: string;
  /** The background. @defaultValue '#ffffff' */
  readonly background?: string;
}

/** Options of {@link renderMemoryMap}. */
export interface RenderMemoryMapOptions {
  /** Width of the picture in pixels, an integer in [200, 10000]. @defaultValue 960 */
  readonly width?: number;
  /** Height of a segment's bar in pixels, an integer in [4, 200]. @defaultValue 28 */
  readonly barHeight?: number;
  /** The title line. @defaultValue the pool's name with its fragmentation and bytes in use */
  readonly title?: string;
  /** Colours. */
  readonly colors?: MemoryMapColors;
  /** Give each drawn block a `<title>` tooltip (offset, size, owner, label). @defaultValue true */
  readonly tooltips?: boolean;
}

const DEFAULT_COLORS: Required<MemoryMapColors> = {
  used: '#3b6fd8',
  pinned: '#e8871e',
  free: '#e3e6ea',
  text: '#1d232b',
  background: '#ffffff',
};

const MARGIN = 12;
const LINE = 16;

/**
 * Renders `snapshot` (from `pool.snapshot()`, or the coordinator's) as an SVG string. Every segment
 * is drawn to the same scale (bytes per pixel), so expansion segments look their size; blocks
 * narrower than a pixel are drawn together (pinned wins the colour, then the state with most bytes).
 * Cost: O(blocks); about 150 bytes of SVG per drawn block.
 * @throws MemError INVALID_ARGUMENT if `snapshot` is not a memory map or an option is bad.
 *
 * @example
 * ```ts
 * import { WorkspacePool, renderMemoryMap } from '@mem/workspace-pool';
 * const pool = new WorkspacePool({ initialSize: 1 << 20 });
 * pool.acquire(4096, { label: 'logits' });
 * const svg = renderMemoryMap(pool.snapshot(), { width: 640 });
 * svg.startsWith('<svg'); // true
 * ```
 */
export function renderMemoryMap(snapshot: MemoryMapSnapshot, options: RenderMemoryMapOptions = {}): string {
  checkSnapshot(snapshot);
  const settings = settingsOf(options);
  const { width, barHeight, colors, tooltips } = settings;
  const segments = snapshot.segments;
  const widest = Math.max(1, ...segments.map((segment) => segment.byteLength));
  const scale = (width - 2 * MARGIN) / widest; // pixels per byte
  const rowHeight = LINE + barHeight + 10;
  const height = MARGIN + LINE + 6 + segments.length * rowHeight + LINE + MARGIN;
  const title =
    settings.title ??
    `${snapshot.pool}: ${formatBytes(snapshot.bytesInUse)} in use of ${formatBytes(snapshot.bytesReserved)}, ` +
      `${snapshot.liveWorkspaces} workspaces, fragmentation ${snapshot.fragmentation.toFixed(3)}`;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="system-ui, sans-serif" font-size="12" role="img" aria-label="${escapeXml(title)}">`,
    `<rect width="${width}" height="${height}" fill="${escapeXml(colors.background)}"/>`,
    `<text x="${MARGIN}" y="${MARGIN + 12}" font-size="13" font-weight="600" fill="${escapeXml(colors.text)}">${escapeXml(title)}</text>`,
  ];
  let y = MARGIN + LINE + 6;
  for (const segment of segments) {
    parts.push(
      `<text x="${MARGIN}" y="${y + 12}" fill="${escapeXml(colors.text)}">${escapeXml(describeSegment(segment))}</text>`,
    );
    const barY = y + LINE;
    parts.push(
      `<rect x="${MARGIN}" y="${barY}" width="${px(segment.byteLength * scale)}" height="${barHeight}" fill="${escapeXml(colors.free)}"/>`,
    );
    drawBlocks(parts, segment, MARGIN, barY, barHeight, scale, colors, tooltips);
    y += rowHeight;
  }
  const legend: [MemoryMapBlockState, string][] = [
    ['used', colors.used],
    ['pinned', colors.pinned],
    ['free', colors.free],
  ];
  legend.forEach(([state, color], index) => {
    const x = MARGIN + index * 90;
    parts.push(
      `<rect x="${x}" y="${y + 2}" width="12" height="12" fill="${escapeXml(color)}" stroke="#8a929c" stroke-width="0.5"/>`,
      `<text x="${x + 16}" y="${y + 12}" fill="${escapeXml(colors.text)}">${state}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** A run of blocks narrower than a pixel, drawn as one rectangle. */
interface Run {
  start: number;
  end: number;
  count: number;
  bytes: Record<MemoryMapBlockState, number>;
}

function drawBlocks(
  parts: string[],
  segment: MemoryMapSegment,
  left: number,
  top: number,
  height: number,
  scale: number,
  colors: Required<MemoryMapColors>,
  tooltips: boolean,
): void {
  let run: Run | undefined;
  const flush = (): void => {
    if (run === undefined) return;
    const { bytes } = run;
    const state: MemoryMapBlockState = bytes.pinned > 0 ? 'pinned' : bytes.used >= bytes.free ? 'used' : 'free';
    const tip = `${run.count} blocks at ${run.start}..${run.end}: ${bytes.used + bytes.pinned} bytes used, ${bytes.free} free`;
    if (state !== 'free')
      rect(
        parts,
        left + run.start * scale,
        top,
        (run.end - run.start) * scale,
        height,
        colors[state],
        tooltips ? tip : undefined,
      );
    run = undefined;
  };
  for (const block of segment.blocks) {
    const pixels = block.size * scale;
    if (pixels < 1) {
      run ??= { start: block.offset, end: block.offset, count: 0, bytes: { used: 0, pinned: 0, free: 0 } };
      run.end = block.offset + block.size;
      run.count += 1;
      run.bytes[block.state] += block.size;
      if ((run.end - run.start) * scale >= 1) flush();
      continue;
    }
    flush();
    if (block.state === 'free') {
      if (tooltips)
        rect(
          parts,
          left + block.offset * scale,
          top,
          pixels,
          height,
          colors.free,
          `free: ${block.size} bytes at ${block.offset}`,
        );
      continue;
    }
    const owner = `workspace #${block.owner}${block.label === null ? '' : ` "${block.label}"`}`;
    const tip = `${owner}${block.state === 'pinned' ? ' (pinned)' : ''}: ${block.size} bytes at ${block.offset}`;
    // A hairline gap keeps neighbouring workspaces apart when they are wide enough to show it.
    const gap = pixels >= 4 ? 0.5 : 0;
    rect(
      parts,
      left + block.offset * scale,
      top,
      pixels - gap,
      height,
      colors[block.state],
      tooltips ? tip : undefined,
    );
  }
  flush();
}

function rect(
  parts: string[],
  x: number,
  y: number,
  w: number,
  h: number,
  fill: string,
  tip: string | undefined,
): void {
  const shape = `<rect x="${px(x)}" y="${y}" width="${px(w)}" height="${h}" fill="${escapeXml(fill)}"`;
  parts.push(tip === undefined ? `${shape}/>` : `${shape}><title>${escapeXml(tip)}</title></rect>`);
}

function describeSegment(segment: MemoryMapSegment): string {
  const used = segment.byteLength === 0 ? 0 : (100 * segment.bytesInUse) / segment.byteLength;
  return (
    `segment ${segment.index}${segment.initial ? '' : ' (expansion)'}: ${formatBytes(segment.byteLength)} ${segment.kind}, ` +
    `${used.toFixed(1)}% used, largest free ${formatBytes(segment.largestFreeBlock)}, fragmentation ${segment.fragmentation.toFixed(3)}`
  );
}

function px(value: number): string {
  return (Math.round(value * 100) / 100).toString();
}

/** `1.5 MiB`, `64 KiB`, `100 B`. */
function formatBytes(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(2)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(2)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} KiB`;
  return `${bytes} B`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function checkSnapshot(snapshot: unknown): asserts snapshot is MemoryMapSnapshot {
  const candidate = snapshot as Partial<MemoryMapSnapshot> | null;
  const ok =
    typeof candidate === 'object' &&
    candidate !== null &&
    Array.isArray(candidate.segments) &&
    candidate.segments.every(
      (segment) =>
        typeof segment === 'object' &&
        segment !== null &&
        Number.isFinite(segment.byteLength) &&
        segment.byteLength >= 0 &&
        Array.isArray(segment.blocks) &&
        segment.blocks.every(
          (block: MemoryMapSnapshot['segments'][number]['blocks'][number]) =>
            typeof block === 'object' &&
            block !== null &&
            Number.isFinite(block.offset) &&
            Number.isFinite(block.size) &&
            (block.state === 'free' || block.state === 'used' || block.state === 'pinned'),
        ),
    );
  if (!ok) throw invalidArgument('snapshot', snapshot, 'a memory map from pool.snapshot()');
}

const OPTION_NAMES = ['width', 'barHeight', 'title', 'colors', 'tooltips'];

/** The options read once each, checked, with their defaults. */
function settingsOf(value: RenderMemoryMapOptions): {
  width: number;
  barHeight: number;
  title: string | undefined;
  colors: Required<MemoryMapColors>;
  tooltips: boolean;
} {
  const options = assertOptions<RenderMemoryMapOptions>(value, 'options', OPTION_NAMES);
  const { width = 960, barHeight = 28, title, tooltips = true } = options;
  if (title !== undefined && typeof title !== 'string') throw invalidArgument('options.title', title, 'a string');
  const colors = { ...DEFAULT_COLORS };
  const given = assertOptions<MemoryMapColors>(options.colors, 'options.colors', Object.keys(DEFAULT_COLORS));
  for (const key of Object.keys(given) as (keyof MemoryMapColors)[]) {
    const color = given[key];
    if (color === undefined) continue;
    if (typeof color !== 'string') throw invalidArgument(`options.colors.${key}`, color, 'a string');
    colors[key] = color;
  }
  return {
    width: assertInteger(width, 'options.width', { min: 200, max: 10000 }),
    barHeight: assertInteger(barHeight, 'options.barHeight', { min: 4, max: 200 }),
    title,
    colors,
    tooltips: assertBoolean(tooltips, 'options.tooltips'),
  };
}
