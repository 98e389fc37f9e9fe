import { describe, expect, it } from 'vitest';
import { DEFAULT_TRACE_OPTIONS, buildLoadTrace } from './load-trace.js';

describe('the load trace', () => {
  it('replays a deterministic trace of printable byte tokens, turns in order', () => {
    const a = buildLoadTrace({ ...DEFAULT_TRACE_OPTIONS, conversations: 5 });
    const b = buildLoadTrace({ ...DEFAULT_TRACE_OPTIONS, conversations: 5 });
    expect(a.conversations.length).toBe(5);
    expect(a.conversations.map((turns) => turns.map((t) => t.maxTokens))).toEqual(
      b.conversations.map((turns) => turns.map((t) => t.maxTokens)),
    );
    for (const turns of a.conversations) {
      for (let i = 1; i < turns.length; i++) {
        expect(turns[i]!.prompt.length).toBeGreaterThan(turns[i - 1]!.prompt.length);
        expect(turns[i]!.arrivalMs).toBeGreaterThan(turns[i - 1]!.arrivalMs);
      }
      for (const turn of turns)
        for (const token of Array.from(turn.prompt)) expect(token >= 32 && token <= 126).toBe(true);
    }
  });
});
