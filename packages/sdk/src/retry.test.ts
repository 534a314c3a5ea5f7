import { describe, expect, it } from 'vitest';
import { BACKOFF_BASE_MS, BACKOFF_MAX_MS, parseRetryAfter, retryDelayMs } from './retry.js';

describe('retry delays', () => {
  it('double per attempt up to a ceiling, with jitter between half and all of it', () => {
    const low = (attempt: number) => retryDelayMs({ attempt, random: () => 0 });
    const high = (attempt: number) => retryDelayMs({ attempt, random: () => 1 });
    expect([0, 1, 2, 3, 4, 5, 10].map(high)).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
    expect([0, 1, 2].map(low)).toEqual([250, 500, 1000]);
    for (let attempt = 0; attempt < 8; attempt++) {
      const delay = retryDelayMs({ attempt });
      const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay).toBeLessThanOrEqual(ceiling);
    }
  });

  it("follow the server's Retry-After when it gave one, however many attempts came before", () => {
    expect(retryDelayMs({ attempt: 0, retryAfterSeconds: 30 })).toBe(30_000);
    expect(retryDelayMs({ attempt: 5, retryAfterSeconds: 1 })).toBe(1000);
    expect(retryDelayMs({ attempt: 0, retryAfterSeconds: 0.25 })).toBe(250);
  });

  it('read Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('5', now)).toBe(5);
    expect(parseRetryAfter(' 1.5 ', now)).toBe(1.5);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:10 GMT', now)).toBe(10);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-3', now)).toBeUndefined();
  });
});
