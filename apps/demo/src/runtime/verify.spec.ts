import { describe, expect, it } from 'vitest';
import { formatVerification, verify } from './verify.js';

describe('npm run demo -- --verify', () => {
  it('finds the paged serving path token-for-token equal to the contiguous reference, with prefix hits and preemption', async () => {
    const result = await verify();
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.cases.length).toBeGreaterThanOrEqual(10);
    expect(result.prefixHitTokens).toBeGreaterThan(0);
    expect(result.preemptions).toBeGreaterThan(0);
    expect(formatVerification(result)).toMatch(/^verified: all \d+ completions/m);
  });
});
