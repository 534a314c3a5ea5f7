import { describe, expect, it } from 'vitest';
import {
  WebNarrowing,
  WebPolicySettings,
  WebSearchProviderRequest,
  effectiveWebPolicy,
  webNarrowingProblem,
  type WebPolicySettings as Policy,
} from './web.js';

const policy = (fields: Record<string, unknown> = {}): Policy => WebPolicySettings.parse(fields);
const messages = (result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  result.error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);

describe('web policy settings', () => {
  it('fills the defaults: every public host, https only, 60 a minute, 20 a call, 2 MiB, scan flags, search on', () => {
    expect(policy()).toEqual({
      domains: { mode: 'blocklist', entries: [] },
      https_only: true,
      requests_per_minute: 60,
      requests_per_call: 20,
      max_response_bytes: 2_097_152,
      injection_scan: 'flag',
      search: true,
    });
    expect(policy({ domains: { mode: 'blocklist' } }).domains).toEqual({ mode: 'blocklist', entries: [] });
  });

  it('refuses an allowlist without entries, bad entries, out-of-range limits and unknown fields, naming each field', () => {
    expect(messages(WebPolicySettings.safeParse({ domains: { mode: 'allowlist' } }))).toEqual([
      "domains.entries: an allowlist needs at least one entry (a name such as docs.python.org or a wildcard such as *.example.com); use 'blocklist' with no entries for every public host",
    ]);
    expect(messages(WebPolicySettings.safeParse({ domains: { mode: 'allowlist', entries: ['Docs.example.com'] } }))).toEqual([
      'domains.entries.0: "Docs.example.com" is not a lowercase domain name with at least two labels (a wildcard is "*." and a name)',
    ]);
    expect(messages(WebPolicySettings.safeParse({ requests_per_minute: 601, requests_per_call: 0, max_response_bytes: 1.5 }))).toEqual([
      'requests_per_minute: at most 600 requests per minute',
      'requests_per_call: at least 1 request per call',
      'max_response_bytes: a whole number',
    ]);
    expect(messages(WebPolicySettings.safeParse({ injection_scan: 'loud' }))?.[0]).toMatch(/^injection_scan: 'off', 'flag' \(fetched text/);
    expect(WebPolicySettings.safeParse({ https: true }).success).toBe(false);
  });
});

describe('web narrowing of a key', () => {
  const allowlisted = policy({ domains: { mode: 'allowlist', entries: ['*.example.com', '198.51.100.0/24'] }, injection_scan: 'flag' });
  const blocklisted = policy({ domains: { mode: 'blocklist', entries: ['evil.example.com', '203.0.113.0/24'] }, https_only: false });

  it('accepts what only narrows: fewer or narrower entries, lower limits, a stricter scan, https, no search, off', () => {
    const narrowing = WebNarrowing.parse({
      domains: { mode: 'allowlist', entries: ['api.example.com', '198.51.100.128/25'] },
      https_only: true,
      requests_per_minute: 10,
      requests_per_call: 20,
      max_response_bytes: 4096,
      injection_scan: 'block',
      search: false,
    });
    expect(webNarrowingProblem(allowlisted, narrowing, 'docs')).toBeUndefined();
    expect(webNarrowingProblem(blocklisted, WebNarrowing.parse({ domains: { mode: 'allowlist', entries: ['docs.python.org', '*.good.example.com'] } }), 'open')).toBeUndefined();
    expect(webNarrowingProblem(null, { off: true }, 'dark')).toBeUndefined();
    expect(webNarrowingProblem(allowlisted, {}, 'docs')).toBeUndefined();
  });

  it.each([
    [{ domains: { mode: 'allowlist', entries: ['example.com'] } }, 'web.domains.entries: "example.com" is not within the web allowlist of sandbox config "docs"; a key may only remove entries or narrow them'],
    [{ domains: { mode: 'allowlist', entries: ['198.51.0.0/16'] } }, 'web.domains.entries: "198.51.0.0/16" is not within the web allowlist'],
    [{ requests_per_minute: 61 }, 'web.requests_per_minute: at most 60, the value of sandbox config "docs"; a key may only lower it'],
    [{ max_response_bytes: 3_000_000 }, 'web.max_response_bytes: at most 2097152'],
  ])('refuses a widening of an allowlist config: %j', (narrowing, message) => {
    expect(webNarrowingProblem(allowlisted, WebNarrowing.parse(narrowing), 'docs')).toContain(message);
  });

  it('refuses key entries that overlap a config blocklist entry either way, and anything for a config with the tools off', () => {
    const entries = (list: string[]) => WebNarrowing.parse({ domains: { mode: 'allowlist', entries: list } });
    expect(webNarrowingProblem(blocklisted, entries(['evil.example.com']), 'open')).toContain('"evil.example.com" overlaps "evil.example.com"');
    expect(webNarrowingProblem(blocklisted, entries(['*.example.com']), 'open')).toBe(
      'web.domains.entries: "*.example.com" overlaps "evil.example.com" of the web blocklist of sandbox config "open"; a key\'s allowlist leaves out what the config blocks',
    );
    expect(webNarrowingProblem(blocklisted, entries(['203.0.113.8/29']), 'open')).toContain('overlaps "203.0.113.0/24"');
    expect(webNarrowingProblem(null, { search: false }, 'dark')).toBe(
      'web: sandbox config "dark" has the web tools off; a key may narrow its web policy (or send off: true), never turn them on',
    );
    const strict = policy({ injection_scan: 'block' });
    expect(webNarrowingProblem(strict, { injection_scan: 'flag' }, 'strict')).toBe(
      "web.injection_scan: sandbox config \"strict\" scans with 'block'; a key may only make the scan stricter (off < flag < block)",
    );
  });

  it('refuses by schema what could only widen: off false, https false, the scan off, search true, a blocklist, off with more', () => {
    for (const body of [{ off: false }, { https_only: false }, { injection_scan: 'off' }, { search: true }, { domains: { mode: 'blocklist', entries: ['a.example.com'] } }]) {
      expect(WebNarrowing.safeParse(body).success, JSON.stringify(body)).toBe(false);
    }
    expect(messages(WebNarrowing.safeParse({ off: true, search: false }))).toEqual(['off: off: true turns the web tools off for the key; send it alone']);
    expect(messages(WebNarrowing.safeParse({ domains: { mode: 'allowlist', entries: [] } }))).toEqual([
      'domains.entries: at least one entry; narrow with off: true for none',
    ]);
  });
});

describe('the effective web policy', () => {
  const config = policy({ domains: { mode: 'allowlist', entries: ['*.example.com'] }, https_only: false, injection_scan: 'off', requests_per_call: 50 });

  it("is off when the config's is, or the key turns it off; the config's without a narrowing", () => {
    expect(effectiveWebPolicy(null, null)).toBeNull();
    expect(effectiveWebPolicy(null, { domains: { mode: 'allowlist', entries: ['a.example.com'] } })).toBeNull();
    expect(effectiveWebPolicy(config, { off: true })).toBeNull();
    expect(effectiveWebPolicy(config, null)).toBe(config);
    expect(effectiveWebPolicy(config, {})).toEqual(config);
  });

  it('takes the narrower of each field', () => {
    expect(
      effectiveWebPolicy(config, {
        domains: { mode: 'allowlist', entries: ['api.example.com'] },
        https_only: true,
        requests_per_call: 5,
        requests_per_minute: 600,
        injection_scan: 'block',
        search: false,
      }),
    ).toEqual({
      domains: { mode: 'allowlist', entries: ['api.example.com'] },
      https_only: true,
      requests_per_minute: 60,
      requests_per_call: 5,
      max_response_bytes: 2_097_152,
      injection_scan: 'block',
      search: false,
    });
  });

  it('applies the narrowing against the config as it is now: entries it no longer allows go, lower limits win', () => {
    const key = WebNarrowing.parse({ domains: { mode: 'allowlist', entries: ['api.example.com', 'docs.python.org'] }, requests_per_minute: 30, injection_scan: 'flag' });
    const changed = policy({ domains: { mode: 'allowlist', entries: ['docs.python.org'] }, requests_per_minute: 10, injection_scan: 'block' });
    expect(effectiveWebPolicy(changed, key)).toMatchObject({
      domains: { mode: 'allowlist', entries: ['docs.python.org'] },
      requests_per_minute: 10,
      injection_scan: 'block',
    });
    const blocking = policy({ domains: { mode: 'blocklist', entries: ['*.example.com'] } });
    expect(effectiveWebPolicy(blocking, key)?.domains).toEqual({ mode: 'allowlist', entries: ['docs.python.org'] });
    const emptied = policy({ domains: { mode: 'allowlist', entries: ['pypi.org'] } });
    expect(effectiveWebPolicy(emptied, key)?.domains).toEqual({ mode: 'allowlist', entries: [] });
  });
});

describe('search provider request', () => {
  it('needs an endpoint for searxng and a key for brave and tavily', () => {
    expect(WebSearchProviderRequest.safeParse({ kind: 'searxng', endpoint: 'http://127.0.0.1:8888' }).success).toBe(true);
    expect(WebSearchProviderRequest.safeParse({ kind: 'brave', api_key: 'BSAxxxxxxxxxxxxxxxxx' }).success).toBe(true);
    expect(messages(WebSearchProviderRequest.safeParse({ kind: 'searxng' }))).toEqual([
      "endpoint: searxng needs the instance's URL (its JSON API must be enabled: search.formats includes json)",
    ]);
    expect(messages(WebSearchProviderRequest.safeParse({ kind: 'tavily', endpoint: 'https://api.tavily.com' }))).toEqual(['api_key: tavily needs its api_key']);
    expect(messages(WebSearchProviderRequest.safeParse({ kind: 'searxng', endpoint: 'https://searx.example.com', api_key: 'abcdefghij' }))).toEqual([
      'api_key: searxng takes no api_key; leave it out',
    ]);
  });

  it.each([
    ['ftp://searx.example.com', 'an http or https URL, not ftp:'],
    ['https://user:pw@searx.example.com', 'no user or password in the URL'],
    ['http://169.254.169.254/', 'a link-local address'],
    ['searx.example.com', 'an absolute http or https URL'],
  ])('refuses the endpoint %s', (endpoint, message) => {
    expect(messages(WebSearchProviderRequest.safeParse({ kind: 'searxng', endpoint }))?.[0]).toContain(message);
  });
});
