/**
 * `npm run bench -- --suite <name|all> [--quick] [--json <file>] [--report <file>] [--list]`
 *
 * Suites are discovered: every `suites/<name>.suite.ts` (or `.js`) whose default export is a Suite.
 *
 * `--suite all` runs every suite in a process of its own, one after the other, and merges their
 * results: a suite run after others in one process inherits their JIT state and their heap (the
 * buffer-pool suite, run first, teaches V8 MemPool's malloc/free pair in LIFO order, and the
 * workspace-pool suite then measures MemPool's LIFO pair faster than it does alone), so each
 * suite's figures would depend on which suites ran before it. Within a suite, the implementations
 * of a case still share one process, interleaved, as the contract asks.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine, writeBenchmarksPage } from './benchmarks-page.js';
import { blackholeChecksum } from './blackhole.js';
import { ProgressBar } from '@mem/app-kit/progress-bar';
import { renderTable, writeJson, type BenchReport } from './report.js';
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
    'usage: npm run bench -- --suite <name|all> [--quick] [--json <file>] [--report <file>]',
    '',
    '  --json <file>     also write the results as JSON',
    '  --report <file>   also write them as a Markdown page (docs/benchmarks.md)',
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
      report: { type: 'string' },
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
  let checksum: string;
  if (selected.length === 1) {
    const suite = selected[0]!;
    const started = performance.now();
    const progress = new ProgressBar();
    await suite.run(createContext(suite, values.quick, output, progress));
    progress.done();
    console.error(`${suite.name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    checksum = String(blackholeChecksum());
  } else {
    checksum = runApart(selected, values.quick, output);
  }
  console.log(renderTable(output));
  console.log(`\n(checksum ${checksum}; node ${process.version}; ${values.quick ? 'quick' : 'full'} run)`);
  const report = { node: process.version, date: new Date().toISOString(), quick: values.quick, ...output };
  if (values.json !== undefined) {
    writeJson(values.json, report);
    console.error(`wrote ${values.json}`);
  }
  if (values.report !== undefined) {
    const command = `npm run bench -- --suite ${values.suite}${values.quick ? ' --quick' : ''} --report ${values.report}`;
    writeBenchmarksPage(values.report, { report, machine: describeMachine(), suites: selected, command });
    console.error(`wrote ${values.report}`);
  }
}

/**
 * Runs each suite in a child process (this CLI, with this process's flags and loader) and merges
 * their results and figures into `output`, in suite order. Returns the children's checksums.
 * @throws Error when a child fails (its output went to this process's stderr).
 */
function runApart(suites: readonly Suite[], quick: boolean, output: RunOutput): string {
  const directory = mkdtempSync(join(tmpdir(), 'mem-bench-'));
  const checksums: string[] = [];
  try {
    for (const suite of suites) {
      const json = join(directory, `${suite.name}.json`);
      const args = [
        fileURLToPath(import.meta.url),
        '--suite',
        suite.name,
        '--json',
        json,
        ...(quick ? ['--quick'] : []),
      ];
      const child = spawnSync(process.execPath, [...process.execArgv, ...args], {
        stdio: ['ignore', 'pipe', 'inherit'],
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      if (child.status !== 0) throw new Error(`suite ${suite.name} failed (exit ${child.status ?? child.signal})`);
      const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
      output.results.push(...report.results);
      output.figures.push(...report.figures);
      checksums.push(/\(checksum (\S+);/.exec(child.stdout)?.[1] ?? '?');
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  return checksums.join(', ');
}

await main();
