import { describe, expect, it } from 'vitest';
import { MemError } from '@mem/types';
import { syntheticChatTrace } from './chat-trace.js';

describe('syntheticChatTrace', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = syntheticChatTrace({ seed: 7, conversations: 6 });
    const b = syntheticChatTrace({ seed: 7, conversations: 6 });
    const c = syntheticChatTrace({ seed: 8, conversations: 6 });
    expect(a.requests.map((r) => [...r.prompt])).toEqual(b.requests.map((r) => [...r.prompt]));
    expect(a.requests.map((r) => r.arrivalMs)).toEqual(b.requests.map((r) => r.arrivalMs));
    expect(a.requests.map((r) => [...r.prompt])).not.toEqual(c.requests.map((r) => [...r.prompt]));
  });

  it('makes each request carry the whole conversation so far, starting with a shared system prompt', () => {
    const trace = syntheticChatTrace({ seed: 3, conversations: 10, systemPrompts: 3 });
    expect(trace.systemPrompts).toHaveLength(3);
    for (const prompt of trace.systemPrompts) {
      expect(prompt.length).toBeGreaterThanOrEqual(256);
      expect(prompt.length).toBeLessThanOrEqual(1024);
    }
    const byId = trace.requests;
    for (const request of trace.requests) {
      expect(request.id).toBe(byId.indexOf(request));
      const system = trace.systemPrompts[request.systemPrompt]!;
      expect([...request.prompt.subarray(0, system.length)]).toEqual([...system]);
      if (request.previousId < 0) {
        expect(request.turn).toBe(0);
        continue;
      }
      const previous = byId[request.previousId]!;
      expect(previous.conversation).toBe(request.conversation);
      expect(previous.turn).toBe(request.turn - 1);
      expect(previous.arrivalMs).toBeLessThan(request.arrivalMs);
      expect(previous.id).toBeLessThan(request.id);
      const history = [...previous.prompt, ...previous.response];
      expect([...request.prompt.subarray(0, history.length)]).toEqual(history);
      expect(request.prompt.length).toBeGreaterThan(history.length);
    }
    for (let i = 1; i < byId.length; i += 1) expect(byId[i]!.arrivalMs).toBeGreaterThanOrEqual(byId[i - 1]!.arrivalMs);
    expect(trace.promptTokens).toBe(trace.requests.reduce((sum, r) => sum + r.prompt.length, 0));
  });

  it('keeps token ids in [firstTokenId, vocabSize) and honours the ranges', () => {
    const trace = syntheticChatTrace({
      seed: 1,
      conversations: 5,
      vocabSize: 100,
      firstTokenId: 10,
      turns: [3, 3],
      userTokens: [5, 5],
      responseTokens: [4, 4],
      systemPromptTokens: [20, 20],
    });
    expect(trace.requests).toHaveLength(15);
    for (const request of trace.requests) {
      for (const token of request.prompt) {
        expect(token).toBeGreaterThanOrEqual(10);
        expect(token).toBeLessThan(100);
      }
      expect(request.response.length).toBe(4);
      expect(request.prompt.length).toBe(20 + request.turn * 9 + 5);
    }
    expect(trace.maxSequenceTokens).toBe(20 + 2 * 9 + 5 + 4);
  });

  it.each([
    ['no options', undefined],
    ['no seed', {}],
    ['a negative seed', { seed: -1 }],
    ['a fractional seed', { seed: 1.5 }],
    ['zero conversations', { seed: 1, conversations: 0 }],
    ['a reversed range', { seed: 1, turns: [4, 2] }],
    ['a range that is not a pair', { seed: 1, userTokens: [4] }],
    ['a vocabulary below the first id', { seed: 1, vocabSize: 3 }],
    ['a NaN duration', { seed: 1, durationMs: Number.NaN }],
  ])('rejects %s with INVALID_ARGUMENT', (_label, options) => {
    expect(() => syntheticChatTrace(options as never)).toThrow(MemError);
  });
});
