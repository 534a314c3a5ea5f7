import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import ipaddr from 'ipaddr.js';

export const WEBHOOK_URL_MAX_LENGTH = 2048;

/** Which destinations webhooks may reach. */
export interface DestinationPolicy {
  /** Development mode: loopback receivers (and plain http to them) are allowed. */
  allowLoopback: boolean;
}

/** A webhook URL or destination that may not be used; the message says why. */
export class DestinationError extends Error {
  override readonly name = 'DestinationError';
}

export type Lookup = (hostname: string) => Promise<LookupAddress[]>;

const systemLookup: Lookup = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );

/**
 * Checks a webhook URL's form: https (http only to loopback in development mode), a host, no credentials, at most
 * 2048 characters. Hosts that are IP literals are checked as destinations here; names are checked when resolved.
 */
export function parseWebhookUrl(raw: string, policy: DestinationPolicy): URL {
  if (raw.length > WEBHOOK_URL_MAX_LENGTH) throw new DestinationError(`must be at most ${WEBHOOK_URL_MAX_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DestinationError('must be an absolute https:// URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new DestinationError('must be an https:// URL');
  if (url.username !== '' || url.password !== '') throw new DestinationError('must not contain credentials');
  if (url.hostname === '') throw new DestinationError('must name a host');
  const literal = literalAddress(url.hostname);
  if (literal !== undefined) checkAddress(literal, policy);
  if (url.protocol === 'http:' && !(policy.allowLoopback && isLoopbackHost(url.hostname))) {
    throw new DestinationError('must be an https:// URL (plain http is allowed only to loopback in development mode)');
  }
  return url;
}

/**
 * The addresses `url`'s host resolves to, every one of them allowed by the policy (a name with one forbidden
 * address is refused whole, so DNS answers cannot be mixed to slip one through).
 */
export async function resolveDestination(url: URL, policy: DestinationPolicy, lookup: Lookup = systemLookup): Promise<LookupAddress[]> {
  const literal = literalAddress(url.hostname);
  if (literal !== undefined) {
    checkAddress(literal, policy);
    return [{ address: literal, family: isIP(literal) }];
  }
  let addresses: LookupAddress[];
  try {
    addresses = await lookup(url.hostname);
  } catch (error) {
    throw new DestinationError(`host ${url.hostname} does not resolve (${(error as NodeJS.ErrnoException).code ?? 'lookup failed'})`);
  }
  if (addresses.length === 0) throw new DestinationError(`host ${url.hostname} does not resolve`);
  for (const { address } of addresses) checkAddress(address, policy);
  return addresses;
}

/**
 * Throws unless `address` is a public unicast address (or loopback, in development mode). Refused: private,
 * loopback, link-local (cloud metadata included), CGNAT, unique-local, multicast, reserved and documentation ranges,
 * IPv4-mapped, NAT64, 6to4 and Teredo forms, and this host's own addresses.
 */
export function checkAddress(address: string, policy: DestinationPolicy): void {
  const parsed = ipaddr.parse(address);
  const range = parsed.range();
  if (range === 'loopback' && policy.allowLoopback) return;
  if (range !== 'unicast') throw new DestinationError(`destination ${address} is not allowed (${range} address)`);
  if (hostAddresses().has(parsed.toNormalizedString())) {
    throw new DestinationError(`destination ${address} is not allowed (an address of this server)`);
  }
}

function hostAddresses(): Set<string> {
  const addresses = new Set<string>();
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      if (ipaddr.isValid(entry.address)) addresses.add(ipaddr.parse(entry.address).toNormalizedString());
    }
  }
  return addresses;
}

/** The IP address a URL hostname spells (IPv6 without its brackets), or undefined for a name. */
function literalAddress(hostname: string): string | undefined {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) === 0 ? undefined : bare;
}

function isLoopbackHost(hostname: string): boolean {
  const literal = literalAddress(hostname);
  if (literal !== undefined) return ipaddr.parse(literal).range() === 'loopback';
  return hostname === 'localhost' || hostname.endsWith('.localhost');
}
