import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProgressBar } from '@mem/app-kit/progress-bar';
import { writeJson } from './report.js';
import { createContext, type RunOutput } from './runner.js';
import type { Suite } from './suite.js';

function spin(iterations: number, work: number): number {
  let total = 0;
  for (let i = 0; i < iterations * work; i += 1) total = (total + i) | 0;
  return total;
}

describe('runner', () => {
  it('records one result per implementation, with the fields of the benchmark contract', async () => {
    const output: RunOutput = { results: [], figures: [] };
    const suite: Suite = { name: 'probe', description: 'test', run: async () => {} };
    const context = createContext(suite, true, output, new ProgressBar());
    await context.compare(
      'spin',
      [
        { name: 'light', run: (n) => spin(n, 10) },
        { name: 'heavy', run: (n) => spin(n, 100) },
      ],
      { samples: 5, sampleMs: 1 },
    );
    expect(output.results.map((result) => result.impl)).toEqual(['light', 'heavy']);
    for (const result of output.results) {
      expect(Object.keys(result).sort()).toEqual(['case', 'impl', 'nsPerOp', 'opsPerSec', 'rme', 'samples', 'suite']);
      expect(result.samples).toBe(5);
      expect(result.nsPerOp).toBeGreaterThan(0);
      // The two rates describe one measurement (no timing is compared: the machine may be busy).
      expect(Math.abs(result.opsPerSec * result.nsPerOp - 1e9) / 1e9).toBeLessThan(0.01);
    }
  });

  it('interleaves samples across implementations and rotates who goes first', async () => {
    const calls: string[] = [];
    const output: RunOutput = { results: [], figures: [] };
    const context = createContext(
      { name: 'probe', description: '', run: async () => {} },
      true,
      output,
      new ProgressBar(),
    );
    const impl = (name: string) => ({ name, run: (n: number) => (calls.push(name), spin(n, 50)) });
    await context.compare('order', [impl('a'), impl('b')], { samples: 4, sampleMs: 1 });
    const sampled = calls.slice(-8);
    expect(sampled).toEqual(['a', 'b', 'b', 'a', 'a', 'b', 'b', 'a']);
  });

  it('writes a JSON report that parses back to the contract shape', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bench-')), 'out.json');
    const output: RunOutput = {
      results: [{ suite: 's', case: 'c', impl: 'i', nsPerOp: 1, opsPerSec: 1e9, samples: 3, rme: 0.5 }],
      figures: [{ suite: 's', case: 'c', impl: 'i', value: 2, unit: 'ms' }],
    };
    writeJson(file, { node: process.version, date: new Date(0).toISOString(), quick: true, ...output });
    const report = JSON.parse(readFileSync(file, 'utf8'));
    expect(report).toMatchObject({ node: process.version, quick: true, results: output.results });
  });
});
