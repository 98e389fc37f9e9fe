import { describe, expect, it } from 'vitest';
import { StopMatcher } from './stop-matcher.js';
import { decodeTokens, encodeText } from '../model/tokenizer.js';

/** Pushes `text` byte by byte; returns what was released and whether it stopped. */
function run(stops: string[], text: string): { released: string; stopped: boolean; held: string } {
  const matcher = new StopMatcher(stops.map(encodeText));
  const released: number[] = [];
  for (const byte of encodeText(text)) {
    const match = matcher.push(byte);
    released.push(...match.released);
    if (match.stopped) return { released: decodeTokens(released), stopped: true, held: '' };
  }
  return { released: decodeTokens(released), stopped: false, held: decodeTokens(matcher.flush()) };
}

describe('stop sequences on a token stream', () => {
  it('releases everything before a stop sequence and none of the sequence', () => {
    expect(run(['END'], 'abcENDxyz')).toEqual({ released: 'abc', stopped: true, held: '' });
  });

  it('holds back a possible beginning, and releases it once it cannot begin a sequence', () => {
    expect(run(['END'], 'abEN')).toEqual({ released: 'ab', stopped: false, held: 'EN' });
    expect(run(['END'], 'abENx')).toEqual({ released: 'abENx', stopped: false, held: '' });
  });

  it('finds a sequence that starts inside a failed partial match', () => {
    expect(run(['aab'], 'xaaab')).toEqual({ released: 'xa', stopped: true, held: '' });
    expect(run(['abab'], 'ababab')).toEqual({ released: '', stopped: true, held: '' });
  });

  it('stops at the sequence that completes first, cutting the longest of those that end together', () => {
    expect(run(['<|im_end|>', '\n\n'], 'one\n\ntwo<|im_end|>')).toEqual({ released: 'one', stopped: true, held: '' });
    expect(run(['op', 'long stop'], 'a long stop')).toEqual({ released: 'a ', stopped: true, held: '' });
  });

  it('stops on a one-byte sequence at once', () => {
    expect(run(['.'], 'Hi. There')).toEqual({ released: 'Hi', stopped: true, held: '' });
  });
});
