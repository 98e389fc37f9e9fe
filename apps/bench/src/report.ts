/** The table on stdout and the JSON file of the benchmark contract. */
import { writeFileSync } from 'node:fs';
import type { RunOutput } from './runner.js';
import { round } from './statistics.js';

/** The JSON document of DESIGN.md's benchmark contract, plus non-timing `figures`. */
export interface BenchReport extends RunOutput {
  readonly node: string;
  readonly date: string;
  readonly quick: boolean;
}

function formatNs(ns: number): string {
  if (ns >= 1e6) return `${round(ns / 1e6, 2)} ms`;
  if (ns >= 1e3) return `${round(ns / 1e3, 2)} µs`;
  return `${round(ns, 2)} ns`;
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

/** Renders results as one table per case; `vs first` is each impl's time over the first impl's. */
export function renderTable(output: RunOutput): string {
  const lines: string[] = [];
  const byCase = new Map<string, RunOutput['results']>();
  for (const result of output.results) {
    const key = `${result.suite} / ${result.case}`;
    byCase.set(key, [...(byCase.get(key) ?? []), result]);
  }
  for (const [caseName, results] of byCase) {
    lines.push('', caseName);
    const base = results[0]!.nsPerOp;
    const width = Math.max(...results.map((result) => result.impl.length), 4);
    for (const result of results) {
      lines.push(
        `  ${pad(result.impl, width)}  ${pad(formatNs(result.nsPerOp), 11, true)}/op  ${pad(
          result.opsPerSec.toLocaleString('en-US'),
          14,
          true,
        )} ops/s  ±${pad(result.rme.toFixed(2), 6, true)}%  ${pad(`${round(result.nsPerOp / base, 2)}x`, 8, true)}`,
      );
    }
  }
  if (output.figures.length > 0) {
    lines.push('', 'figures');
    for (const figure of output.figures) {
      lines.push(`  ${figure.suite} / ${figure.case} / ${figure.impl}: ${round(figure.value, 4)} ${figure.unit}`);
    }
  }
  return lines.join('\n');
}

/** Writes the JSON report to `file`. */
export function writeJson(file: string, report: BenchReport): void {
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}
