import { describe, expect, it } from 'vitest';
import { FetchCache } from './fetch-cache.js';
import type { WebFetchLimits, WebFetchResult } from './web-fetcher.js';

const limits = (changes: Partial<WebFetchLimits> = {}): WebFetchLimits => ({
  domains: { mode: 'blocklist', entries: [] },
  httpsOnly: false,
  maxResponseBytes: 1000,
  timeoutMs: 1000,
  ...changes,
});
const result = (changes: Partial<WebFetchResult> = {}): WebFetchResult => ({
  finalUrl: 'https://b.example/page',
  status: 200,
  contentType: 'text/html',
  body: Buffer.from('x'.repeat(500)),
  truncated: false,
  hops: [
    { url: 'https://a.example/page', rule: 'not_in_blocklist', address: '198.51.100.1', status: 301 },
    { url: 'https://b.example/page', rule: 'not_in_blocklist', address: '198.51.100.2', status: 200 },
  ],
  durationMs: 40,
  ...changes,
});

describe('the fetch cache', () => {
  it("serves a page again to its organization only, with the asking call's rules on every hop", () => {
    const cache = new FetchCache();
    cache.put('org_a', 'https://a.example/page', result());
    expect(cache.get('org_a', 'https://a.example/page', limits())).toMatchObject({ status: 200, durationMs: 0, truncated: false });
    expect(cache.get('org_b', 'https://a.example/page', limits())).toBeUndefined();
    // A policy that blocks a hop the page took does not get it from the cache.
    expect(cache.get('org_a', 'https://a.example/page', limits({ domains: { mode: 'blocklist', entries: ['b.example'] } }))).toBeUndefined();
    expect(cache.get('org_a', 'https://a.example/page', limits({ domains: { mode: 'allowlist', entries: ['*.example'] } }))?.hops.map((hop) => hop.rule)).toEqual([
      'allowlist:*.example',
      'allowlist:*.example',
    ]);
  });

  it('cuts a kept page to a smaller size limit, and does not serve a cut one to a larger limit', () => {
    const cache = new FetchCache();
    cache.put('org_a', 'https://a.example/page', result());
    expect(cache.get('org_a', 'https://a.example/page', limits({ maxResponseBytes: 100 }))).toMatchObject({ truncated: true, body: Buffer.from('x'.repeat(100)) });
    cache.put('org_a', 'https://a.example/cut', result({ truncated: true }));
    expect(cache.get('org_a', 'https://a.example/cut', limits({ maxResponseBytes: 5000 }))).toBeUndefined();
    expect(cache.get('org_a', 'https://a.example/cut', limits({ maxResponseBytes: 500 }))).toMatchObject({ truncated: true });
  });

  it('keeps only answers of 200', () => {
    const cache = new FetchCache();
    cache.put('org_a', 'https://a.example/missing', result({ status: 404 }));
    expect(cache.get('org_a', 'https://a.example/missing', limits())).toBeUndefined();
  });
});
