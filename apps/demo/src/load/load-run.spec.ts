import { describe, expect, it } from 'vitest';
import { formatSummaryTable, type LoadSummary } from './load-run.js';

describe('the load summary', () => {
  it('prints one column per run and the ratio of the two', () => {
    const run = (label: string, rps: number, ttft: number, computed: number): LoadSummary => ({
      label,
      requests: 10,
      failed: 0,
      firstError: undefined,
      seconds: 10 / rps,
      requestsPerSecond: rps,
      generatedTokensPerSecond: rps * 20,
      promptTokensPerSecond: rps * 500,
      ttftP50Ms: ttft,
      ttftP99Ms: ttft * 2,
      prefixHitRate: computed < 1000 ? 0.8 : 0,
      prefilledTokens: computed,
      preemptions: 1,
    });
    const table = formatSummaryTable([run('on', 8, 100, 500), run('off', 4, 400, 5000)]);
    expect(table).toMatch(/\|\s+requests\/s\s+\|\s+8\.00 \|\s+4\.00 \|/);
    expect(table).toMatch(/prefix hit rate\s+\|\s+80\.0 % \|\s+0\.0 % \|/);
    expect(table).toContain(
      'prefix caching: 2.00x the requests/s, 4.0x lower TTFT p50, 90 % fewer prompt tokens computed',
    );
  });

  it('compares the second run (kernels, device) with the first', () => {
    const run = (label: string, rps: number, ttft: number): LoadSummary => ({
      label,
      requests: 10,
      failed: 0,
      firstError: undefined,
      seconds: 10 / rps,
      requestsPerSecond: rps,
      generatedTokensPerSecond: rps * 20,
      promptTokensPerSecond: rps * 500,
      ttftP50Ms: ttft,
      ttftP99Ms: ttft * 2,
      prefixHitRate: 0.8,
      prefilledTokens: 500,
      preemptions: 0,
    });
    const table = formatSummaryTable(
      [run('JS kernels', 2, 300), run('WASM SIMD128 kernels', 5, 100)],
      'second against first',
    );
    expect(table).toContain(
      'WASM SIMD128 kernels: 2.50x the generated tokens/s, 2.50x the prompt tokens/s, 3.0x lower TTFT p50 than JS kernels',
    );
    const slower = formatSummaryTable([run('CPU', 8, 50), run('WebGPU', 2, 400)], 'second against first');
    expect(slower).toContain(
      'WebGPU: 0.25x the generated tokens/s, 0.25x the prompt tokens/s, 8.0x higher TTFT p50 than CPU',
    );
  });
});
