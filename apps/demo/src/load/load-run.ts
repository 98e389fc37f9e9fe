/**
 * One load run: replays the trace against a server and combines what the client measured with
 * what the server counted (prefix-cache hits, preemptions, prefill work) over the run.
 * @module
 */
import { latencySummary, replayConversations } from './load-client.js';
import type { LoadTrace } from './load-trace.js';
import type { DemoTotals } from '../runtime/stats-history.js';

/** The figures of one run, as the summary table shows them. */
export interface LoadSummary {
  /** The column's title. */
  readonly label: string;
  /** Requests completed. */
  readonly requests: number;
  /** Requests that failed. */
  readonly failed: number;
  /** The first failure, if any. */
  readonly firstError: string | undefined;
  /** Wall time of the run, seconds. */
  readonly seconds: number;
  /** Completed requests per second. */
  readonly requestsPerSecond: number;
  /** Generated tokens per second. */
  readonly generatedTokensPerSecond: number;
  /** Prompt tokens served per second (computed or from the cache). */
  readonly promptTokensPerSecond: number;
  /** Time to first token, p50, ms. */
  readonly ttftP50Ms: number;
  /** Time to first token, p99, ms. */
  readonly ttftP99Ms: number;
  /** Share of prompt tokens served from the prefix cache (server-side, 0-1). */
  readonly prefixHitRate: number;
  /** Prompt tokens the server computed. */
  readonly prefilledTokens: number;
  /** Preemptions during the run. */
  readonly preemptions: number;
}

async function serverTotals(url: string): Promise<DemoTotals> {
  const response = await fetch(`${url}/api/stats`);
  if (!response.ok) throw new Error(`GET ${url}/api/stats answered ${response.status}`);
  return ((await response.json()) as { totals: DemoTotals }).totals;
}

/** Replays `trace` against the server at `url` and summarises. */
export async function runLoad(
  url: string,
  trace: LoadTrace,
  label: string,
  onProgress?: (done: number, total: number) => void,
): Promise<LoadSummary> {
  const before = await serverTotals(url);
  const client = await replayConversations({ url, conversations: trace.conversations, onProgress });
  const after = await serverTotals(url);
  const ttft = latencySummary(client.ttftMs);
  const queried = after.prefixQueriedTokens - before.prefixQueriedTokens;
  return {
    label,
    requests: client.completed,
    failed: client.failed,
    firstError: client.firstError,
    seconds: client.seconds,
    requestsPerSecond: client.completed / client.seconds,
    generatedTokensPerSecond: client.generatedTokens / client.seconds,
    promptTokensPerSecond: client.promptTokens / client.seconds,
    ttftP50Ms: ttft.p50,
    ttftP99Ms: ttft.p99,
    prefixHitRate: queried > 0 ? (after.prefixHitTokens - before.prefixHitTokens) / queried : 0,
    prefilledTokens: after.tokensPrefilled - before.tokensPrefilled,
    preemptions: after.preemptions - before.preemptions,
  };
}

/**
 * The summary table: one row per figure, one column per run, and for two runs a line comparing
 * them: prefix caching on (first) against off (second), or the second run (other kernels, another
 * device) against the first.
 */
export function formatSummaryTable(
  runs: readonly LoadSummary[],
  comparison: 'prefix caching' | 'second against first' = 'prefix caching',
): string {
  const rows: [string, (run: LoadSummary) => string][] = [
    ['requests completed', (run) => `${run.requests}${run.failed > 0 ? ` (${run.failed} failed)` : ''}`],
    ['wall time (s)', (run) => run.seconds.toFixed(2)],
    ['requests/s', (run) => run.requestsPerSecond.toFixed(2)],
    ['generated tokens/s', (run) => run.generatedTokensPerSecond.toFixed(1)],
    ['prompt tokens/s', (run) => run.promptTokensPerSecond.toFixed(0)],
    ['TTFT p50 (ms)', (run) => run.ttftP50Ms.toFixed(1)],
    ['TTFT p99 (ms)', (run) => run.ttftP99Ms.toFixed(1)],
    ['prefix hit rate', (run) => `${(100 * run.prefixHitRate).toFixed(1)} %`],
    ['prompt tokens computed', (run) => String(run.prefilledTokens)],
    ['preemptions', (run) => String(run.preemptions)],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const columns = runs.map((run) => Math.max(run.label.length, ...rows.map(([, cell]) => cell(run).length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(width) : cell.padStart(columns[i - 1]!))).join(' | ')} |`;
  const separator = `|${['-'.repeat(width + 2), ...columns.map((w) => '-'.repeat(w + 1) + ':')].join('|')}|`;
  const out = [
    line(['', ...runs.map((run) => run.label)]),
    separator,
    ...rows.map(([name, cell]) => line([name, ...runs.map(cell)])),
  ];
  if (comparison === 'second against first' && runs.length === 2 && runs[0]!.generatedTokensPerSecond > 0) {
    const [before, after] = runs as [LoadSummary, LoadSummary];
    const ttft =
      after.ttftP50Ms <= before.ttftP50Ms
        ? `${(before.ttftP50Ms / after.ttftP50Ms).toFixed(1)}x lower`
        : `${(after.ttftP50Ms / before.ttftP50Ms).toFixed(1)}x higher`;
    out.push(
      '',
      `${after.label}: ${(after.generatedTokensPerSecond / before.generatedTokensPerSecond).toFixed(2)}x the generated tokens/s, ` +
        `${(after.promptTokensPerSecond / before.promptTokensPerSecond).toFixed(2)}x the prompt tokens/s, ` +
        `${ttft} TTFT p50 than ${before.label}`,
    );
  } else if (comparison === 'prefix caching' && runs.length === 2 && runs[1]!.requestsPerSecond > 0) {
    out.push(
      '',
      `prefix caching: ${(runs[0]!.requestsPerSecond / runs[1]!.requestsPerSecond).toFixed(2)}x the requests/s, ` +
        `${(runs[1]!.ttftP50Ms / runs[0]!.ttftP50Ms).toFixed(1)}x lower TTFT p50, ` +
        `${(100 * (1 - runs[0]!.prefilledTokens / Math.max(1, runs[1]!.prefilledTokens))).toFixed(0)} % fewer prompt tokens computed`,
    );
  }
  return out.join('\n');
}
