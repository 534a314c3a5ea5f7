import { alwaysBlockedRangeOf } from '@airlock/contracts';
import { lookup as dnsLookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/** Resolves a name to its IPv4 addresses. */
export type Ipv4Lookup = (hostname: string) => Promise<string[]>;

export const systemIpv4Lookup: Ipv4Lookup = async (hostname) =>
  (await dnsLookup(hostname, { all: true, family: 4, verbatim: true })).map((entry) => entry.address);

/** Resolves through these DNS servers (`address[:port]`), as sandboxes' names are when AIRLOCK_NETWORK_DNS names them. */
export function ipv4LookupVia(servers: readonly string[]): Ipv4Lookup {
  const resolver = new Resolver({ timeout: 3_000, tries: 2 });
  resolver.setServers([...servers]);
  return (hostname) => resolver.resolve4(hostname);
}

/** A destination a web fetch may not reach, with the rule the audit log names. */
export class WebDestinationRefused extends Error {
  override readonly name = 'WebDestinationRefused';

  constructor(
    /** `blocked_range:<cidr>`, `host_address`, `no_address`, `ipv6`. */
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

function localIpv4Addresses(): Set<string> {
  const addresses = new Set<string>();
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) if (entry.family === 'IPv4') addresses.add(entry.address);
  }
  return addresses;
}

/**
 * The IPv4 address a fetch to `hostname` connects to: every address the name has must be allowed (one forbidden
 * address refuses the name, so a mixed DNS answer cannot slip one through), as for a sandbox's network: nothing in
 * the always-blocked ranges (private, loopback, link-local and cloud metadata, CGNAT, multicast...) and none of this
 * host's addresses. Sandboxes have no IPv6, and neither do their fetches. `allowLoopback` is for tests only.
 */
export async function resolveWebDestination(hostname: string, lookup: Ipv4Lookup, allowLoopback = false): Promise<string> {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (isIP(bare) === 6) throw new WebDestinationRefused('ipv6', `${bare} is an IPv6 address; web fetches reach IPv4 only`);
  let addresses: string[];
  try {
    addresses = isIP(bare) === 4 ? [bare] : await lookup(bare);
  } catch (error) {
    throw new WebDestinationRefused('no_address', `${bare} does not resolve (${(error as NodeJS.ErrnoException).code ?? 'lookup failed'})`);
  }
  if (addresses.length === 0) throw new WebDestinationRefused('no_address', `${bare} has no IPv4 address`);
  const local = localIpv4Addresses();
  for (const address of addresses) {
    const range = alwaysBlockedRangeOf(address);
    if (range === '127.0.0.0/8' && allowLoopback) continue;
    if (range !== undefined) throw new WebDestinationRefused(`blocked_range:${range}`, `${bare} resolves to ${address}, in ${range}, which is never reached`);
    if (local.has(address)) throw new WebDestinationRefused('host_address', `${bare} resolves to ${address}, an address of this server`);
  }
  return addresses[0]!;
}
