import { describe, expect, it } from 'vitest';
import { TokenDecoder, decodeTokens, encodeText } from './tokenizer.js';

describe('the byte tokenizer', () => {
  it('round-trips text with multi-byte characters, streamed one byte at a time', () => {
    const text = 'naïve café, 東京 🚀';
    const tokens = encodeText(text);
    const decoder = new TokenDecoder();
    let streamed = '';
    for (const token of tokens) streamed += decoder.push(token);
    streamed += decoder.end();
    expect(streamed).toBe(text);
    expect(decodeTokens(tokens)).toBe(text);
  });

  it('holds back an incomplete character until it completes', () => {
    const decoder = new TokenDecoder();
    const [a, b, c] = encodeText('€');
    expect(decoder.push(a!)).toBe('');
    expect(decoder.push(b!)).toBe('');
    expect(decoder.push(c!)).toBe('€');
  });
});
