import { describe, expect, it } from 'vitest';
import {
  Allowlist,
  allowlistAllowsName,
  allowlistCovers,
  allowlistEntryProblem,
  alwaysBlockedRangeOf,
  effectiveNetwork,
  narrowingProblem,
} from './network.js';

describe('allowlist entries', () => {
  it('accepts names, wildcards and public IPv4 networks', () => {
    for (const entry of ['pypi.org', 'files.pythonhosted.org', '*.example.com', '198.51.100.0/24', '203.0.113.7', '8.8.8.8/32']) {
      expect(allowlistEntryProblem(entry), entry).toBeUndefined();
    }
  });

  it.each([
    ['10.1.0.0/16', 'overlaps 10.0.0.0/8'],
    ['169.254.169.254', 'overlaps 169.254.0.0/16'],
    ['0.0.0.0/0', 'overlaps 0.0.0.0/8'],
    ['100.0.0.0/8', 'overlaps 100.64.0.0/10'],
    ['198.51.100.1/24', 'host bits set'],
    ['fd00::/8', 'no IPv6'],
    ['300.1.1.1', 'neither a domain name nor an IPv4 network'],
    ['Example.com', 'lowercase domain name'],
    ['localhost', 'at least two labels'],
    ['*.com.', 'lowercase domain name'],
    ['a.*.example.com', 'lowercase domain name'],
    ['-a.example.com', 'lowercase domain name'],
  ])('refuses %s (%s)', (entry, words) => {
    expect(allowlistEntryProblem(entry)).toContain(words);
  });

  it('refuses a repeated entry and says which rule', () => {
    const parsed = Allowlist.safeParse(['a.example.com', 'a.example.com']);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toBe('each entry at most once');
  });
});

describe('allowlist matching', () => {
  const list = ['pypi.org', '*.example.com', '198.51.100.0/24'];

  it('allows an exact name and the names under a wildcard, not the wildcard name itself', () => {
    expect(allowlistAllowsName(list, 'pypi.org')).toBe(true);
    expect(allowlistAllowsName(list, 'www.pypi.org')).toBe(false);
    expect(allowlistAllowsName(list, 'a.example.com')).toBe(true);
    expect(allowlistAllowsName(list, 'a.b.example.com')).toBe(true);
    expect(allowlistAllowsName(list, 'example.com')).toBe(false);
    expect(allowlistAllowsName(list, 'badexample.com')).toBe(false);
    expect(allowlistAllowsName(list, '198.51.100.7')).toBe(false);
  });

  it('covers an entry only when it allows all of it', () => {
    expect(allowlistCovers(list, 'pypi.org')).toBe(true);
    expect(allowlistCovers(list, '*.example.com')).toBe(true);
    expect(allowlistCovers(list, '*.a.example.com')).toBe(true);
    expect(allowlistCovers(list, 'x.example.com')).toBe(true);
    expect(allowlistCovers(list, 'example.com')).toBe(false);
    expect(allowlistCovers(list, '*.pypi.org')).toBe(false);
    expect(allowlistCovers(list, '198.51.100.128/25')).toBe(true);
    expect(allowlistCovers(list, '198.51.100.9')).toBe(true);
    expect(allowlistCovers(list, '198.51.0.0/16')).toBe(false);
  });

  it('names the always-blocked range of an address', () => {
    expect(alwaysBlockedRangeOf('169.254.169.254')).toBe('169.254.0.0/16');
    expect(alwaysBlockedRangeOf('198.51.100.10')).toBeUndefined();
  });
});

describe('narrowing by an API key', () => {
  const allowlist = { mode: 'allowlist' as const, allow: ['pypi.org', '*.example.com'] };
  const unrestricted = { mode: 'unrestricted' as const, allow: [] };
  const blocked = { mode: 'blocked' as const, allow: [] };

  it('lets a key narrow the mode and the list', () => {
    expect(narrowingProblem(unrestricted, { mode: 'blocked', allow: null }, 's')).toBeUndefined();
    expect(narrowingProblem(allowlist, { mode: 'blocked', allow: null }, 's')).toBeUndefined();
    expect(narrowingProblem(unrestricted, { mode: 'allowlist', allow: ['any.org'] }, 's')).toBeUndefined();
    expect(narrowingProblem(allowlist, { mode: 'allowlist', allow: null }, 's')).toBeUndefined();
    expect(narrowingProblem(allowlist, { mode: 'allowlist', allow: ['api.example.com'] }, 's')).toBeUndefined();
  });

  it('refuses widening and says which rule', () => {
    expect(narrowingProblem(blocked, { mode: 'allowlist', allow: ['pypi.org'] }, 's')).toContain(`"s" is 'blocked'`);
    expect(narrowingProblem(allowlist, { mode: 'allowlist', allow: ['evil.org'] }, 's')).toContain('"evil.org" is not within');
    expect(narrowingProblem(allowlist, { mode: 'allowlist', allow: ['example.com'] }, 's')).toContain('"example.com"');
    expect(narrowingProblem(unrestricted, { mode: 'allowlist', allow: null }, 's')).toContain('lists its entries');
    expect(narrowingProblem(unrestricted, { mode: 'blocked', allow: ['a.org'] }, 's')).toContain("narrowed to 'blocked'");
  });

  it('computes the effective network, dropping what the config no longer allows', () => {
    expect(effectiveNetwork(allowlist, null)).toEqual(allowlist);
    expect(effectiveNetwork(allowlist, { mode: 'blocked', allow: null })).toEqual(blocked);
    expect(effectiveNetwork(blocked, { mode: 'allowlist', allow: ['pypi.org'] })).toEqual(blocked);
    expect(effectiveNetwork(unrestricted, { mode: 'allowlist', allow: ['evil.org'] })).toEqual({ mode: 'allowlist', allow: ['evil.org'] });
    expect(effectiveNetwork(allowlist, { mode: 'allowlist', allow: ['pypi.org', 'evil.org'] })).toEqual({
      mode: 'allowlist',
      allow: ['pypi.org'],
    });
  });
});
