import { z } from 'zod';

/**
 * A sandbox's network, narrowest first (docs/decisions/0020-sandbox-network.md): `blocked` (no network: loopback
 * only), `allowlist` (only the names and networks of a list), `unrestricted` (the internet). Every mode refuses
 * ALWAYS_BLOCKED_IPV4, the host's own addresses and ALWAYS_BLOCKED_TCP_PORTS.
 */
export const NETWORK_MODES = ['blocked', 'allowlist', 'unrestricted'] as const;
export type NetworkMode = (typeof NETWORK_MODES)[number];

/**
 * IPv4 destinations no sandbox reaches, in any mode: this network's own and private ranges, loopback, link-local
 * (cloud metadata at 169.254.169.254), carrier-grade NAT, "this network", IETF protocol assignments, benchmarking,
 * multicast, reserved and broadcast. The documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) are not
 * routed on the internet and count as public, so tests can put "internet" hosts there.
 */
export const ALWAYS_BLOCKED_IPV4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
] as const;

/** TCP ports no sandbox connects to in any mode: SMTP, so sandboxes send no mail. */
export const ALWAYS_BLOCKED_TCP_PORTS = [25] as const;

/** At most this many entries in one allowlist. */
export const ALLOWLIST_MAX_ENTRIES = 256;

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** An IPv4 range as the first and last address, as unsigned 32-bit numbers. */
interface Range {
  first: number;
  last: number;
}

function ipv4Number(address: string): number | undefined {
  const octets = IPV4.exec(address)?.slice(1).map(Number);
  if (!octets || octets.some((octet) => octet > 255)) return undefined;
  return octets.reduce((value, octet) => value * 256 + octet, 0);
}

/** `a.b.c.d/n` (or a single address, a /32) as a range; undefined when it is not one. */
export function ipv4Range(cidr: string): Range | undefined {
  const [address = '', bits = '32', ...rest] = cidr.split('/');
  const first = ipv4Number(address);
  if (first === undefined || rest.length > 0 || !/^\d{1,2}$/.test(bits) || Number(bits) > 32) return undefined;
  const size = 2 ** (32 - Number(bits));
  return { first, last: first + size - 1 };
}

const ALWAYS_BLOCKED_RANGES = ALWAYS_BLOCKED_IPV4.map((cidr) => ({ cidr, range: ipv4Range(cidr)! }));

/** The always-blocked range that holds `address` (IPv4), if one does. */
export function alwaysBlockedRangeOf(address: string): string | undefined {
  const value = ipv4Number(address);
  if (value === undefined) return undefined;
  return ALWAYS_BLOCKED_RANGES.find(({ range }) => range.first <= value && value <= range.last)?.cidr;
}

/** Whether an allowlist entry is a network (`a.b.c.d/n` or an address) rather than a name. */
export function isNetworkEntry(entry: string): boolean {
  return /^[\d./]+$/.test(entry) || entry.includes(':');
}

/**
 * Why `entry` is not a valid allowlist entry, or undefined when it is one: a lowercase domain name (`api.example.com`),
 * a wildcard for the names under one (`*.example.com`, not the name itself), or a public IPv4 network (`a.b.c.d/n`
 * with no host bits set, or one address).
 */
export function allowlistEntryProblem(entry: string): string | undefined {
  if (entry.includes(':')) return `"${entry}": sandboxes have no IPv6; list IPv4 networks or names`;
  if (isNetworkEntry(entry)) {
    const range = ipv4Range(entry);
    if (!range) return `"${entry}" is neither a domain name nor an IPv4 network (a.b.c.d/n)`;
    if (range.first % (range.last - range.first + 1) !== 0) return `"${entry}" has host bits set; write the network's first address`;
    const blocked = ALWAYS_BLOCKED_RANGES.find(({ range: other }) => range.first <= other.last && other.first <= range.last);
    if (blocked) return `"${entry}" overlaps ${blocked.cidr}, which sandboxes never reach; list public networks only`;
    return undefined;
  }
  const name = entry.startsWith('*.') ? entry.slice(2) : entry;
  const labels = name.split('.');
  if (name.length > 253 || labels.length < 2 || !labels.every((label) => LABEL.test(label)) || /^\d+$/.test(labels.at(-1)!)) {
    return `"${entry}" is not a lowercase domain name with at least two labels (a wildcard is "*." and a name)`;
  }
  return undefined;
}

/** One allowlist entry: a name, a wildcard or a public IPv4 network. */
export const AllowlistEntry = z.string().superRefine((entry, context) => {
  const problem = allowlistEntryProblem(entry);
  if (problem) context.addIssue({ code: 'custom', message: problem });
});

/** A list of allowlist entries, each once. */
export const Allowlist = z
  .array(AllowlistEntry)
  .max(ALLOWLIST_MAX_ENTRIES, `at most ${ALLOWLIST_MAX_ENTRIES} entries`)
  .refine((entries) => new Set(entries).size === entries.length, 'each entry at most once');

/** Whether the name entry `pattern` (a name or `*.name`) lets a sandbox reach `name` (or, for a wildcard, all of it). */
function nameCovers(pattern: string, name: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === name;
  const suffix = pattern.slice(1); // ".example.com"
  if (name.startsWith('*.')) return name.slice(1).endsWith(suffix);
  return name.endsWith(suffix) && name.length > suffix.length;
}

/** Whether `list` lets a sandbox reach the name `name` (lowercase, without a trailing dot). */
export function allowlistAllowsName(list: readonly string[], name: string): boolean {
  return list.some((entry) => !isNetworkEntry(entry) && nameCovers(entry, name));
}

/** Whether `list` allows everything `entry` allows: the same entry, a wildcard above it, a network around it. */
export function allowlistCovers(list: readonly string[], entry: string): boolean {
  if (!isNetworkEntry(entry)) return allowlistAllowsName(list, entry);
  const range = ipv4Range(entry);
  return (
    range !== undefined &&
    list.some((other) => {
      const around = isNetworkEntry(other) ? ipv4Range(other) : undefined;
      return around !== undefined && around.first <= range.first && range.last <= around.last;
    })
  );
}

/** A network as its mode and, for `allowlist`, its entries. */
export interface NetworkPolicy {
  mode: NetworkMode;
  /** The allowlist's entries; empty unless the mode is `allowlist`. */
  allow: string[];
}

/** What an API key may narrow its sandbox config's network to: a narrower mode, and for `allowlist` fewer entries. */
export interface NetworkNarrowing {
  mode: 'blocked' | 'allowlist';
  /** For `allowlist`: the entries the key keeps; null keeps the sandbox config's. */
  allow: string[] | null;
}

/**
 * Why a key's narrowing widens the sandbox config's network (a 400 says it), or undefined when it only narrows.
 * `sandbox` names the config in the message.
 */
export function narrowingProblem(policy: NetworkPolicy, narrowing: NetworkNarrowing, sandbox: string): string | undefined {
  if (narrowing.mode === 'blocked') {
    return narrowing.allow === null ? undefined : "network_allow: a key narrowed to 'blocked' has no allowlist";
  }
  if (policy.mode === 'blocked') {
    return `network: sandbox config "${sandbox}" is 'blocked'; a key may narrow its network, never widen it`;
  }
  if (narrowing.allow === null) {
    return policy.mode === 'unrestricted'
      ? `network_allow: sandbox config "${sandbox}" is 'unrestricted', so a key narrowing it to 'allowlist' lists its entries`
      : undefined;
  }
  if (policy.mode === 'unrestricted') return undefined;
  const outside = narrowing.allow.find((entry) => !allowlistCovers(policy.allow, entry));
  return outside === undefined
    ? undefined
    : `network_allow: "${outside}" is not within the allowlist of sandbox config "${sandbox}"; a key may only remove entries or narrow them`;
}

/**
 * The network a call runs with: the sandbox config's, narrowed by its key. A key's allowlist keeps only what the
 * config's still allows (the config may have changed since the key was made); a config that became `blocked` wins.
 */
export function effectiveNetwork(policy: NetworkPolicy, narrowing: NetworkNarrowing | null): NetworkPolicy {
  if (narrowing === null) return policy;
  if (narrowing.mode === 'blocked' || policy.mode === 'blocked') return { mode: 'blocked', allow: [] };
  const allow = narrowing.allow ?? policy.allow;
  return {
    mode: 'allowlist',
    allow: policy.mode === 'unrestricted' ? allow : allow.filter((entry) => allowlistCovers(policy.allow, entry)),
  };
}
