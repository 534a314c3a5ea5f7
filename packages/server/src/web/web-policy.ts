import { allowlistAllowsName, ipv4Range, isNetworkEntry } from '@airlock/contracts';
import { isIP } from 'node:net';

/** Which URLs web fetches may reach, before any address is looked at. */
export interface WebDestinationPolicy {
  /** `allowlist`: only the hosts its entries name; `blocklist`: every host but those. */
  domains: { mode: 'allowlist' | 'blocklist'; entries: readonly string[] };
  /** Plain http is refused (at every redirect too). */
  httpsOnly: boolean;
}

/** Why a URL was allowed or refused: the rule that decided, as the audit log names it. */
export interface UrlDecision {
  allowed: boolean;
  /** `https_only`, `scheme`, `credentials`, `allowlist:<entry>`, `not_in_allowlist`, `blocklist:<entry>`, `not_in_blocklist`. */
  rule: string;
  reason: string;
}

/** The entry of `entries` that covers `host`: a name, a wildcard above it, or (for an IPv4 literal) a network around it. */
function coveringEntry(entries: readonly string[], host: string): string | undefined {
  const address = isIP(host) === 4 ? ipv4Range(host) : undefined;
  if (address !== undefined) {
    return entries.find((entry) => {
      const range = isNetworkEntry(entry) ? ipv4Range(entry) : undefined;
      return range !== undefined && range.first <= address.first && address.last <= range.last;
    });
  }
  return entries.find((entry) => allowlistAllowsName([entry], host));
}

/** Whether the policy lets a fetch go to `url`: its scheme, its credentials, its host against the domain rules. */
export function decideUrl(policy: WebDestinationPolicy, url: URL): UrlDecision {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { allowed: false, rule: 'scheme', reason: `${url.protocol} URLs are not fetched; only http and https` };
  }
  if (url.protocol === 'http:' && policy.httpsOnly) {
    return { allowed: false, rule: 'https_only', reason: `${url.origin} is plain http, and this sandbox's policy requires https` };
  }
  if (url.username !== '' || url.password !== '') {
    return { allowed: false, rule: 'credentials', reason: 'URLs with a user or password are not fetched' };
  }
  const host = url.hostname.replace(/\.$/, '').toLowerCase();
  const entry = coveringEntry(policy.domains.entries, host);
  if (policy.domains.mode === 'allowlist') {
    return entry === undefined
      ? { allowed: false, rule: 'not_in_allowlist', reason: `${host} is not in this sandbox's web allowlist` }
      : { allowed: true, rule: `allowlist:${entry}`, reason: `${host} is allowed by "${entry}"` };
  }
  return entry === undefined
    ? { allowed: true, rule: 'not_in_blocklist', reason: `${host} is not in this sandbox's web blocklist` }
    : { allowed: false, rule: `blocklist:${entry}`, reason: `${host} is blocked by "${entry}"` };
}
