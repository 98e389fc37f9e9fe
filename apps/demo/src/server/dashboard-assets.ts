/**
 * The files the dashboard loads besides its page: uPlot's script and style sheet, served by this
 * server from the installed `uplot` package (`GET /assets/<file>`), so that the dashboard needs no
 * CDN and no build step. Each file is read once, on its first request.
 * @module
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** A file the dashboard loads. */
export interface DashboardAsset {
  /** Its content type. */
  readonly contentType: string;
  /** Its text. */
  readonly body: string;
}

/** The prefix of the assets' paths. */
export const ASSET_PATH = '/assets/';

const require = createRequire(import.meta.url);

/** The assets by file name, and the package file each one is. */
const FILES: ReadonlyMap<string, { readonly module: string; readonly contentType: string }> = new Map([
  ['uplot.iife.min.js', { module: 'uplot/dist/uPlot.iife.min.js', contentType: 'text/javascript; charset=utf-8' }],
  ['uplot.min.css', { module: 'uplot/dist/uPlot.min.css', contentType: 'text/css; charset=utf-8' }],
]);

const loaded = new Map<string, DashboardAsset>();

/** The asset called `name` (`uplot.iife.min.js`, `uplot.min.css`), or undefined if there is none. */
export function dashboardAsset(name: string): DashboardAsset | undefined {
  const file = FILES.get(name);
  if (file === undefined) return undefined;
  let asset = loaded.get(name);
  if (asset === undefined) {
    asset = { contentType: file.contentType, body: readFileSync(require.resolve(file.module), 'utf8') };
    loaded.set(name, asset);
  }
  return asset;
}
