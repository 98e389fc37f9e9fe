/**
 * `npm run bench -- --suite <name|all> [--quick] [--json <file>] [--list]`
 *
 * Suites are discovered: every `suites/<name>.suite.ts` (or `.js`) whose default export is a Suite.
 */
import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { blackholeChecksum } from './blackhole.js';
import { Progress } from './progress.js';
import { renderTable, writeJson } from './report.js';
import { createContext, type RunOutput } from './runner.js';
import type { Suite } from './suite.js';

async function loadSuites(): Promise<Suite[]> {
  const directory = new URL('./suites/', import.meta.url);
  const files = readdirSync(directory)
    .filter((file) => /\.suite\.(ts|js)$/.test(file))
    .sort();
  const modules = await Promise.all(files.map((file) => import(new URL(file, directory).href)));
  return modules.map((module: { default: Suite }) => module.default);
}

function usage(suites: readonly Suite[]): string {
  return [
    'usage: npm run bench -- --suite <name|all> [--quick] [--json <file>]',
    '',
    'suites:',
    ...suites.map((suite) => `  ${suite.name.padEnd(16)} ${suite.description}`),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      suite: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const suites = await loadSuites();
  if (values.help || values.list || values.suite === undefined) {
    console.log(usage(suites));
    process.exitCode = values.suite === undefined && !values.help && !values.list ? 1 : 0;
    return;
  }
  const selected = values.suite === 'all' ? suites : suites.filter((suite) => suite.name === values.suite);
  if (selected.length === 0) {
    console.error(`unknown suite "${values.suite}"\n\n${usage(suites)}`);
    process.exitCode = 1;
    return;
  }
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
    console.error('note: run with --expose-gc (npm run bench does) for a collection between cases');
  }
  const output: RunOutput = { results: [], figures: [] };
  const progress = new Progress();
  for (const suite of selected) {
    const started = performance.now();
    await suite.run(createContext(suite, values.quick, output, progress));
    progress.done();
    console.error(`${suite.name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  console.log(renderTable(output));
  console.log(`\n(checksum ${blackholeChecksum()}; node ${process.version}; ${values.quick ? 'quick' : 'full'} run)`);
  if (values.json !== undefined) {
    writeJson(values.json, { node: process.version, date: new Date().toISOString(), quick: values.quick, ...output });
    console.error(`wrote ${values.json}`);
  }
}

await main();
