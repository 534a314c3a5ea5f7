import { describe, expect, it } from 'vitest';
import { decideUrl, type WebDestinationPolicy } from './web-policy.js';

const allowlist = (...entries: string[]): WebDestinationPolicy => ({ domains: { mode: 'allowlist', entries }, httpsOnly: true });
const blocklist = (...entries: string[]): WebDestinationPolicy => ({ domains: { mode: 'blocklist', entries }, httpsOnly: false });
const decide = (policy: WebDestinationPolicy, url: string) => decideUrl(policy, new URL(url));

describe('deciding a URL', () => {
  it('an allowlist lets through its names, the names under its wildcards and the addresses in its networks, nothing else', () => {
    const policy = allowlist('docs.python.org', '*.wikipedia.org', '198.51.100.0/24');
    expect(decide(policy, 'https://docs.python.org/3/')).toMatchObject({ allowed: true, rule: 'allowlist:docs.python.org' });
    expect(decide(policy, 'https://en.wikipedia.org/wiki/Bee')).toMatchObject({ allowed: true, rule: 'allowlist:*.wikipedia.org' });
    expect(decide(policy, 'https://DOCS.python.org./')).toMatchObject({ allowed: true });
    expect(decide(policy, 'https://198.51.100.7/page')).toMatchObject({ allowed: true, rule: 'allowlist:198.51.100.0/24' });
    expect(decide(policy, 'https://wikipedia.org/')).toMatchObject({ allowed: false, rule: 'not_in_allowlist' });
    expect(decide(policy, 'https://python.org/')).toMatchObject({ allowed: false, rule: 'not_in_allowlist' });
    expect(decide(policy, 'https://docs.python.org.evil.example/')).toMatchObject({ allowed: false, rule: 'not_in_allowlist' });
    expect(decide(policy, 'https://203.0.113.9/')).toMatchObject({ allowed: false, rule: 'not_in_allowlist' });
  });

  it('a blocklist refuses its entries and lets through the rest', () => {
    const policy = blocklist('*.tracker.example', 'pastebin.com');
    expect(decide(policy, 'https://a.tracker.example/x')).toMatchObject({ allowed: false, rule: 'blocklist:*.tracker.example' });
    expect(decide(policy, 'http://pastebin.com/raw/1')).toMatchObject({ allowed: false, rule: 'blocklist:pastebin.com' });
    expect(decide(policy, 'http://example.org/')).toMatchObject({ allowed: true, rule: 'not_in_blocklist' });
  });

  it('refuses plain http when https is required, other schemes always, and URLs with credentials', () => {
    const policy = allowlist('example.org');
    expect(decide(policy, 'http://example.org/')).toMatchObject({ allowed: false, rule: 'https_only' });
    expect(decide(policy, 'ftp://example.org/')).toMatchObject({ allowed: false, rule: 'scheme' });
    expect(decide(policy, 'file:///etc/passwd')).toMatchObject({ allowed: false, rule: 'scheme' });
    expect(decide(blocklist(), 'https://user:pass@example.org/')).toMatchObject({ allowed: false, rule: 'credentials' });
  });
});
