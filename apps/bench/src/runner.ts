/**
 * Runs suites: calibrates each implementation to a sample duration, warms it up, then takes
 * samples round-robin across the implementations of a case (rotating who goes first), so that a
 * noisy neighbour or a frequency change hits every implementation alike and ratios hold.
 */
import { clearBlackhole, consume, consumeNumber } from './blackhole.js';
import { collectGarbage } from './gc-observer.js';
import type { ProgressBar } from '@mem/app-kit/progress-bar';
import { summarize, type SampleSummary } from './statistics.js';
import type { BenchContext, BenchFigure, BenchImpl, BenchResult, CompareOptions, Suite } from './suite.js';

/** Everything one run of the CLI measured. */
export interface RunOutput {
  readonly results: BenchResult[];
  readonly figures: BenchFigure[];
}

function elapsedNs(impl: BenchImpl, iterations: number): number {
  const start = process.hrtime.bigint();
  const outcome = impl.run(iterations);
  const ns = Number(process.hrtime.bigint() - start);
  if (typeof outcome === 'number') consumeNumber(outcome);
  else consume(outcome);
  return ns;
}

/** Finds how many iterations take at least `sampleNs` (doubling, then scaling once). */
function calibrate(impl: BenchImpl, sampleNs: number): number {
  let iterations = 1;
  for (;;) {
    const ns = elapsedNs(impl, iterations);
    if (ns >= sampleNs / 4 || iterations >= 2 ** 30) {
      return Math.max(1, Math.ceil((iterations * sampleNs) / Math.max(ns, 1)));
    }
    iterations *= 2;
  }
}

/** Builds the context a suite runs with, recording into `output`. */
export function createContext(suite: Suite, quick: boolean, output: RunOutput, progress: ProgressBar): BenchContext {
  const record = (caseName: string, impl: string, summary: SampleSummary): BenchResult => {
    const result = { suite: suite.name, case: caseName, impl, ...summary };
    output.results.push(result);
    return result;
  };
  return {
    quick,
    suite: suite.name,
    record,
    figure(caseName, impl, value, unit) {
      const figure = { suite: suite.name, case: caseName, impl, value, unit };
      output.figures.push(figure);
      return figure;
    },
    progress: (label, done, total) => progress.update(`${suite.name}: ${label}`, done, total),
    async compare(caseName, impls, options: CompareOptions = {}) {
      const samples = options.samples ?? (quick ? 20 : 40);
      const sampleNs = (options.sampleMs ?? (quick ? 10 : 25)) * 1e6;
      const opsPerIteration = options.opsPerIteration ?? 1;
      const label = `${suite.name}: ${caseName}`;
      progress.update(label, 0, samples);
      collectGarbage();
      for (const impl of impls) await impl.setup?.();
      const iterations = impls.map((impl) => calibrate(impl, sampleNs));
      impls.forEach((impl, index) => elapsedNs(impl, iterations[index]!)); // warm-up at full size
      const timings = impls.map(() => [] as number[]);
      for (let round = 0; round < samples; round += 1) {
        for (let k = 0; k < impls.length; k += 1) {
          const index = (round + k) % impls.length;
          const ns = elapsedNs(impls[index]!, iterations[index]!);
          timings[index]!.push(ns / (iterations[index]! * opsPerIteration));
        }
        progress.update(label, round + 1, samples);
      }
      for (const impl of impls) await impl.teardown?.();
      clearBlackhole();
      return impls.map((impl, index) => record(caseName, impl.name, summarize(timings[index]!)));
    },
  };
}
