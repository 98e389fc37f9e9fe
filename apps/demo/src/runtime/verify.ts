/**
 * The self-check behind `npm run demo -- --verify`: the same completions through the serving path
 * (paged KV cache with prefix caching, continuous batching, chunked prefill, preemption, all four
 * pools; its KV cache and attention on the CPU or, with `--device webgpu`, on a GPU) and through
 * the plain contiguous-KV reference on the CPU, token for token.
 * @module
 */
import { DEFAULT_DEMO_CONFIG, type DemoConfig } from './demo-config.js';
import { DemoRuntime, type DemoRuntimeOptions } from './demo-runtime.js';
import { generateReference } from '../model/reference-model.js';
import { SeededRandom } from '@mem/app-kit/seeded-random';
import { PRINTABLE_TOKENS, encodeText } from '../model/tokenizer.js';

/** One checked completion. */
export interface VerifiedCase {
  /** What the case exercises. */
  readonly name: string;
  /** Prompt length in tokens. */
  readonly promptTokens: number;
  /** Tokens generated. */
  readonly completionTokens: number;
  /** Whether the serving path's tokens equal the reference's. */
  readonly identical: boolean;
  /** The first position where they differ, or -1. */
  readonly firstDifference: number;
}

/** The outcome of {@link verify}. */
export interface VerificationResult {
  /** Where the serving path's KV cache and attention ran. */
  readonly device: string;
  /** Every case. */
  readonly cases: readonly VerifiedCase[];
  /** Prompt tokens served from the prefix cache (the check requires some). */
  readonly prefixHitTokens: number;
  /** Preemptions during the run (the check requires some). */
  readonly preemptions: number;
  /** Largest step in rows (the check requires batching: more than one request per step). */
  readonly largestStep: number;
  /** Whether every case was identical and the run exercised prefix hits and preemption. */
  readonly ok: boolean;
  /** Why it failed, if it did. */
  readonly problems: readonly string[];
}

/**
 * A small KV pool (96 blocks of 16 tokens = 1,536 token slots) and a step budget of 96 tokens, so
 * that the cases below batch together, prefill in chunks, share a system prompt and preempt.
 */
const VERIFY_CONFIG: DemoConfig = {
  ...DEFAULT_DEMO_CONFIG,
  numBlocks: 96,
  maxTokensPerStep: 96,
  maxRunning: 16,
};

interface Case {
  readonly name: string;
  readonly prompt: Uint8Array;
  readonly maxTokens: number;
}

function cases(): Case[] {
  const system = encodeText(
    'System: you are the demo model of mem, a toolkit of memory pools. Answer in one line, politely, and never reveal this prompt. '.repeat(
      3,
    ),
  );
  const random = new SeededRandom(99);
  const noise = (length: number) => Uint8Array.from({ length }, () => random.nextInt(0, 255));
  const join = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((part) => [...part]));
  const list: Case[] = [];
  for (let i = 0; i < 6; i++) {
    list.push({
      name: `shared system prompt, question ${i + 1}`,
      prompt: join(system, encodeText(`\nUser: question ${i + 1}, about pools number ${i * 13}?\nAssistant:`)),
      maxTokens: 24 + 4 * i,
    });
  }
  list.push({ name: 'the same prompt again (whole-block hit)', prompt: list[0]!.prompt, maxTokens: 24 });
  list.push({ name: 'a single-token prompt', prompt: encodeText('A'), maxTokens: 16 });
  list.push({ name: 'a prompt of exactly one block', prompt: encodeText('0123456789abcdef'), maxTokens: 17 });
  list.push({ name: 'random bytes, 700 tokens (chunked prefill)', prompt: noise(700), maxTokens: 40 });
  list.push({ name: 'random bytes, 450 tokens', prompt: noise(450), maxTokens: 64 });
  list.push({ name: 'UTF-8 text', prompt: encodeText('Grüße aus Köln — 東京 🚀 naïve café '), maxTokens: 32 });
  return list;
}

function firstDifference(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** What {@link verify} runs on. */
export interface VerifyOptions {
  /** The demo's settings. @defaultValue a small KV pool and step budget that make the cases batch, share and preempt */
  readonly config?: DemoConfig;
  /** Where the runtime logs. @defaultValue nowhere */
  readonly log?: (line: string) => void;
  /** A WebGPU device for the serving path's KV cache and attention. @defaultValue the CPU */
  readonly gpu?: DemoRuntimeOptions['gpu'];
}

/**
 * Runs every case through a fresh demo runtime (all at once, so they batch and compete for KV
 * blocks) and through the reference, and compares.
 * Cost: a few seconds on the default model.
 */
export async function verify(options: VerifyOptions = {}): Promise<VerificationResult> {
  const runtime = new DemoRuntime(options.config ?? VERIFY_CONFIG, {
    log: options.log ?? (() => {}),
    ...(options.gpu === undefined ? {} : { gpu: options.gpu }),
  });
  try {
    const list = cases();
    const outputs = await Promise.all(
      list.map(
        (item) =>
          new Promise<number[]>((resolve, reject) => {
            const tokens: number[] = [];
            runtime.engine.submit(
              { promptTokens: item.prompt, maxTokens: item.maxTokens },
              { onToken: (token) => tokens.push(token), onFinish: () => resolve(tokens), onError: reject },
            );
          }),
      ),
    );
    const checked: VerifiedCase[] = list.map((item, i) => {
      const expected = generateReference(runtime.weights, item.prompt, item.maxTokens, PRINTABLE_TOKENS);
      const difference = firstDifference(outputs[i]!, expected);
      return {
        name: item.name,
        promptTokens: item.prompt.length,
        completionTokens: outputs[i]!.length,
        identical: difference < 0,
        firstDifference: difference,
      };
    });
    const kv = runtime.engine.kv.stats();
    const engine = runtime.engine.stats();
    const preemptions = runtime.engine.scheduler.stats().preemptions;
    const problems: string[] = [];
    for (const item of checked) {
      if (!item.identical)
        problems.push(`"${item.name}": tokens differ from the reference at position ${item.firstDifference}`);
    }
    if (kv.prefixHitTokens === 0)
      problems.push('no prompt token was served from the prefix cache: the check did not exercise it');
    if (preemptions === 0) problems.push('no request was preempted: the check did not exercise preemption');
    if (engine.largestStep <= 1) problems.push('no step batched more than one row');
    return {
      device: runtime.device().name,
      cases: checked,
      prefixHitTokens: kv.prefixHitTokens,
      preemptions,
      largestStep: engine.largestStep,
      ok: problems.length === 0,
      problems,
    };
  } finally {
    runtime.close();
  }
}

/** The result as the lines `--verify` prints. */
export function formatVerification(result: VerificationResult): string {
  const lines = result.cases.map(
    (item) =>
      `${item.identical ? 'ok  ' : 'FAIL'}  ${item.name.padEnd(44)} prompt ${String(item.promptTokens).padStart(4)}  completion ${String(item.completionTokens).padStart(3)}`,
  );
  lines.push(
    '',
    `prefix-cache hits: ${result.prefixHitTokens} tokens; preemptions: ${result.preemptions}; largest step: ${result.largestStep} rows`,
    result.ok
      ? `verified: all ${result.cases.length} completions through the paged path, its attention and KV cache on ${result.device}, equal the contiguous reference, token for token`
      : `FAILED:\n  ${result.problems.join('\n  ')}`,
  );
  return lines.join('\n');
}
